"""Notices over time: release scheduled ones when their time comes, and close finished ones
with a summary to their author ("a summary when done")."""

from __future__ import annotations

import logging
from functools import partial

from sqlmodel import col, select

from bot.i18n import t
from models.messaging import queue_once
from models.notice_audience import Audience, allowed, scope_of
from models.notice_ops import NoticeReport, due_notices, notice_report, release_notice
from models.notices import Notice, NoticeStatus
from models.org import Staff
from scheduler.context import JobContext, localized

logger = logging.getLogger(__name__)


async def run_notices(ctx: JobContext) -> int:
    """Release due notices and close finished ones; how many messages were queued."""
    return await release_due_notices(ctx) + await close_finished_notices(ctx)


async def release_due_notices(ctx: JobContext) -> int:
    """Fan out every scheduled notice whose time has come (each in its own transaction)."""
    queued = 0
    async with ctx.sessions() as session:
        due = [notice.id for notice in await due_notices(session, ctx.clock.now())]
    for notice_id in due:
        async with ctx.sessions() as session, session.begin():
            notice = await session.get(Notice, notice_id, with_for_update=True)
            if notice is None or notice.status != NoticeStatus.SCHEDULED:
                continue  # cancelled, or released by another instance meanwhile
            author = await session.get(Staff, notice.author_staff_id)
            audience = Audience.from_data(notice.audience)
            if not await allowed(session, scope_of(author), audience):
                # The author's role or grid changed since writing it: it goes nowhere.
                logger.warning(
                    "scheduled notice outside its author's scope", extra={"notice": notice_id}
                )
                notice.status, notice.finished_at = NoticeStatus.CANCELLED, ctx.clock.now()
                session.add(notice)
                continue
            queued += await release_notice(await session.connection(), notice, ctx.clock.now())
    return queued


async def close_finished_notices(ctx: JobContext) -> int:
    """Mark sending notices with nothing pending as done and tell each author the result once."""
    told = 0
    async with ctx.sessions() as session, session.begin():
        stmt = select(Notice).where(Notice.status == NoticeStatus.SENDING).order_by(col(Notice.id))
        for notice in (await session.exec(stmt)).all():
            report = await notice_report(session, notice)
            if not report.finished:
                continue
            notice.status, notice.finished_at = NoticeStatus.DONE, ctx.clock.now()
            session.add(notice)
            told += await queue_once(
                await session.connection(),
                dedupe_key=f"notice:{notice.id}:summary",
                kind="notice_summary",
                payload=localized(partial(summary_text, notice=notice, report=report)),
                now=ctx.clock.now(),
                staff_id=notice.author_staff_id,
            )
    return told


def summary_text(lang: str, notice: Notice, report: NoticeReport) -> str:
    """The author's summary of a notice: who it reached, and what failed and why."""
    lines = [
        t(lang, "notices.summary", id=notice.id, excerpt=notice.text[:20]),
        t(
            lang,
            "notices.report",
            audience=report.audience,
            opted_out=report.opted_out,
            accounts=report.accounts,
            sent=report.sent,
            failed=report.failed,
            unreachable=report.unreachable,
            cancelled=report.cancelled,
            pending=report.pending,
        ),
    ]
    lines += [
        t(lang, "notices.failure_line", why=why, count=count)
        for why, count in report.failures.most_common(5)
    ]
    return "\n".join(lines)
