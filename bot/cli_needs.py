"""`linli needs`: the top items, stage changes and merges (supporters told), renaming,
splitting, and CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import Linli
from bot.outgoing.tell import need_merge_news, need_stage_news
from models.need_edit import clean_title, is_open, merge_items, rename_item, split_item
from models.need_ops import change_stage, top_items
from models.needs import Need, NeedItem, NeedStage

EXPORT_HEADER = ["id", "title", "category", "stage", "supporters", "community_id", "created_at"]
NEED_HEADER = [
    "id",
    "item_id",
    "text",
    "category",
    "community_id",
    "grid_id",
    "on_a_visit",
    "created_at",
]


async def needs_top(linli: Linli, days: int, limit: int = 20) -> int:
    """Print the items with the most new supporters in the last `days` days."""
    async with linli.sessions() as session:
        since = linli.clock.now() - timedelta(days=days)
        ranked = await top_items(session, limit=limit, since=since)
    for rank, (item, count) in enumerate(ranked, 1):
        print(f"{rank:>3}. #{item.id} {item.title}  {count} supporters  [{item.stage}]")
    if not ranked:
        print(f"no item gained supporters in the last {days} days")
    return 0


async def needs_stage(linli: Linli, item_id: int, stage: str, reason: str | None) -> int:
    """Move an item to a stage and tell its supporters; 1 when not allowed."""
    if stage not in NeedStage._value2member_map_:
        print(f"unknown stage {stage!r}; one of: {', '.join(s.value for s in NeedStage)}")
        return 1
    async with linli.sessions() as session, session.begin():
        item = await session.get(NeedItem, item_id)
        told = (
            None
            if item is None
            else await change_stage(
                session, item, NeedStage(stage), linli.clock.now(), reason=reason
            )
        )
        if item is None or told is None:
            print("not allowed: stages go one step at a time, and a rejection needs --reason")
            return 1
        await session.flush()
        queued = await need_stage_news(
            await session.connection(), item, NeedStage(stage), told, linli.clock.now()
        )
    print(f"#{item_id} is now {stage}; {queued} supporters will be told")
    return 0


async def needs_merge(linli: Linli, keep_id: int, absorb_id: int) -> int:
    """Fold one item into another and tell its supporters; 1 unless both are open and differ."""
    async with linli.sessions() as session, session.begin():
        keep, absorb = await session.get(NeedItem, keep_id), await session.get(NeedItem, absorb_id)
        if keep is None or absorb is None or keep_id == absorb_id or not is_open(keep):
            print("both items must exist, differ, and be open (not merged, done or rejected)")
            return 1
        if not is_open(absorb):
            print(f"#{absorb_id} is merged, done or rejected already")
            return 1
        now = linli.clock.now()
        merged = await merge_items(session, keep, absorb, now)
        await need_merge_news(await session.connection(), keep, absorb, merged.told, now)
        supporters = keep.supporters
    print(
        f"#{absorb_id} merged into #{keep_id}: {merged.moved} new supporters, "
        f"{supporters} in all; {len(merged.told)} told"
    )
    return 0


async def needs_rename(linli: Linli, item_id: int, title: str) -> int:
    """Give an open item a new title; 1 when missing, closed or the title is unusable."""
    cleaned = clean_title(title)
    if cleaned is None:
        print("a title needs 2-60 characters")
        return 1
    async with linli.sessions() as session, session.begin():
        item = await session.get(NeedItem, item_id)
        if not is_open(item) or item is None:
            print(f"#{item_id} is not an open item")
            return 1
        await rename_item(session, item, cleaned, linli.clock.now())
    print(f"#{item_id} is now titled {cleaned}")
    return 0


async def needs_split(linli: Linli, item_id: int, need_ids: list[int]) -> int:
    """Move some needs of an open item into a new item; 1 unless some, not all, are its."""
    async with linli.sessions() as session, session.begin():
        item = await session.get(NeedItem, item_id)
        new = (
            await split_item(session, item, need_ids, linli.clock.now())
            if item is not None and is_open(item)
            else None
        )
        if new is None:
            print("the item must be open, and the needs some (not all) of its own")
            return 1
        title, new_id = new.title, new.id
    print(f"new item #{new_id} {title} split from #{item_id}")
    return 0


async def needs_export(linli: Linli, out: Path | None, needs: bool = False) -> int:
    """Open and finished items (or, with needs, every need) as CSV, to a file or stdout."""
    async with linli.sessions() as session:
        header, rows = await (_need_rows(session) if needs else _item_rows(session))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if out is None:
        print(buffer.getvalue(), end="")
    else:
        await asyncio.to_thread(out.write_text, buffer.getvalue(), encoding="utf-8")
        print(f"wrote {len(rows)} rows to {out}")
    return 0


async def _item_rows(session: AsyncSession) -> tuple[list[str], list[list[object]]]:
    stmt = (
        select(NeedItem)
        .where(col(NeedItem.merged_into_id).is_(None))
        .order_by(col(NeedItem.supporters).desc(), col(NeedItem.id))
    )
    rows: list[list[object]] = [
        [
            item.id,
            item.title,
            item.category,
            item.stage,
            item.supporters,
            item.community_id or "",
            item.created_at.isoformat(),
        ]
        for item in (await session.exec(stmt)).all()
    ]
    return EXPORT_HEADER, rows


async def _need_rows(session: AsyncSession) -> tuple[list[str], list[list[object]]]:
    # The resident is left out on purpose: the export is for planning, not for contacting people.
    stmt = select(Need).order_by(col(Need.id))
    rows: list[list[object]] = [
        [
            need.id,
            need.item_id or "",
            need.text,
            need.category or "",
            need.community_id or "",
            need.grid_id or "",
            "yes" if need.submitted_by_staff_id else "",
            need.created_at.isoformat(),
        ]
        for need in (await session.exec(stmt)).all()
    ]
    return NEED_HEADER, rows
