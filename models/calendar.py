"""Working days, weekends, statutory holidays and make-up working days (调休)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import chinese_calendar
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.services import DayKind, HolidayOverride, OpeningRule


@dataclass(frozen=True)
class DayInfo:
    """What kind of day a date is, and whether the holiday calendar for its year is known."""

    day: date
    kind: DayKind
    holiday: str | None = None  # the calendar package's holiday key, e.g. "national_day"
    override: HolidayOverride | None = None
    published: bool = True


async def load_overrides(session: AsyncSession) -> dict[date, HolidayOverride]:
    """The operator's holiday overrides, by date."""
    rows = (await session.exec(select(HolidayOverride))).all()
    return {row.day: row for row in rows}


def classify_day(day: date, overrides: dict[date, HolidayOverride]) -> DayInfo:
    """Say whether a date follows weekday or weekend/holiday rules."""
    override = overrides.get(day)
    if override is not None:
        return DayInfo(day, DayKind(override.day_kind), override=override)
    return _published_day(day)


# Statutory holidays on fixed dates (全国年节及纪念日放假办法): known before the State Council
# publishes a year's schedule, which only adds the days around them and the make-up days.
FIXED_DATE_HOLIDAYS = {
    (1, 1): "new_years_day",
    (5, 1): "labour_day",
    (5, 2): "labour_day",
    (10, 1): "national_day",
    (10, 2): "national_day",
    (10, 3): "national_day",
}


@lru_cache(maxsize=4096)
def _published_day(day: date) -> DayInfo:
    """What the holiday calendar package says of a date (a pure function, so it is cached)."""
    try:
        workday = chinese_calendar.is_workday(day)
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        # The package covers published years only; later years fall back to plain weekends,
        # and to the holidays the law fixes by date, whatever the year's schedule adds.
        fixed = FIXED_DATE_HOLIDAYS.get((day.month, day.day))
        kind = DayKind.WORKDAY if day.weekday() < 5 and fixed is None else DayKind.HOLIDAY
        return DayInfo(day, kind, fixed, published=False)
    kind = DayKind.WORKDAY if workday else DayKind.HOLIDAY
    holiday = chinese_calendar.Holiday(name).name if on_holiday and name and not workday else None
    return DayInfo(day, kind, holiday)


def next_non_working_day(
    start: date, overrides: dict[date, HolidayOverride], horizon_days: int = 62
) -> DayInfo | None:
    """The first weekend or holiday strictly after start, within the horizon."""
    for offset in range(1, horizon_days + 1):
        info = classify_day(start + timedelta(days=offset), overrides)
        if info.kind is DayKind.HOLIDAY:
            return info
    return None


async def street_opening_rule(session: AsyncSession, kind: DayKind) -> OpeningRule | None:
    """The street-wide opening hours for a kind of day."""
    stmt = select(OpeningRule).where(
        OpeningRule.day_kind == kind.value,
        OpeningRule.service_id == None,  # noqa: E711
    )
    return (await session.exec(stmt)).first()


def add_working_days(
    start: datetime, days: int, overrides: dict[date, HolidayOverride]
) -> datetime:
    """The same local time of day, `days` working days later (weekends, holidays and 调休 count
    as the calendar says). A deadline of "3 working days" from Friday 10:00 is Wednesday 10:00."""
    local = start.astimezone(SHANGHAI)
    day, left = local.date(), days
    while left > 0:
        day += timedelta(days=1)
        if classify_day(day, overrides).kind is DayKind.WORKDAY:
            left -= 1
    return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)


def within_opening(moment: datetime, rule: OpeningRule | None) -> datetime:
    """The moment moved into a working day's opening hours: 23:30 to closing time that day,
    06:00 to opening time. A deadline counted from a message sent at night would otherwise
    fall at night too, and its escalation wake a clerk."""
    if rule is None:
        return moment
    local = moment.astimezone(SHANGHAI)
    of_day = local.time().replace(tzinfo=None)
    if rule.opens <= of_day <= rule.closes:
        return moment
    hours = rule.opens if of_day < rule.opens else rule.closes
    moved = local.replace(hour=hours.hour, minute=hours.minute, second=0, microsecond=0)
    return moved.astimezone(moment.tzinfo)


async def weekday_hours(session: AsyncSession) -> OpeningRule | None:
    """The street's opening hours on a working day."""
    return await street_opening_rule(session, DayKind.WORKDAY)


async def working_deadline(
    session: AsyncSession,
    start: datetime,
    days: int,
    overrides: dict[date, HolidayOverride],
) -> datetime:
    """`days` working days after start, within the weekday opening hours (see within_opening)."""
    due = add_working_days(start, days, overrides)
    return within_opening(due, await weekday_hours(session))


def is_working_day(moment: datetime, overrides: dict[date, HolidayOverride]) -> bool:
    """Whether the local date of a moment is a working day."""
    return classify_day(moment.astimezone(SHANGHAI).date(), overrides).kind is DayKind.WORKDAY
