"""The dispatch step (街道呼叫) of the grid chain 社区发现 → 街道呼叫 → 部门响应 → 协同整治.

A grid report (found by a grid worker, or reported by a resident) goes to the street's dispatch
queue when the street has a dispatcher. The dispatcher calls a lead department and any
co-handling departments, with a deadline in working days; each department answers the call
(accepts) or returns it with a reason. A returned lead sends the case back to the queue; a
returned co-handler is dropped from the joint work and the dispatcher is told. Joint handling
closes only when every department still on it has done its part (see case_ops.mark_progress).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.calendar import load_overrides, working_deadline
from models.case_ops import OPEN, Refusal, named, record
from models.cases import Case, CaseHandler, CaseKind, CaseStatus
from models.org import Department, Staff, StaffRole
from models.policy import handler_departments, may_accept_part, may_dispatch, may_return_call

LONGEST_DEADLINE = 60  # working days; a dispatcher's typo should not park a case for years
REASON_LIMIT = 500


async def street_has_dispatcher(session: AsyncSession) -> bool:
    """Whether an active dispatcher works the queue (else reports are routed by category)."""
    stmt = select(Staff.id).where(Staff.role == StaffRole.DISPATCHER, col(Staff.active).is_(True))
    return (await session.exec(stmt.limit(1))).first() is not None


async def goes_to_dispatch(session: AsyncSession, kind: CaseKind) -> bool:
    """Grid reports wait for the dispatcher's call, when the street has one."""
    return kind == CaseKind.GRID_REPORT and await street_has_dispatcher(session)


def in_queue(case: Case) -> bool:
    """Whether the case waits for the dispatcher: new and with no lead department."""
    return case.status == CaseStatus.NEW and case.department_id is None


