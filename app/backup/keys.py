"""The key files' copies, kept apart from the database's backups.

What is copied: every key file of the data dir's ``keys/`` (the keyring, the token issuer's
key pair, the audit signing key) and the audit signing key wherever it is configured, always
under the name ``audit-signing-key.pem`` in the copy. A keyring held in a secret store
(``CENOMED_KEYRING``, ``CENOMED_KEYRING_FILE``) is the secret store's to keep: it is not here.
"""

from __future__ import annotations

from pathlib import Path

from app.backup import BackupRefused
from app.backup.files import (
    check_fresh_directory,
    make_private_directory,
    overlaps,
    remove_created,
)
from app.config import Settings
from app.inputs import KEY_FILE_MAX_BYTES, InputRefused, read_bounded
from app.keyfiles import write_private_file

AUDIT_SIGNING_KEY = "audit-signing-key.pem"


def _key_files(directory: Path) -> dict[str, Path]:
    """The regular files of a key directory, without lock files and temporary files."""
    if not directory.is_dir():
        return {}
    return {
        path.name: path
        for path in sorted(directory.iterdir())
        if path.is_file() and not path.name.startswith(".") and not path.name.endswith(".lock")
    }


def files_to_save(settings: Settings) -> dict[str, Path]:
    """The name in the copy of each key file to save, and where it is now."""
    files = _key_files(settings.keys_dir)
    files.pop(AUDIT_SIGNING_KEY, None)  # the configured one below, wherever it is
    if settings.audit_signing_key_path.is_file():
        files[AUDIT_SIGNING_KEY] = settings.audit_signing_key_path
    return files


def check_export(settings: Settings, keys_to: Path, backup_dir: Path) -> None:
    """Refuses a key copy that would sit with the database's backup, or mix with other files."""
    if overlaps(keys_to, backup_dir):
        raise BackupRefused(
            "--keys-to must not be the backup directory, be inside it nor contain it: the keys "
            "go to a different medium than the database's backup"
        )
    check_fresh_directory(keys_to, "--keys-to")
    if not files_to_save(settings):
        raise BackupRefused(f"no key file in {settings.keys_dir}: nothing to copy with --keys-to")


def export(settings: Settings, keys_to: Path) -> list[str]:
    """Copies the key files into ``keys_to`` (0700, files 0600); the names copied."""
    files = files_to_save(settings)
    created = make_private_directory(keys_to)
    written: list[Path] = []
    try:
        for name, source in files.items():
            written.append(keys_to / name)
            write_private_file(keys_to / name, _read(source, "the key file"))
    except BaseException:
        remove_created(written, keys_to if created else None)
        raise
    return sorted(files)


def plan_import(settings: Settings, keys_from: Path) -> list[tuple[Path, Path]]:
    """The (copy, destination) pairs to restore, the identical ones left out; refuses before
    anything is written if a destination holds a different key."""
    if not keys_from.is_dir():
        raise BackupRefused(f"--keys-from {keys_from} is not a directory")
    files = _key_files(keys_from)
    if not files:
        raise BackupRefused(f"--keys-from {keys_from} holds no key file")
    plan = []
    for name, source in files.items():
        copy = _read(source, "--keys-from")
        target = (
            settings.audit_signing_key_path
            if name == AUDIT_SIGNING_KEY
            else settings.keys_dir / name
        )
        if target.exists():
            if _read(target, "the key file") != copy:
                raise BackupRefused(
                    f"{target} exists and differs from the key in --keys-from: a restore never "
                    "replaces a key; move it away first if it is not needed"
                )
            continue
        plan.append((source, target))
    return plan


def apply_import(plan: list[tuple[Path, Path]]) -> None:
    for source, target in plan:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private_file(target, _read(source, "--keys-from"))


def _read(path: Path, what: str) -> bytes:
    """A key file, bounded; a refusal is the backup's or the restore's, before any write."""
    try:
        return read_bounded(path, limit=KEY_FILE_MAX_BYTES, what=what)
    except InputRefused as error:
        raise BackupRefused(str(error)) from None
