"""Rolling the duty roster forward: the last four weeks repeat, so the roster never runs out.

A day's pattern is the day of the same weekday four weeks earlier (the rota: four weekday weeks,
and the four rotating holiday teams of data/roster.toml, come round again), or a multiple of
four weeks when the roster had run out by then (days nobody planned are no pattern). When that
day was a different kind of day (a statutory holiday, a 调休 working weekend), the latest day of
the same weekday and kind within the four weeks is used, else the latest staffed day of that
kind: a holiday Monday gets a holiday team, a make-up Saturday the weekday staff.

The roll-forward only fills days with no shift at all: a day with any shift was planned (by
the seed, an import, a clerk, or an earlier run) and is left exactly as it is, so a shift a
clerk removed (leave, training) stays removed, and running it again, or on two servers at
once, adds nothing twice. Days of a kind with no opening hours are left empty, and staff who
are no longer active are left out. It and a roster import take turns (ROSTER_LOCK),
so an import at the same moment cannot end up beside a copy of the pattern.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import RosterShift
from models.calendar import classify_day, load_overrides
from models.db import transaction_lock
from models.org import Staff
from models.services import DayKind, HolidayOverride, OpeningRule

ROTA_DAYS = 28  # the pattern: four weeks, as the seed and `linli roster export` lay them out
ROSTER_LOCK = "roster"  # held by whatever changes the roster, for the rest of its transaction
_SHIFT = RosterShift.__table__  # type: ignore[attr-defined]

Shifts = dict[date, list[RosterShift]]


def planned_by(day: date, weeks_ahead: int) -> date:
    """The day from which the roll-forward keeps `day` staffed (for "ask again on …")."""
    return day - timedelta(days=7 * weeks_ahead - 1)


async def roll_forward(session: AsyncSession, today: date, weeks_ahead: int) -> int:
    """Staff today and the next weeks_ahead weeks from the pattern; returns shifts added."""
    end = today + timedelta(days=7 * weeks_ahead)
    await transaction_lock(session, ROSTER_LOCK)
    since = await _last_day_before(session, today) or today
    rota = _Rota(
        await _shifts(session, since - timedelta(days=ROTA_DAYS - 1), end),
        await load_overrides(session),
        since,
        today,
    )
    active = set((await session.exec(select(Staff.id).where(col(Staff.active)))).all())
    open_kinds = {DayKind(kind) for kind in (await session.exec(select(OpeningRule.day_kind)))}
    added: list[RosterShift] = []
    for offset in range((end - today).days):
        day = today + timedelta(days=offset)
        if rota.by_day[day] or rota.kind(day) not in open_kinds:
            continue  # planned already (as it stands), or the centre is closed
        source = rota.pattern_day(day)
        if source is None:
            continue
        new = _copies(rota.by_day[source], day, active)
        rota.by_day[day].extend(new)  # a later day may repeat this one
        added += new
    return await _insert_new(session, added)


async def _last_day_before(session: AsyncSession, day: date) -> date | None:
    """The last day before `day` with any shift on the roster."""
    stmt = select(func.max(RosterShift.day)).where(col(RosterShift.day) < day)
    return (await session.exec(stmt)).one()


async def _shifts(session: AsyncSession, first: date, end: date) -> Shifts:
    """Every shift on days first..end (exclusive), by day."""
    stmt = select(RosterShift).where(col(RosterShift.day) >= first, col(RosterShift.day) < end)
    by_day: Shifts = defaultdict(list)
    for shift in (await session.exec(stmt)).all():
        by_day[shift.day].append(shift)
    return by_day


@dataclass
class _Rota:
    """The roster around today, and which of its days a coming day repeats."""

    by_day: Shifts
    overrides: dict[date, HolidayOverride]
    since: date  # the last day before today with any shift
    today: date

    def kind(self, day: date) -> DayKind:
        """Whether the day follows weekday or weekend/holiday rules."""
        return classify_day(day, self.overrides).kind

    def planned(self, day: date) -> bool:
        """False for the past days after the roster ran out (nobody planned them, e.g. while
        the roll-forward was not running): an empty day there is no pattern."""
        return not self.since < day < self.today

    def pattern_day(self, day: date) -> date | None:
        """The day whose shifts `day` repeats: the same weekday four weeks back (eight, if
        that was not planned) if it was the same kind of day; else, in the four weeks up to
        the last staffed day before it, the latest of that weekday and kind, else the latest
        staffed day of that kind."""
        kind = self.kind(day)
        back = day - timedelta(days=ROTA_DAYS)
        while not self.planned(back):
            back -= timedelta(days=ROTA_DAYS)
        if self.kind(back) is kind:
            return back
        staffed = [d for d, shifts in self.by_day.items() if d < day and shifts]
        if not staffed:
            return None
        last = max(staffed)
        window = [last - timedelta(days=n) for n in range(ROTA_DAYS)]  # latest first
        same_kind = [d for d in window if self.planned(d) and self.kind(d) is kind]
        same_weekday = [d for d in same_kind if d.weekday() == day.weekday()]
        with_shifts = [d for d in same_kind if self.by_day.get(d)]
        return next(iter(same_weekday or with_shifts), None)


def _copies(pattern: list[RosterShift], day: date, active: set[int | None]) -> list[RosterShift]:
    """The pattern's shifts of active staff moved to `day` (same local times)."""
    return [
        RosterShift(
            staff_id=shift.staff_id,
            day=day,
            starts_at=_same_time_on(day, shift.starts_at),
            ends_at=_same_time_on(day, shift.starts_at) + (shift.ends_at - shift.starts_at),
            window=shift.window,
        )
        for shift in pattern
        if shift.staff_id in active
    ]


