"""Migration 0008: the cases stored before names were normalised are re-sealed without their
invisible characters and re-indexed, so that they match the cases stored since.

The cases are stored the old way: sealed as they were typed, indexed with the normalisation of
the code before 0008, copied below as a fixed oracle.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import migrate
from app.cases.models import CasePersonal, Guardian
from app.config import get_settings
from app.crypto.keyring import KeyProvider, LocalKeyringProvider
from app.crypto.models import CaseKey, IdentityIndex
from app.db import make_engine, make_sessionmaker, unit_of_work
from app.main import create_app
from tests.conftest import World, make_settings, make_world
from tests.scenario import FIRST_NAME, LAST_NAME, ok, submit

BEFORE = "0007"
ZWSP, RLO, PDF, ZWJ, BOM, NBSP = "\u200b", "\u202e", "\u202c", "\u200d", "\ufeff", "\u00a0"

# --- the code before 0008, frozen -------------------------------------------------------------

_OLD_SEPARATORS = re.compile(r"[\W_]+")


def old_normalise_name(name: str) -> str:
    composed = unicodedata.normalize("NFKC", name).casefold()
    decomposed = unicodedata.normalize("NFKD", composed)
    without_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _OLD_SEPARATORS.sub(" ", without_marks).strip()


def old_digest(index_key: bytes, last: str, first: str, born: date) -> bytes | None:
    last, first = old_normalise_name(last), old_normalise_name(first)
    if not last or not first:
        return None
    material = "\x1f".join([last, first, born.isoformat()])
    return hmac.new(index_key, material.encode(), hashlib.sha256).digest()


# --- a database at the revision before, with cases stored the old way -------------------------


@dataclass
class Before:
    world: World
    url: str

    @property
    def keys(self) -> KeyProvider:
        return self.world.vault.provider

    def store_the_old_way(
        self,
        *,
        last: str,
        first: str = FIRST_NAME,
        address: str | None = None,
        school: str | None = None,
        guardian: str | None = None,
    ) -> str:
        """A case as the code before 0008 stored these values: sealed as typed, indexed with
        the old normalisation (no index row for a name it reduced to nothing)."""
        case_id = submit(self.world)
        with self.world.db() as session:
            personal = session.get(CasePersonal, uuid.UUID(case_id))
            assert personal is not None
            cipher = self.world.vault.cipher_for(
                personal.case_id, session.get(CaseKey, personal.case_id)
            )
            row = str(personal.case_id)
            for column, value in [
                ("last_name_enc", last),
                ("first_name_enc", first),
                ("address_enc", address),
                ("school_enc", school),
            ]:
                if value is not None:
                    setattr(personal, column, cipher.seal_text("case_personal", column, row, value))
            if guardian is not None:
                held = session.scalars(
                    select(Guardian).where(Guardian.case_id == personal.case_id)
                ).one()
                held.name_enc = cipher.seal_text("guardian", "name_enc", str(held.id), guardian)
            born = date.fromisoformat(
                cipher.open_text("case_personal", "birth_date_enc", row, personal.birth_date_enc)
            )
            index = session.get(IdentityIndex, personal.case_id)
            assert index is not None
            digest = old_digest(self.keys.index_key(), last, first, born)
            if digest is None:
                session.delete(index)
            else:
                index.digest = digest
        return case_id

    def digest(self, case_id: str) -> bytes | None:
        with self.world.db() as session:
            index = session.get(IdentityIndex, uuid.UUID(case_id))
            return None if index is None else bytes(index.digest)

    def ciphertexts(self) -> dict[str, Any]:
        with self.world.db() as session:
            personal = session.execute(select(CasePersonal)).scalars().all()
            guardians = session.execute(select(Guardian)).scalars().all()
            return {
                **{
                    str(p.case_id): (p.last_name_enc, p.first_name_enc, p.address_enc, p.school_enc)
                    for p in personal
                },
                **{str(g.id): g.name_enc for g in guardians},
            }

    def migrate(self, **kwargs: Any) -> None:
        """From the revision before 0008 to the head: the cases were stored (the old way) by
        the code of today, at the head; the schema is brought back to what it was before 0008
        (the later revisions' downgrades keep every row), then migrated."""
        migrate.downgrade(self.url, BEFORE)
        migrate.upgrade(self.url, **kwargs)

    def revision(self) -> str | None:
        engine = make_engine(self.url)
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        engine.dispose()
        return current

    def read(self, case_id: str) -> Any:
        self.world.vault.forget_all()
        return ok(self.world.as_("coordinator").get(f"/cases/{case_id}"))


@pytest.fixture
def before(new_database: Any, tmp_path: Path) -> Iterator[Before]:
    url: str = new_database()
    migrate.upgrade(url)
    settings = make_settings(tmp_path, url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Before(make_world(client, settings, lambda: unit_of_work(factory)), url)
    engine.dispose()


def _no_keys() -> KeyProvider:
    raise AssertionError("the keyring was asked for")


# --- the tests --------------------------------------------------------------------------------


def test_cases_stored_before_are_resealed_and_reindexed(before: Before) -> None:
    clean = before.store_the_old_way(last=LAST_NAME.upper())
    hidden = before.store_the_old_way(
        last=f"ZYX{ZWSP}WAVEL",
        first=f"{RLO}{FIRST_NAME}{PDF}",
        address=f"12{NBSP}{NBSP}rue{RLO} Imaginaire",
        school=f"Collège{BOM} Fictif",
        guardian=f"Parent{ZWJ} Zyxwavel",
    )
    invisible = before.store_the_old_way(last=ZWSP * 2)  # accepted before: kept as entered
    purged = submit(before.world)
    with before.world.db() as session:
        before.world.vault.shred(session, uuid.UUID(purged))
    clean_digest, hidden_digest = before.digest(clean), before.digest(hidden)
    assert hidden_digest != clean_digest  # the old index told them apart
    assert before.read(clean)["possible_duplicates"] == []

    before.migrate(keys=lambda: before.keys, batch=1)  # a batch per case

    assert before.revision() in migrate.head_revisions(before.url)
    assert before.digest(clean) == clean_digest  # a clean name's digest does not change
    assert before.digest(hidden) == clean_digest
    assert before.read(clean)["possible_duplicates"] == [hidden]
    case = before.read(hidden)
    assert case["possible_duplicates"] == [clean]
    assert (case["minor"]["last_name"], case["minor"]["first_name"]) == ("ZYXWAVEL", FIRST_NAME)
    assert case["minor"]["school"] == "Collège Fictif"
    assert case["contact"]["address"] == "12 rue Imaginaire"
    assert case["contact"]["guardians"][0]["name"] == "Parent Zyxwavel"
    assert before.read(invisible)["minor"]["last_name"] == ZWSP * 2
    assert before.digest(invisible) is None
    with before.world.db() as session:
        assert session.get(CaseKey, uuid.UUID(purged)) is None
    assert before.digest(purged) is None

    # Down is a no-op; up again changes nothing (nothing re-sealed, the same digests).
    sealed = before.ciphertexts()
    digests = {case_id: before.digest(case_id) for case_id in (clean, hidden, invisible)}
    migrate.downgrade(before.url, BEFORE)
    assert before.revision() == BEFORE
    before.migrate(keys=lambda: before.keys)
    assert before.ciphertexts() == sealed
    assert {case_id: before.digest(case_id) for case_id in digests} == digests


def test_an_empty_database_migrates_without_keys(new_database: Any) -> None:
    url: str = new_database()
    migrate.upgrade(url, BEFORE)
    migrate.upgrade(url, keys=_no_keys)


def test_purged_cases_need_no_keys(before: Before) -> None:
    purged = submit(before.world)
    with before.world.db() as session:
        before.world.vault.shred(session, uuid.UUID(purged))
    before.migrate(keys=_no_keys)
    assert before.revision() in migrate.head_revisions(before.url)


def _missing_keyring(tmp_path: Path) -> Callable[[], KeyProvider]:
    return lambda: LocalKeyringProvider(tmp_path / "nowhere" / "keyring.json")


def _another_keyring(tmp_path: Path) -> Callable[[], KeyProvider]:
    return lambda: LocalKeyringProvider.create(tmp_path / "another" / "keyring.json")


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        (_missing_keyring, "needs the keyring, which cannot be read (No keyring at"),
        (_another_keyring, "it is not this database's keyring"),
    ],
)
def test_cases_without_their_keyring_stop_the_migration(
    before: Before,
    tmp_path: Path,
    keys: Callable[[Path], Callable[[], KeyProvider]],
    reason: str,
) -> None:
    hidden = before.store_the_old_way(last=f"ZYX{ZWSP}WAVEL")
    sealed, digest = before.ciphertexts(), before.digest(hidden)
    with pytest.raises(RuntimeError, match="migration 0008") as stopped:
        before.migrate(keys=keys(tmp_path))
    assert reason in str(stopped.value)
    assert "CENOMED_KEYRING" in str(stopped.value)
    assert "nothing was changed" in str(stopped.value)
    assert LAST_NAME not in str(stopped.value).upper()
    assert before.revision() == BEFORE
    assert before.ciphertexts() == sealed
    assert before.digest(hidden) == digest


