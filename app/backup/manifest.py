"""The backup's manifest, and the facts it records about the database saved.

The facts are read from the saved copy itself (SQLite) or in the snapshot the dump is taken
in (PostgreSQL), so the manifest describes exactly the file beside it, whatever the service
wrote meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.backup import BackupRefused
from app.inputs import MANIFEST_MAX_BYTES, InputMissing, InputRefused, read_bounded
from app.keyfiles import write_private_file

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# The database file of each kind; a manifest naming another file is refused (no path games).
DATABASE_FILES = {"sqlite": "database.sqlite", "postgresql": "database.dump"}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Facts:
    """What a restore must find again: the schema's revision, the audit head, the cases."""

    alembic_revision: str
    audit_head_seq: int
    audit_head_hash: str
    cases: int


# Plain SQL, so that the same reading runs on a sqlite3 connection and a SQLAlchemy one, on
# any schema revision that has the audit log.
_REVISION = "SELECT version_num FROM alembic_version"
_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"
_CASES = "SELECT count(*) FROM case_file"


def read_facts(query: Callable[[str], Sequence[Sequence[Any]]]) -> Facts:
    """The facts, given a function that runs one SQL statement and returns its rows."""
    revisions = query(_REVISION)
    if len(revisions) != 1:
        raise BackupRefused(
            "the database has no single schema revision: is it a cenomed database? "
            "(run 'cenomed init')"
        )
    head = query(_HEAD)
    seq, digest = (int(head[0][0]), bytes(head[0][1])) if head else (0, bytes(32))
    cases = int(query(_CASES)[0][0])
    return Facts(str(revisions[0][0]), seq, digest.hex(), cases)


@dataclass(frozen=True)
class Manifest:
    format_version: int
    created_at: str
    database_kind: str
    database_file: str
    sha256: str
    alembic_revision: str
    audit_head: dict[str, Any]
    cases: int

    @property
    def head_seq(self) -> int:
        return int(self.audit_head["seq"])

    @property
    def head_hash(self) -> bytes:
        return bytes.fromhex(str(self.audit_head["hash"]))

    @classmethod
    def of(cls, facts: Facts, *, kind: str, created_at: str, sha256: str) -> Manifest:
        return cls(
            format_version=FORMAT_VERSION,
            created_at=created_at,
            database_kind=kind,
            database_file=DATABASE_FILES[kind],
            sha256=sha256,
            alembic_revision=facts.alembic_revision,
            audit_head={"seq": facts.audit_head_seq, "hash": facts.audit_head_hash},
            cases=facts.cases,
        )

    def write(self, directory: Path) -> None:
        write_private_file(directory / MANIFEST, json.dumps(asdict(self), indent=2).encode())


def read_manifest(directory: Path) -> Manifest:
    """The manifest of a backup directory; refuses one missing, unreadable or malformed."""
    path = directory / MANIFEST
    try:
        document = json.loads(read_bounded(path, limit=MANIFEST_MAX_BYTES, what="the manifest"))
    except InputMissing:
        raise BackupRefused(f"{path} is missing: {directory} is not a cenomed backup") from None
    except InputRefused as error:
        raise BackupRefused(str(error)) from None
    except ValueError as error:
        raise BackupRefused(f"{path} is unreadable ({type(error).__name__})") from None
    try:
        manifest = Manifest(**document)
        problem = _problem(manifest)
    except (TypeError, ValueError, KeyError):
        problem = "its fields are not a cenomed backup manifest's"
    if problem:
        raise BackupRefused(f"{path} is unreadable: {problem}")
    return manifest


def _problem(manifest: Manifest) -> str | None:
    if manifest.format_version != FORMAT_VERSION:
        return f"format {manifest.format_version!r}, this cenomed reads {FORMAT_VERSION}"
    if DATABASE_FILES.get(manifest.database_kind) != manifest.database_file:
        return "unknown database kind or file"
    head = manifest.audit_head
    if not isinstance(head, dict) or set(head) != {"seq", "hash"}:
        return "the audit head is malformed"
    if not all(isinstance(h, str) and _HEX64.match(h) for h in (manifest.sha256, head["hash"])):
        return "a hash is not 64 hexadecimal digits"
    counts = (head["seq"], manifest.cases)
    if not all(type(n) is int and n >= 0 for n in counts):
        return "the audit head's position or the number of cases is not a count"
    if not isinstance(manifest.alembic_revision, str) or not manifest.alembic_revision:
        return "no schema revision"
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
