"""Who answers for whom: the supervisors of a department, and the one who answers a complaint
about a staff member (never that person)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.org import Staff, StaffRole

ANSWERING = (StaffRole.SUPERVISOR, StaffRole.ADMIN)


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
