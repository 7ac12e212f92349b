"""KEK rotation: a new key-encryption key, every data key re-wrapped, the old key retired.

Safe at every step:

* the rotation holds a lock of its own, so two rotations never interleave;
* the keyring marks the rotation as under way: one that crashed is resumed, not restarted;
* each batch of re-wrapped keys is committed on its own, each update conditional on the key
  read, so a crash or a concurrent shred loses nothing;
* a retired KEK keeps unwrapping: a request that wrapped a new case's data key with it just
  before the switch still reads, and the next rotation re-wraps that key. A retired KEK is
  destroyed only by a later rotation, once no data key refers to it.

The service keeps serving throughout: it follows the keyring file and wraps new data keys with
the new KEK as soon as it is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from app.audit import trail
from app.audit.trail import Action
from app.crypto.keyring import LocalKeyringProvider
from app.crypto.vault import Vault
from app.db import unit_of_work


@dataclass
class RotationReport:
    active: str
    created: bool
    rewrapped: int = 0
    retired: list[str] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    still_configured: list[str] = field(default_factory=list)
    unreadable_cases: list[str] = field(default_factory=list)


def rotate(
    vault: Vault,
    sessions: sessionmaker[Session],
    *,
    batch: int = 500,
    on_batch: Callable[[int, int], None] = lambda done, total: None,
) -> RotationReport:
    """Runs (or resumes) a rotation; ``on_batch(done, total)`` reports progress."""
    provider = vault.provider
    if not isinstance(provider, LocalKeyringProvider):
        # A secret keyring is the operator's to change: re-wrap with its active key.
        report = RotationReport(active=provider.active_key_id(), created=False)
        _rewrap_all(vault, sessions, batch, report, on_batch)
        report.still_configured = _unreferenced(vault, sessions, provider.key_ids())
        _log(sessions, Action.ROTATE_KEYS, f"rewrapped:kek:{report.active}")
        return report

    with provider.rotation_lock():
        created = False
        destroyed: list[str] = []
        if not provider.rotation_under_way():
            destroyed = _unreferenced(vault, sessions, provider.retired_key_ids())
            for kek_id in destroyed:  # logged before it happens: no destruction without trace
                _log(sessions, Action.DESTROY_KEY, f"kek:{kek_id}")
            provider.destroy(destroyed)
            provider.begin_rotation()
            created = True
            _log(sessions, Action.ROTATE_KEYS, f"started:kek:{provider.active_key_id()}")
        report = RotationReport(
            active=provider.active_key_id(), created=created, destroyed=destroyed
        )
        _rewrap_all(vault, sessions, batch, report, on_batch)
        provider.end_rotation()
        report.retired = provider.retired_key_ids()
        _log(sessions, Action.ROTATE_KEYS, f"completed:kek:{report.active}")
        return report


def _log(sessions: sessionmaker[Session], action: Action, detail: str) -> None:
    """Key operations are high-severity events (R23), each committed as it happens."""
    with unit_of_work(sessions) as session:
        trail.record(session, trail.OPERATOR, action, severity=trail.HIGH, detail=detail)


def _rewrap_all(
    vault: Vault,
    sessions: sessionmaker[Session],
    batch: int,
    report: RotationReport,
    on_batch: Callable[[int, int], None],
) -> None:
    total = _outstanding(vault, sessions, report.active)
    damaged: set[uuid.UUID] = set()
    while True:
        with unit_of_work(sessions) as session:
            done, failed = vault.rewrap_batch(session, batch=batch, skip=frozenset(damaged))
        damaged.update(failed)
        report.rewrapped += done
        if done:
            on_batch(report.rewrapped, max(total, report.rewrapped))
        if not done and not failed:
            break
    report.unreadable_cases = sorted(str(case_id) for case_id in damaged)


def _outstanding(vault: Vault, sessions: sessionmaker[Session], active: str) -> int:
    with unit_of_work(sessions) as session:
        counts = vault.keys_by_kek(session)
    return sum(n for kek_id, n in counts.items() if kek_id != active)


def _unreferenced(vault: Vault, sessions: sessionmaker[Session], kek_ids: list[str]) -> list[str]:
    """The KEKs among ``kek_ids`` that no data key refers to (never the active one)."""
    with unit_of_work(sessions) as session:
        counts = vault.keys_by_kek(session)
    active = vault.provider.active_key_id()
    return [k for k in kek_ids if k != active and counts.get(k, 0) == 0]
