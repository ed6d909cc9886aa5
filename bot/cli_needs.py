"""`linli needs`: the top items, stage changes (supporters told), merging, and CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.app import Linli
from bot.needs_news import announce_stage
from models.need_ops import change_stage, merge_items, top_items
from models.needs import NeedItem, NeedStage

EXPORT_HEADER = ["id", "title", "category", "stage", "supporters", "community_id", "created_at"]


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
        queued = await announce_stage(
            await session.connection(), item, NeedStage(stage), told, linli.clock.now()
        )
    print(f"#{item_id} is now {stage}; {queued} supporters will be told")
    return 0


async def needs_merge(linli: Linli, keep_id: int, absorb_id: int) -> int:
    """Fold one item into another; 1 when either is missing or already merged."""
    async with linli.sessions() as session, session.begin():
        keep, absorb = await session.get(NeedItem, keep_id), await session.get(NeedItem, absorb_id)
        if (
            keep is None
            or absorb is None
            or keep_id == absorb_id
            or absorb.merged_into_id
            or keep.merged_into_id
        ):
            print("both items must exist, differ, and not be merged already")
            return 1
        moved = await merge_items(session, keep, absorb, linli.clock.now())
        supporters = keep.supporters
    print(f"#{absorb_id} merged into #{keep_id}: {moved} new supporters, {supporters} in all")
    return 0


async def needs_export(linli: Linli, out: Path | None) -> int:
    """Every item that is not merged away, as CSV (to a file or stdout)."""
    async with linli.sessions() as session:
        stmt = (
            select(NeedItem)
            .where(col(NeedItem.merged_into_id).is_(None))
            .order_by(col(NeedItem.supporters).desc(), col(NeedItem.id))
        )
        items = list((await session.exec(stmt)).all())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    for item in items:
        writer.writerow(
            [
                item.id,
                item.title,
                item.category,
                item.stage,
                item.supporters,
                item.community_id or "",
                item.created_at.isoformat(),
            ]
        )
    if out is None:
        print(buffer.getvalue(), end="")
    else:
        await asyncio.to_thread(out.write_text, buffer.getvalue(), encoding="utf-8")
        print(f"wrote {len(items)} items to {out}")
    return 0
