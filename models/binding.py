"""Binding chat accounts to people: one-time codes for staff accounts and for a resident's
second channel, single use, expiring, and slowed down against guessing.

Guessing is limited per chat account and per code, never street-wide: a street-wide limit would
let one person stop every staff member from binding. A wrong guess counts against the guessing
account and against the live code that starts like it (its selector), and a code guessed at too
often is void, so however many accounts guess, each code gets only a few tries.
"""

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
from models.slots import replan_for_staff

# No 0/O, 1/I/L: a code is read off a screen and typed on a phone.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8  # 31**8 ≈ 8.5e11 codes
# 31**3 selectors, so the 31**5 rest of a code takes the guesses: 10 of them hit one code in 3e6.
SELECTOR_LENGTH = 3
SELECTOR_TRIES = 20


@dataclass(frozen=True)
class GuessLimits:
    """How many wrong codes are tolerated: per chat account (then it pauses) and per code
    (then the code is void)."""

    per_account: int = 5
    per_account_window: timedelta = timedelta(hours=1)
    per_code: int = 10


class BindOutcome(StrEnum):
    """What became of a redemption."""

    STAFF_BOUND = "staff_bound"
    RESIDENT_LINKED = "resident_linked"
    ALREADY = "already"
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"
    LOCKED = "locked"  # guessed at too often: void
    TOO_MANY = "too_many"
    STAFF_ELSEWHERE = "staff_elsewhere"  # a staff code on a channel that may not carry staff


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


def selector_of(code: str, secret: str) -> str:
    """The keyed hash of a code's first characters, shared by every guess that starts alike."""
    start = normalize_code(code)[:SELECTOR_LENGTH]
    return hmac.new(secret.encode(), f"selector:{start}".encode(), hashlib.sha256).hexdigest()[:32]


def format_code(code: str) -> str:
    """ABCD-EFGH: easier to read out."""
    return f"{code[:4]}-{code[4:]}"


def live_code(now: datetime) -> sa.ColumnElement[bool]:
    """Neither used nor expired (nor voided: a void sets the expiry to its moment)."""
    return sa.and_(col(BindCode.used_at).is_(None), col(BindCode.expires_at) > now)


async def _void_codes(session: AsyncSession, owner: sa.ColumnElement[bool], now: datetime) -> None:
    await session.exec(sa.update(BindCode).where(owner, live_code(now)).values(expires_at=now))


async def void_bind_code(session: AsyncSession, code_id: int, now: datetime) -> bool:
    """An unused code no longer binds anyone (it expires now); whether it was still live."""
    voided = await session.exec(
        sa.update(BindCode)
        .where(col(BindCode.id) == code_id, live_code(now))
        .values(expires_at=now)
    )
    return voided.rowcount == 1


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
    await _void_codes(session, owner, now)
    code = await _fresh_code(session, secret, now)
    expires_at = now + ttl
    session.add(
        BindCode(
            code_hash=hash_code(code, secret),
            selector=selector_of(code, secret),
            staff_id=staff_id,
            resident_id=resident_id,
            expires_at=expires_at,
            created_at=now,
        )
    )
    await session.flush()
    return IssuedCode(code, expires_at)


async def _fresh_code(session: AsyncSession, secret: str, now: datetime) -> str:
    """A random code whose selector no other live code has (so a guess aims at one code)."""
    code = ""
    for _ in range(SELECTOR_TRIES):  # live codes are few: the first try almost always does
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        taken = select(BindCode.id).where(BindCode.selector == selector_of(code, secret))
        if (await session.exec(taken.where(live_code(now)).limit(1))).first() is None:
            break
    return code


async def redeem_bind_code(
    session: AsyncSession,
    account: BindableAccount,
    typed: str,
    *,
    secret: str,
    now: datetime,
    limits: GuessLimits | None = None,
    staff_allowed: bool = True,
) -> BindOutcome:
    """Bind account to the code's staff member (if staff_allowed), or link it to the code's
    resident; a wrong code counts against this account and against the code it was aimed at."""
    limits = limits or GuessLimits()
    if account.id is None:
        raise ValueError("the chat account must be saved before it can be bound")
    if await _too_many_failures(session, account.id, now, limits):
        return BindOutcome.TOO_MANY
    row = (
        await session.exec(select(BindCode).where(BindCode.code_hash == hash_code(typed, secret)))
    ).first()
    outcome = _unusable(row, now, limits)
    if outcome is BindOutcome.INVALID:
        await _count_against_code(session, typed, secret, now, staff_allowed)
    elif outcome is None:
        assert row is not None
        outcome = await _apply(session, account, row, now, staff_allowed)
    session.add(
        BindAttempt(identity_id=account.id, attempted_at=now, succeeded=_succeeded(outcome))
    )
    return outcome


