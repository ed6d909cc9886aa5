"""Case deadlines and follow-ups: remind the assignee, escalate what is overdue, flag cases left
unaccepted (推诿风险), and ask the resident to confirm and rate once a case is resolved.

Every effect is recorded in the reminder ledger under a unique key, in the transaction that
queues its message, so a sweep that runs twice (two instances, a retried tick) does nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outgoing import for_resident, for_staff, pushes, queue
from bot.outgoing.case_news import department_name
from bot.outgoing.message import Value
from bot.outgoing.tell import RETURN_VISIT_ALERT, alert_return_visit, case_category
from models.calendar import add_working_days, load_overrides, weekday_hours, within_opening
from models.case_ops import OPEN
from models.cases import CONCERNS, Case, CaseEvent, CaseHandler, CaseKind, CaseStatus, Rating
from models.org import Department, Staff
from models.reminders import CASE, mark_once, not_yet_marked
from models.supervision import supervisors_for
from scheduler.context import JobContext

UNACCEPTED = (CaseStatus.NEW, CaseStatus.ASSIGNED)
SLA_WARNING, OVERDUE, UNACCEPTED_RISK = "sla_warning", "overdue", "unaccepted"
UNANSWERED_CALL = "call_unanswered"
FOLLOW_UP, NUDGE = "follow_up", "follow_up_nudge"
RETURN_VISIT_GRACE = timedelta(minutes=10)  # time to write the comment that goes with the alert


async def sweep_case_deadlines(ctx: JobContext) -> int:
    """One pass of the SLA sweep; returns how many alerts were queued."""
    now = ctx.clock.now()
    async with ctx.sessions() as session, session.begin():
        sent = await _warn_assignees(session, ctx, now)
        sent += await _escalate_overdue(session, ctx, now)
        sent += await _flag_unaccepted(session, ctx, now)
        sent += await _flag_unanswered_calls(session, ctx, now)
        sent += await _alert_left_return_visits(session, now)
    return sent


async def _alert_left_return_visits(session: AsyncSession, now: datetime) -> int:
    """A return visit whose resident left before commenting (or skipping) is alerted to its
    supervisor after a short grace, without the comment."""
    cases = await _open_cases(
        session,
        col(Case.kind) == CaseKind.RETURN_VISIT,
        col(Case.created_at) <= now - RETURN_VISIT_GRACE,
        not_yet_marked(CASE, RETURN_VISIT_ALERT, col(Case.id)),
    )
    connection = await session.connection()
    return sum([await alert_return_visit(session, connection, c, now, again=False) for c in cases])


async def _open_cases(session: AsyncSession, *conditions: Any) -> list[Case]:
    stmt = select(Case).where(col(Case.status).in_(OPEN), *conditions).order_by(col(Case.id))
    return list((await session.exec(stmt)).all())


async def _warn_assignees(session: AsyncSession, ctx: JobContext, now: datetime) -> int:
    soon = now + timedelta(hours=ctx.settings.sla_warn_hours)
    cases = await _open_cases(
        session,
        col(Case.assignee_staff_id).is_not(None),
        col(Case.due_at) > now,
        col(Case.due_at) <= soon,
        not_yet_marked(CASE, SLA_WARNING, col(Case.id)),
    )
    cases = [case for case in cases if _half_way(case, now)]
    for case in cases:
        await _alert(session, ctx, case, SLA_WARNING, [case.assignee_staff_id or 0], "", now)
    return len(cases)


def _half_way(case: Case, now: datetime) -> bool:
    """Whether half the case's time has passed: a case due within the warning window from the
    start (a one-day return visit) is not warned of the moment it arrives."""
    if case.due_at is None:
        return False
    return now >= case.created_at + (case.due_at - case.created_at) / 2


async def _escalate_overdue(session: AsyncSession, ctx: JobContext, now: datetime) -> int:
    cases = await _open_cases(session, col(Case.due_at) < now, col(Case.escalated_at).is_(None))
    sent = 0
    for case in cases:
        assignee = await _assignee_name(session, case)
        supervisors = await supervisors_for(session, case.department_id)
        sent += await _alert(session, ctx, case, OVERDUE, supervisors, assignee, now)
        case.escalated_at = now
        session.add(case)
    return sent


async def _flag_unaccepted(session: AsyncSession, ctx: JobContext, now: datetime) -> int:
    days = ctx.settings.sla_accept_working_days
    stmt = select(Case).where(
        col(Case.status).in_(UNACCEPTED),
        col(Case.accepted_at).is_(None),
        # a cheap bound, a day wide: the exact time may be moved back to closing time (below)
        col(Case.created_at) < now - timedelta(days=days - 1),
        not_yet_marked(CASE, UNACCEPTED_RISK, col(Case.id)),
    )
    overrides, hours = await load_overrides(session), await weekday_hours(session)
    sent = 0
    for case in (await session.exec(stmt)).all():
        if within_opening(add_working_days(case.created_at, days, overrides), hours) > now:
            continue
        assignee = await _assignee_name(session, case)
        supervisors = await supervisors_for(session, case.department_id)
        sent += await _alert(session, ctx, case, UNACCEPTED_RISK, supervisors, assignee, now)
    return sent


async def _flag_unanswered_calls(session: AsyncSession, ctx: JobContext, now: datetime) -> int:
    """A co-handling department that has not answered the dispatcher's call (accepted or
    returned it) within the acceptance time: its supervisors hear of it, once per department."""
    days = ctx.settings.sla_accept_working_days
    stmt = (
        select(Case, CaseHandler)
        .join(CaseHandler, col(CaseHandler.case_id) == col(Case.id))
        .where(
            col(Case.status).in_(OPEN),
            col(CaseHandler.lead).is_(False),
            col(CaseHandler.accepted_at).is_(None),
            col(CaseHandler.returned_at).is_(None),
            col(CaseHandler.done_at).is_(None),
        )
    )
    overrides, hours = await load_overrides(session), await weekday_hours(session)
    sent = 0
    for case, part in (await session.exec(stmt)).all():
        called = await _called_at(session, case)
        if called is None or within_opening(add_working_days(called, days, overrides), hours) > now:
            continue
        department = await session.get(Department, part.department_id)
        supervisors = await supervisors_for(session, part.department_id)
        # One escalation per department and call: a second silent department is told too.
        kind = f"call:{part.department_id}:{int(called.timestamp())}"
        name = department_name(department)
        sent += await _alert(
            session, ctx, case, kind, supervisors, name, now, event=UNANSWERED_CALL
        )
    return sent


async def _called_at(session: AsyncSession, case: Case) -> datetime | None:
    """When the dispatcher last called departments to the case (None: never dispatched)."""
    stmt = (
        select(CaseEvent.at)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "dispatched")
        .order_by(col(CaseEvent.at).desc())
    )
    return (await session.exec(stmt)).first()


async def _alert(
    session: AsyncSession,
    ctx: JobContext,
    case: Case,
    kind: str,
    staff_ids: list[int],
    assignee: Value,
    now: datetime,
    *,
    event: str | None = None,
) -> int:
    """Mark the case, log it on its timeline and queue one alert per staff member (never to
    the staff member a return visit's complaint concerns, even if they are a supervisor)."""
    assert case.id is not None
    staff_ids = [s for s in staff_ids if s != case.details.get(CONCERNS)]
    connection = await session.connection()
    if not await mark_once(connection, CASE, case.id, kind, now):
        return 0
    session.add(CaseEvent(case_id=case.id, at=now, actor_kind="system", kind=event or kind))

    alert = pushes.case_escalation(
        event or kind,
        ref=case.ref,
        category=case_category(case, ctx.settings.data_dir),
        due_at=case.due_at,
        assignee=assignee,
    )
    await queue(
        connection,
        alert,
        [for_staff(staff_id) for staff_id in staff_ids],
        kind="alert",
        now=now,
        once=f"case:{case.id}:{kind}:{{person}}",
    )
    return len(staff_ids)


async def _assignee_name(session: AsyncSession, case: Case) -> str:
    if case.assignee_staff_id is None:
        return "—"
    staff = await session.get(Staff, case.assignee_staff_id)
    return staff.name if staff else "—"


async def send_follow_ups(ctx: JobContext) -> int:
    """Ask residents to confirm and rate resolved cases, and nudge once more later."""
    now = ctx.clock.now()
    settings = ctx.settings
    async with ctx.sessions() as session, session.begin():
        sent = await _follow_up(
            session, ctx, FOLLOW_UP, now - timedelta(hours=settings.follow_up_after_hours), now
        )
        nudge_before = now - timedelta(hours=settings.follow_up_nudge_after_hours)
        sent += await _follow_up(session, ctx, NUDGE, nudge_before, now)
    return sent


async def _follow_up(
    session: AsyncSession, ctx: JobContext, kind: str, resolved_before: datetime, now: datetime
) -> int:
    rated = select(Rating.id).where(Rating.subject_kind == CASE, Rating.subject_id == Case.id)
    stmt = select(Case).where(
        Case.status == CaseStatus.RESOLVED,
        Case.kind != CaseKind.RETURN_VISIT,  # the call back is the answer to a rating already
        col(Case.resident_id).is_not(None),
        col(Case.resolved_at) <= resolved_before,
        ~rated.exists(),
        not_yet_marked(CASE, kind, col(Case.id)),
    )
    if kind == NUDGE:  # the nudge only follows a first follow-up
        stmt = stmt.where(~not_yet_marked(CASE, FOLLOW_UP, col(Case.id)))
    cases = list((await session.exec(stmt)).all())
    connection = await session.connection()
    for case in cases:
        assert case.id is not None
        await mark_once(connection, CASE, case.id, kind, now)
        follow_up = pushes.case_follow_up(
            kind, case_id=case.id, ref=case.ref, category=case_category(case, ctx.settings.data_dir)
        )
        people = [for_resident(case.resident_id or 0)]
        await queue(
            connection, follow_up, people, kind="follow_up", now=now, once=f"case:{case.id}:{kind}"
        )
    return len(cases)
