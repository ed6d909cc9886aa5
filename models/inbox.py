"""The web chat's inbox: pushes for a browser account, kept until its page has shown them.

The web chat cannot be pushed to like WeChat or Telegram; a delivery to it is stored here, and
the page reads it over a live stream (or on its next visit) and marks it shown.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from models.base import json_field, utc_field
from models.people import ChannelIdentity

WEB_CHANNEL = "web"
PAGE = 50  # items read at a time


class WebInboxItem(SQLModel, table=True):
    """One delivery to a web chat account: the replies it carried, and when the page showed it."""

    __table_args__ = (sa.Index("ix_webinboxitem_identity_id_id", "identity_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="channelidentity.id")
    # The outbox row delivered (no foreign key: sent outbox rows are deleted after retention);
    # unique, so a delivery the worker retries is stored once.
    outbox_id: int | None = Field(default=None, unique=True)
    replies: list[dict[str, Any]] = json_field(default_factory=list)
    created_at: datetime = utc_field()
    shown_at: datetime | None = utc_field(nullable=True, default=None)


@dataclass(frozen=True)
class InboxItem:
    """An unshown delivery as the page gets it."""

    id: int
    replies: list[dict[str, Any]]


_ITEM = WebInboxItem.__table__  # type: ignore[attr-defined]
_IDENTITY = ChannelIdentity.__table__  # type: ignore[attr-defined]


async def store_delivery(
    connection: AsyncConnection,
    identity_id: int,
    replies: list[dict[str, Any]],
    now: datetime,
    outbox_id: int | None = None,
) -> int:
    """Keep a delivery for an account; a second store of the same outbox row keeps the first.

    Returns the item's id (the first one's, for a repeated outbox row).
    """
    values = {
        "identity_id": identity_id,
        "outbox_id": outbox_id,
        "replies": replies,
        "created_at": now,
    }
    if outbox_id is None:
        inserted = await connection.execute(sa.insert(_ITEM).returning(_ITEM.c.id), values)
        return int(inserted.scalar_one())
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(_ITEM).values(values).on_conflict_do_nothing(index_elements=["outbox_id"])
    new_id = (await connection.execute(stmt.returning(_ITEM.c.id))).scalar_one_or_none()
    if new_id is not None:
        return int(new_id)
    found = await connection.execute(sa.select(_ITEM.c.id).where(_ITEM.c.outbox_id == outbox_id))
    return int(found.scalar_one())


async def unshown_items(
    connection: AsyncConnection,
    identity_id: int,
    after_id: int = 0,
    limit: int = PAGE,
    skip: Collection[int] = (),
) -> list[InboxItem]:
    """An account's deliveries not shown yet, oldest first, after the item after_id, leaving
    out the items in skip (sent already on this stream)."""
    stmt = sa.select(_ITEM.c.id, _ITEM.c.replies).where(
        _ITEM.c.identity_id == identity_id,
        _ITEM.c.id > after_id,
        _ITEM.c.shown_at.is_(None),
    )
    if skip:
        stmt = stmt.where(_ITEM.c.id.not_in(list(skip)))
    rows = (await connection.execute(stmt.order_by(_ITEM.c.id).limit(limit))).all()
    return [InboxItem(int(row.id), list(row.replies)) for row in rows]


async def mark_shown(
    connection: AsyncConnection, identity_id: int, item_ids: Collection[int], now: datetime
) -> int:
    """Mark these of an account's deliveries as shown; returns how many changed.

    Only that account's rows change, whatever ids are given. Items are named one by one, not
    "up to" an id: on PostgreSQL a lower id may commit after a higher one, and must not be
    marked before the page has had it.
    """
    if not item_ids:
        return 0
    stmt = (
        sa.update(_ITEM)
        .where(
            _ITEM.c.identity_id == identity_id,
            _ITEM.c.id.in_(list(item_ids)),
            _ITEM.c.shown_at.is_(None),
        )
        .values(shown_at=now)
    )
    return int((await connection.execute(stmt)).rowcount or 0)


async def unshown_signatures(
    connection: AsyncConnection, identity_ids: Collection[int]
) -> dict[int, tuple[int, int]]:
    """For each of these accounts with unshown deliveries: how many, and the newest id. A
    change means something arrived, even an item with a lower id committed late."""
    if not identity_ids:
        return {}
    stmt = (
        sa.select(_ITEM.c.identity_id, sa.func.count(), sa.func.max(_ITEM.c.id))
        .where(_ITEM.c.identity_id.in_(list(identity_ids)), _ITEM.c.shown_at.is_(None))
        .group_by(_ITEM.c.identity_id)
    )
    rows = (await connection.execute(stmt)).all()
    return {int(row[0]): (int(row[1]), int(row[2])) for row in rows}


async def forget_inbox_items(connection: AsyncConnection, before: datetime, limit: int) -> int:
    """Delete up to limit inbox items stored before a moment, oldest first; how many went."""
    oldest = sa.select(_ITEM.c.id).where(_ITEM.c.created_at < before).order_by(_ITEM.c.id)
    stmt = sa.delete(_ITEM).where(_ITEM.c.id.in_(oldest.limit(limit)))
    return int((await connection.execute(stmt)).rowcount or 0)


async def web_account_id(connection: AsyncConnection, external_id: str) -> int | None:
    """The row id of the web chat account with this browser id, if there is one."""
    stmt = sa.select(_IDENTITY.c.id).where(
        _IDENTITY.c.channel == WEB_CHANNEL, _IDENTITY.c.external_id == external_id
    )
    found = (await connection.execute(stmt)).scalar_one_or_none()
    return None if found is None else int(found)
