"""Booking, cancelling and moving appointments, the waitlist, and the limits per resident.

A place is taken by one conditional UPDATE (booked = booked + 1 WHERE booked < capacity), and
the database's CHECK constraint stands behind it, so two residents can never both get the last
place, however many ask at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import (
    Appointment,
    AppointmentStatus,
    BookingSlot,
    WaitlistEntry,
    WaitlistStatus,
)
from models.messaging import Reminder
from models.org import Staff, StaffSkill
from models.policy import may_serve_appointment
from models.refs import next_reference
from models.reminders import APPOINTMENT, ReminderRules, schedule_appointment_reminders

ACTIVE = (AppointmentStatus.BOOKED,)
_SLOT = BookingSlot.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BookingLimits:
    """What one resident may hold at a time (configurable)."""

    per_service: int = 1
    in_total: int = 3
    no_shows: int = 2  # this many no-shows within the window stop new bookings
    no_show_window: timedelta = timedelta(days=90)
    offer_minutes: int = 30  # how long a waitlist offer is held


class Outcome(StrEnum):
    """What became of a booking attempt."""

    BOOKED = "booked"
    FULL = "full"
    STARTED = "started"
    GONE = "gone"
    LIMIT_SERVICE = "limit_service"
    LIMIT_TOTAL = "limit_total"
    LIMIT_NO_SHOWS = "limit_no_shows"


@dataclass
class Booking:
    """The outcome, and the appointment when there is one."""

    outcome: Outcome
    appointment: Appointment | None = None
    offered: list[WaitlistEntry] = field(default_factory=list)  # waitlist offers made meanwhile


async def take_place(session: AsyncSession, slot_id: int) -> bool:
    """Atomically take one place in a slot; False when it is full."""
    taken = await session.exec(
        sa.update(_SLOT)
        .where(_SLOT.c.id == slot_id, _SLOT.c.booked < _SLOT.c.capacity)
        .values(booked=_SLOT.c.booked + 1)
    )
    return bool(taken.rowcount == 1)


async def release_place(session: AsyncSession, slot_id: int) -> None:
    """Give a place back."""
    await session.exec(
        sa.update(_SLOT)
        .where(_SLOT.c.id == slot_id, _SLOT.c.booked > 0)
        .values(booked=_SLOT.c.booked - 1)
    )


async def check_limits(
    session: AsyncSession, resident_id: int, service_id: int, limits: BookingLimits, now: datetime
) -> Outcome | None:
    """The limit this resident has reached, if any."""
    active = (
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.resident_id == resident_id,
            col(Appointment.status).in_(ACTIVE),
            col(Appointment.starts_at) > now,
        )
    )
    if (
        await session.exec(active.where(Appointment.service_id == service_id))
    ).one() >= limits.per_service:
        return Outcome.LIMIT_SERVICE
    if (await session.exec(active)).one() >= limits.in_total:
        return Outcome.LIMIT_TOTAL
    no_shows = (
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.resident_id == resident_id,
            Appointment.status == AppointmentStatus.NO_SHOW,
            col(Appointment.starts_at) > now - limits.no_show_window,
        )
    )
    if (await session.exec(no_shows)).one() >= limits.no_shows:
        return Outcome.LIMIT_NO_SHOWS
    return None


async def book_slot(
    session: AsyncSession,
    *,
    resident_id: int,
    slot_id: int,
    now: datetime,
    street_code: str,
    rules: ReminderRules,
    limits: BookingLimits,
    identity_id: int | None = None,
) -> Booking:
    """Book one place for a resident, with its reminders; or say why not."""
    slot = await session.get(BookingSlot, slot_id)
    if slot is None:
        return Booking(Outcome.GONE)
    if slot.starts_at <= now:
        return Booking(Outcome.STARTED)
    if slot.booked >= slot.capacity:  # a cheap early answer; the conditional UPDATE decides
        return Booking(Outcome.FULL)
    refused = await check_limits(session, resident_id, slot.service_id, limits, now)
    if refused is not None:
        return Booking(refused)
    if not await take_place(session, slot_id):
        return Booking(Outcome.FULL)
    appointment = await _new_appointment(
        session, slot, resident_id, identity_id, now, street_code, rules
    )
    return Booking(Outcome.BOOKED, appointment)


async def _new_appointment(
    session: AsyncSession,
    slot: BookingSlot,
    resident_id: int,
    identity_id: int | None,
    now: datetime,
    street_code: str,
    rules: ReminderRules,
) -> Appointment:
    """The appointment for a place already taken, with its reference and reminders."""
    appointment = Appointment(
        ref=await next_reference(session, f"{street_code}Y", now.astimezone(SHANGHAI).date()),
        resident_id=resident_id,
        service_id=slot.service_id,
        slot_id=slot.id or 0,
        identity_id=identity_id,
        starts_at=slot.starts_at,
        created_at=now,
        updated_at=now,
    )
    session.add(appointment)
    await session.flush()
    await schedule_appointment_reminders(session, appointment, rules, now)
    return appointment


async def cancel_appointment(
    session: AsyncSession, appointment: Appointment, now: datetime, limits: BookingLimits
) -> list[WaitlistEntry]:
    """Cancel, give the place back, stop its reminders, and offer the place to the waitlist."""
    if appointment.status != AppointmentStatus.BOOKED:
        return []
    appointment.status, appointment.updated_at = AppointmentStatus.CANCELLED, now
    session.add(appointment)
    await release_place(session, appointment.slot_id)
    await _stop_reminders(session, appointment.id or 0)
    return await offer_freed_places(session, appointment.slot_id, now, limits)


async def reschedule(
    session: AsyncSession,
    appointment: Appointment,
    new_slot_id: int,
    now: datetime,
    rules: ReminderRules,
    limits: BookingLimits,
) -> Booking:
    """Move to another slot: the new place is taken first, the old one released only then."""
    new_slot = await session.get(BookingSlot, new_slot_id)
    if new_slot is None or appointment.status != AppointmentStatus.BOOKED:
        return Booking(Outcome.GONE)
    if new_slot.starts_at <= now:
        return Booking(Outcome.STARTED)
    if not await take_place(session, new_slot_id):
        return Booking(Outcome.FULL)
    old_slot = appointment.slot_id
    appointment.slot_id, appointment.starts_at = new_slot_id, new_slot.starts_at
    appointment.service_id, appointment.updated_at = new_slot.service_id, now
    session.add(appointment)
    await release_place(session, old_slot)
    await session.flush()
    await schedule_appointment_reminders(session, appointment, rules, now)
    offered = await offer_freed_places(session, old_slot, now, limits)
    return Booking(Outcome.BOOKED, appointment, offered)


async def _stop_reminders(session: AsyncSession, appointment_id: int) -> None:
    await session.exec(
        sa.update(Reminder)
        .where(
            col(Reminder.subject_kind) == APPOINTMENT,
            col(Reminder.subject_id) == appointment_id,
            col(Reminder.done).is_(False),
        )
        .values(done=True, outcome="cancelled")
    )


async def join_waitlist(
    session: AsyncSession, slot_id: int, resident_id: int, now: datetime
) -> WaitlistEntry | None:
    """Queue for a full slot (once per resident and slot); None if the slot has places, which
    are booked with the usual limits (an offer from the waitlist skips them)."""
    slot = await session.get(BookingSlot, slot_id)
    if slot is None or slot.booked < slot.capacity:
        return None
    stmt = select(WaitlistEntry).where(
        WaitlistEntry.slot_id == slot_id, WaitlistEntry.resident_id == resident_id
    )
    entry = (await session.exec(stmt)).first()
    if entry is None:
        entry = WaitlistEntry(slot_id=slot_id, resident_id=resident_id, created_at=now)
    elif entry.status in (WaitlistStatus.EXPIRED, WaitlistStatus.CANCELLED):
        entry.status, entry.offer_expires_at, entry.created_at = WaitlistStatus.WAITING, None, now
    session.add(entry)
    await session.flush()
    return entry


async def offer_freed_places(
    session: AsyncSession, slot_id: int, now: datetime, limits: BookingLimits
) -> list[WaitlistEntry]:
    """Hold each free place of a slot for the next waiting resident, for a limited time."""
    slot = await session.get(BookingSlot, slot_id)
    if slot is None or slot.starts_at <= now:
        return []
    offered: list[WaitlistEntry] = []
    while True:
        stmt = (
            select(WaitlistEntry)
            .where(WaitlistEntry.slot_id == slot_id, WaitlistEntry.status == WaitlistStatus.WAITING)
            .order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id))
            .limit(1)
        )
        entry = (await session.exec(stmt)).first()
        if entry is None or not await take_place(session, slot_id):  # the held place
            return offered
        entry.status = WaitlistStatus.OFFERED
        entry.offer_expires_at = min(now + timedelta(minutes=limits.offer_minutes), slot.starts_at)
        session.add(entry)
        offered.append(entry)


async def accept_offer(
    session: AsyncSession,
    entry: WaitlistEntry,
    now: datetime,
    *,
    street_code: str,
    rules: ReminderRules,
    identity_id: int | None = None,
) -> Booking:
    """Turn a held offer into an appointment (its place is already taken for it)."""
    expired = entry.offer_expires_at is None or entry.offer_expires_at <= now
    if entry.status != WaitlistStatus.OFFERED or expired:
        return Booking(Outcome.GONE)
    slot = await session.get(BookingSlot, entry.slot_id)
    if slot is None:
        return Booking(Outcome.GONE)
    entry.status = WaitlistStatus.ACCEPTED
    session.add(entry)
    appointment = await _new_appointment(
        session, slot, entry.resident_id, identity_id, now, street_code, rules
    )
    return Booking(Outcome.BOOKED, appointment)


async def expire_offers(
    session: AsyncSession, now: datetime, limits: BookingLimits
) -> tuple[list[WaitlistEntry], list[WaitlistEntry]]:
    """Offers past their time: release their places and pass them on. (expired, new offers)"""
    # Locked, skipping rows another instance is passing on: a place is released once.
    stmt = (
        select(WaitlistEntry)
        .where(
            WaitlistEntry.status == WaitlistStatus.OFFERED,
            col(WaitlistEntry.offer_expires_at) <= now,
        )
        .with_for_update(skip_locked=True)
    )
    expired = list((await session.exec(stmt)).all())
    offered: list[WaitlistEntry] = []
    for entry in expired:
        entry.status = WaitlistStatus.EXPIRED
        session.add(entry)
        await release_place(session, entry.slot_id)
        offered += await offer_freed_places(session, entry.slot_id, now, limits)
    return expired, offered


async def lapse_offer(session: AsyncSession, entry_id: int, now: datetime) -> bool:
    """End an offer now (its resident cannot be reached): the next pass moves the place on."""
    entry = await session.get(WaitlistEntry, entry_id, with_for_update=True)
    if entry is None or entry.status != WaitlistStatus.OFFERED:
        return False
    entry.offer_expires_at = now
    session.add(entry)
    return True


async def active_appointments(
    session: AsyncSession, resident_id: int, now: datetime
) -> list[Appointment]:
    """A resident's booked appointments still to come, soonest first."""
    stmt = (
        select(Appointment)
        .where(
            Appointment.resident_id == resident_id,
            col(Appointment.status).in_(ACTIVE),
            col(Appointment.starts_at) > now,
        )
        .order_by(col(Appointment.starts_at))
    )
    return list((await session.exec(stmt)).all())


