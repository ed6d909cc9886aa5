"""The daily digest for staff (08:00 on working days) and the weekly KPI summary for supervisors.

Both run as frequent ticks that act once the moment has come and a dedupe key per person and
day (or week) says it has not been sent: a server that was down at 08:00 still sends the
morning's digest when it starts, and two servers never send it twice.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outgoing import for_staff, pushes, queue
from models.base import SHANGHAI
from models.calendar import is_working_day, load_overrides
from models.case_ops import OPEN
from models.cases import Case
from models.kpis import KpiScope, Period, case_kpis, rating_kpis
from models.org import Staff, StaffRole
from models.people import ChannelIdentity
from scheduler.context import JobContext

LATE_LIMIT = timedelta(hours=4)  # after this, a missed digest is no longer news


def _in_window(now: datetime, at: time) -> bool:
    local = now.astimezone(SHANGHAI)
    start = datetime.combine(local.date(), at, tzinfo=SHANGHAI)
    return start <= local < start + LATE_LIMIT


async def _reachable_staff(session: AsyncSession, roles: tuple[StaffRole, ...]) -> list[Staff]:
    """Active staff in these roles with at least one chat account to reach them on."""
    bound = select(ChannelIdentity.id).where(
        ChannelIdentity.staff_id == Staff.id, col(ChannelIdentity.active).is_(True)
    )
    stmt = (
        select(Staff)
        .where(col(Staff.role).in_(roles), col(Staff.active).is_(True), bound.exists())
        .order_by(col(Staff.id))
    )
    return list((await session.exec(stmt)).all())


async def send_daily_digests(ctx: JobContext) -> int:
    """Each bound staff member's open, due-today and overdue cases, once per working day."""
    now = ctx.clock.now()
    if not _in_window(now, ctx.settings.digest_at):
        return 0
    today = now.astimezone(SHANGHAI).date()
    sent = 0
    async with ctx.sessions() as session, session.begin():
        if not is_working_day(now, await load_overrides(session)):
            return 0
        connection = await session.connection()
        for staff in await _reachable_staff(session, tuple(StaffRole)):
            counts = await _workload(session, staff.id or 0, today, now)
            digest = pushes.daily_digest(name=staff.name, counts=counts)
            sent += await queue(
                connection,
                digest,
                [for_staff(staff.id or 0)],
                kind="digest",
                now=now,
                once=f"digest:{staff.id}:{today.isoformat()}",
            )
    return sent


async def _workload(
    session: AsyncSession, staff_id: int, today: date, now: datetime
) -> dict[str, int]:
    end_of_day = datetime.combine(today + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    mine = (Case.assignee_staff_id == staff_id, col(Case.status).in_(OPEN))
    due = col(Case.due_at)
    return {
        "open": await _count(session, *mine),
        "due_today": await _count(session, *mine, due >= now, due < end_of_day),
        "overdue": await _count(session, *mine, due < now),
    }


async def _count(session: AsyncSession, *conditions: object) -> int:
    stmt = select(func.count()).select_from(Case).where(*conditions)  # type: ignore[arg-type]
    return int((await session.exec(stmt)).one())


async def send_weekly_kpis(ctx: JobContext) -> int:
    """Last week's numbers to supervisors and administrators, once a week."""
    now = ctx.clock.now()
    local = now.astimezone(SHANGHAI)
    if local.weekday() != ctx.settings.kpi_weekday or not _in_window(now, ctx.settings.kpi_at):
        return 0
    monday = local.date() - timedelta(days=local.weekday() + 7)
    start = datetime.combine(monday, time(0), tzinfo=SHANGHAI)
    end = start + timedelta(days=7)
    week = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
    sent = 0
    async with ctx.sessions() as session, session.begin():
        kpi = await week_kpi(session, start, end, now)
        connection = await session.connection()
        report = pushes.weekly_kpi(monday=monday, end=monday + timedelta(days=6), kpi=kpi)
        readers = await _reachable_staff(session, (StaffRole.SUPERVISOR, StaffRole.ADMIN))
        people = [for_staff(staff.id or 0) for staff in readers]
        sent += await queue(
            connection, report, people, kind="digest", now=now, once=f"kpi:{{person}}:{week}"
        )
    return sent


async def week_kpi(
    session: AsyncSession, start: datetime, end: datetime, now: datetime
) -> dict[str, int | None]:
    """Cases received and resolved in [start, end), the on-time share (按期办结率), overdue now,
    ratings and the satisfaction share, all as models/kpis.py defines them for the street.

    A share with nothing to divide by (no case resolved against a deadline, no rating) is None,
    shown as "no data yet", never 100%.
    """
    period = Period(start.astimezone(SHANGHAI).date(), end.astimezone(SHANGHAI).date())
    street = KpiScope.street()
    cases = await case_kpis(session, period, street, now)
    ratings = await rating_kpis(session, period, street)
    return {
        "opened": cases.received,
        "resolved": cases.resolved,
        "on_time": cases.completed_on_time.percent,
        "overdue": cases.overdue,
        "satisfied": ratings.satisfaction.percent,
        "rated": ratings.total,
    }
