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
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import Appointment, RosterShift
from models.cases import CONCERNS, Case, CaseHandler, CaseKind, CaseStatus
from models.org import Grid, Staff, StaffRole, StaffSkill
from models.people import Resident

ALL_SEEING = frozenset({StaffRole.SUPERVISOR, StaffRole.ADMIN})
DISPATCHING = frozenset({StaffRole.DISPATCHER, StaffRole.SUPERVISOR, StaffRole.ADMIN})
CASE_WORKERS = frozenset({StaffRole.CLERK, StaffRole.DEPARTMENT_STAFF})
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
        return (case.grid_id is not None and case.grid_id == staff.grid_id) or (
            case.reporter_staff_id == staff.id
        )
    if staff.role == StaffRole.DISPATCHER:
        return case.kind == CaseKind.GRID_REPORT
    if staff.role == StaffRole.LEADER:
        return await _in_leaders_area(session, staff, case)
    return staff.department_id in await handler_departments(session, case)


async def _in_leaders_area(session: AsyncSession, staff: Staff, case: Case) -> bool:
    """A street leader reads every case; a community's leader those of its grids."""
    if staff.community_id is None:
        return True
    grid = await session.get(Grid, case.grid_id) if case.grid_id is not None else None
    return grid is not None and grid.community_id == staff.community_id


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


def may_see_phone(staff: Staff, case: Case) -> bool:
    """A resident's full phone number is for the one who accepted their case (to call them),
    while the case is open; everyone else sees it masked."""
    open_now = case.status in (
        CaseStatus.ACCEPTED,
        CaseStatus.WAITING_RESIDENT,
        CaseStatus.READY_FOR_PICKUP,
    )
    return has_powers(staff) and case.assignee_staff_id == staff.id and open_now


def may_dispatch(staff: Staff | None) -> bool:
    """The street's dispatcher (and supervisors, administrators) call departments (街道呼叫)."""
    return has_powers(staff) and staff is not None and staff.role in DISPATCHING


_STILL_OPEN = (
    CaseStatus.NEW,
    CaseStatus.ASSIGNED,
    CaseStatus.ACCEPTED,
    CaseStatus.WAITING_RESIDENT,
)


def may_answer_call(staff: Staff, handler: CaseHandler, case: Case) -> bool:
    """Staff of a department the dispatcher called to a grid report (街道呼叫) answer that
    call, while the case is open and the call neither returned nor done."""
    return (
        has_powers(staff)
        and staff.role in CASE_WORKERS
        and case.kind == CaseKind.GRID_REPORT
        and case.status in _STILL_OPEN
        and staff.department_id == handler.department_id
        and handler.case_id == case.id
        and handler.done_at is None
        and handler.returned_at is None
    )


def may_accept_part(staff: Staff, handler: CaseHandler, case: Case) -> bool:
    """A co-handling department takes on its part (the lead accepts by taking the case)."""
    return not handler.lead and may_answer_call(staff, handler, case)


def may_return_call(staff: Staff, handler: CaseHandler, case: Case) -> bool:
    """A called department gives the call back while it has not taken it on: a co-handler
    before accepting its part, the lead before anyone took the case (首问责任 after)."""
    undecided = handler.accepted_at is None and (not handler.lead or case.assignee_staff_id is None)
    return undecided and may_answer_call(staff, handler, case)


def may_accept_case(staff: Staff, case: Case) -> bool:
    """Staff of the case's lead department may take it on (首问责任), except the staff member
    a complaint is about."""
    if about_staff(case):
        return has_powers(staff) and may_see_case_about_staff(staff, case)
    return has_powers(staff) and _in_lead_department(staff, case)


def _in_lead_department(staff: Staff, case: Case) -> bool:
    """The staff member works in the case's lead department (a case still waiting for the
    dispatcher has none, and a staff member without a department is in none)."""
    return staff.department_id is not None and staff.department_id == case.department_id


def may_work_case(staff: Staff, case: Case) -> bool:
    """Only the owner marks progress and asks the resident questions."""
    return has_powers(staff) and case.assignee_staff_id == staff.id


def may_transfer_case(staff: Staff, case: Case) -> bool:
    """The owner, or while nobody owns it the lead department, may hand it on."""
    if not has_powers(staff) or (about_staff(case) and not may_see_case_about_staff(staff, case)):
        return False
    return case.assignee_staff_id == staff.id or (
        case.assignee_staff_id is None and _in_lead_department(staff, case)
    )


