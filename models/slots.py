"""Bookable slots: when a service is open on a day, and how many places the duty roster gives.

A slot's capacity is the on-duty staff trained for the service (一人多岗) times how many of its
appointments fit in the slot. Slots are made when someone looks at a day, and their capacity
follows the roster whenever they are looked at again (never below what is already booked).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import BookingSlot, RosterShift
from models.calendar import DayInfo, classify_day, load_overrides
from models.org import Staff, StaffSkill
from models.services import DayKind, OpeningRule, Service

_SLOT = BookingSlot.__table__  # type: ignore[attr-defined]
HORIZON_DAYS = 30  # how far ahead residents can book


class Closed(StrEnum):
    """Why a service cannot be booked on a day."""

    NOT_ON_HOLIDAYS = "not_on_holidays"  # a weekday-only service on a weekend or holiday
    NO_HOURS = "no_hours"  # no opening rule for this kind of day
    PAST = "past"
    TOO_FAR = "too_far"


@dataclass(frozen=True)
class DayPlan:
    """A service's day: open or why not, its hours and slots with places left."""

    info: DayInfo
    closed: Closed | None
    opens: time | None = None
    closes: time | None = None
    slots: tuple[BookingSlot, ...] = ()

    @property
    def free(self) -> tuple[BookingSlot, ...]:
        """Slots with at least one place left."""
        return tuple(slot for slot in self.slots if slot.booked < slot.capacity)


async def opening_rule(
    session: AsyncSession, service: Service, kind: DayKind
) -> OpeningRule | None:
    """The service's own hours for a kind of day, else the street's."""
    stmt = select(OpeningRule).where(OpeningRule.day_kind == kind.value)
    return pick_rule((await session.exec(stmt)).all(), service, kind)


def pick_rule(rules: Iterable[OpeningRule], service: Service, kind: DayKind) -> OpeningRule | None:
    """Of the given opening rules, the service's own for a kind of day, else the street's."""
    of_kind = [rule for rule in rules if rule.day_kind == kind.value]
    own = [rule for rule in of_kind if rule.service_id == service.id]
    street = [rule for rule in of_kind if rule.service_id is None]
    found = own or street
    return found[0] if found else None


def serves_on(service: Service, kind: DayKind) -> bool:
    """Whether the service is offered on a kind of day (weekday-only ones are not on weekends
    and holidays)."""
    return kind is not DayKind.HOLIDAY or service.weekend


async def plan_day(
    session: AsyncSession,
    service: Service,
    day: date,
    now: datetime,
    *,
    horizon_days: int = HORIZON_DAYS,
) -> DayPlan:
    """Whether the service is open on day, and its slots (made or refreshed from the roster)."""
    info = classify_day(day, await load_overrides(session))
    today = now.astimezone(SHANGHAI).date()
    if day < today:
        return DayPlan(info, Closed.PAST)
    if day > today + timedelta(days=horizon_days):
        return DayPlan(info, Closed.TOO_FAR)
    if not serves_on(service, info.kind):
        return DayPlan(info, Closed.NOT_ON_HOLIDAYS)
    rule = await opening_rule(session, service, info.kind)
    if rule is None:
        return DayPlan(info, Closed.NO_HOURS)
    slots = await _slots(session, service, day, rule)
    future = tuple(slot for slot in slots if slot.starts_at > now)
    return DayPlan(info, None, rule.opens, rule.closes, future)


async def _slots(
    session: AsyncSession, service: Service, day: date, rule: OpeningRule
) -> list[BookingSlot]:
    """The day's slots, made if missing, their capacity set from the roster.

    Many residents may open the same new day at once: missing slots are inserted with
    ON CONFLICT DO NOTHING, and capacity is set in SQL from the row's own booked count, so
    concurrent transactions neither collide nor undercut a place just taken.
    """
    length = timedelta(minutes=rule.slot_minutes)
    per_person = max(1, rule.slot_minutes // max(1, service.duration_minutes))
    shifts = [shift for _, shift in await trained_shifts(session, [service.id or 0], day, day)]
    capacity = {
        start: per_person * sum(1 for shift in shifts if covers(shift, start, length))
        for start in slot_starts(day, rule)
    }
    slots = await _day_slots(session, service, day)
    missing = [start for start in capacity if start not in {slot.starts_at for slot in slots}]
    if missing:
        await _insert_missing(session, service, day, length, {s: capacity[s] for s in missing})
        slots = await _day_slots(session, service, day)
    for slot in slots:
        wanted = capacity.get(slot.starts_at)
        if wanted is not None and wanted != slot.capacity:
            await _set_capacity(session, slot, wanted)
    return [slot for slot in slots if slot.starts_at in capacity]


async def _day_slots(session: AsyncSession, service: Service, day: date) -> list[BookingSlot]:
    stmt = (
        select(BookingSlot)
        .where(BookingSlot.service_id == service.id, BookingSlot.day == day)
        .order_by(col(BookingSlot.starts_at))
        .execution_options(populate_existing=True)
    )
    return list((await session.exec(stmt)).all())


async def _insert_missing(
    session: AsyncSession,
    service: Service,
    day: date,
    length: timedelta,
    capacity: dict[datetime, int],
) -> None:
    rows = [
        {
            "service_id": service.id,
            "day": day,
            "starts_at": start,
            "ends_at": start + length,
            "capacity": places,
            "booked": 0,
        }
        for start, places in capacity.items()
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(_SLOT)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["service_id", "starts_at"])
    )
    await session.exec(stmt)


