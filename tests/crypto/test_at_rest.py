"""Nothing nominative is stored in clear: invented, distinctive values written through the API
are absent from the database files (SQLite and its WAL) and from a pg_dump of PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.conftest import World
from tests.scenario import case_body, ok, to_research

SECRETS = {
    "last_name": "Qwyzzelbrandt",
    "first_name": "Ottiliane",
    "address": "77 impasse Vrombissante",
    "school": "Collège Xylophanaire",
    "facts": "Signalement fictif Borvandicule",
    "guardian": "Tuteur Plimbradoux",
    "phone": "0799887766",
    "note": "Note fictive Gandrivolle",
}


def _write_everything(world: World) -> None:
    body = case_body(world.cell.id, facts=SECRETS["facts"])
    body["minor"].update(
        last_name=SECRETS["last_name"],
        first_name=SECRETS["first_name"],
        address=SECRETS["address"],
        school=SECRETS["school"],
    )
    body["guardians"] = [
        {"name": SECRETS["guardian"], "relationship": "guardian", "phone": SECRETS["phone"]}
    ]
    case_id = to_research(world, **{k: v for k, v in body.items() if k != "cell_id"})
    ok(world.as_("teacher").post(f"/cases/{case_id}/research-notes", {"content": SECRETS["note"]}))
    shown = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert shown["minor"]["last_name"] == SECRETS["last_name"]
    assert shown["research_notes"][0]["content"] == SECRETS["note"]


def _assert_absent(raw: bytes) -> None:
    lowered = raw.lower()
    for field, value in SECRETS.items():
        for form in {value.encode(), value.lower().encode(), value.encode("utf-16-le")}:
            assert form not in lowered, f"{field} found in clear"
            assert form not in raw, f"{field} found in clear"


def test_no_nominative_value_in_the_sqlite_files(world: World, engine_name: str) -> None:
    if engine_name != "sqlite":
        pytest.skip("this run is on PostgreSQL; see the pg_dump test")
    _write_everything(world)
    database = Path(make_url(world.settings.database_url).database or "")
    files = [p for p in database.parent.glob(database.name + "*") if p.is_file()]
    assert database in files
    everything = b"".join(path.read_bytes() for path in files)
    assert b"CENOMED 18e" in everything  # the scan does see what is stored in clear
    _assert_absent(everything)


def test_no_nominative_value_in_a_pg_dump(world: World, engine_name: str) -> None:
    if engine_name != "postgresql":
        pytest.skip("this run is on SQLite; see the SQLite files test")
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to check what PostgreSQL stores"
    _write_everything(world)
    url = make_url(world.settings.database_url)
    dump = subprocess.run(
        [
            pg_dump,
            "--host",
            url.host or "127.0.0.1",
            "--port",
            str(url.port or 5432),
            "--username",
            url.username or "postgres",
            "--no-password",
            url.database or "",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    assert b"CENOMED 18e" in dump  # the dump does show what is stored in clear
    _assert_absent(dump)
