"""Phone and ID numbers at rest: sealed with Fernet (the `cryptography` library), with a keyed
hash beside each so that a number can still be looked up without being readable.

The keys come from settings (`LINLI_DATA_KEYS`, newest first, so old rows still open after a new
key is added); the application hands them over once at start with `use_keys`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Every Fernet token starts with its version byte 0x80, which is "gAAAAA" in base64.
_TOKEN_START = "gAAAAA"  # noqa: S105 (a format marker, not a secret)


class _Keyring:
    """The keys of this process: Fernet for sealing, a derived key for the lookup hashes."""

    def __init__(self) -> None:
        self.fernet: MultiFernet | None = None
        self.index_key = b""

    def configure(self, keys: Sequence[str]) -> None:
        fernets = [Fernet(key.encode("ascii")) for key in keys]
        if not fernets:
            raise ValueError("at least one data key is needed")
        self.fernet = MultiFernet(fernets)
        # The lookup key comes from the oldest key, so that adding a key keeps every lookup.
        self.index_key = hashlib.sha256(b"linli-lookup:" + keys[-1].encode("ascii")).digest()

    def sealer(self) -> MultiFernet:
        if self.fernet is None:
            raise RuntimeError("personal data keys are not configured (models.sealed.use_keys)")
        return self.fernet


_KEYRING = _Keyring()


def use_keys(keys: Sequence[str]) -> None:
    """Configure the Fernet keys (newest first) that seal phone and ID numbers."""
    _KEYRING.configure(keys)


def derived_key(secret: str) -> str:
    """A Fernet key derived from another secret (demo mode derives it from LINLI_SECRET_KEY)."""
    digest = hashlib.sha256(b"linli-data-key:" + secret.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def seal(value: str) -> str:
    """The sealed form of a value."""
    return _KEYRING.sealer().encrypt(value.encode("utf-8")).decode("ascii")


def unseal(stored: str) -> str:
    """The value of a sealed form; a value stored before sealing began is returned as it is."""
    if not stored.startswith(_TOKEN_START):
        return stored
    try:
        return _KEYRING.sealer().decrypt(stored.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise RuntimeError("a sealed value does not open with the configured data keys") from None


def is_sealed(stored: str) -> bool:
    """Whether a stored value is already sealed."""
    return stored.startswith(_TOKEN_START)


def lookup_hash(value: str) -> str:
    """The keyed hash a sealed value is found by (equal values, equal hashes)."""
    if not _KEYRING.index_key:
        _KEYRING.sealer()  # raises the clear error
    return hmac.new(_KEYRING.index_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


class SealedString(TypeDecorator[str]):
    """A text column whose values are sealed on the way in and opened on the way out."""

    impl = sa.String(255)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Seal a value before it is written."""
        return None if value is None else seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """Open a value that was read."""
        return None if value is None else unseal(value)
