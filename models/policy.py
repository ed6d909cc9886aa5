"""Who may do what to which record: the one authorization policy.

Chat handlers, the CLI, the scheduler and the dashboard-to-come all ask here, and the domain
operations (accept a case, take a hand-over, check in an appointment, …) ask again before they
change anything, so a crafted button or a stale binding cannot go around a handler.

A staff member's powers come from their role, their department, their grid or community, the
service skills and shifts on the duty roster, and whether they are active. A deactivated staff
member has no powers at all, on every chat account bound to them, from the next message on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import Appointment, RosterShift
from models.cases import CONCERNS, Case, CaseHandler, CaseKind
from models.org import Staff, StaffRole, StaffSkill
from models.people import Resident

ALL_SEEING = frozenset({StaffRole.SUPERVISOR, StaffRole.ADMIN})
NEED_EDITORS = frozenset({StaffRole.DEPARTMENT_STAFF, StaffRole.SUPERVISOR, StaffRole.ADMIN})
# Channels whose only credential is something the person's own device made up; in production
# they are for residents only (staff work where the platform vouches for the account).
UNVOUCHED_CHANNELS = frozenset({"web"})


@dataclass(frozen=True)
class Viewer:
    """Who is looking at a record: an acting staff member, or a resident (or nobody)."""

    staff: Staff | None = None
    resident_id: int | None = None


def has_powers(staff: Staff | None) -> bool:
    """Whether this is a staff member who may act at all (bound and active)."""
    return staff is not None and staff.active


def channel_carries_staff_powers(channel: str, production: bool) -> bool:
    """Whether an account on this channel may act (or be bound) as staff: in production not on
    a channel whose only credential is an id the person's own device made up (the web chat)."""
    return not (production and channel in UNVOUCHED_CHANNELS)


async def acting_staff(
    session: AsyncSession, staff_id: int | None, channel: str, production: bool
) -> Staff | None:
    """The staff member a chat account acts as, or None: unbound, deactivated, or on a channel
    that cannot carry staff powers here."""
    if staff_id is None or not channel_carries_staff_powers(channel, production):
        return None
    staff = await session.get(Staff, staff_id)
    return staff if has_powers(staff) else None


async def handler_departments(session: AsyncSession, case: Case) -> dict[int, CaseHandler]:
    """The departments handling a case (lead and co-handlers), by department id."""
    stmt = select(CaseHandler).where(CaseHandler.case_id == case.id)
    return {h.department_id: h for h in (await session.exec(stmt)).all()}


async def can_view_case(session: AsyncSession, case: Case, viewer: Viewer) -> bool:
    """A resident sees their own cases; staff their department's (lead or co-handling) and
    assigned ones; grid leaders their grid's; supervisors and admins all."""
    staff = viewer.staff
    if staff is None:
        return viewer.resident_id is not None and case.resident_id == viewer.resident_id
    if not has_powers(staff):
        return False
    if about_staff(case):
        return may_see_case_about_staff(staff, case)
    if staff.role in ALL_SEEING or case.assignee_staff_id == staff.id:
        return True
    if staff.role == StaffRole.GRID_LEADER:
        return case.grid_id is not None and case.grid_id == staff.grid_id
    return staff.department_id in await handler_departments(session, case)


def about_staff(case: Case) -> bool:
    """A poor rating's return visit, or a complaint that names a staff member: for the eyes of
    whoever answers it and the supervisors only."""
    return case.kind == CaseKind.RETURN_VISIT or case.details.get(CONCERNS) is not None


def may_be_alerted(staff: Staff, case: Case) -> bool:
    """Whether a case's alerts may reach a staff member: never the person it concerns, and for
    a case about staff only whoever may see it."""
    if case.details.get(CONCERNS) == staff.id:
        return False
    return may_see_case_about_staff(staff, case) if about_staff(case) else True


def may_see_case_about_staff(staff: Staff, case: Case) -> bool:
    """A case about staff (see about_staff) is for whoever answers it (its assignee) and for
    supervisors and administrators, never for the staff member it concerns, nor for their
    colleagues in the department."""
    if case.details.get(CONCERNS) == staff.id:
        return False
    return staff.role in ALL_SEEING or case.assignee_staff_id == staff.id


