"""The bounded reads of files and input lines the command line takes (finding 11)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from app.inputs import InputRefused, read_bounded, read_bounded_line, read_bounded_text

LIMIT = 64


def test_a_regular_file_up_to_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "small"
    path.write_bytes(b"x" * LIMIT)
    assert read_bounded(path, limit=LIMIT, what="--thing") == b"x" * LIMIT
    path.write_text("é" * (LIMIT // 2))
    assert read_bounded_text(path, limit=LIMIT, what="--thing") == "é" * (LIMIT // 2)


def _refused(path: Path, *words: str, limit: int = LIMIT) -> str:
    with pytest.raises(InputRefused) as refused:
        read_bounded(path, limit=limit, what="--thing")
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"--thing {path}")
    for word in words:
        assert word in message
    return message


def test_one_byte_more_than_the_limit_is_refused_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"secret-" + b"x" * LIMIT)
    assert "secret" not in _refused(path, f"larger than {LIMIT} bytes")


def test_a_device_a_pipe_a_directory_a_missing_file_are_refused_at_once(tmp_path: Path) -> None:
    _refused(Path("/dev/zero"), "not a regular file")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _refused(fifo, "not a regular file")  # no writer: a blocking open would wait forever
    _refused(tmp_path, "a directory")
    _refused(tmp_path / "nowhere", "no such file")
    _refused(tmp_path / "small" / "below", "no such file")


def test_an_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "private"
    path.write_bytes(b"x")
    path.chmod(0)

    def denied(*args: object, **kwargs: object) -> int:
        # The suite may run as root, whom no mode stops: the refusal the kernel would give.
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", denied)
    _refused(path, "cannot be read", "Permission denied")


def test_text_that_is_not_utf8_is_refused_without_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "binary"
    path.write_bytes(b"\xf6\xe9\xff")
    with pytest.raises(InputRefused, match="not UTF-8 text") as refused:
        read_bounded_text(path, limit=LIMIT, what="--thing")
    assert "0xf6" not in str(refused.value)


def test_a_line_is_read_up_to_the_limit_and_no_further() -> None:
    assert read_bounded_line(io.BytesIO(b"a" * LIMIT + b"\nnext"), limit=LIMIT, what="--x") == (
        b"a" * LIMIT
    )
    assert read_bounded_line(io.BytesIO(b"last"), limit=LIMIT, what="--x") == b"last"
    with pytest.raises(InputRefused, match=f"--x: the line is longer than {LIMIT} bytes"):
        read_bounded_line(io.BytesIO(b"a" * (LIMIT + 1) + b"\n"), limit=LIMIT, what="--x")
    with Path("/dev/zero").open("rb") as zeros, pytest.raises(InputRefused):
        read_bounded_line(zeros, limit=LIMIT, what="--x")
