"""Signed links: a reference in a URL that cannot be guessed or enumerated without the key."""

from __future__ import annotations

import hashlib
import hmac


def link_signature(secret: str, purpose: str, value: str) -> str:
    """A short keyed signature of value for one purpose (e.g. "ics")."""
    digest = hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def signature_ok(secret: str, purpose: str, value: str, given: str) -> bool:
    """Whether a link's signature is right (constant-time)."""
    expected = link_signature(secret, purpose, value).encode()
    return hmac.compare_digest(expected, given.encode())  # bytes: non-ASCII must not raise


def expiring_token(secret: str, purpose: str, value: str, expires: int) -> str:
    """A link token for value that stops working at the Unix time expires."""
    body = f"{value}.{expires}"
    return f"{body}.{link_signature(secret, purpose, body)}"


def read_expiring_token(secret: str, purpose: str, token: str, now: float) -> str | None:
    """The value of a token made by expiring_token, if it is genuine and not expired."""
    body, _, given = token.rpartition(".")
    value, _, expires = body.rpartition(".")
    if not value or not expires.isdigit() or not signature_ok(secret, purpose, body, given):
        return None
    return value if now < int(expires) else None
