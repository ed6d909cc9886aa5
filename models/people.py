"""Residents and the chat accounts (channel identities) through which people reach us."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utc_field


class Resident(SQLModel, table=True):
    """A resident of the street; created on first contact, completed later."""

    id: int | None = Field(default=None, primary_key=True)
    name: str | None = Field(default=None, max_length=40)
    phone: str | None = Field(default=None, max_length=20)
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


def mask_phone(phone: str | None) -> str:
    """Show only the first three and last four digits of a phone number."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


async def find_or_create_identity(
    session: AsyncSession,
    channel: str,
    external_id: str,
    now: datetime,
    lang: str | None = None,
) -> ChannelIdentity:
    """The chat account for (channel, external_id); a first contact becomes a new resident."""
    stmt = select(ChannelIdentity).where(
        ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
    )
    identity = (await session.exec(stmt)).first()
    if identity is None:
        resident = Resident(created_at=now)
        session.add(resident)
        await session.flush()
        identity = ChannelIdentity(
            channel=channel,
            external_id=external_id,
            resident_id=resident.id,
            lang=lang or "zh-CN",
            created_at=now,
            last_seen_at=now,
        )
        session.add(identity)
        await session.flush()
        return identity
    # The channel's language only seeds a new account; afterwards the person's own choice wins.
    identity.last_seen_at = now
    identity.active = True
    session.add(identity)
    return identity
