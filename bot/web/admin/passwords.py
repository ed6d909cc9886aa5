"""Staff desk passwords: argon2id hashes (argon2-cffi), checked off the event loop."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 takes any length; a megabyte "password" should not cost a core
HASHER = PasswordHasher()
# Checked when the staff code is unknown or has no password, so that the answer takes as long.
_DUMMY_HASH = HASHER.hash("linli-desk-no-such-staff-member")


class WeakPasswordError(ValueError):
    """A password too short (or too long) to be set."""


def hash_password(password: str) -> str:
    """The argon2id hash of a new password, after the length rules."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"a desk password has at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPasswordError(f"a desk password has at most {MAX_LENGTH} characters")
    return HASHER.hash(password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _DUMMY_HASH, password[:MAX_LENGTH]) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether password matches the stored hash (None never matches, in the same time)."""
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    """Whether a hash was made with weaker parameters than today's."""
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def fingerprint(secret: str, stored: str | None) -> str:
    """A short keyed digest of the stored hash: kept in the session, so a password change
    ends every session opened with the old password."""
    digest = hmac.new(secret.encode(), (stored or "").encode(), hashlib.sha256)
    return digest.hexdigest()[:24]
