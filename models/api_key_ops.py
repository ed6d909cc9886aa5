"""API keys for the public API: made (the key shown once, only its SHA-256 kept), found by the
key a caller presents (compared in constant time), listed and revoked."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.api_keys import ApiKey

KEY_START = "o311_"  # tells a Linli Open311 key apart from other secrets in a config file
PREFIX_LENGTH = 12  # KEY_START and 7 random characters: enough to name a key, never to use it
LONGEST_KEY = 200  # anything longer presented as a key is not one of ours


@dataclass(frozen=True)
class NewKey:
    """A key just made: the key itself (shown once, never stored) and its row."""

    key: str
    row: ApiKey


def key_hash(key: str) -> str:
    """The SHA-256 hex digest a key is kept as."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def make_key(session: AsyncSession, name: str, now: datetime) -> NewKey:
    """A new key for a named holder (e.g. "温江区12345热线")."""
    name = name.strip()
    if not name:
        raise ValueError("an API key needs the name of who holds it")
    key = KEY_START + secrets.token_urlsafe(32)
    row = ApiKey(name=name[:80], prefix=key[:PREFIX_LENGTH], key_hash=key_hash(key), created_at=now)
    session.add(row)
    await session.flush()
    return NewKey(key, row)


async def key_in_use(session: AsyncSession, presented: str, now: datetime) -> ApiKey | None:
    """The unrevoked key a caller presented (its last use recorded), or None."""
    if not presented or len(presented) > LONGEST_KEY:
        return None
    digest = key_hash(presented)
    row = (await session.exec(select(ApiKey).where(ApiKey.key_hash == digest))).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
        return None
    row.last_used_at = now
    session.add(row)
    return row


async def all_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key ever made, oldest first (revoked ones too, for the record)."""
    return list((await session.exec(select(ApiKey).order_by(col(ApiKey.id)))).all())


async def keys_named_by(session: AsyncSession, prefix_or_id: str) -> list[ApiKey]:
    """The keys an operator means by a prefix (or the start of one) or a numeric id."""
    wanted = prefix_or_id.strip()
    if wanted.isdecimal() and len(wanted) < 10:
        row = await session.get(ApiKey, int(wanted))
        return [row] if row is not None else []
    if len(wanted) < len(KEY_START) + 1:
        return []  # "o311_" alone would name every key
    stmt = select(ApiKey).where(
        col(ApiKey.prefix).startswith(wanted[:PREFIX_LENGTH], autoescape=True)
    )
    return list((await session.exec(stmt.order_by(col(ApiKey.id)))).all())


def revoke(session: AsyncSession, row: ApiKey, now: datetime) -> bool:
    """Revoke a key from now on; False when it was revoked already."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = now
    session.add(row)
    return True
