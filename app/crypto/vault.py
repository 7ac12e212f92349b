"""The service layer's door to encryption: data keys per case, blind index, shredding,
re-wrapping for KEK rotation.

Unwrapped data keys are cached in memory for a short time (never on disk), keyed by the case,
the KEK and the key version; the wrapped key is still read from the database with the case, so
a shredded case is unreadable at once in every process, cache or not.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import date

from cachetools import TTLCache
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.crypto.blind_index import identity_digest
from app.crypto.envelope import FieldCipher, new_data_key
from app.crypto.keyring import KeyProvider, KeyUnavailable, WrapIntegrityError
from app.crypto.models import CaseKey, IdentityIndex
from app.db import utcnow
from app.operations import metrics

log = logging.getLogger(__name__)

CURRENT_KEY_VERSION = 1


class DataDestroyed(Exception):
    """The case's data key was destroyed: its nominative data is gone for good."""


class KeyIntegrityError(Exception):
    """A case's wrapped key cannot be unwrapped (altered, or its KEK is missing)."""


def _context(case_id: uuid.UUID) -> bytes:
    return case_id.bytes


class Vault:
    def __init__(
        self, provider: KeyProvider, *, cache_seconds: float = 60.0, cache_size: int = 4096
    ):
        self.provider = provider
        self._cache: TTLCache[tuple[uuid.UUID, str, int], FieldCipher] = TTLCache(
            maxsize=cache_size, ttl=cache_seconds
        )
        self._lock = threading.Lock()

    # --- data keys ----------------------------------------------------------------------------

    def new_case_key(self, session: Session, case_id: uuid.UUID) -> FieldCipher:
        data_key = new_data_key()
        kek_id, wrapped = self.provider.wrap(data_key, context=_context(case_id))
        session.add(
            CaseKey(
                case_id=case_id,
                key_version=CURRENT_KEY_VERSION,
                kek_id=kek_id,
                wrapped_key=wrapped,
                created_at=utcnow(),
            )
        )
        cipher = FieldCipher(data_key, CURRENT_KEY_VERSION)
        with self._lock:
            self._cache[(case_id, kek_id, CURRENT_KEY_VERSION)] = cipher
        return cipher

    def cipher_for(self, case_id: uuid.UUID, key: CaseKey | None) -> FieldCipher:
        """The cipher of a case, given its key row as loaded with the case."""
        if key is None:
            raise DataDestroyed(str(case_id))
        cache_key = (case_id, key.kek_id, key.key_version)
        with self._lock:
            self._cache.expire()  # drop every expired key now, not at the next insertion
            cipher = self._cache.get(cache_key)
        if cipher is not None:
            return cipher
        try:
            data_key = self.provider.unwrap(key.kek_id, key.wrapped_key, context=_context(case_id))
        except (KeyUnavailable, WrapIntegrityError) as error:
            log.error("data key of case %s cannot be unwrapped: %s", case_id, type(error).__name__)
            metrics.count_decryption_failure("data_key")
            raise KeyIntegrityError(str(case_id)) from error
        cipher = FieldCipher(data_key, key.key_version)
        with self._lock:
            self._cache[cache_key] = cipher
        return cipher

    def forget_all(self) -> None:
        with self._lock:
            self._cache.clear()

    def forget(self, case_id: uuid.UUID) -> None:
        with self._lock:
            for cache_key in [k for k in self._cache if k[0] == case_id]:
                self._cache.pop(cache_key, None)

    # --- blind index --------------------------------------------------------------------------

    def index_identity(
        self, session: Session, case_id: uuid.UUID, last_name: str, first_name: str, born: date
    ) -> None:
        digest = identity_digest(self.provider.index_key(), last_name, first_name, born)
        if digest is not None:
            session.add(IdentityIndex(case_id=case_id, digest=digest))

    def reindex_identity(
        self, session: Session, case_id: uuid.UUID, last_name: str, first_name: str, born: date
    ) -> None:
        """The blind index follows an amended identity (the old entry goes, the new one comes)."""
        session.execute(delete(IdentityIndex).where(IdentityIndex.case_id == case_id))
        self.index_identity(session, case_id, last_name, first_name, born)

    # --- crypto-shredding ---------------------------------------------------------------------

    def shred(self, session: Session, case_id: uuid.UUID) -> bool:
        """Destroys the case's data key and blind-index entry; True if there was a key."""
        key = session.get(CaseKey, case_id)
        if key is not None:
            session.delete(key)
        session.execute(delete(IdentityIndex).where(IdentityIndex.case_id == case_id))
        session.flush()
        self.forget(case_id)
        return key is not None

    # --- KEK rotation -------------------------------------------------------------------------

    def rewrap_batch(
        self, session: Session, *, batch: int = 500, skip: frozenset[uuid.UUID] = frozenset()
    ) -> tuple[int, list[uuid.UUID]]:
        """Re-wraps up to ``batch`` data keys not wrapped by the active KEK.

        Returns how many were re-wrapped and the cases whose key could not be unwrapped (left
        as they are, reported, never retried in the same run). Each update is conditional on
        the key still being the one read, so a key shredded or re-wrapped meanwhile is skipped.
        """
        active = self.provider.active_key_id()
        query = select(CaseKey.case_id, CaseKey.kek_id, CaseKey.wrapped_key).where(
            CaseKey.kek_id != active
        )
        if skip:
            query = query.where(CaseKey.case_id.not_in(skip))
        rows = session.execute(query.order_by(CaseKey.case_id).limit(batch)).all()
        done, damaged = 0, []
        for case_id, kek_id, wrapped in rows:
            context = _context(case_id)
            try:
                data_key = self.provider.unwrap(kek_id, wrapped, context=context)
            except (KeyUnavailable, WrapIntegrityError):
                log.error("data key of case %s cannot be unwrapped for re-wrapping", case_id)
                damaged.append(case_id)
                continue
            new_kek, new_wrapped = self.provider.wrap(data_key, context=context)
            result = session.execute(
                update(CaseKey)
                .where(CaseKey.case_id == case_id, CaseKey.kek_id == kek_id)
                .values(kek_id=new_kek, wrapped_key=new_wrapped, rewrapped_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            done += int(getattr(result, "rowcount", 0) or 0)
        return done, damaged

    def keys_by_kek(self, session: Session) -> dict[str, int]:
        rows = session.execute(select(CaseKey.kek_id, func.count()).group_by(CaseKey.kek_id))
        return {row[0]: row[1] for row in rows}
