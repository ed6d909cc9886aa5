"""Notices over time: release scheduled ones when their time comes, and close finished ones
with a summary to their author ("a summary when done")."""

from __future__ import annotations

import logging

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outgoing import for_staff, queue
from bot.outgoing.tell import notice_summary
from models.notice_audience import Audience, allowed
from models.notice_ops import (
    FANOUT_CHUNK,
    chunk_end,
    due_notices,
    fan_out,
    mark_released,
    notice_report,
    still_sending,
)
from models.notices import Notice, NoticeStatus
from models.org import Staff
from models.policy import scope_of
from scheduler.context import JobContext

logger = logging.getLogger(__name__)

RELEASING = (NoticeStatus.SCHEDULED, NoticeStatus.SENDING)


async def run_notices(ctx: JobContext) -> int:
    """Release due notices and close finished ones; how many messages were queued."""
    return await release_due_notices(ctx) + await close_finished_notices(ctx)


async def release_due_notices(ctx: JobContext, chunk: int = FANOUT_CHUNK) -> int:
    """Fan out every notice whose time has come, in steps; how many outbox rows were made."""
    queued = 0
    async with ctx.sessions() as session:
        due = [notice.id or 0 for notice in await due_notices(session, ctx.clock.now())]
    for notice_id in due:
        while (step := await release_step(ctx, notice_id, chunk)) is not None:
            queued += step
    return queued


async def release_step(ctx: JobContext, notice_id: int, chunk: int = FANOUT_CHUNK) -> int | None:
    """One step of a fan-out in its own transaction; None once there is nothing left to do."""
    now = ctx.clock.now()
    async with ctx.sessions() as session, session.begin():
        notice = await session.get(Notice, notice_id, with_for_update=True)
        if notice is None or notice.fanned_out or notice.status not in RELEASING:
            return None  # cancelled, or finished by another instance meanwhile
        if notice.status == NoticeStatus.SCHEDULED and not await _still_allowed(session, notice):
            notice.status, notice.finished_at = NoticeStatus.CANCELLED, now
            session.add(notice)
            return None
        connection = await session.connection()
        upto = await chunk_end(connection, notice.fanout_cursor, chunk)
        created, unreachable = await fan_out(connection, notice, now, notice.fanout_cursor, upto)
        if upto is None:
            await mark_released(connection, notice, now, created, unreachable)
            return created
        notice.status, notice.fanout_cursor = NoticeStatus.SENDING, upto
        notice.started_at = notice.started_at or now
        notice.accounts += created
        notice.unreachable += unreachable
        session.add(notice)
        return created


async def _still_allowed(session: AsyncSession, notice: Notice) -> bool:
    author = await session.get(Staff, notice.author_staff_id)
    if await allowed(session, scope_of(author), Audience.from_data(notice.audience)):
        return True
    # The author's role or grid changed since writing it: it goes nowhere.
    logger.warning("notice outside its author's scope", extra={"notice": notice.id})
    return False


async def close_finished_notices(ctx: JobContext) -> int:
    """Mark sending notices with nothing pending as done and tell each author the result once."""
    told = 0
    async with ctx.sessions() as session, session.begin():
        stmt = select(Notice).where(
            Notice.status == NoticeStatus.SENDING, col(Notice.fanned_out).is_(True)
        )
        stmt = stmt.order_by(col(Notice.id))
        for notice in (await session.exec(stmt)).all():
            # The full report groups every delivery; asked only once nothing is waiting.
            if await still_sending(session, notice):
                continue
            report = await notice_report(session, notice)
            notice.status, notice.finished_at = NoticeStatus.DONE, ctx.clock.now()
            session.add(notice)
            told += await queue(
                await session.connection(),
                notice_summary(notice, report),
                [for_staff(notice.author_staff_id)],
                kind="notice_summary",
                now=ctx.clock.now(),
                once=f"notice:{notice.id}:summary",
            )
    return told
