"""KEK rotation while the service serves, after a crash, and from the command line."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from app.crypto.keyring import LocalKeyringProvider
from app.crypto.models import CaseKey
from app.crypto.rotation import rotate
from app.crypto.vault import Vault
from app.db import make_engine, make_sessionmaker
from tests.conftest import World
from tests.scenario import FIRST_NAME, case_body, ok, submit


def _rotation_vault(world: World) -> Vault:
    """What 'cenomed keys rotate' builds: its own provider on the service's keyring file."""
    return Vault(LocalKeyringProvider(world.settings.local_keyring_path))


def _keks(world: World) -> Counter[str]:
    with world.db() as session:
        return Counter(session.scalars(select(CaseKey.kek_id)))


def _all_readable(world: World, case_ids: list[str]) -> None:
    for case_id in case_ids:
        assert ok(world.as_("coordinator").get(f"/cases/{case_id}"))["minor"]["first_name"] == (
            FIRST_NAME
        )


def test_rotation_while_the_service_reads_and_writes(world: World) -> None:
    case_ids = [submit(world) for _ in range(25)]
    old_kek = world.vault.provider.active_key_id()
    statuses: Counter[int] = Counter()
    created: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        coordinator = world.as_("coordinator")
        turn = 0
        while not stop.is_set():
            turn += 1
            response: Any = coordinator.get(f"/cases/{case_ids[turn % len(case_ids)]}")
            statuses[response.status_code] += 1
            if turn % 5 == 0:
                answer: Any = world.as_("police").post("/cases", case_body(world.cell.id))
                statuses[answer.status_code] += 1
                if answer.status_code == 201:
                    created.append(answer.json()["id"])

    worker = threading.Thread(target=serve)
    worker.start()
    try:
        engine = make_engine(world.settings.database_url)
        report = rotate(_rotation_vault(world), make_sessionmaker(engine), batch=4)
        engine.dispose()
    finally:
        stop.set()
        worker.join()

    assert report.created
    assert report.retired == [old_kek]
    assert report.rewrapped >= 25
    assert set(statuses) <= {200, 201}, statuses
    assert statuses[200] > 0
    # Every data key now under the new KEK; the retired one is kept, unwrap-only.
    assert _keks(world) == Counter({report.active: 25 + len(created)})
    assert world.vault.provider.key_ids() == sorted([report.active, old_kek])
    world.vault.forget_all()
    _all_readable(world, case_ids + created)

    # The next rotation destroys the retired KEK, which nothing refers to any more.
    engine = make_engine(world.settings.database_url)
    again = rotate(_rotation_vault(world), make_sessionmaker(engine), batch=4)
    engine.dispose()
    assert again.destroyed == [old_kek]
    assert old_kek not in world.vault.provider.key_ids()
    world.vault.forget_all()
    _all_readable(world, case_ids + created)


def test_a_rotation_that_crashed_half_way_leaves_everything_readable_and_resumes(
    world: World,
) -> None:
    case_ids = [submit(world) for _ in range(10)]
    engine = make_engine(world.settings.database_url)
    sessions = make_sessionmaker(engine)

    def crash(done: int, _total: int) -> None:
        raise KeyboardInterrupt("killed after the first batch")

    with pytest.raises(KeyboardInterrupt):
        rotate(_rotation_vault(world), sessions, batch=3, on_batch=crash)
    keks = _keks(world)
    assert len(keks) == 2
    assert sorted(keks.values()) == [3, 7]
    world.vault.forget_all()
    _all_readable(world, case_ids)

    report = rotate(_rotation_vault(world), sessions, batch=3)
    engine.dispose()
    assert not report.created  # the interrupted rotation is resumed, not restarted
    assert report.rewrapped == 7
    assert _keks(world) == Counter({report.active: 10})
    assert len(report.retired) == 1
    world.vault.forget_all()
    _all_readable(world, case_ids)


def test_keys_rotate_from_the_command_line(world: World) -> None:
    import os
    import subprocess
    import sys

    case_id = submit(world)
    env = os.environ | {
        "CENOMED_DATA_DIR": str(world.settings.data_dir),
        "CENOMED_DATABASE_URL": world.settings.database_url,
    }
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "keys", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["created"] is True
    assert report["rewrapped"] == 1
    assert _keks(world) == Counter({report["active"]: 1})
    world.vault.forget(uuid.UUID(case_id))
    _all_readable(world, [case_id])