def _succeeded(outcome: BindOutcome) -> bool:
    return outcome in (BindOutcome.STAFF_BOUND, BindOutcome.RESIDENT_LINKED, BindOutcome.ALREADY)


def _unusable(row: BindCode | None, now: datetime, limits: GuessLimits) -> BindOutcome | None:
    if row is None:
        return BindOutcome.INVALID
    if row.used_at is not None:
        return BindOutcome.USED
    if row.expires_at <= now:
        return BindOutcome.EXPIRED
    if row.failures >= limits.per_code:
        return BindOutcome.LOCKED
    return None


async def _count_against_code(
    session: AsyncSession, typed: str, secret: str, now: datetime, staff_allowed: bool
) -> None:
    """A wrong guess of a code's length counts against the live code with its selector; from
    an account that could not redeem a staff code anyway (the web chat in production), only
    against residents' codes, so free web ids cannot void every staff code."""
    if len(normalize_code(typed)) != CODE_LENGTH:
        return
    aimed = sa.and_(col(BindCode.selector) == selector_of(typed, secret), live_code(now))
    if not staff_allowed:
        aimed = sa.and_(aimed, col(BindCode.staff_id).is_(None))
    await session.exec(sa.update(BindCode).where(aimed).values(failures=col(BindCode.failures) + 1))


async def _too_many_failures(
    session: AsyncSession, identity_id: int, now: datetime, limits: GuessLimits
) -> bool:
    mine = (
        select(func.count())
        .select_from(BindAttempt)
        .where(
            BindAttempt.identity_id == identity_id,
            col(BindAttempt.succeeded).is_(False),
            col(BindAttempt.attempted_at) > now - limits.per_account_window,
        )
    )
    return (await session.exec(mine)).one() >= limits.per_account


async def _apply(
    session: AsyncSession,
    account: BindableAccount,
    row: BindCode,
    now: datetime,
    staff_allowed: bool,
) -> BindOutcome:
    if row.staff_id is not None:
        staff = await session.get(Staff, row.staff_id)
        if staff is None or not staff.active:
            return BindOutcome.INVALID
        if not staff_allowed:  # the code is not spent: its owner binds where it may
            return BindOutcome.STAFF_ELSEWHERE
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


PROFILE_FIELDS = (
    "name",
    "phone",
    "phone_lookup",
    "id_number",
    "id_number_lookup",
    "community_id",
    "grid_id",
    "compound_id",
    "elderly",
    "disabled",
)


async def forget_bind_attempts(session: AsyncSession, before: datetime) -> int:
    """Drop the record of bind tries made before a moment (the guess limits look back an hour)."""
    result = await session.exec(
        sa.delete(BindAttempt).where(col(BindAttempt.attempted_at) < before)
    )
    return int(result.rowcount or 0)


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


def forget_account(account: BindableAccount) -> None:
    """The account no longer stands for anyone: a new resident record is made if it is used
    again, and what the person did before is not reachable from it."""
    account.resident_id = None
    account.staff_id = None


async def unbind_staff(session: AsyncSession, staff_id: int, now: datetime) -> int:
    """Take a staff member off every chat account bound to them at once and void their unused
    codes; how many accounts were unbound."""
    unbound = await session.exec(
        sa.update(ChannelIdentity)
        .where(col(ChannelIdentity.staff_id) == staff_id)
        .values(staff_id=None)
    )
    await _void_codes(session, col(BindCode.staff_id) == staff_id, now)
    return int(unbound.rowcount)


async def deactivate_staff(session: AsyncSession, staff: Staff, now: datetime) -> int:
    """Mark a staff member inactive and unbind all their chat accounts; how many were unbound.
    Their calendar feed's address ends for good (reactivated, they get a new one)."""
    staff.active = False
    staff.feed_epoch += 1
    session.add(staff)
    await session.flush()
    await replan_for_staff(session, staff.id or 0, now)  # their places go from coming days
    return await unbind_staff(session, staff.id or 0, now)


async def find_staff(session: AsyncSession, key: str) -> Staff | None:
    """A staff member by their code (e.g. LC-S001) or their numeric id."""
    found = (await session.exec(select(Staff).where(Staff.code == key.strip()))).first()
    if found is None and key.strip().isdecimal():
        found = await session.get(Staff, int(key.strip()))
    return found
