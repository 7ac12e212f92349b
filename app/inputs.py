"""Bounded reads of the files and input lines the command line is given or finds.

Every such read goes through here: at most ``limit`` + 1 bytes are read, and a file larger
than ``limit`` is refused rather than read whole (``/dev/zero`` given as a checkpoint would
otherwise be read until memory runs out). Only regular files are read: a device, a pipe or a
socket is refused at once, without waiting for a writer (the file is opened non-blocking and
checked on its descriptor, so a swap between a check and the open changes nothing).

A refusal is an :class:`InputRefused`, whose message is one line that names what the file
was for (``--checkpoint``, "the key file"...) and its path, and says what is wrong with it:
never a byte of its content, which may be a key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

# The largest files of each kind, with room to spare; anything larger is not one of them.
CHECKPOINT_MAX_BYTES = 4096  # a few signature lines: a checkpoint is about 300 bytes
PUBLIC_KEY_MAX_BYTES = 1024  # one line: the log's name, a key id and 44 characters of key
PASSWORD_LINE_MAX_BYTES = 4096  # a password is at most 256 characters
MANIFEST_MAX_BYTES = 64 * 1024  # a backup's manifest is under a kilobyte
KEY_FILE_MAX_BYTES = 1024 * 1024  # the keyring grows by about 150 bytes a rotation


class InputRefused(ValueError):
    """A file or an input line refused before it was used; the message is one line naming
    what it was for and where it is, never what it holds."""


class InputMissing(InputRefused):
    """The file does not exist."""


def read_bounded(path: Path, *, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refused if there are more than ``limit``."""

    def refused(problem: str) -> InputRefused:
        return InputRefused(f"{what} {path}: {problem}; refused")

    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise InputMissing(f"{what} {path}: no such file") from None
    except OSError as error:
        raise refused(f"cannot be read ({error.strerror or type(error).__name__})") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise refused("is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise refused("is not a regular file (a device, a pipe or a socket)")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(descriptor, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise refused(f"larger than {limit} bytes")
        return b"".join(chunks)
    except OSError as error:
        raise refused(f"cannot be read ({error.strerror or type(error).__name__})") from None
    finally:
        os.close(descriptor)


def read_bounded_text(path: Path, *, limit: int, what: str) -> str:
    """The file as UTF-8 text (see :func:`read_bounded`); refused if it is not."""
    data = read_bounded(path, limit=limit, what=what)
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise InputRefused(f"{what} {path}: not UTF-8 text; refused") from None


def read_bounded_line(stream: BinaryIO, *, limit: int, what: str) -> bytes:
    """One line of ``stream`` without its newline, refused if longer than ``limit`` bytes."""
    line = stream.readline(limit + 1)
    if line.endswith(b"\n"):
        line = line[:-1]
    if len(line) > limit:
        raise InputRefused(f"{what}: the line is longer than {limit} bytes; refused")
    return line