def may_finish_part(staff: Staff, handlers: dict[int, CaseHandler], case: Case) -> bool:
    """A co-handling department (not the lead) reports its own part done, once, while the
    case is open and the call not returned."""
    mine = handlers.get(staff.department_id or 0) if has_powers(staff) else None
    return (
        mine is not None
        and not mine.lead
        and mine.done_at is None
        and mine.returned_at is None
        and case.status in _STILL_OPEN
    )


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


class DeskPage(StrEnum):
    """The pages of the staff desk (/admin)."""

    CASES = "cases"
    DISPATCH = "dispatch"
    APPOINTMENTS = "appointments"
    ROSTER = "roster"
    NEEDS = "needs"
    NOTICES = "notices"
    BIND_CODES = "bind_codes"
    HOLIDAYS = "holidays"
    NUMBERS = "numbers"
    STARS = "stars"
    ACCESS_LOG = "access_log"


_EVERYONE = frozenset({DeskPage.CASES, DeskPage.STARS})
DESK_PAGES: dict[StaffRole, frozenset[DeskPage]] = {
    StaffRole.CLERK: _EVERYONE | {DeskPage.APPOINTMENTS, DeskPage.NEEDS},
    StaffRole.DEPARTMENT_STAFF: _EVERYONE | {DeskPage.APPOINTMENTS, DeskPage.NEEDS},
    StaffRole.GRID_LEADER: _EVERYONE | {DeskPage.NEEDS, DeskPage.NOTICES},
    StaffRole.DISPATCHER: _EVERYONE | {DeskPage.DISPATCH},
    StaffRole.SUPERVISOR: frozenset(DeskPage) - {DeskPage.BIND_CODES},
    StaffRole.LEADER: _EVERYONE | {DeskPage.NUMBERS, DeskPage.NEEDS},
    StaffRole.ADMIN: frozenset(DeskPage),
}


def may_open_page(staff: Staff | None, page: DeskPage) -> bool:
    """Whether a staff member's role opens a desk page (records on it are checked one by one)."""
    return has_powers(staff) and staff is not None and page in DESK_PAGES.get(staff.role, ())


def may_edit_roster(staff: Staff | None) -> bool:
    """Supervisors and administrators plan the duty roster and import it."""
    return has_powers(staff) and staff is not None and staff.role in ALL_SEEING


def may_issue_bind_codes(staff: Staff | None) -> bool:
    """Only administrators issue the codes that make a chat account a staff account."""
    return has_powers(staff) and staff is not None and staff.role == StaffRole.ADMIN


def may_edit_holidays(staff: Staff | None) -> bool:
    """Administrators and supervisors change the street's holiday overrides."""
    return may_edit_roster(staff)


@dataclass(frozen=True)
class NumbersScope:
    """The part of the street whose numbers a staff member may read."""

    street: bool = False
    community_id: int | None = None
    department_id: int | None = None

    @property
    def any(self) -> bool:
        """Whether there is anything to read."""
        return self.street or self.community_id is not None or self.department_id is not None


def numbers_scope(staff: Staff | None) -> NumbersScope:
    """Supervisors, administrators and street leaders read the whole street; a community's
    leader their community; nobody else reads the numbers page."""
    if staff is None or not may_open_page(staff, DeskPage.NUMBERS):
        return NumbersScope()
    if staff.role == StaffRole.LEADER and staff.community_id is not None:
        return NumbersScope(community_id=staff.community_id)
    return NumbersScope(street=True)


def may_see_scorecard(viewer: Staff | None, staff: Staff) -> bool:
    """Everyone sees their own stars; supervisors, administrators and street leaders
    everyone's; a community's leader the stars of that community's staff."""
    if viewer is None or not has_powers(viewer):
        return False
    if viewer.id == staff.id or viewer.role in ALL_SEEING:
        return True
    if viewer.role != StaffRole.LEADER:
        return False
    return viewer.community_id is None or viewer.community_id == staff.community_id


def may_read_access_log(staff: Staff | None) -> bool:
    """Supervisors and administrators read who looked at whose personal data."""
    return has_powers(staff) and staff is not None and staff.role in ALL_SEEING
