"""Directories and files of a backup: owner-only from their creation, never reused."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from app.backup import BackupRefused


def check_fresh_directory(path: Path, what: str) -> None:
    """Refuses a directory that holds anything: a backup never overwrites nor mixes with
    another one."""
    if path.exists() and not path.is_dir():
        raise BackupRefused(f"{what} {path} is not a directory")
    if path.is_dir() and any(path.iterdir()):
        raise BackupRefused(f"{what} {path} is not empty: give a new or an empty directory")


def make_private_directory(path: Path) -> bool:
    """Creates the directory (mode 0700) or restricts the empty one there; True if created."""
    created = not path.exists()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return created


def create_private_file(path: Path) -> BinaryIO:
    """A new file, mode 0600 from the start whatever the umask, refused if it exists."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(descriptor, "wb")


def overlaps(one: Path, other: Path) -> bool:
    """Whether one directory is the other, is inside it, or contains it."""
    a, b = one.resolve(), other.resolve()
    return a == b or a in b.parents or b in a.parents


def remove_created(files: list[Path], directory: Path | None) -> None:
    """Undoes a failed backup: the files it wrote, and the directory if it created it."""
    for path in files:
        path.unlink(missing_ok=True)
    if directory is not None:
        try:
            directory.rmdir()
        except OSError:
            pass  # something else appeared in it: left as it is