def test_without_a_loader_the_keyring_of_the_settings_is_used(
    before: Before, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``alembic upgrade`` run by hand does: the keyring the environment names."""
    before.store_the_old_way(last=f"ZYX{ZWSP}WAVEL")
    monkeypatch.setenv("CENOMED_DATA_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="No keyring at .*empty"):
            before.migrate()
        monkeypatch.setenv("CENOMED_DATA_DIR", str(before.world.settings.data_dir))
        get_settings.cache_clear()
        before.migrate()
    finally:
        get_settings.cache_clear()
    assert before.revision() in migrate.head_revisions(before.url)


def test_a_case_that_does_not_open_is_left_as_it_was_and_logged(
    before: Before, caplog: pytest.LogCaptureFixture
) -> None:
    clean = before.store_the_old_way(last=LAST_NAME)
    damaged = before.store_the_old_way(last=f"Zyx{ZWSP}wavel")
    hidden = before.store_the_old_way(last=f"Zyx{RLO}wavel")
    with before.world.db() as session:
        key = session.get(CaseKey, uuid.UUID(damaged))
        assert key is not None
        key.wrapped_key = bytes([key.wrapped_key[0] ^ 1]) + key.wrapped_key[1:]
    digest = before.digest(damaged)
    assert digest != before.digest(clean)
    with caplog.at_level(logging.WARNING, logger="cenomed.migrations.0008"):
        before.migrate(keys=lambda: before.keys)
    assert before.revision() in migrate.head_revisions(before.url)
    assert before.digest(damaged) == digest
    assert before.digest(hidden) == before.digest(clean)
    [warning] = [r for r in caplog.records if r.name == "cenomed.migrations.0008"]
    assert damaged in warning.getMessage()
    assert LAST_NAME not in caplog.text
