"""A staff member's calendar: their roster shifts and the appointments they serve, for the
private feed (GET /feeds/staff/<code>.ics), and the feed's revocation.

How an appointment belongs to a staff member. Appointments are not booked with a person: a
resident books a place in a slot (service, start, end), and the slot's places come from the
roster (models/slots.py: the active staff trained for the service whose shift spans the whole
slot). So an appointment is in a staff member's calendar when it is not cancelled and

- they served it (``Appointment.served_by_staff_id``: they checked it in or completed it), or
- nobody has served it yet (booked, or marked a no-show) and it is one they give places to:
  they are trained for its service (``StaffSkill``) and one of their shifts spans its whole slot
  (``shift.starts_at <= slot.starts_at`` and ``shift.ends_at >= slot.ends_at``, the rule of
  ``models.slots.covers``).

An appointment nobody has served yet is therefore in the calendar of every staff member whose
shift gave the slot a place (any of them may serve it at the window); once one of them serves it,
it stays in that person's calendar only.

Nothing here reads a resident: what a feed shows of an appointment is its reference, service,
time, status and window, because a calendar app copies the feed to servers outside the office.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus, BookingSlot, RosterShift
from models.org import Staff, StaffSkill
from models.services import Service

DAYS_BACK = 14  # the feed's first day, counted back from today
DAYS_AHEAD = 60  # its last day, counted ahead


@dataclass(frozen=True)
class FeedAppointment:
    """What a staff member's feed shows of an appointment (nothing about the resident)."""

    ref: str
    status: AppointmentStatus
    starts_at: datetime
    ends_at: datetime
    service_zh: str
    service_en: str
    window: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StaffCalendar:
    """A staff member's shifts and appointments over days first..last (Shanghai)."""

    staff: Staff
    first: date
    last: date
    shifts: list[RosterShift]
    appointments: list[FeedAppointment]

    def in_shift(self, shift: RosterShift) -> int:
        """How many of the appointments fall within the shift."""
        return sum(shift.starts_at <= a.starts_at < shift.ends_at for a in self.appointments)


def feed_days(today: date) -> tuple[date, date]:
    """The days a feed covers: DAYS_BACK before today to DAYS_AHEAD after it."""
    return today - timedelta(days=DAYS_BACK), today + timedelta(days=DAYS_AHEAD)


async def feed_staff(session: AsyncSession, code: str) -> Staff | None:
    """The active staff member with exactly this code (None for an unknown or inactive one)."""
    stmt = select(Staff).where(Staff.code == code, col(Staff.active).is_(True))
    return (await session.exec(stmt)).first()


async def revoke_feed(session: AsyncSession, staff: Staff) -> int:
    """Move the staff member's feed epoch on (every address signed before stops); the new one."""
    await session.exec(
        sa.update(Staff)
        .where(col(Staff.id) == staff.id)
        .values(feed_epoch=col(Staff.feed_epoch) + 1)
    )
    await session.refresh(staff, ["feed_epoch"])
    return staff.feed_epoch


async def staff_calendar(
    session: AsyncSession, staff: Staff, first: date, last: date
) -> StaffCalendar:
    """The staff member's shifts on days first..last and the appointments they serve then
    (see the module's docstring for which), both by start time."""
    start = datetime.combine(first, time(0), tzinfo=SHANGHAI)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    shift_stmt = (
        select(RosterShift)
        .where(
            RosterShift.staff_id == staff.id,
            col(RosterShift.day) >= first,
            col(RosterShift.day) <= last,
        )
        .order_by(col(RosterShift.starts_at))
    )
    shifts = list((await session.exec(shift_stmt)).all())
    rows = (await session.exec(_appointments(staff.id or 0, start, end))).all()
    appointments = [
        FeedAppointment(
            appointment.ref,
            AppointmentStatus(appointment.status),
            appointment.starts_at,
            appointment.starts_at + timedelta(minutes=service.duration_minutes),
            service.name_zh,
            service.name_en,
            _window(staff, shifts, appointment.starts_at),
            appointment.created_at,
            appointment.updated_at,
        )
        for appointment, service in rows
    ]
    return StaffCalendar(staff, first, last, shifts, appointments)


def _appointments(staff_id: int, start: datetime, end: datetime) -> Select[Appointment, Service]:
    """Appointments starting in [start, end) that the staff member served, or that nobody has
    served yet and a shift of theirs gave a place to."""
    covering = (
        select(RosterShift.id)
        .where(
            RosterShift.staff_id == staff_id,
            col(RosterShift.starts_at) <= col(BookingSlot.starts_at),
            col(RosterShift.ends_at) >= col(BookingSlot.ends_at),
        )
        .exists()
    )
    trained = select(StaffSkill.service_id).where(StaffSkill.staff_id == staff_id)
    served_by = col(Appointment.served_by_staff_id)
    theirs = sa.or_(
        served_by == staff_id,
        sa.and_(served_by.is_(None), col(Appointment.service_id).in_(trained), covering),
    )
    return (
        select(Appointment, Service)
        .join(BookingSlot, col(BookingSlot.id) == col(Appointment.slot_id))
        .join(Service, col(Service.id) == col(Appointment.service_id))
        .where(
            col(Appointment.starts_at) >= start,
            col(Appointment.starts_at) < end,
            col(Appointment.status) != AppointmentStatus.CANCELLED,
            theirs,
        )
        .order_by(col(Appointment.starts_at), col(Appointment.ref))
    )


def _window(staff: Staff, shifts: list[RosterShift], at: datetime) -> int | None:
    """The window the staff member sits at when the appointment starts: their shift's, else
    their own."""
    for shift in shifts:
        if shift.starts_at <= at < shift.ends_at and shift.window is not None:
            return shift.window
    return staff.window
