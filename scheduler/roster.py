"""Keeping the duty roster LINLI_ROSTER_WEEKS_AHEAD weeks ahead, and warning the operators
(in the log, once a day per service) about services left without staff in the next 14 days."""

from __future__ import annotations

import logging
from datetime import date

import sqlalchemy as sa

from bot.clock import local_today
from models.messaging import Reminder
from models.reminders import mark_once
from models.roster_gaps import GAP_DAYS, RosterGap, unstaffed_services
from models.roster_plan import roll_forward
from scheduler.context import JobContext

logger = logging.getLogger(__name__)

SERVICE = "service"
_WARNED = "roster_gap:"  # + the local date: the ledger's mark of a day's warning
_REMINDER = Reminder.__table__  # type: ignore[attr-defined]


async def keep_roster_ahead(ctx: JobContext) -> int:
    """Roll the roster forward, then warn about services still unstaffed; returns shifts added
    plus warnings given."""
    today = local_today(ctx.clock)
    async with ctx.sessions() as session, session.begin():
        added = await roll_forward(session, today, ctx.settings.roster_weeks_ahead)
    if added:
        logger.info("roster rolled forward", extra={"shifts_added": added})
    return added + await warn_unstaffed(ctx, today)


async def warn_unstaffed(ctx: JobContext, today: date) -> int:
    """Log a warning for each service with no staffed slot in the next 14 days, unless one was
    logged for it today (by this or another server); returns how many were logged."""
    async with ctx.sessions() as session, session.begin():
        gaps = await unstaffed_services(session, today)
        connection = await session.connection()
        await connection.execute(_older_marks(today))
        fresh = [
            gap
            for gap in gaps
            if await mark_once(
                connection, SERVICE, gap.service.id or 0, _mark(today), ctx.clock.now()
            )
        ]
    for gap in fresh:
        _warn(gap)
    return len(fresh)


def _warn(gap: RosterGap) -> None:
    last = gap.last_staffed.isoformat() if gap.last_staffed else "none in 3 months"
    logger.warning(
        "service has no staffed slot in the next %d days (linli roster gaps)",
        GAP_DAYS,
        extra={"service": gap.service.code, "last_staffed": last},
    )


def _mark(today: date) -> str:
    return f"{_WARNED}{today.isoformat()}"


def _older_marks(today: date) -> sa.Delete:
    """Earlier days' warning marks: only today's are still needed."""
    return sa.delete(_REMINDER).where(
        _REMINDER.c.subject_kind == SERVICE,
        _REMINDER.c.kind.like(f"{_WARNED}%"),
        _REMINDER.c.kind < _mark(today),
    )
