"""A staff member's calendar: their roster shifts and the appointments they serve, for the
private feed (GET /feeds/staff/<code>.ics), and the feed's revocation.

How an appointment belongs to a staff member. Appointments are not booked with a person: a
resident books a place in a slot (service, start, end), and the slot's places come from the
roster (models/slots.py: the active staff trained for the service with a shift on the slot's
day that spans the whole slot). So an appointment is in a staff member's calendar when it is not
cancelled and

- they served it (``Appointment.served_by_staff_id``: they checked it in or completed it), or
- nobody has served it yet (booked, or marked a no-show) and it is one they give places to, by
  the same rule: they are trained for its service (``StaffSkill``) and one of their shifts on
  the slot's day spans the whole slot (``models.slots.covers``: ``shift.starts_at <=
  slot.starts_at`` and ``shift.ends_at >= slot.ends_at``).

An appointment nobody has served yet is therefore in the calendar of every staff member whose
shift gave the slot a place (any of them may serve it at the window); once one of them serves it,
it stays in that person's calendar only.

Nothing here reads a resident: what a feed shows of an appointment is its reference, service,
time, status and window, because a calendar app copies the feed to servers outside the office.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus, BookingSlot, RosterShift
from models.org import Staff, StaffSkill
from models.services import Service
from models.slots import covers

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
    on_day: dict[date, list[RosterShift]] = defaultdict(list)
    for shift in shifts:
        on_day[shift.day].append(shift)
    connection = await session.connection()
    rows = (await connection.execute(_candidates(staff.id or 0, start, end))).all()
    appointments = [
        FeedAppointment(
            row.ref,
            AppointmentStatus(row.status),
            row.starts_at,
            row.starts_at + timedelta(minutes=row.duration_minutes),
            row.name_zh,
            row.name_en,
            _window(staff, on_day[row.day], row.starts_at),
            row.created_at,
            row.updated_at,
        )
        for row in rows
        if row.served_by_staff_id == staff.id or _gives_places(on_day[row.day], row)
    ]
    return StaffCalendar(staff, first, last, shifts, appointments)


def _candidates(staff_id: int, start: datetime, end: datetime) -> sa.Executable:
    """Appointments starting in [start, end), not cancelled, that the staff member served or
    that nobody has served yet for a service they are trained for, with their slot (whether a
    shift of theirs spans it is checked against the shifts already read: one index range, where
    a correlated look-up per appointment walked every earlier shift of theirs)."""
    trained = select(StaffSkill.service_id).where(StaffSkill.staff_id == staff_id)
    served_by = col(Appointment.served_by_staff_id)
    return (
        sa.select(
            col(Appointment.ref),
            col(Appointment.status),
            col(Appointment.starts_at),
            col(Appointment.created_at),
            col(Appointment.updated_at),
            served_by,
            col(BookingSlot.day),
            col(BookingSlot.starts_at).label("slot_start"),
            col(BookingSlot.ends_at).label("slot_end"),
            col(Service.name_zh),
            col(Service.name_en),
            col(Service.duration_minutes),
        )
        .select_from(Appointment)
        .join(BookingSlot, col(BookingSlot.id) == col(Appointment.slot_id))
        .join(Service, col(Service.id) == col(Appointment.service_id))
        .where(
            col(Appointment.starts_at) >= start,
            col(Appointment.starts_at) < end,
            col(Appointment.status) != AppointmentStatus.CANCELLED,
            sa.or_(
                served_by == staff_id,
                sa.and_(served_by.is_(None), col(Appointment.service_id).in_(trained)),
            ),
        )
        .order_by(col(Appointment.starts_at), col(Appointment.ref))
    )


def _gives_places(shifts: list[RosterShift], row: sa.Row[Any]) -> bool:
    """Whether one of the day's shifts spans the candidate's whole slot (models.slots.covers)."""
    length = row.slot_end - row.slot_start
    return any(covers(shift, row.slot_start, length) for shift in shifts)


def _window(staff: Staff, shifts: list[RosterShift], at: datetime) -> int | None:
    """The window the staff member sits at when the appointment starts: their shift's, else
    their own."""
    for shift in shifts:
        if shift.starts_at <= at < shift.ends_at and shift.window is not None:
            return shift.window
    return staff.window
