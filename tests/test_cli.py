"""The ``cenomed`` command: results on stdout, one-line reasons on stderr, non-zero on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from app.audit.models import AuditEvent
from app.config import Settings
from app.db import make_engine
from app.directory.models import User
from app.main import create_app


@pytest.fixture
def cli_env(tmp_path: Path, new_database: object) -> dict[str, str]:
    url = new_database()  # type: ignore[operator]
    return os.environ | {"CENOMED_DATA_DIR": str(tmp_path / "data"), "CENOMED_DATABASE_URL": url}


def cenomed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_init_is_idempotent_and_keeps_keys_private(cli_env: dict[str, str]) -> None:
    first = cenomed(cli_env, "init")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["schema"] == "head"
    key = Path(cli_env["CENOMED_DATA_DIR"]) / "keys" / "token-signing-key.pem"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    before = key.read_bytes()
    again = cenomed(cli_env, "init")
    assert again.returncode == 0, again.stderr
    assert key.read_bytes() == before


def test_a_key_readable_by_others_is_refused(cli_env: dict[str, str]) -> None:
    assert cenomed(cli_env, "init").returncode == 0
    key = Path(cli_env["CENOMED_DATA_DIR"]) / "keys" / "token-signing-key.pem"
    key.chmod(0o644)
    refused = cenomed(cli_env, "init")
    assert refused.returncode != 0
    assert "chmod 600" in refused.stderr
    assert refused.stdout == ""


def test_cells_users_tokens_and_deactivation(cli_env: dict[str, str]) -> None:
    assert cenomed(cli_env, "init").returncode == 0
    added = cenomed(
        cli_env,
        "cell",
        "add",
        "--name",
        "CENOMED 20e",
        "--kind",
        "cenomed",
        "--arrondissement",
        "20",
    )
    assert added.returncode == 0, added.stderr
    cell_id = added.stdout.strip()
    assert cell_id.isdigit()
    user = cenomed(
        cli_env,
        "user",
        "add",
        "--username",
        "agent-bailleur",
        "--role",
        "member",
        "--organisation",
        "social_landlord",
        "--cell",
        cell_id,
    )
    assert user.returncode == 0, user.stderr
    assert user.stdout.strip().isdigit()

    token = cenomed(cli_env, "token", "agent-bailleur", "--ttl", "600")
    assert token.returncode == 0, token.stderr
    bearer = token.stdout.strip()
    assert bearer.count(".") == 2

    settings = Settings(
        data_dir=Path(cli_env["CENOMED_DATA_DIR"]), database_url=cli_env["CENOMED_DATABASE_URL"]
    )
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {bearer}"}
        me = client.get("/api/v1/me", headers=headers)
        assert me.json()["cells"] == [int(cell_id)]
        gone = cenomed(cli_env, "user", "deactivate", "--username", "agent-bailleur")
        assert gone.returncode == 0, gone.stderr
        assert client.get("/api/v1/me", headers=headers).status_code == 401

    refused = cenomed(cli_env, "token", "agent-bailleur")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.count("\n") == 1

    # R23: each account change and key operation is in the audit log, by the operator.
    rotated = cenomed(cli_env, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert cenomed(cli_env, "audit", "verify").returncode == 0
    engine = make_engine(cli_env["CENOMED_DATABASE_URL"])
    with engine.connect() as connection:
        bodies = connection.scalars(select(AuditEvent.body).order_by(AuditEvent.seq)).all()
    engine.dispose()
    logged = [json.loads(body) for body in bodies]
    operator = [(e["action"], e["severity"]) for e in logged if e["actor"]["role"] == "operator"]
    assert operator == [
        ("add_cell", "info"),
        ("add_user", "info"),
        ("issue_token", "high"),
        ("deactivate_user", "info"),
        ("rotate_keys", "high"),
        ("rotate_keys", "high"),
    ]
    assert [e["detail"].split(":")[0] for e in logged if e["action"] == "rotate_keys"] == [
        "started",
        "completed",
    ]
    refused_me = [e for e in logged if e["outcome"] == "denied"]
    assert [(e["action"], e["detail"]) for e in refused_me] == [("read_me", "account-inactive")]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (
            ["cell", "add", "--name", "X", "--kind", "cenomed", "--arrondissement", "21"],
            "arrondissement",
        ),
        (["user", "add", "--username", "u", "--role", "member", "--cell", "1"], "organisation"),
        (["user", "add", "--username", "u", "--role", "coordinator", "--cell", "999"], "999"),
        (["user", "add", "--username", "u", "--role", "wizard"], "wizard"),
        (["user", "deactivate", "--username", "nobody"], "No user"),
    ],
)
def test_failures_are_one_line_on_stderr(
    cli_env: dict[str, str], args: list[str], reason: str
) -> None:
    assert cenomed(cli_env, "init").returncode == 0
    result = cenomed(cli_env, *args)
    assert result.returncode != 0
    assert result.stdout == ""
    assert reason in result.stderr
    assert "Traceback" not in result.stderr


def test_a_command_before_init_says_what_to_do(cli_env: dict[str, str]) -> None:
    result = cenomed(
        cli_env, "cell", "add", "--name", "X", "--kind", "cenomed", "--arrondissement", "1"
    )
    assert result.returncode == 1
    assert "cenomed init" in result.stderr


def _demo_passwords(output: str) -> dict[str, str]:
    return {row.split("\t")[0]: row.split("\t")[2] for row in output.strip().splitlines()}


def test_a_second_demo_keeps_the_web_passwords_that_still_work(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    first = cenomed(cli_env, "demo")
    assert first.returncode == 0, first.stderr
    before = _demo_passwords(first.stdout)
    previous = tmp_path / "demo-tokens.tsv"
    # One line altered as if mistyped: that account gets a new password, the others keep theirs.
    altered = {**before, "demo-cst": "not-the-password-at-all"}
    previous.write_text("".join(f"{u}\ttoken\t{p}\n" for u, p in altered.items()))
    second = cenomed(cli_env, "demo", "--keep-passwords-from", str(previous))
    assert second.returncode == 0, second.stderr
    after = _demo_passwords(second.stdout)
    assert {u: p for u, p in after.items() if u != "demo-cst"} == {
        u: p for u, p in before.items() if u != "demo-cst"
    }
    assert after["demo-cst"] not in (before["demo-cst"], "not-the-password-at-all")
    settings = Settings(
        data_dir=Path(cli_env["CENOMED_DATA_DIR"]), database_url=cli_env["CENOMED_DATABASE_URL"]
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        for username in ("demo-coordinator", "demo-cst"):
            client.cookies.clear()
            form = client.get("/connexion").text
            csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            signed = client.post(
                "/connexion",
                data={"username": username, "password": after[username], "csrf": csrf},
                follow_redirects=False,
            )
            assert (signed.status_code, signed.headers["location"]) == (303, "/")
    # Without the previous output (or with a missing file), every password is new.
    third = cenomed(cli_env, "demo", "--keep-passwords-from", str(tmp_path / "missing.tsv"))
    assert third.returncode == 0, third.stderr
    renewed = _demo_passwords(third.stdout)
    assert all(renewed[u] != after[u] for u in after)


def test_demo_prints_a_working_token_per_role_and_can_run_twice(cli_env: dict[str, str]) -> None:
    first = cenomed(cli_env, "demo")
    assert first.returncode == 0, first.stderr
    rows = [line.split("\t") for line in first.stdout.strip().splitlines()]
    lines = {username: token for username, token, _password in rows}
    assert all(len(password) >= 12 for *_, password in rows)
    assert set(lines) == {
        "demo-coordinator",
        "demo-parquet",
        "demo-police",
        "demo-education",
        "demo-cst",
        "demo-auditor",
        "demo-steering",
        "demo-admin",
    }
    assert cenomed(cli_env, "demo").returncode == 0
    settings = Settings(
        data_dir=Path(cli_env["CENOMED_DATA_DIR"]), database_url=cli_env["CENOMED_DATABASE_URL"]
    )
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {lines['demo-coordinator']}"}
        cases = client.get("/api/v1/cases", headers=headers).json()["items"]
        assert sorted(c["state"] for c in cases) == ["not_retained", "research", "submitted"]
        for username, token in lines.items():
            me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json()["username"] == username


def test_set_password_stores_an_argon2_hash_and_refuses_a_short_one(
    cli_env: dict[str, str],
) -> None:
    assert cenomed(cli_env, "init").returncode == 0
    assert (
        cenomed(
            cli_env, "cell", "add", "--name", "C", "--kind", "cenomed", "--arrondissement", "18"
        ).returncode
        == 0
    )
    added = cenomed(
        cli_env, "user", "add", "--username", "someone", "--role", "coordinator", "--cell", "1"
    )
    assert added.returncode == 0, added.stderr
    passphrase = "une phrase de passe assez longue"  # noqa: S105 (invented for the test)

    def set_password(username: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", "user", "set-password", username, "--password-stdin"],
            env=cli_env,
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    short = set_password("someone", "court")
    assert short.returncode == 1
    assert "between 12 and 256 characters" in short.stderr
    unknown = set_password("nobody", passphrase)
    assert unknown.returncode == 1
    done = set_password("someone", passphrase)
    assert done.returncode == 0, done.stderr
    assert passphrase not in done.stdout + done.stderr
    engine = make_engine(cli_env["CENOMED_DATABASE_URL"])
    with engine.connect() as connection:
        stored = connection.scalar(select(User.password_hash).where(User.username == "someone"))
        actions = list(connection.scalars(select(AuditEvent.action)))
    engine.dispose()
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert passphrase not in stored
    assert actions.count("set_password") == 1


def test_a_stored_value_it_cannot_read_is_not_called_an_unreachable_database(
    cli_env: dict[str, str], engine_name: str
) -> None:
    """SQLite's driver raises OperationalError, as for a database it cannot open, on stored text
    that is not UTF-8 (written outside the service): the command says what it is."""
    if engine_name == "postgresql":
        pytest.skip("PostgreSQL checks its text's encoding as it is written")
    assert cenomed(cli_env, "init").returncode == 0
    added = cenomed(cli_env, "user", "add", "--username", "auditrice", "--role", "auditor")
    assert added.returncode == 0, added.stderr
    engine = make_engine(cli_env["CENOMED_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE user_account SET role = CAST(x'ff' AS TEXT) WHERE username = 'auditrice'")
        )
    engine.dispose()
    refused = cenomed(cli_env, "user", "deactivate", "--username", "auditrice")
    assert refused.returncode == 1
    assert "unreachable" not in refused.stderr
    assert "not UTF-8" in refused.stderr
    assert refused.stderr.count("\n") == 1
