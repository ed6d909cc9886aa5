"""A complaint that names a staff member goes to the supervisor who answers for them, never to
the person it is about (nor, by the policy, to their colleagues)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from models.case_ops import record
from models.cases import Case, CaseStatus
from models.org import Staff
from models.supervision import concern, named_staff


async def route_past_named_staff(session: AsyncSession, case: Case, now: datetime) -> Staff | None:
    """If the complaint names a staff member, its owner from now on is their supervisor (who is
    returned); None when it names nobody, and the case stays with its department."""
    named = await named_staff(session, case.summary)
    if named is None:
        return None
    routed = await concern(session, case, named)
    if routed is None:
        return None
    supervisor, _ = routed
    case.assignee_staff_id, case.status, case.accepted_at = supervisor.id, CaseStatus.ACCEPTED, now
    record(session, case, ("system", None), "accepted", now, staff=supervisor.name)
    session.add(case)
    return supervisor
