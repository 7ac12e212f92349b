"""The navigation's count of what awaits the visitor (issue 18), on every page.

Computing the worklist costs a few dozen statements, so the count is kept a minute per web
session in this worker (keyed by the session's token hash, which no other session shares), and
forgotten as soon as the session posts a form (the work it just did changes it). It is a
number and shows no case: no read to record.
"""

from __future__ import annotations

import threading

from cachetools import TTLCache
from sqlalchemy.orm import Session

from app.clock import now, today
from app.config import Settings
from app.principal import Principal
from app.worklist import service

KEPT_SECONDS = 60
_counts: TTLCache[str, int] = TTLCache(maxsize=10_000, ttl=KEPT_SECONDS)
_lock = threading.Lock()


def count(session: Session, settings: Settings, principal: Principal, *, visit: str) -> int:
    """The count for this web session (``visit``: its token hash)."""
    key = visit
    with _lock:
        kept = _counts.get(key)
    if kept is not None:
        return kept
    found = service.to_do_count(
        session,
        principal=principal,
        today=today(),
        now=now(),
        feedback_days=settings.feedback_due_days,
    )
    with _lock:
        _counts[key] = found
    return found


def forget(*, visit: str) -> None:
    with _lock:
        _counts.pop(visit, None)