def may_accept_case(staff: Staff, case: Case) -> bool:
    """Staff of the case's lead department may take it on (首问责任), except the staff member
    a complaint is about."""
    if about_staff(case):
        return has_powers(staff) and may_see_case_about_staff(staff, case)
    return has_powers(staff) and staff.department_id == case.department_id


def may_work_case(staff: Staff, case: Case) -> bool:
    """Only the owner marks progress and asks the resident questions."""
    return has_powers(staff) and case.assignee_staff_id == staff.id


def may_transfer_case(staff: Staff, case: Case) -> bool:
    """The owner, or while nobody owns it the lead department, may hand it on."""
    if not has_powers(staff) or (about_staff(case) and not may_see_case_about_staff(staff, case)):
        return False
    return case.assignee_staff_id == staff.id or (
        case.assignee_staff_id is None and staff.department_id == case.department_id
    )


def may_finish_part(staff: Staff, handlers: dict[int, CaseHandler]) -> bool:
    """A co-handling department (not the lead) reports its own part done."""
    mine = handlers.get(staff.department_id or 0) if has_powers(staff) else None
    return mine is not None and not mine.lead


def may_take_handover(staff: Staff, case: Case) -> bool:
    """A hand-over is the assignee's; while unassigned, its department's (or a supervisor's).

    Whoever takes it reads the resident's words, so a staff member of another department may
    not join just by pressing a button they were never sent.
    """
    if not has_powers(staff) or case.kind != CaseKind.CONSULTATION:
        return False
    if case.assignee_staff_id is not None:
        return case.assignee_staff_id == staff.id
    return staff.role in ALL_SEEING or (
        staff.department_id is not None and staff.department_id == case.department_id
    )


async def may_serve_appointment(
    session: AsyncSession, staff: Staff, appointment: Appointment
) -> bool:
    """Check-in, completion and no-show are for staff trained for the service (一人多岗) who
    are on the duty roster on the appointment's day."""
    if not has_powers(staff):
        return False
    trained = await session.get(StaffSkill, (staff.id, appointment.service_id))
    if trained is None:
        return False
    day = appointment.starts_at.astimezone(SHANGHAI).date()
    start = datetime.combine(day, time(0), tzinfo=SHANGHAI)
    on_duty = select(sa.func.count()).where(
        col(RosterShift.staff_id) == staff.id,
        col(RosterShift.starts_at) < start + timedelta(days=1),
        col(RosterShift.ends_at) > start,
    )
    return bool((await session.exec(on_duty)).one())


def may_edit_need_items(staff: Staff | None) -> bool:
    """Department staff, supervisors and administrators move, reject, rename, merge and split
    need items; everyone else on staff may only look."""
    return has_powers(staff) and staff is not None and staff.role in NEED_EDITORS


def may_take_needs_on_visits(staff: Staff | None) -> bool:
    """Grid leaders take down needs for the residents they visit, in their own grid."""
    return (
        has_powers(staff)
        and staff is not None
        and staff.role == StaffRole.GRID_LEADER
        and staff.grid_id is not None
    )


def may_take_need_for(staff: Staff, resident: Resident) -> bool:
    """A grid leader speaks for residents of their own grid (or not yet placed in one), never
    for someone another grid leader looks after."""
    return may_take_needs_on_visits(staff) and resident.grid_id in (None, staff.grid_id)


def may_report_grid_issue(staff: Staff | None) -> bool:
    """Any active staff member may report what they find (社区发现)."""
    return has_powers(staff)


@dataclass(frozen=True)
class Scope:
    """The areas one staff member may send notices to."""

    street: bool = False
    community_id: int | None = None
    grid_id: int | None = None

    @property
    def any(self) -> bool:
        """Whether this staff member may send notices at all."""
        return self.street or self.community_id is not None or self.grid_id is not None


def scope_of(staff: Staff | None) -> Scope:
    """What a staff member may reach: grid leaders their grid, community staff their
    community, supervisors and administrators the whole street; anyone else nothing."""
    if staff is None or not has_powers(staff):
        return Scope()
    if staff.role == StaffRole.GRID_LEADER:
        return Scope(grid_id=staff.grid_id)
    if staff.role in ALL_SEEING:  # supervisors and administrators reach the whole street
        return Scope(street=True)
    return Scope(community_id=staff.community_id)
