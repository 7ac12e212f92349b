"""Files that hold secrets (token signing key, keyring): written atomically, owner-only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def check_private_file(path: Path) -> None:
    """Refuses a secret that other accounts on the machine could read."""
    if path.stat().st_mode & 0o077:
        raise PermissionError(
            f"{path} is readable by other users; restrict it with 'chmod 600 {path}'."
        )


def write_private_file(path: Path, data: bytes) -> None:
    """Writes atomically (a crash leaves the old file or the new one) with mode 0600.

    The temporary file is a fresh one (``mkstemp``: O_EXCL, mode 0600), so a leftover or a
    concurrent writer can neither share it nor loosen its mode.
    """
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
