"""Backups of the database and their restoration (``cenomed backup``, ``cenomed restore``).

A backup is a directory holding the database and nothing else: ``database.sqlite`` (SQLite's
online backup API, consistent while the service writes) or ``database.dump`` (``pg_dump``'s
custom format, taken in a snapshot exported by the transaction that reads the manifest's
facts), and ``manifest.json``. Every nominative value in it is ciphertext; the keys that open
it travel apart (``--keys-to``, to another medium), so a stolen backup alone reveals nothing.

The manifest (format version, date, database kind, Alembic revision, audit head, number of
cases, SHA-256 of the database file) lets a restore refuse a damaged or mismatched backup
before changing anything, and prove afterwards that what was loaded is what was saved: the
restored audit chain must verify and still hold the manifest's head, and the keyring must
unwrap every data key. A restore never overwrites: the target database must hold no cenomed
table, and existing key files are never replaced by different ones.

Layout: :mod:`~app.backup.manifest` (the manifest, the facts read from a database),
:mod:`~app.backup.sqlite` and :mod:`~app.backup.postgres` (what depends on the database's
kind), :mod:`~app.backup.keys` (the key files' copies), :mod:`~app.backup.service` (the two
operations).
"""

from __future__ import annotations


class BackupRefused(RuntimeError):
    """A backup or restore refused, or failed, before it changed anything that matters; the
    message is one line saying what to do (no nominative value: paths, counts, hashes)."""


class RestoreCheckFailed(RuntimeError):
    """The database was restored but a check after loading failed; the data stays in place
    so that an operator can investigate. ``report`` holds what was checked."""

    def __init__(self, message: str, report: dict[str, object]) -> None:
        super().__init__(message)
        self.report = report
