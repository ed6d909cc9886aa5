"""Residents and the chat accounts (channel identities) through which people reach us."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utc_field
from models.sealed import SealedString, lookup_hash


class Resident(SQLModel, table=True):
    """A resident of the street; created on first contact, completed later."""

    id: int | None = Field(default=None, primary_key=True)
    name: str | None = Field(default=None, max_length=40)
    # Sealed at rest (models/sealed.py); found by their keyed hashes, never by the value.
    phone: str | None = Field(default=None, sa_type=SealedString)
    phone_lookup: str | None = Field(default=None, max_length=64, index=True)
    id_number: str | None = Field(default=None, sa_type=SealedString)
    id_number_lookup: str | None = Field(default=None, max_length=64, index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    compound_id: int | None = Field(default=None, foreign_key="compound.id")
    elderly: bool = False
    disabled: bool = False
    notices_opt_out: bool = False
    synthetic: bool = False
    created_at: datetime = utc_field()


class ChannelIdentity(SQLModel, table=True):
    """One chat account (a WeChat openid, a Telegram chat, a web chat id) of a resident or staff."""

    __table_args__ = (sa.UniqueConstraint("channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    resident_id: int | None = Field(default=None, foreign_key="resident.id", index=True)
    staff_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    lang: str = Field(default="zh-CN", max_length=8)
    display_name: str | None = Field(default=None, max_length=80)
    active: bool = True
    unreachable: bool = False
    created_at: datetime = utc_field()
    last_seen_at: datetime = utc_field()


SEEN_PRECISION = timedelta(minutes=1)


def set_phone(resident: Resident, phone: str | None) -> None:
    """Keep (or, with None, remove) a resident's phone number and its lookup hash."""
    resident.phone = phone
    resident.phone_lookup = lookup_hash(phone) if phone else None


def set_id_number(resident: Resident, id_number: str | None) -> None:
    """Keep (or, with None, remove) a resident's ID card number and its lookup hash."""
    resident.id_number = id_number
    resident.id_number_lookup = lookup_hash(id_number) if id_number else None


def mask_id_number(id_number: str | None) -> str:
    """Show only the first and last digit of an ID card number (1**************X)."""
    if not id_number:
        return ""
    return id_number[0] + "*" * (len(id_number) - 2) + id_number[-1]


def mask_phone(phone: str | None) -> str:
    """Show only the first three and last four digits of a phone number."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


class Account(Protocol):
    """What the domain needs of a chat account, ORM row or the pipeline's plain copy."""

    resident_id: int | None
    last_seen_at: datetime
    active: bool
    unreachable: bool


async def ensure_resident(session: AsyncSession, identity: Account, now: datetime) -> Resident:
    """The resident behind a chat account, created the first time they give us something to keep.

    Visitors who only look at menus stay anonymous accounts, so a flood of throwaway web ids
    does not fill the residents table (or notice audiences) with nobody.
    """
    if identity.resident_id is not None:
        resident = await session.get(Resident, identity.resident_id)
        if resident is not None:
            return resident
    resident = Resident(created_at=now)
    session.add(resident)
    await session.flush()
    identity.resident_id = (
        resident.id
    )  # saved with the identity (by the unit of work or the pipeline)
    return resident


def mark_seen(identity: Account, now: datetime) -> None:
    """Record that the person wrote (minute precision is enough for the 48-hour window)."""
    if now - identity.last_seen_at > SEEN_PRECISION:
        identity.last_seen_at = now
    if not identity.active:
        identity.active = True
    if identity.unreachable:  # they wrote, so they can be reached again (e.g. unblocked the bot)
        identity.unreachable = False


def normalise_mobile(text: str) -> str | None:
    """A mainland mobile number typed any way (spaces, dashes, +86, full-width) as 11 digits."""
    # ASCII digits only: "١" or "፩" are digits to isdigit() but no phone dials them.
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text) if "0" <= ch <= "9")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789" else None


async def seal_stored_numbers(session: AsyncSession) -> int:
    """Seal phone numbers kept before sealing began (and give them lookup hashes); how many."""
    table = Resident.__table__  # type: ignore[attr-defined]
    stmt = sa.select(table.c.id, table.c.phone).where(
        table.c.phone.is_not(None), table.c.phone_lookup.is_(None)
    )
    rows = (await session.execute(stmt)).all()
    for resident_id, phone in rows:
        await session.execute(
            sa.update(table)
            .where(table.c.id == resident_id)
            .values(phone=phone, phone_lookup=lookup_hash(phone))
        )
    return len(rows)
