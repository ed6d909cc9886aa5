"""Who answers for whom: the supervisors of a department, and the one who answers a complaint
or a poor rating about a staff member (never that person), whom the case then concerns."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cases import CONCERNS, Case, CaseHandler
from models.org import Department, Staff, StaffRole

ANSWERING = (StaffRole.SUPERVISOR, StaffRole.ADMIN)
SHORTEST_NAME = 2


def _over(department_id: int | None) -> sa.ColumnElement[bool]:
    """Staff over the department: its own, and those over the whole hall (no department)."""
    return (col(Staff.department_id) == department_id) | col(Staff.department_id).is_(None)


async def supervisors_for(session: AsyncSession, department_id: int | None) -> list[int]:
    """Active supervisors of the department, and those over the whole hall."""
    stmt = select(Staff.id).where(
        Staff.role == StaffRole.SUPERVISOR, col(Staff.active).is_(True), _over(department_id)
    )
    return [int(staff_id) for staff_id in (await session.exec(stmt)).all() if staff_id]


async def answering_supervisor(
    session: AsyncSession, department_id: int | None, concerned_id: int | None
) -> Staff | None:
    """Who answers for a department: its own supervisor, else the hall's, else an administrator;
    never the person the complaint concerns."""
    stmt = (
        select(Staff)
        .where(
            col(Staff.role).in_(ANSWERING),
            col(Staff.active).is_(True),
            _over(department_id),
            col(Staff.id) != (concerned_id or 0),
        )
        .order_by(
            col(Staff.role) == StaffRole.ADMIN,
            col(Staff.department_id).is_(None),
            col(Staff.id),
        )
    )
    return (await session.exec(stmt)).first()


async def named_staff(session: AsyncSession, text: str) -> Staff | None:
    """The one active staff member a comment names by full name; None when it names nobody, or
    several people, or a name two staff members share (then who served stays concerned)."""
    if not text:
        return None
    stmt = select(Staff).where(col(Staff.active).is_(True))
    named = [
        person
        for person in (await session.exec(stmt)).all()
        if len(person.name) >= SHORTEST_NAME and person.name in text
    ]
    return named[0] if len(named) == 1 else None


async def supervisor_for(
    session: AsyncSession, department_id: int | None, concerned: Staff | None
) -> tuple[Staff, Department | None] | None:
    """The supervisor who answers for the person concerned (or the department), and the
    department the return visit belongs to."""
    department_id = (concerned.department_id if concerned else None) or department_id
    supervisor = await answering_supervisor(
        session, department_id, concerned.id if concerned else None
    )
    if supervisor is None:
        return None
    department = await session.get(Department, department_id) if department_id else None
    return supervisor, department


async def concern(
    session: AsyncSession, case: Case, named: Staff
) -> tuple[Staff, Department | None] | None:
    """The case concerns a staff member: it is marked so (even with nobody to answer it), and
    goes to their department with the supervisor who answers for them (returned)."""
    case.details = {**case.details, CONCERNS: named.id}
    session.add(case)
    routed = await supervisor_for(session, case.department_id, named)
    if routed is None:
        return None
    supervisor, department = routed
    if department is not None and department.id != case.department_id:
        await move_lead_department(session, case, department)
    return supervisor, department


async def move_lead_department(session: AsyncSession, case: Case, department: Department) -> None:
    """Make another department the case's lead (the one that answers for the staff member)."""
    lead = await session.get(CaseHandler, (case.id, case.department_id))
    if lead is not None:
        await session.delete(lead)
        await session.flush()
    session.add(CaseHandler(case_id=case.id or 0, department_id=department.id or 0, lead=True))
    case.department_id = department.id