async def find_appointment(session: AsyncSession, ref: str) -> Appointment | None:
    """An appointment by its reference number."""
    stmt = select(Appointment).where(Appointment.ref == ref.strip().upper())
    return (await session.exec(stmt)).first()


async def todays_appointments(
    session: AsyncSession, staff_id: int, day_start: datetime, day_end: datetime
) -> list[Appointment]:
    """The day's appointments for services this staff member is trained for, by time."""
    trained = select(StaffSkill.service_id).where(StaffSkill.staff_id == staff_id)
    stmt = (
        select(Appointment)
        .where(
            col(Appointment.service_id).in_(trained),
            col(Appointment.starts_at) >= day_start,
            col(Appointment.starts_at) < day_end,
            Appointment.status != AppointmentStatus.CANCELLED,
        )
        .order_by(col(Appointment.starts_at), col(Appointment.id))
    )
    return list((await session.exec(stmt)).all())


class Step(StrEnum):
    """What a staff member can do to an appointment at the window."""

    CHECK_IN = "check_in"
    COMPLETE = "complete"
    NO_SHOW = "no_show"


_ALLOWED = {
    Step.CHECK_IN: (AppointmentStatus.BOOKED,),
    Step.COMPLETE: (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN),
    Step.NO_SHOW: (AppointmentStatus.BOOKED,),
}
_RESULT = {
    Step.CHECK_IN: AppointmentStatus.CHECKED_IN,
    Step.COMPLETE: AppointmentStatus.COMPLETED,
    Step.NO_SHOW: AppointmentStatus.NO_SHOW,
}


async def serve_appointment(
    session: AsyncSession, appointment: Appointment, step: Step, staff: Staff, now: datetime
) -> str | None:
    """A window step by a staff member: None when done, "not_yours" when the policy refuses
    (not trained for the service or not on duty that day), "not_now" when the state forbids."""
    if not await may_serve_appointment(session, staff, appointment):
        return "not_yours"
    if not window_step(appointment, step, staff.id or 0, now):
        return "not_now"
    session.add(appointment)
    return None


def window_step(appointment: Appointment, step: Step, staff_id: int, now: datetime) -> bool:
    """Check in, complete or mark a no-show; False when the appointment's state forbids it."""
    if appointment.status not in _ALLOWED[step]:
        return False
    if step is Step.NO_SHOW and appointment.starts_at > now:
        return False  # nobody is late before the time has come
    if (
        step is Step.CHECK_IN
        and appointment.starts_at.astimezone(SHANGHAI).date() != now.astimezone(SHANGHAI).date()
    ):
        return False  # check-in is for today's appointments
    appointment.status, appointment.updated_at = _RESULT[step], now
    if step is not Step.NO_SHOW:
        appointment.served_by_staff_id = staff_id
    if step is Step.CHECK_IN:
        appointment.checked_in_at = now
    return True
