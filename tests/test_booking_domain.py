"""Booking rules on a real database: calendar days, roster capacity, cancel, move, waitlist."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from models.appointments import (
    BookingLimits,
    Outcome,
    accept_offer,
    book_slot,
    cancel_appointment,
    expire_offers,
    join_waitlist,
    reschedule,
)
from models.base import SHANGHAI
from models.booking import Appointment, BookingSlot, RosterShift, WaitlistStatus
from models.messaging import Reminder
from models.people import Resident
from models.reminders import ReminderRules
from models.services import Service
from models.slots import Closed, plan_day

RULES, LIMITS = ReminderRules(), BookingLimits()
SATURDAY, MAKEUP_SATURDAY = date(2026, 11, 28), date(2026, 12, 26)
MONDAY = date(2026, 11, 30)


async def service(linli: Linli, code: str) -> Service:
    async with linli.sessions() as session:
        return (await session.exec(select(Service).where(Service.code == code))).one()


async def residents(linli: Linli, count: int) -> list[int]:
    async with linli.sessions() as session, session.begin():
        made = [Resident(created_at=linli.clock.now()) for _ in range(count)]
        session.add_all(made)
        await session.flush()
        return [r.id or 0 for r in made]


async def first_slot(linli: Linli, code: str, day: date) -> BookingSlot:
    svc = await service(linli, code)
    async with linli.sessions() as session, session.begin():
        plan = await plan_day(session, svc, day, linli.clock.now())
    assert plan.closed is None, plan.closed
    return plan.slots[0]


async def book(linli: Linli, resident: int, slot_id: int) -> Outcome:
    async with linli.sessions() as session, session.begin():
        booking = await book_slot(
            session,
            resident_id=resident,
            slot_id=slot_id,
            now=linli.clock.now(),
            street_code="LC",
            rules=RULES,
            limits=LIMITS,
        )
        return booking.outcome


async def slot_row(linli: Linli, slot_id: int) -> BookingSlot:
    async with linli.sessions() as session:
        slot = await session.get(BookingSlot, slot_id)
    assert slot is not None
    return slot


async def test_weekday_only_services_are_closed_on_a_weekend_but_open_on_a_makeup_saturday(
    linli: Linli,
) -> None:
    weekday_only = await service(linli, "ca-dibao")
    assert not weekday_only.weekend
    async with linli.sessions() as session, session.begin():
        saturday = await plan_day(session, weekday_only, SATURDAY, linli.clock.now())
        makeup = await plan_day(
            session, weekday_only, MAKEUP_SATURDAY, linli.clock.now(), horizon_days=40
        )
    assert saturday.closed is Closed.NOT_ON_HOLIDAYS
    assert makeup.closed is None and (makeup.opens, makeup.closes) == (
        datetime(2026, 1, 1, 8).time(),
        datetime(2026, 1, 1, 18).time(),
    )


async def test_a_statutory_holiday_keeps_holiday_hours_and_services(
    linli: Linli, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 9, 25, 10, tzinfo=SHANGHAI))
    national_day = date(2026, 10, 1)  # a Thursday
    dibao, card = await service(linli, "ca-dibao"), await service(linli, "ss-card-reissue")
    async with linli.sessions() as session, session.begin():
        weekday_only = await plan_day(session, dibao, national_day, clock.now())
        weekend = await plan_day(session, card, national_day, clock.now())
    assert weekday_only.closed is Closed.NOT_ON_HOLIDAYS
    assert weekend.info.holiday == "national_day"
    assert (weekend.opens, weekend.closes) == (
        datetime(2026, 1, 1, 9).time(),
        datetime(2026, 1, 1, 12).time(),
    )


async def test_capacity_follows_the_roster(linli: Linli) -> None:
    slot = await first_slot(linli, "ss-card-reissue", MONDAY)
    before = slot.capacity
    assert before > 0 and before % 2 == 0  # 30-minute slots, 15-minute service: two per person
    async with linli.sessions() as session, session.begin():
        shift = (await session.exec(select(RosterShift).where(RosterShift.day == MONDAY))).first()
        assert shift is not None
        await session.delete(shift)
    after = await first_slot(linli, "ss-card-reissue", MONDAY)
    assert after.id == slot.id and after.capacity in (before, before - 2)
    async with linli.sessions() as session, session.begin():
        for shift in (
            await session.exec(select(RosterShift).where(RosterShift.day == MONDAY))
        ).all():
            await session.delete(shift)
    assert (await first_slot(linli, "ss-card-reissue", MONDAY)).capacity == 0


async def test_capacity_never_drops_below_what_is_booked(linli: Linli) -> None:
    slot = await first_slot(linli, "ss-card-reissue", MONDAY)
    [resident] = await residents(linli, 1)
    assert await book(linli, resident, slot.id or 0) == Outcome.BOOKED
    async with linli.sessions() as session, session.begin():
        for shift in (
            await session.exec(select(RosterShift).where(RosterShift.day == MONDAY))
        ).all():
            await session.delete(shift)
    again = await first_slot(linli, "ss-card-reissue", MONDAY)
    assert (again.capacity, again.booked) == (1, 1)


async def test_concurrent_attempts_never_overbook(linli: Linli) -> None:
    slot = await first_slot(linli, "ss-card-reissue", MONDAY)
    people = await residents(linli, slot.capacity + 15)
    outcomes = await asyncio.gather(*(book(linli, person, slot.id or 0) for person in people))
    assert outcomes.count(Outcome.BOOKED) == slot.capacity
    assert outcomes.count(Outcome.FULL) == 15
    assert (await slot_row(linli, slot.id or 0)).booked == slot.capacity


async def test_each_booking_gets_its_reminders_and_limits_apply(linli: Linli) -> None:
    slot = await first_slot(linli, "ss-card-reissue", MONDAY)
    [resident] = await residents(linli, 1)
    assert await book(linli, resident, slot.id or 0) == Outcome.BOOKED
    async with linli.sessions() as session:
        kinds = sorted(r.kind for r in (await session.exec(select(Reminder))).all())
    assert kinds == ["evening_before", "hour_before"]
    other = await first_slot(linli, "ss-card-reissue", MONDAY + timedelta(days=1))
    assert await book(linli, resident, other.id or 0) == Outcome.LIMIT_SERVICE


async def test_cancel_and_reschedule_keep_counts_right(linli: Linli) -> None:
    monday = await first_slot(linli, "ss-card-reissue", MONDAY)
    tuesday = await first_slot(linli, "ss-card-reissue", MONDAY + timedelta(days=1))
    [resident] = await residents(linli, 1)
    await book(linli, resident, monday.id or 0)
    async with linli.sessions() as session, session.begin():
        appointment = (await session.exec(select(Appointment))).one()
        moved = await reschedule(
            session, appointment, tuesday.id or 0, linli.clock.now(), RULES, LIMITS
        )
    assert moved.outcome is Outcome.BOOKED
    assert (await slot_row(linli, monday.id or 0)).booked == 0
    assert (await slot_row(linli, tuesday.id or 0)).booked == 1
    async with linli.sessions() as session, session.begin():
        appointment = (await session.exec(select(Appointment))).one()
        assert appointment.starts_at == tuesday.starts_at
        await cancel_appointment(session, appointment, linli.clock.now(), LIMITS)
    assert (await slot_row(linli, tuesday.id or 0)).booked == 0
    async with linli.sessions() as session:
        open_reminders = (
            await session.exec(select(Reminder).where(col(Reminder.done).is_(False)))
        ).all()
    assert open_reminders == []


async def test_a_move_to_a_full_slot_keeps_the_old_place(linli: Linli) -> None:
    monday = await first_slot(linli, "ss-card-reissue", MONDAY)
    full = await first_slot(linli, "ss-card-reissue", MONDAY + timedelta(days=1))
    people = await residents(linli, full.capacity + 1)
    for person in people[:-1]:
        await book(linli, person, full.id or 0)
    await book(linli, people[-1], monday.id or 0)
    async with linli.sessions() as session, session.begin():
        mine = (
            await session.exec(select(Appointment).where(Appointment.resident_id == people[-1]))
        ).one()
        moved = await reschedule(session, mine, full.id or 0, linli.clock.now(), RULES, LIMITS)
    assert moved.outcome is Outcome.FULL
    assert (await slot_row(linli, monday.id or 0)).booked == 1


async def test_the_waitlist_offer_expires_and_passes_on(linli: Linli, clock: ManualClock) -> None:
    slot = await first_slot(linli, "ss-card-reissue", MONDAY)
    people = await residents(linli, slot.capacity + 2)
    for person in people[: slot.capacity]:
        await book(linli, person, slot.id or 0)
    first_waiter, second_waiter = people[-2], people[-1]
    async with linli.sessions() as session, session.begin():
        await join_waitlist(session, slot.id or 0, first_waiter, clock.now())
        clock.advance(timedelta(seconds=1))
        await join_waitlist(session, slot.id or 0, second_waiter, clock.now())
    async with linli.sessions() as session, session.begin():
        leaving = (
            await session.exec(select(Appointment).where(Appointment.resident_id == people[0]))
        ).one()
        offered = await cancel_appointment(session, leaving, clock.now(), LIMITS)
        assert [entry.resident_id for entry in offered] == [first_waiter]
    assert (await slot_row(linli, slot.id or 0)).booked == slot.capacity  # held for the offer
    clock.advance(timedelta(minutes=LIMITS.offer_minutes, seconds=1))
    async with linli.sessions() as session, session.begin():
        expired, passed_on = await expire_offers(session, clock.now(), LIMITS)
    assert [e.resident_id for e in expired] == [first_waiter]
    assert [e.resident_id for e in passed_on] == [second_waiter]
    async with linli.sessions() as session, session.begin():
        entry = await session.get(type(passed_on[0]), passed_on[0].id)
        assert entry is not None and entry.status == WaitlistStatus.OFFERED
        accepted = await accept_offer(session, entry, clock.now(), street_code="LC", rules=RULES)
    assert accepted.outcome is Outcome.BOOKED
    assert (await slot_row(linli, slot.id or 0)).booked == slot.capacity


async def test_a_service_can_have_its_own_hours_from_data(linli: Linli) -> None:
    vaccination = await service(linli, "hl-vaccination-booking")
    async with linli.sessions() as session, session.begin():
        plan = await plan_day(session, vaccination, MONDAY, linli.clock.now())
    assert plan.closed is None
    starts = [s.starts_at.astimezone(SHANGHAI).strftime("%H:%M") for s in plan.slots]
    assert starts[:3] == ["08:00", "08:20", "08:40"] and starts[-1] == "11:40"
