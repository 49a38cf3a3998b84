"""Password hashing with argon2id (argon2-cffi), rehashed on login when parameters change."""

from __future__ import annotations

import contextlib
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from appliance.errors import InvalidRequest

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


@functools.cache
def hasher() -> PasswordHasher:
    """The one hasher (argon2-cffi's current recommended argon2id parameters)."""
    return PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return hasher().hash("not a password of anybody: timing equaliser")


def check_password_policy(password: str) -> None:
    """Refuse a password shorter than :data:`MIN_PASSWORD_LENGTH` characters (or absurdly long)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequest(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` after the policy check."""
    check_password_policy(password)
    return hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Check ``password`` against ``stored_hash``; returns (ok, new hash or None).

    The new hash is set when the password is right and the stored hash used older parameters
    (store it). With ``stored_hash=None`` (an unknown user) a dummy hash is verified so the
    answer takes about as long as for a known one, and the result is always false.
    """
    ph = hasher()
    if stored_hash is None or len(password) > MAX_PASSWORD_LENGTH:
        with contextlib.suppress(VerificationError):
            ph.verify(_dummy_hash(), password[:MAX_PASSWORD_LENGTH])
        return False, None
    try:
        ph.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return True, (ph.hash(password) if ph.check_needs_rehash(stored_hash) else None)