def test_with_a_secret_keyring_rotation_rewraps_to_its_active_key(world: World) -> None:
    from app.crypto.keyring import Keyring, SecretKeyringProvider

    submit(world)
    submit(world)
    ring = Keyring.from_json(world.settings.local_keyring_path.read_text())
    old = ring.active
    new = ring.add_key()  # what an operator does in the secret before running the rotation
    engine = make_engine(world.settings.database_url)
    report = rotate(Vault(SecretKeyringProvider(inline=ring.to_json())), make_sessionmaker(engine))
    engine.dispose()
    assert (report.created, report.active, report.rewrapped) == (False, new, 2)
    assert report.retired == []
    assert report.still_configured == [old]  # to be removed from the secret by the operator
    assert _keks(world) == Counter({new: 2})


def test_a_data_key_wrapped_with_the_old_kek_after_the_switch_still_reads(world: World) -> None:
    """A request that read the keyring just before a rotation wraps with the old KEK and may
    commit after the rotation ended: the retired KEK still unwraps, the next rotation
    re-wraps that key, and only a later one destroys the KEK."""
    from app.crypto.keyring import Keyring, SecretKeyringProvider

    stale_ring = Keyring.from_json(world.settings.local_keyring_path.read_text())
    old_kek = stale_ring.active
    engine = make_engine(world.settings.database_url)
    sessions = make_sessionmaker(engine)
    first = rotate(_rotation_vault(world), sessions)
    # The late request: its vault still sees the keyring as it was before the rotation.
    late_vault = Vault(SecretKeyringProvider(inline=stale_ring.to_json()))
    from app.cases import service
    from app.cases.schemas import CaseCreate
    from app.clock import today

    police = world.principal("police")
    with world.db() as session:
        late = service.submit_case(
            session,
            principal=police,
            vault=late_vault,
            data=CaseCreate.model_validate(case_body(world.cell.id)),
            today=today(),
            received_on_max_days=world.settings.received_on_max_days,
        ).id
    assert _keks(world) == Counter({old_kek: 1})
    _all_readable(world, [str(late)])

    second = rotate(_rotation_vault(world), sessions)
    assert second.destroyed == []  # the old KEK was still needed
    assert second.rewrapped == 1
    third = rotate(_rotation_vault(world), sessions)
    engine.dispose()
    assert old_kek in third.destroyed
    assert first.active in third.destroyed
    world.vault.forget_all()
    _all_readable(world, [str(late)])


def test_a_damaged_wrapped_key_is_reported_and_does_not_block_the_rotation(
    world: World,
) -> None:
    damaged, sound = uuid.UUID(submit(world)), submit(world)
    with world.db() as session:
        key = session.get(CaseKey, damaged)
        assert key is not None
        old_kek = key.kek_id
        key.wrapped_key = bytes([key.wrapped_key[0] ^ 1]) + key.wrapped_key[1:]
    engine = make_engine(world.settings.database_url)
    sessions = make_sessionmaker(engine)
    report = rotate(_rotation_vault(world), sessions)
    assert report.unreadable_cases == [str(damaged)]
    assert report.rewrapped == 1
    # The old KEK stays as long as a key refers to it, even a damaged one.
    assert rotate(_rotation_vault(world), sessions).destroyed == []
    engine.dispose()
    assert old_kek in world.vault.provider.key_ids()
    world.vault.forget_all()
    _all_readable(world, [sound])


def test_expired_data_keys_leave_memory_at_the_next_access_to_any_case() -> None:
    import time

    from app.crypto.keyring import Keyring, SecretKeyringProvider

    vault = Vault(SecretKeyringProvider(inline=Keyring.new().to_json()), cache_seconds=0.05)
    case_id = uuid.uuid4()
    key = CaseKey(case_id=case_id, key_version=1)
    key.kek_id, key.wrapped_key = vault.provider.wrap(os.urandom(32), context=case_id.bytes)
    vault.cipher_for(case_id, key)
    assert len(vault._cache) == 1
    time.sleep(0.1)
    other = uuid.uuid4()
    other_key = CaseKey(case_id=other, key_version=1)
    other_key.kek_id, other_key.wrapped_key = vault.provider.wrap(
        os.urandom(32), context=other.bytes
    )
    vault.cipher_for(other, other_key)
    assert list(vault._cache) == [(other, other_key.kek_id, 1)]
