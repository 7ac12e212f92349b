"""KEK rotation: a new key-encryption key, every data key re-wrapped, the old key retired.

Each batch of re-wrapped keys is committed on its own, and the keyring keeps the old KEK until
no data key needs it, so a crash at any point leaves every case readable; running the rotation
again resumes it (a keyring holding more than one KEK is a rotation under way). The service keeps
serving throughout: it follows the keyring file and wraps new data keys with the new KEK.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from app.crypto.keyring import LocalKeyringProvider
from app.crypto.vault import Vault
from app.db import unit_of_work


@dataclass
class RotationReport:
    active: str
    created: bool
    rewrapped: int = 0
    retired: list[str] = field(default_factory=list)
    still_configured: list[str] = field(default_factory=list)


def rotate(
    vault: Vault,
    sessions: sessionmaker[Session],
    *,
    batch: int = 500,
    grace_seconds: float = 2.0,
    on_batch: Callable[[int, int], None] = lambda done, total: None,
) -> RotationReport:
    """Runs (or resumes) a rotation; ``on_batch(done, total)`` reports progress."""
    provider = vault.provider
    created = False
    if isinstance(provider, LocalKeyringProvider) and len(provider.key_ids()) == 1:
        provider.create_key()
        created = True
    report = RotationReport(active=provider.active_key_id(), created=created)

    def outstanding() -> int:
        with unit_of_work(sessions) as session:
            counts = vault.keys_by_kek(session)
        return sum(n for kek_id, n in counts.items() if kek_id != report.active)

    total = outstanding()
    # Requests in flight when the keyring changed may still wrap with the old KEK: after the
    # grace period, look again, until nothing is left to re-wrap.
    while True:
        while True:
            with unit_of_work(sessions) as session:
                done = vault.rewrap_batch(session, batch=batch)
            if not done:
                break
            report.rewrapped += done
            on_batch(report.rewrapped, max(total, report.rewrapped))
        time.sleep(grace_seconds)
        if outstanding() == 0:
            break

    others = [kek_id for kek_id in provider.key_ids() if kek_id != report.active]
    if isinstance(provider, LocalKeyringProvider):
        for kek_id in others:
            provider.retire(kek_id)
        report.retired = others
    else:
        report.still_configured = others
    return report
