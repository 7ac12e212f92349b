"""What the command line reads, and how it fails (finding 11): every file it is given is read
within a bound and refused in one line if it is not what the option takes; a file that is not
a checkpoint is said to be one, never taken for a broken log; any failure of any command is
one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli import one_line

# A runaway read must not take the test machine down with it (the bug this file pins).
MEMORY_CAP = 3 << 30


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def cenomed(
    env: dict[str, str], *args: str, stdin: Any = subprocess.DEVNULL, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        stdin=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_capped,
    )


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory, new_database: Any) -> dict[str, Any]:
    """An initialised service whose log has events, a partner's checkpoint and public key."""
    directory = tmp_path_factory.mktemp("cli-inputs")
    env = os.environ | {
        "CENOMED_DATA_DIR": str(directory / "data"),
        "CENOMED_DATABASE_URL": new_database(),
    }
    assert cenomed(env, "init").returncode == 0
    added = cenomed(env, "cell", "add", "--name", "C", "--kind", "cenomed", "--arrondissement", "3")
    assert added.returncode == 0, added.stderr
    note = cenomed(env, "audit", "checkpoint")
    key = cenomed(env, "audit", "export-key")
    assert note.returncode == 0, note.stderr
    assert key.returncode == 0, key.stderr
    (directory / "partner.checkpoint").write_text(note.stdout)
    (directory / "log.vkey").write_text(key.stdout)
    return {"env": env, "dir": directory}


def test_the_partners_files_still_verify(logged: dict[str, Any]) -> None:
    directory = logged["dir"]
    result = cenomed(
        logged["env"],
        "audit",
        "verify",
        "--checkpoint",
        str(directory / "partner.checkpoint"),
        "--public-key",
        str(directory / "log.vkey"),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["valid"] is True


def _not_a_checkpoint(directory: Path, kind: str) -> Path:
    path = directory / f"given-{kind}"
    if kind == "random bytes":
        path.write_bytes(os.urandom(3000))
    elif kind == "json":
        path.write_text(json.dumps({"size": 3, "hash": "AAAA"}))
    elif kind == "the public key":
        path.write_text((directory / "log.vkey").read_text())
    elif kind == "text without a signature":
        path.write_text("cenomed.local/audit\n3\nAAAA\n")
    return path


@pytest.mark.parametrize(
    "kind", ["random bytes", "json", "the public key", "text without a signature"]
)
def test_a_file_that_is_not_a_checkpoint_is_said_to_be_one(
    logged: dict[str, Any], kind: str
) -> None:
    path = _not_a_checkpoint(logged["dir"], kind)
    result = cenomed(logged["env"], "audit", "verify", "--checkpoint", str(path))
    # Exit 2 (what was given is wrong), not 1 (the log is broken); no verdict is printed.
    message = one_line(result, 2, "--checkpoint", str(path), "is not a checkpoint")
    assert "broken" not in message
    assert "invalid" not in message


def _big(directory: Path) -> Path:
    path = directory / "big.checkpoint"
    path.write_text((directory / "partner.checkpoint").read_text() + "\n" * 5000)
    return path


def _fifo(directory: Path) -> Path:
    path = directory / "checkpoint.fifo"
    if not path.exists():
        os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("option", "given", "code", "words"),
    [
        ("--checkpoint", lambda d: Path("/dev/zero"), 2, ["not a regular file"]),
        ("--checkpoint", _fifo, 2, ["not a regular file"]),
        ("--checkpoint", _big, 2, ["larger than 4096 bytes"]),
        ("--checkpoint", lambda d: d, 2, ["directory"]),
        ("--checkpoint", lambda d: d / "nowhere", 2, ["does not exist"]),
        ("--public-key", lambda d: Path("/dev/zero"), 2, ["not a regular file"]),
        ("--public-key", _fifo, 2, ["not a regular file"]),
        ("--public-key", lambda d: d / "partner.checkpoint", 2, ["is not a public key"]),
    ],
)
def test_each_file_given_to_audit_verify_is_bounded_and_checked(
    logged: dict[str, Any], option: str, given: Any, code: int, words: list[str]
) -> None:
    path = given(logged["dir"])
    result = cenomed(logged["env"], "audit", "verify", option, str(path))
    message = one_line(result, code, option, *words)
    assert "broken" not in message


def test_password_stdin_is_bounded(logged: dict[str, Any], tmp_path: Path) -> None:
    args = ["user", "set-password", "nobody", "--password-stdin"]
    with Path("/dev/zero").open("rb") as zeros:
        one_line(cenomed(logged["env"], *args, stdin=zeros), 1, "--password-stdin", "longer than")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xf6\xe9\xff" * 10 + b"\n")
    with binary.open("rb") as handle:
        message = one_line(cenomed(logged["env"], *args, stdin=handle), 1, "--password-stdin")
    assert "0xf6" not in message


def test_a_backup_path_below_a_file_is_one_line(logged: dict[str, Any]) -> None:
    a_file = logged["dir"] / "partner.checkpoint"
    one_line(cenomed(logged["env"], "backup", str(a_file / "backup")), 1, "Not a directory")
    keys_to = str(a_file / "keys")
    result = cenomed(logged["env"], "backup", str(logged["dir"] / "b"), "--keys-to", keys_to)
    one_line(result, 1, "Not a directory")
    assert not (logged["dir"] / "b").exists()


def test_a_data_dir_below_a_file_is_one_line(logged: dict[str, Any]) -> None:
    env = logged["env"] | {
        "CENOMED_DATA_DIR": str(logged["dir"] / "partner.checkpoint" / "data"),
        "CENOMED_DATABASE_URL": "",
    }
    one_line(cenomed(env, "init"), 1, "Not a directory")


# Every command, with what it needs to get as far as reading the settings.
COMMANDS = [
    ["init"],
    ["cell", "add", "--name", "X", "--kind", "cenomed", "--arrondissement", "1"],
    ["user", "add", "--username", "u", "--role", "coordinator"],
    ["user", "set-password", "u", "--password-stdin"],
    ["user", "deactivate", "--username", "u"],
    ["token", "u"],
    ["serve", "--port", "1"],
    ["keys", "rotate"],
    ["purge", "--dry-run"],
    ["backup", "/nonexistent/backup"],
    ["restore", "/nonexistent/backup"],
    ["audit", "verify"],
    ["audit", "checkpoint"],
    ["audit", "export-key"],
    ["demo"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_a_bad_setting_is_one_line_naming_it_for_every_command(
    logged: dict[str, Any], args: list[str]
) -> None:
    env = logged["env"] | {"CENOMED_AUDIT_CHECKPOINT_EVERY": "0"}
    stdin = subprocess.DEVNULL
    if "--password-stdin" in args:
        stdin = subprocess.PIPE
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        input="une phrase de passe assez longue\n" if stdin == subprocess.PIPE else None,
        stdin=None if stdin == subprocess.PIPE else stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    one_line(result, 1, "CENOMED_AUDIT_CHECKPOINT_EVERY")