async def _set_capacity(session: AsyncSession, slot: BookingSlot, wanted: int) -> None:
    """capacity = max(wanted, booked), computed by the database from the current row."""
    booked = _SLOT.c.booked
    await session.exec(
        sa.update(_SLOT)
        .where(_SLOT.c.id == slot.id)
        .values(capacity=sa.case((booked > wanted, booked), else_=wanted))
    )
    # Mirror the database's value without making the ORM write it again.
    set_committed_value(slot, "capacity", max(wanted, slot.booked))


def slot_starts(day: date, rule: OpeningRule) -> list[datetime]:
    """When the day's slots start: at opening time, one every slot_minutes, the last ending by
    closing time."""
    start = datetime.combine(day, rule.opens, tzinfo=SHANGHAI)
    end = datetime.combine(day, rule.closes, tzinfo=SHANGHAI)
    step = timedelta(minutes=rule.slot_minutes)
    starts = []
    while start + step <= end:
        starts.append(start)
        start += step
    return starts


def covers(shift: RosterShift, start: datetime, length: timedelta) -> bool:
    """Whether a shift spans the whole slot starting at `start` (so gives it places)."""
    return shift.starts_at <= start and shift.ends_at >= start + length


async def trained_shifts(
    session: AsyncSession,
    service_ids: Collection[int],
    first: date,
    last: date,
    *,
    history_before: date | None = None,
) -> list[tuple[int, RosterShift]]:
    """The shifts on days first..last of active staff trained for each service (一人多岗: a
    shift comes once for each of its staff member's services). A deactivated member's shifts
    serve nobody, but count as history on days before history_before, if given."""
    serving: sa.ColumnElement[bool] = col(Staff.active).is_(True)
    if history_before is not None:
        serving = serving | (col(RosterShift.day) < history_before)
    stmt = (
        select(StaffSkill.service_id, RosterShift)
        .join(RosterShift, col(RosterShift.staff_id) == col(StaffSkill.staff_id))
        .join(Staff, col(Staff.id) == col(StaffSkill.staff_id))
        .where(
            serving,
            col(StaffSkill.service_id).in_(list(service_ids)),
            col(RosterShift.day) >= first,
            col(RosterShift.day) <= last,
        )
    )
    return [(service_id, shift) for service_id, shift in (await session.exec(stmt)).all()]


async def next_open_days(
    session: AsyncSession,
    service: Service,
    now: datetime,
    count: int,
    *,
    horizon_days: int = HORIZON_DAYS,
) -> list[DayPlan]:
    """The next days (from today) on which the service has places left."""
    today = now.astimezone(SHANGHAI).date()
    found = []
    for offset in range(horizon_days + 1):
        plan = await plan_day(session, service, today + timedelta(days=offset), now)
        if plan.closed is None and plan.free:
            found.append(plan)
            if len(found) == count:
                break
    return found


async def known_free_slots(
    session: AsyncSession, service_id: int, now: datetime, limit: int
) -> list[BookingSlot]:
    """The soonest slots already made that still have places (one cheap read, for
    suggestions when a slot is full; booking itself always re-checks)."""
    with_places = col(BookingSlot.booked) < col(BookingSlot.capacity)
    return await _soonest(session, service_id, now, limit, with_places)


async def staffed_slots(
    session: AsyncSession, service_id: int, now: datetime, limit: int
) -> list[BookingSlot]:
    """The soonest slots already made that someone on the roster staffs, free or taken (none
    when nobody is on duty for the service yet: the roster has not reached those days)."""
    return await _soonest(session, service_id, now, limit, col(BookingSlot.capacity) > 0)


async def _soonest(
    session: AsyncSession,
    service_id: int,
    now: datetime,
    limit: int,
    condition: sa.ColumnElement[bool],
) -> list[BookingSlot]:
    stmt = (
        select(BookingSlot)
        .where(BookingSlot.service_id == service_id, col(BookingSlot.starts_at) > now, condition)
        .order_by(col(BookingSlot.starts_at))
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def replan_for_staff(session: AsyncSession, staff_id: int, now: datetime) -> int:
    """Recount the places of every coming day already planned for the services a staff member
    is trained for (after they leave, their shifts serve nobody); how many days were recounted."""
    trained = select(StaffSkill.service_id).where(StaffSkill.staff_id == staff_id)
    stmt = (
        select(col(BookingSlot.service_id), col(BookingSlot.day))
        .where(col(BookingSlot.service_id).in_(trained), col(BookingSlot.starts_at) > now)
        .distinct()
    )
    days = list((await session.exec(stmt)).all())
    for service_id, day in days:
        service = await session.get(Service, service_id)
        if service is not None:
            await plan_day(session, service, day, now)
    return len(days)
