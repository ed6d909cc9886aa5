"""Staff editing of need items: rename, merge two items into one, split needs off into a new item.

Each edit is written to the item's history (NeedItemEvent); supporters always count once per
person, so moving needs between items moves their residents' +1 with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.need_ops import need_title, support_item, supporters_of
from models.needs import Need, NeedItem, NeedItemEvent, NeedStage, NeedSupport
from models.personal_data import clip, remove_personal_data

TITLE_MIN, TITLE_MAX = 2, 60
_ITEM = NeedItem.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Merged:
    """What a merge did: new supporters for the kept item, and who supported the absorbed one."""

    moved: int
    told: list[int]


def clean_title(text: str) -> str | None:
    """A usable item title (2–60 characters of one line), or None."""
    title = " ".join(text.split())  # as typed: a full-width "，" stays
    meaningful = sum(ch.isalnum() for ch in title)
    return title if meaningful >= TITLE_MIN and len(title) <= TITLE_MAX else None


def is_open(item: NeedItem | None) -> bool:
    """An item staff may still edit: not merged away, not finished or rejected."""
    return (
        item is not None
        and item.merged_into_id is None
        and item.stage not in (NeedStage.DONE, NeedStage.REJECTED)
    )


def _event(
    item: NeedItem, kind: str, now: datetime, staff_id: int | None, note: str
) -> NeedItemEvent:
    return NeedItemEvent(
        item_id=item.id or 0, at=now, staff_id=staff_id, kind=kind, note=note[:500]
    )


async def rename_item(
    session: AsyncSession, item: NeedItem, title: str, now: datetime, staff_id: int | None = None
) -> None:
    """Give an item a new title (personal data removed); the old one stays in its history."""
    session.add(_event(item, "renamed", now, staff_id, item.title))
    item.title, item.updated_at = clip(remove_personal_data(title), TITLE_MAX), now
    session.add(item)


async def merge_items(
    session: AsyncSession,
    keep: NeedItem,
    absorb: NeedItem,
    now: datetime,
    staff_id: int | None = None,
) -> Merged:
    """Fold absorb into keep: its needs and supporters move (each person counted once)."""
    told = await supporters_of(session, absorb.id or 0)
    moved = 0
    for resident_id in told:
        moved += await support_item(session, keep.id or 0, resident_id, now)
    await session.exec(
        sa.update(Need).where(col(Need.item_id) == absorb.id).values(item_id=keep.id)
    )
    await session.exec(sa.delete(NeedSupport).where(col(NeedSupport.item_id) == absorb.id))
    absorb.merged_into_id, absorb.supporters, absorb.updated_at = keep.id, 0, now
    keep.updated_at = now
    session.add_all([absorb, keep, _event(keep, "merged", now, staff_id, absorb.title)])
    session.add(_event(absorb, "merged_into", now, staff_id, keep.title))
    await session.flush()
    await session.refresh(keep)
    return Merged(moved, told)


async def item_needs(session: AsyncSession, item_id: int, limit: int = 50) -> list[Need]:
    """The needs of an item, oldest first (what staff choose from when splitting)."""
    stmt = select(Need).where(Need.item_id == item_id).order_by(col(Need.id)).limit(limit)
    return list((await session.exec(stmt)).all())


async def need_count(session: AsyncSession, item_id: int) -> int:
    """How many needs an item holds."""
    total = await session.scalar(
        select(func.count()).select_from(Need).where(Need.item_id == item_id)
    )
    return int(total or 0)


async def split_item(
    session: AsyncSession,
    item: NeedItem,
    need_ids: Sequence[int],
    now: datetime,
    staff_id: int | None = None,
) -> NeedItem | None:
    """Move some of an item's needs to a new item; None unless some but not all are chosen."""
    stmt = select(Need).where(Need.item_id == item.id, col(Need.id).in_(list(need_ids)))
    chosen = list((await session.exec(stmt.order_by(col(Need.id)))).all())
    if not chosen or len(chosen) >= await need_count(session, item.id or 0):
        return None
    new = NeedItem(
        title=need_title(chosen[0].text),
        category=item.category,
        community_id=item.community_id,
        created_at=now,
        updated_at=now,
    )
    session.add(new)
    await session.flush()
    for need in chosen:
        need.item_id = new.id
        session.add(need)
    await session.flush()
    for resident_id in sorted({need.resident_id for need in chosen}):
        await support_item(session, new.id or 0, resident_id, now)
        await _drop_support_without_need(session, item, resident_id)
    item.updated_at = now
    session.add_all([item, _event(item, "split", now, staff_id, f"#{new.id} {new.title}")])
    session.add(_event(new, "split_from", now, staff_id, f"#{item.id} {item.title}"))
    await session.flush()
    await session.refresh(item)
    await session.refresh(new)
    return new


async def _drop_support_without_need(
    session: AsyncSession, item: NeedItem, resident_id: int
) -> None:
    """A resident whose every need left the item no longer counts as its supporter."""
    still = await session.scalar(
        select(func.count())
        .select_from(Need)
        .where(Need.item_id == item.id, Need.resident_id == resident_id)
    )
    if still:
        return
    removed = await session.exec(
        sa.delete(NeedSupport).where(
            col(NeedSupport.item_id) == item.id, col(NeedSupport.resident_id) == resident_id
        )
    )
    if removed.rowcount:
        await session.exec(
            sa.update(_ITEM).where(_ITEM.c.id == item.id).values(supporters=_ITEM.c.supporters - 1)
        )
