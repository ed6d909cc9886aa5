"""Tokens for submitted requests (GET tokens/{token}), made without a table: the request's id
and a keyed signature of it, so a token cannot be forged or guessed without the secret key."""

from __future__ import annotations

from bot.signing import link_signature, signature_ok

PURPOSE = "open311-token"
LONGEST = 120


def token_for(secret: str, request_id: str) -> str:
    """The token of a request (the same every time)."""
    return f"{request_id}.{link_signature(secret, PURPOSE, request_id)}"


def request_of(secret: str, token: str) -> str | None:
    """The request id a genuine token names; None for anything else."""
    if len(token) > LONGEST:
        return None
    request_id, _, signature = token.rpartition(".")
    if not request_id or not signature_ok(secret, PURPOSE, request_id, signature):
        return None
    return request_id
