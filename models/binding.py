"""Binding chat accounts to people: one-time codes for staff accounts and for a resident's
second channel, single use, expiring, and slowed down against guessing."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

import sqlalchemy as sa
from sqlmodel import SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.messaging import BindAttempt, BindCode
from models.org import Staff
from models.people import ChannelIdentity, Resident

# No 0/O, 1/I/L: a code is read off a screen and typed on a phone.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8  # 31**8 ≈ 8.5e11 codes


@dataclass(frozen=True)
class GuessLimits:
    """How many failed redemptions are tolerated before redeeming pauses."""

    per_account: int = 5
    per_account_window: timedelta = timedelta(hours=1)
    street_wide: int = 200
    street_wide_window: timedelta = timedelta(minutes=10)


class BindOutcome(StrEnum):
    """What became of a redemption."""

    STAFF_BOUND = "staff_bound"
    RESIDENT_LINKED = "resident_linked"
    ALREADY = "already"
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"
    TOO_MANY = "too_many"


class BindableAccount(Protocol):
    """What binding needs of a chat account (an ORM row or the pipeline's plain copy)."""

    resident_id: int | None
    staff_id: int | None

    @property
    def id(self) -> int | None:
        """The account's row id."""


@dataclass(frozen=True)
class IssuedCode:
    """A code as shown once to its owner; only its keyed hash is stored."""

    code: str
    expires_at: datetime


def normalize_code(typed: str) -> str:
    """Fold full-width characters, case, spaces and dashes out of a typed code."""
    folded = unicodedata.normalize("NFKC", typed).upper()
    return "".join(ch for ch in folded if ch.isalnum())


def hash_code(code: str, secret: str) -> str:
    """The keyed hash a code is stored and looked up by."""
    return hmac.new(secret.encode(), normalize_code(code).encode(), hashlib.sha256).hexdigest()


def format_code(code: str) -> str:
    """ABCD-EFGH: easier to read out."""
    return f"{code[:4]}-{code[4:]}"


async def issue_bind_code(
    session: AsyncSession,
    *,
    secret: str,
    now: datetime,
    ttl: timedelta,
    staff_id: int | None = None,
    resident_id: int | None = None,
) -> IssuedCode:
    """A fresh code for a staff member or a resident; their earlier unused codes stop working."""
    if (staff_id is None) == (resident_id is None):
        raise ValueError("a bind code is for exactly one staff member or one resident")
    owner = (
        col(BindCode.staff_id) == staff_id
        if staff_id is not None
        else col(BindCode.resident_id) == resident_id
    )
    await session.exec(
        sa.update(BindCode)
        .where(owner, col(BindCode.used_at).is_(None), col(BindCode.expires_at) > now)
        .values(expires_at=now)
    )
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires_at = now + ttl
    session.add(
        BindCode(
            code_hash=hash_code(code, secret),
            staff_id=staff_id,
            resident_id=resident_id,
            expires_at=expires_at,
            created_at=now,
        )
    )
    await session.flush()
    return IssuedCode(code, expires_at)


async def redeem_bind_code(
    session: AsyncSession,
    account: BindableAccount,
    typed: str,
    *,
    secret: str,
    now: datetime,
    limits: GuessLimits | None = None,
) -> BindOutcome:
    """Bind account to the code's staff member, or link it to the code's resident."""
    limits = limits or GuessLimits()
    if account.id is None:
        raise ValueError("the chat account must be saved before it can be bound")
    if await _too_many_failures(session, account.id, now, limits):
        return BindOutcome.TOO_MANY
    row = (
        await session.exec(select(BindCode).where(BindCode.code_hash == hash_code(typed, secret)))
    ).first()
    outcome = _unusable(row, now)
    if outcome is None:
        assert row is not None
        outcome = await _apply(session, account, row, now)
    session.add(
        BindAttempt(identity_id=account.id, attempted_at=now, succeeded=_succeeded(outcome))
    )
    return outcome


def _succeeded(outcome: BindOutcome) -> bool:
    return outcome in (BindOutcome.STAFF_BOUND, BindOutcome.RESIDENT_LINKED, BindOutcome.ALREADY)


def _unusable(row: BindCode | None, now: datetime) -> BindOutcome | None:
    if row is None:
        return BindOutcome.INVALID
    if row.used_at is not None:
        return BindOutcome.USED
    if row.expires_at <= now:
        return BindOutcome.EXPIRED
    return None


async def _too_many_failures(
    session: AsyncSession, identity_id: int, now: datetime, limits: GuessLimits
) -> bool:
    failed = (
        select(func.count()).select_from(BindAttempt).where(col(BindAttempt.succeeded).is_(False))
    )
    mine = failed.where(
        BindAttempt.identity_id == identity_id,
        col(BindAttempt.attempted_at) > now - limits.per_account_window,
    )
    if (await session.exec(mine)).one() >= limits.per_account:
        return True
    everyone = failed.where(col(BindAttempt.attempted_at) > now - limits.street_wide_window)
    return (await session.exec(everyone)).one() >= limits.street_wide


async def _apply(
    session: AsyncSession, account: BindableAccount, row: BindCode, now: datetime
) -> BindOutcome:
    if row.staff_id is not None:
        staff = await session.get(Staff, row.staff_id)
        if staff is None or not staff.active:
            return BindOutcome.INVALID
    elif row.resident_id == account.resident_id:
        return BindOutcome.ALREADY
    # Taking the code is one conditional UPDATE, so two accounts racing for it cannot both win.
    taken = await session.exec(
        sa.update(BindCode)
        .where(col(BindCode.id) == row.id, col(BindCode.used_at).is_(None))
        .values(used_at=now)
    )
    if taken.rowcount != 1:
        return BindOutcome.USED
    if row.staff_id is not None:
        account.staff_id = row.staff_id
        return BindOutcome.STAFF_BOUND
    assert row.resident_id is not None
    previous, account.resident_id = account.resident_id, row.resident_id
    if previous is not None:
        await merge_residents(session, previous, row.resident_id)
    return BindOutcome.RESIDENT_LINKED


PROFILE_FIELDS = ("name", "phone", "community_id", "grid_id", "compound_id", "elderly", "disabled")


async def merge_residents(session: AsyncSession, old_id: int, new_id: int) -> None:
    """Move everything of resident old_id to new_id (fill gaps in the profile) and drop old_id."""
    old, new = await session.get(Resident, old_id), await session.get(Resident, new_id)
    if old is None or new is None or old_id == new_id:
        return
    for name in PROFILE_FIELDS:
        if not getattr(new, name) and getattr(old, name):
            setattr(new, name, getattr(old, name))
    session.add(new)
    await session.flush()
    # Every table that points at a resident, found from the schema so new tables are not missed.
    for table in SQLModel.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == Resident.__tablename__ and fk.parent.name != "id":
                await session.exec(
                    sa.update(table).where(fk.parent == old_id).values({fk.parent.name: new_id})
                )
    await session.delete(old)
    await session.flush()


async def linked_accounts(session: AsyncSession, resident_id: int) -> list[ChannelIdentity]:
    """The chat accounts of one resident, oldest first."""
    return await _accounts(session, col(ChannelIdentity.resident_id) == resident_id)


async def staff_accounts(session: AsyncSession, staff_id: int) -> list[ChannelIdentity]:
    """The chat accounts bound to one staff member, oldest first."""
    return await _accounts(session, col(ChannelIdentity.staff_id) == staff_id)


async def _accounts(session: AsyncSession, owner: sa.ColumnElement[bool]) -> list[ChannelIdentity]:
    stmt = select(ChannelIdentity).where(owner).order_by(col(ChannelIdentity.id))
    return list((await session.exec(stmt)).all())


async def find_staff(session: AsyncSession, key: str) -> Staff | None:
    """A staff member by their code (e.g. LC-S001) or their numeric id."""
    found = (await session.exec(select(Staff).where(Staff.code == key.strip()))).first()
    if found is None and key.strip().isdecimal():
        found = await session.get(Staff, int(key.strip()))
    return found