async def dispatch_queue(session: AsyncSession, limit: int = 100) -> list[Case]:
    """Cases waiting for the dispatcher, oldest first."""
    stmt = (
        select(Case)
        .where(col(Case.status) == CaseStatus.NEW, col(Case.department_id).is_(None))
        .order_by(col(Case.created_at), col(Case.id))
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def returned_parts(session: AsyncSession, limit: int = 100) -> list[tuple[Case, CaseHandler]]:
    """Co-handling calls a department returned on cases still open, for the dispatcher."""
    stmt = (
        select(Case, CaseHandler)
        .join(CaseHandler, col(CaseHandler.case_id) == col(Case.id))
        .where(
            col(CaseHandler.returned_at).is_not(None),
            col(CaseHandler.lead).is_(False),  # a returned lead is back in the queue itself
            col(Case.status).in_(OPEN),
        )
        .order_by(col(CaseHandler.returned_at))
        .limit(limit)
    )
    return [(case, handler) for case, handler in (await session.exec(stmt)).all()]


async def dispatch_case(
    session: AsyncSession,
    case: Case,
    dispatcher: Staff,
    *,
    lead: Department,
    co: Sequence[Department],
    working_days: int,
    now: datetime,
) -> Refusal | None:
    """Call a lead department and co-handlers, with a deadline in working days from now."""
    if not may_dispatch(dispatcher):
        return Refusal.NOT_YOURS
    if case.status not in OPEN:
        return Refusal.CLOSED
    owned = case.assignee_staff_id is not None
    if (owned and lead.id != case.department_id) or not 1 <= working_days <= LONGEST_DEADLINE:
        return Refusal.NO_SUCH_STEP  # an owner keeps the lead (首问责任); co-handlers may change
    earlier = await handler_departments(session, case)
    for handler in earlier.values():
        await session.delete(handler)
    await session.flush()
    co_ids = sorted({d.id or 0 for d in co} - {lead.id or 0})
    for department_id in [lead.id or 0, *co_ids]:
        session.add(
            _called(earlier.get(department_id), case, department_id, department_id == lead.id)
        )
    overrides = await load_overrides(session)
    case.due_at = await working_deadline(session, now, working_days, overrides)
    if not owned:
        case.department_id, case.status = lead.id, CaseStatus.ASSIGNED
        case.first_reply_due_at = await working_deadline(session, now, 1, overrides)
    names = [d.name_zh for d in co if (d.id or 0) in co_ids]
    record(
        session,
        case,
        ("staff", dispatcher.id),
        "dispatched",
        now,
        **named(lead),
        co="、".join(names) or "—",
        days=working_days,
    )
    return None


def _called(earlier: CaseHandler | None, case: Case, department_id: int, lead: bool) -> CaseHandler:
    """A department's place in the joint work; what it already did (accepted, done) stays
    when it is called again, a return does not."""
    handler = CaseHandler(case_id=case.id or 0, department_id=department_id, lead=lead)
    if earlier is not None and earlier.returned_at is None:
        handler.accepted_at, handler.done_at = earlier.accepted_at, earlier.done_at
    return handler


async def answer_call(
    session: AsyncSession, case: Case, staff: Staff, now: datetime
) -> Refusal | None:
    """A co-handling department accepts its part of the joint work (the lead department
    accepts by taking the case, case_ops.accept_case)."""
    handlers = await handler_departments(session, case)
    mine = handlers.get(staff.department_id or 0)
    if case.status not in OPEN:
        return Refusal.CLOSED
    if mine is None or not may_accept_part(staff, mine, case):
        return Refusal.NOT_YOURS
    if mine.accepted_at is None:
        mine.accepted_at = now
        session.add(mine)
        record(session, case, ("staff", staff.id), "co_accepted", now, staff=staff.name)
    return None


async def return_call(
    session: AsyncSession, case: Case, staff: Staff, reason: str, now: datetime
) -> Refusal | None:
    """A department gives the call back with a reason (required): the lead's return puts the
    case back in the dispatch queue; a co-handler's drops it from the joint work."""
    reason = " ".join(reason.split())[:REASON_LIMIT]
    handlers = await handler_departments(session, case)
    mine = handlers.get(staff.department_id or 0)
    if case.status not in OPEN:
        return Refusal.CLOSED
    if mine is not None and mine.lead and case.assignee_staff_id is not None:
        return Refusal.TAKEN  # its owner answers for it now (首问责任)
    if mine is None or not may_return_call(staff, mine, case):
        return Refusal.NOT_YOURS
    if not any(ch.isalnum() for ch in reason):  # "…" or "？" says nothing
        return Refusal.NO_REASON
    mine.returned_at, mine.return_reason = now, reason
    session.add(mine)
    department = await session.get(Department, mine.department_id)
    if mine.lead:  # back in the queue: the dispatcher has a working day to call again
        case.department_id, case.assignee_staff_id = None, None
        case.status, case.accepted_at = CaseStatus.NEW, None
        overrides = await load_overrides(session)
        case.first_reply_due_at = await working_deadline(session, now, 1, overrides)
    name = department.name_zh if department else ""
    record(session, case, ("staff", staff.id), "returned", now, reason, department=name)
    return None


async def settle_returned_part(
    session: AsyncSession,
    case: Case,
    dispatcher: Staff,
    returned_department_id: int,
    replacement: Department | None,
    now: datetime,
) -> Refusal | None:
    """The dispatcher answers a co-handler's return: another department is called to help
    instead, or the joint work goes on without one. The returned part leaves the list either
    way (its reason stays on the timeline)."""
    if not may_dispatch(dispatcher):
        return Refusal.NOT_YOURS
    if case.status not in OPEN:
        return Refusal.CLOSED
    handlers = await handler_departments(session, case)
    returned = handlers.get(returned_department_id)
    if returned is None or returned.lead or returned.returned_at is None:
        return Refusal.NO_SUCH_STEP
    await session.delete(returned)
    await session.flush()
    if replacement is None:
        record(session, case, ("staff", dispatcher.id), "co_dropped", now)
        return None
    if replacement.id in handlers and replacement.id != returned_department_id:
        return Refusal.NO_SUCH_STEP  # already on the case
    session.add(CaseHandler(case_id=case.id or 0, department_id=replacement.id or 0, lead=False))
    record(
        session,
        case,
        ("staff", dispatcher.id),
        "co_called",
        now,
        **named(replacement),
    )
    return None
