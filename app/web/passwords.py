"""The local sign-in's passwords (embedded default only): argon2id through argon2-cffi.

A sign-in for an unknown account still runs one verification against a fixed hash, so the
time taken does not tell which account names exist. A worker runs at most a few checks at
once: argon2's memory cost is the point of it, and a burst must not multiply it.
"""

from __future__ import annotations

import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import InvalidInput, ServiceBusy

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 takes any length; a bound keeps a sign-in cheap to refuse
_hasher = PasswordHasher()  # RFC 9106's second recommended profile (argon2id, 64 MiB, t=3)
_UNKNOWN_ACCOUNT = _hasher.hash("an account that does not exist")
# Each check holds 64 MiB for a few tenths of a second: a burst of sign-ins must not run
# dozens at once in a worker (memory rose from 140 MiB to 1.1 GiB). Checks beyond this many
# wait their turn, at most WAIT_SECONDS, then the sign-in is refused as busy.
CONCURRENT_CHECKS = 2
WAIT_SECONDS = 10.0
_checks = threading.BoundedSemaphore(CONCURRENT_CHECKS)


class ChecksBusy(ServiceBusy):
    """Too many password checks under way in this worker: try again in a moment (503)."""


def check_new_password(password: str) -> None:
    """The rule an operator's new password must meet (ANSSI: length over composition)."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidInput(
            f"A password has between {MIN_LENGTH} and {MAX_LENGTH} characters; choose a "
            "longer passphrase."
        )


def hash_password(password: str) -> str:
    check_new_password(password)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``stored`` None (unknown account, no password set) is
    checked against a fixed hash all the same and is never a match."""
    if len(password) > MAX_LENGTH:
        return False
    if not _checks.acquire(timeout=WAIT_SECONDS):
        raise ChecksBusy("Too many sign-ins are being checked right now; try again in a moment.")
    try:
        return _hasher.verify(stored or _UNKNOWN_ACCOUNT, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
    finally:
        _checks.release()


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