def _same_time_on(day: date, moment: datetime) -> datetime:
    local = moment.astimezone(SHANGHAI)
    return datetime.combine(day, local.time(), SHANGHAI).astimezone(UTC)


async def _insert_new(session: AsyncSession, shifts: list[RosterShift]) -> int:
    """INSERT … ON CONFLICT DO NOTHING on (staff, start): another run's rows stay as they are."""
    if not shifts:
        return 0
    rows = [
        {
            "staff_id": s.staff_id,
            "day": s.day,
            "starts_at": s.starts_at,
            "ends_at": s.ends_at,
            "window": s.window,
        }
        for s in shifts
    ]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(_SHIFT).on_conflict_do_nothing(index_elements=["staff_id", "starts_at"])
    result = await (await session.connection()).execute(stmt.returning(_SHIFT.c.id), rows)
    return len(result.all())


async def add_shift(
    session: AsyncSession,
    staff: Staff,
    starts_at: datetime,
    ends_at: datetime,
    window: int | None,
) -> tuple[RosterShift, bool]:
    """Put one staff member on duty (under the roster lock): the new shift and True, or the
    shift of theirs it would overlap and False (nothing added)."""
    await transaction_lock(session, ROSTER_LOCK)  # not beside an import or the roll-forward
    clash = (
        await session.exec(
            select(RosterShift).where(
                RosterShift.staff_id == staff.id,
                col(RosterShift.starts_at) < ends_at,
                col(RosterShift.ends_at) > starts_at,
            )
        )
    ).first()
    if clash is not None:
        return clash, False
    shift = RosterShift(
        staff_id=staff.id or 0,
        day=starts_at.astimezone(SHANGHAI).date(),
        starts_at=starts_at,
        ends_at=ends_at,
        window=window,
    )
    session.add(shift)
    await session.flush()
    return shift, True


async def remove_shift(session: AsyncSession, shift: RosterShift) -> bool:
    """Take a shift off the roster (under the roster lock); whether its day still has cover."""
    await transaction_lock(session, ROSTER_LOCK)
    day = shift.day
    await session.delete(shift)
    await session.flush()
    left = select(RosterShift.id).where(RosterShift.day == day).limit(1)
    return (await session.exec(left)).first() is not None
