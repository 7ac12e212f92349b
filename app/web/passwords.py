"""The local sign-in's passwords (embedded default only): argon2id through argon2-cffi.

A sign-in for an unknown account still runs one verification against a fixed hash, so the
time taken does not tell which account names exist.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 takes any length; a bound keeps a sign-in cheap to refuse
_hasher = PasswordHasher()  # RFC 9106's second recommended profile (argon2id, 64 MiB, t=3)
_UNKNOWN_ACCOUNT = _hasher.hash("an account that does not exist")


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
    try:
        return _hasher.verify(stored or _UNKNOWN_ACCOUNT, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
