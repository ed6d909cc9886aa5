"""转人工: a consultation case through which a resident and a staff member talk.

The case carries the transcript of what the resident asked the bot; every message relayed
either way is an event on its timeline; either side may end the conversation, which resolves
the case (the follow-up then asks the resident to rate it).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.booking import RosterShift
from models.case_ops import OPEN, Refusal, record
from models.cases import Case, CaseKind, CaseStatus
from models.org import Staff
from models.people import ChannelIdentity
from models.policy import UNVOUCHED_CHANNELS, may_take_handover


async def on_duty(session: AsyncSession, now: datetime) -> list[Staff]:
    """Active staff on a roster shift right now who have a chat account we can reach."""
    reachable = (
        select(ChannelIdentity.staff_id)
        .where(
            col(ChannelIdentity.staff_id).is_not(None),
            col(ChannelIdentity.active).is_(True),
            col(ChannelIdentity.unreachable).is_(False),
            # The web chat cannot be pushed to (and carries no staff powers in production).
            col(ChannelIdentity.channel).not_in(UNVOUCHED_CHANNELS),
        )
        .scalar_subquery()
    )
    stmt = (
        select(Staff)
        .join(RosterShift, col(RosterShift.staff_id) == col(Staff.id))
        .where(
            col(RosterShift.starts_at) <= now,
            col(RosterShift.ends_at) > now,
            col(Staff.active).is_(True),
            col(Staff.id).in_(reachable),
        )
        .order_by(col(RosterShift.starts_at), col(Staff.id))
    )
    people: dict[int | None, Staff] = {}
    for staff in (await session.exec(stmt)).all():
        people.setdefault(staff.id, staff)  # one entry per person, earliest shift first
    return list(people.values())


def is_handover(case: Case | None) -> bool:
    """A consultation that is still open."""
    return case is not None and case.kind == CaseKind.CONSULTATION and case.status in OPEN


async def waiting_handover(session: AsyncSession, resident_id: int | None) -> Case | None:
    """The resident's latest request for a person that is still open, if any."""
    if resident_id is None:
        return None
    query = (
        select(Case)
        .where(Case.resident_id == resident_id, Case.kind == CaseKind.CONSULTATION)
        .where(col(Case.status).in_(OPEN))
        .order_by(col(Case.created_at).desc())
        .limit(5)
    )
    found = (await session.exec(query)).all()
    return next((case for case in found if case.details.get("handover")), None)


def assign_to(session: AsyncSession, case: Case, staff: Staff, now: datetime) -> None:
    """Give the conversation to the staff member on duty (their department takes the case)."""
    case.assignee_staff_id, case.status = staff.id, CaseStatus.ASSIGNED
    if staff.department_id is not None:
        case.department_id = staff.department_id
    session.add(case)
    record(session, case, ("system", None), "assigned", now, staff=staff.name)


def take(session: AsyncSession, case: Case, staff: Staff, now: datetime) -> Refusal | None:
    """A staff member joins the conversation: theirs if assigned to them, or unassigned and
    theirs to take under the policy (their department's)."""
    if not is_handover(case):
        return Refusal.CLOSED
    if case.assignee_staff_id not in (None, staff.id):
        return Refusal.TAKEN
    if not may_take_handover(staff, case):
        return Refusal.NOT_YOURS
    if case.status != CaseStatus.ACCEPTED:
        case.assignee_staff_id, case.status = staff.id, CaseStatus.ACCEPTED
        case.accepted_at = case.accepted_at or now
        case.first_replied_at = case.first_replied_at or now
        if staff.department_id is not None:
            case.department_id = staff.department_id
        session.add(case)
        record(session, case, ("staff", staff.id), "accepted", now, staff=staff.name)
    return None


def relay(
    session: AsyncSession, case: Case, actor: tuple[str, int | None], text: str, now: datetime
) -> None:
    """One message of the conversation, kept on the case's timeline."""
    record(session, case, actor, "message", now, text[:1000])


def end(session: AsyncSession, case: Case, actor: tuple[str, int | None], now: datetime) -> bool:
    """End the conversation: the case is resolved; False if it was over already."""
    if not is_handover(case):
        return False
    case.status, case.resolved_at = CaseStatus.RESOLVED, now
    session.add(case)
    record(session, case, actor, "resolved", now)
    return True
