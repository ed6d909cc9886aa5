"""The numbers leaders decide by (issue 20): appointments, cases, ratings, demand and the
supervision list, for a period and a scope. One home for every definition: the weekly digest,
the desk's pages, CSV exports and the staff stars (models/stars.py) all read them from here.

Periods are whole Asia/Shanghai days: ``start`` inclusive, ``end`` exclusive. A share (``Rate``)
whose denominator is zero has no value (``None``, shown as "no data yet"), never 100%.

Scope rules (``KpiScope``):

- street: everything.
- community: cases whose grid is in the community, or, for a case with no grid, whose resident
  lives there; appointments and ratings of residents of the community; needs of the community.
- department: cases whose lead department (``Case.department_id``) it is; appointments for the
  department's services or served by its staff (so that bookings nobody has served yet, no-shows
  and cancellations count too); ratings of its staff, and window-visit ratings of its window.
- window (hall window number): appointments served at that window, i.e. the server's roster
  shift covering the appointment's start has that window, or, when no shift with a window
  covers it, the server's own ``Staff.window`` is it; an appointment nobody served counts for the
  window of its service's department. Cases assigned to staff whose ``Staff.window`` it is.
  Ratings follow what was rated: an appointment's rating its appointment's window, a window
  visit's rating its department's window, any other rating the rated staff member's window.
- staff: appointments they served, cases assigned to them, ratings of them.

Needs (the demand ranking) belong to the street and its communities only; for a department,
window or staff scope the ranking is ``None`` (not applicable), not an empty list.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus, RosterShift
from models.calendar import classify_day, load_overrides
from models.case_ops import OPEN
from models.cases import Case, CaseEvent, CaseKind, CaseStatus, Rating, RatingLevel
from models.csv_export import to_csv
from models.need_ops import load_categories, top_items
from models.needs import NeedItem
from models.org import Department, Grid, Staff
from models.people import Resident
from models.ratings import POOR, SERVED, WINDOW, WindowVisit
from models.reminders import APPOINTMENT
from models.services import DayKind, Service

__all__ = [
    "AppointmentKpis",
    "CaseKpis",
    "DemandCategory",
    "KpiReport",
    "KpiScope",
    "NationalCount",
    "NationalLevel",
    "Period",
    "Rate",
    "RatingKpis",
    "RatingScale",
    "ScopeKind",
    "SupervisionItem",
    "SupervisionReason",
    "appointment_kpis",
    "case_kpis",
    "case_kpis_by_staff",
    "demand_ranking",
    "kpi_report",
    "kpi_rows",
    "load_rating_scale",
    "rating_kpis",
    "ratings_by_staff",
    "report_csv",
    "staff_in_scope",
    "supervision_list",
    "to_csv",
]

# After work: a working-day appointment starting at or after 18:00 or before 08:00 (local).
WORKDAY_STARTS = time(8, 0)
WORKDAY_ENDS = time(18, 0)
SATISFIED = (RatingLevel.VERY_SATISFIED, RatingLevel.SATISFIED)
RETURNED = "returned"  # the CaseEvent kind of a department giving a call back (models/dispatch.py)
RATING_ID = "rating_id"  # in a return visit's details: the rating it answers
ALL_ITEMS = 10_000  # the demand ranking reads every item with support in the period


# ───────────────────────────── periods and scopes ─────────────────────────────


@dataclass(frozen=True)
class Period:
    """Whole Asia/Shanghai days: ``start`` inclusive, ``end`` exclusive."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"a period ends after it starts: {self.start} – {self.end}")

    @classmethod
    def month(cls, day: date) -> Period:
        """The calendar month holding the day."""
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return cls(first, following)

    @classmethod
    def week(cls, day: date) -> Period:
        """The Monday-to-Sunday week holding the day."""
        monday = day - timedelta(days=day.weekday())
        return cls(monday, monday + timedelta(days=7))

    @property
    def start_at(self) -> datetime:
        """Midnight at the start of the first day, Shanghai time."""
        return datetime.combine(self.start, time(0), tzinfo=SHANGHAI)

    @property
    def end_at(self) -> datetime:
        """Midnight after the last day, Shanghai time (not part of the period)."""
        return datetime.combine(self.end, time(0), tzinfo=SHANGHAI)

    @property
    def last_day(self) -> date:
        """The period's last day (inclusive)."""
        return self.end - timedelta(days=1)

    def holds(self, column: Any) -> sa.ColumnElement[bool]:
        """SQL: the timestamp column falls in the period."""
        return sa.and_(column >= self.start_at, column < self.end_at)


class ScopeKind(StrEnum):
    """Whose numbers: the whole street, or one community, department, window or person."""

    STREET = "street"
    COMMUNITY = "community"
    DEPARTMENT = "department"
    WINDOW = "window"
    STAFF = "staff"


@dataclass(frozen=True)
class KpiScope:
    """Whose numbers; ``value`` is the community, department or staff id, or the window number."""

    kind: ScopeKind = ScopeKind.STREET
    value: int | None = None

    def __post_init__(self) -> None:
        if (self.kind is ScopeKind.STREET) != (self.value is None):
            raise ValueError(f"scope {self.kind} with value {self.value!r}")

    @classmethod
    def street(cls) -> KpiScope:
        """The whole street."""
        return cls()

    @classmethod
    def community(cls, community_id: int) -> KpiScope:
        """One community."""
        return cls(ScopeKind.COMMUNITY, community_id)

    @classmethod
    def department(cls, department_id: int) -> KpiScope:
        """One department."""
        return cls(ScopeKind.DEPARTMENT, department_id)

    @classmethod
    def window(cls, number: int) -> KpiScope:
        """One hall window, by its number."""
        return cls(ScopeKind.WINDOW, number)

    @classmethod
    def staff(cls, staff_id: int) -> KpiScope:
        """One staff member."""
        return cls(ScopeKind.STAFF, staff_id)

    @property
    def code(self) -> str:
        """``street``, or ``<kind>:<value>`` (for file names and links)."""
        return str(self.kind) if self.value is None else f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class Rate:
    """A share: how many of how many. ``value`` is None when the denominator is zero."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        """The share (0–1), or None when there is nothing to divide by: never 100% of nothing."""
        return self.numerator / self.denominator if self.denominator else None

    @property
    def percent(self) -> int | None:
        """The share as a whole percentage, or None."""
        value = self.value
        return None if value is None else round(100 * value)


# ───────────────────────────── scope conditions ─────────────────────────────


def _staff_where(*conditions: Any) -> sa.Select[int | None]:
    return sa.select(col(Staff.id)).where(*conditions)


def _residents_of(community_id: int) -> sa.Select[int | None]:
    return sa.select(col(Resident.id)).where(col(Resident.community_id) == community_id)


def _window_services(number: int) -> sa.Select[int | None]:
    return (
        sa.select(col(Service.id))
        .join(Department, col(Department.id) == col(Service.department_id))
        .where(col(Department.window) == number)
    )


def _served_at_window(number: int) -> sa.ColumnElement[bool]:
    """An appointment served at the window (the roster shift's window wins over the person's)."""
    server = col(Appointment.served_by_staff_id)
    # The server's last shift to start by the appointment's start: one step down the
    # (staff_id, starts_at) index, where a range over every earlier shift cost seconds.
    earlier = RosterShift.__table__.alias("earlier_shift")  # type: ignore[attr-defined]
    latest = (
        sa.select(earlier.c.id)
        .where(earlier.c.staff_id == server, earlier.c.starts_at <= col(Appointment.starts_at))
        .order_by(earlier.c.starts_at.desc())
        .limit(1)
        .correlate(Appointment)
        .scalar_subquery()
    )
    covering = sa.select(col(RosterShift.id)).where(
        col(RosterShift.id) == latest,
        col(RosterShift.ends_at) > col(Appointment.starts_at),
        col(RosterShift.window).is_not(None),
    )
    on_shift_here = covering.where(col(RosterShift.window) == number).exists()
    home_here = server.in_(_staff_where(Staff.window == number))
    return sa.and_(server.is_not(None), sa.or_(on_shift_here, ~covering.exists() & home_here))


def _appointments_in(scope: KpiScope) -> sa.ColumnElement[bool]:
    server = col(Appointment.served_by_staff_id)
    match scope.kind, scope.value:
        case ScopeKind.COMMUNITY, int(community):
            return col(Appointment.resident_id).in_(_residents_of(community))
        case ScopeKind.DEPARTMENT, int(department):
            services = sa.select(col(Service.id)).where(col(Service.department_id) == department)
            return sa.or_(
                col(Appointment.service_id).in_(services),
                server.in_(_staff_where(Staff.department_id == department)),
            )
        case ScopeKind.WINDOW, int(number):
            unserved_here = server.is_(None) & col(Appointment.service_id).in_(
                _window_services(number)
            )
            return sa.or_(_served_at_window(number), unserved_here)
        case ScopeKind.STAFF, int(staff):
            return server == staff
    return sa.true()


def _cases_in(scope: KpiScope) -> sa.ColumnElement[bool]:
    match scope.kind, scope.value:
        case ScopeKind.COMMUNITY, int(community):
            grids = sa.select(col(Grid.id)).where(col(Grid.community_id) == community)
            no_grid_resident_here = col(Case.grid_id).is_(None) & col(Case.resident_id).in_(
                _residents_of(community)
            )
            return sa.or_(col(Case.grid_id).in_(grids), no_grid_resident_here)
        case ScopeKind.DEPARTMENT, int(department):
            return col(Case.department_id) == department
        case ScopeKind.WINDOW, int(number):
            return col(Case.assignee_staff_id).in_(_staff_where(Staff.window == number))
        case ScopeKind.STAFF, int(staff):
            return col(Case.assignee_staff_id) == staff
    return sa.true()


def _ratings_in(scope: KpiScope) -> sa.ColumnElement[bool]:
    kind, rated = col(Rating.subject_kind), col(Rating.staff_id)
    match scope.kind, scope.value:
        case ScopeKind.COMMUNITY, int(community):
            return col(Rating.resident_id).in_(_residents_of(community))
        case ScopeKind.DEPARTMENT, int(department):
            visits = sa.select(col(WindowVisit.id)).where(
                col(WindowVisit.department_id) == department
            )
            return sa.or_(
                rated.in_(_staff_where(Staff.department_id == department)),
                (kind == WINDOW) & col(Rating.subject_id).in_(visits),
            )
        case ScopeKind.WINDOW, int(number):
            # Correlated to each rating of the period: only the rated appointments are looked
            # up (an IN over every appointment ever served took seconds per window).
            served_here = (
                sa.select(col(Appointment.id))
                .where(col(Appointment.id) == col(Rating.subject_id), _served_at_window(number))
                .exists()
            )
            visits = (
                sa.select(col(WindowVisit.id))
                .join(Department, col(Department.id) == col(WindowVisit.department_id))
                .where(col(Department.window) == number)
            )
            return sa.or_(
                (kind == APPOINTMENT) & served_here,
                (kind == WINDOW) & col(Rating.subject_id).in_(visits),
                kind.not_in((APPOINTMENT, WINDOW))
                & rated.in_(_staff_where(Staff.window == number)),
            )
        case ScopeKind.STAFF, int(staff):
            return rated == staff
    return sa.true()


def staff_in_scope(scope: KpiScope) -> sa.ColumnElement[bool]:
    """Staff members who belong to the scope (for the stars and the returned calls)."""
    match scope.kind, scope.value:
        case ScopeKind.COMMUNITY, int(community):
            return col(Staff.community_id) == community
        case ScopeKind.DEPARTMENT, int(department):
            return col(Staff.department_id) == department
        case ScopeKind.WINDOW, int(number):
            return col(Staff.window) == number
        case ScopeKind.STAFF, int(staff):
            return col(Staff.id) == staff
    return sa.true()


async def _rows(session: AsyncSession, stmt: sa.Executable) -> list[tuple[Any, ...]]:
    """Rows of a multi-column Core select, seeing what the session has not flushed yet."""
    await session.flush()
    return [tuple(row) for row in (await (await session.connection()).execute(stmt)).all()]


# ───────────────────────────── appointments ─────────────────────────────


@dataclass(frozen=True)
class AppointmentKpis:
    """Appointments whose start falls in the period (by their status now).

    - booked: every appointment starting in the period, whatever became of it (cancelled too).
    - served: checked in or completed. no_shows: marked no-show. cancelled: cancelled.
    - after_work: of the booked, those on a working day starting at or after 18:00 or before
      08:00 local time; after_work_share = after_work / booked.
    - non_working: of the booked, those on a weekend or holiday (``classify_day``, so 调休 and the
      operator's overrides count); non_working_share = non_working / booked.
    Both shares are None when nothing was booked.
    """

    booked: int = 0
    served: int = 0
    no_shows: int = 0
    cancelled: int = 0
    after_work: int = 0
    non_working: int = 0

    @property
    def after_work_share(self) -> Rate:
        """After-work appointments of all booked."""
        return Rate(self.after_work, self.booked)

    @property
    def non_working_share(self) -> Rate:
        """Weekend and holiday appointments of all booked."""
        return Rate(self.non_working, self.booked)


async def appointment_kpis(
    session: AsyncSession, period: Period, scope: KpiScope
) -> AppointmentKpis:
    """Appointments starting in the period, in the scope (see ``AppointmentKpis``)."""
    stmt = select(Appointment.starts_at, Appointment.status).where(
        period.holds(col(Appointment.starts_at)), _appointments_in(scope)
    )
    rows = (await session.exec(stmt)).all()
    overrides = await load_overrides(session)
    counts: dict[str, int] = defaultdict(int)
    for starts_at, status in rows:
        counts["booked"] += 1
        if status in SERVED:
            counts["served"] += 1
        elif status == AppointmentStatus.NO_SHOW:
            counts["no_shows"] += 1
        elif status == AppointmentStatus.CANCELLED:
            counts["cancelled"] += 1
        local = starts_at.astimezone(SHANGHAI)
        if classify_day(local.date(), overrides).kind is DayKind.HOLIDAY:
            counts["non_working"] += 1
        elif local.time() >= WORKDAY_ENDS or local.time() < WORKDAY_STARTS:
            counts["after_work"] += 1
    return AppointmentKpis(**counts)


# ───────────────────────────── cases ─────────────────────────────


@dataclass(frozen=True)
class CaseKpis:
    """Residents' cases (return visits, the office's own follow-up of poor ratings, are not
    counted: they are opened already accepted and would flatter every share).

    - received: created in the period.
    - accepted: accepted (``accepted_at``) in the period, whenever received.
    - resolved: resolved (``resolved_at``) in the period.
    - reply_on_time (回复率): of the cases whose first reply was *settled* in the period — replied
      in the period before it was due, or due in the period (and before now) without a reply by
      then — those replied by the deadline (``first_replied_at <= first_reply_due_at``). Each
      case counts once, in the period its answer was decided; a case with no reply deadline is
      not counted; one due later and not yet replied is not counted yet.
    - completed_on_time (按期办结率): of the cases resolved in the period that had a deadline, those
      resolved by it (``resolved_at <= due_at``). A case with no deadline is not counted.
    - overdue: open now (new, assigned, accepted, waiting for the resident) and past ``due_at``;
      a snapshot at ``now``, not limited to the period.
    A share with a zero denominator is None ("no data yet"), never 100%.
    """

    received: int = 0
    accepted: int = 0
    resolved: int = 0
    overdue: int = 0
    replied_on_time: int = 0
    reply_due: int = 0
    resolved_on_time: int = 0
    resolved_with_deadline: int = 0

    @property
    def reply_on_time(self) -> Rate:
        """回复率: replied by the first-reply deadline, of those settled in the period."""
        return Rate(self.replied_on_time, self.reply_due)

    @property
    def completed_on_time(self) -> Rate:
        """按期办结率: resolved by the deadline, of those resolved in the period with one."""
        return Rate(self.resolved_on_time, self.resolved_with_deadline)


def _case_measures(period: Period, now: datetime) -> dict[str, sa.ColumnElement[bool]]:
    """Each CaseKpis count as a condition on one case row (the definitions, in SQL)."""
    replied, reply_due = col(Case.first_replied_at), col(Case.first_reply_due_at)
    resolved, due = col(Case.resolved_at), col(Case.due_at)
    replied_in_time = replied.is_not(None) & (replied <= reply_due)
    settled_by_reply = replied.is_not(None) & (replied < reply_due) & period.holds(replied)
    settled_by_deadline = (
        (replied.is_(None) | (replied >= reply_due)) & period.holds(reply_due) & (reply_due < now)
    )
    reply_counted = reply_due.is_not(None) & (settled_by_reply | settled_by_deadline)
    resolved_counted = period.holds(resolved) & due.is_not(None)
    return {
        "received": period.holds(col(Case.created_at)),
        "accepted": period.holds(col(Case.accepted_at)),
        "resolved": period.holds(resolved),
        "overdue": col(Case.status).in_(OPEN) & (due < now),
        "replied_on_time": reply_counted & replied_in_time,
        "reply_due": reply_counted,
        "resolved_on_time": resolved_counted & (resolved <= due),
        "resolved_with_deadline": resolved_counted,
    }


async def _case_counts(
    session: AsyncSession,
    period: Period,
    now: datetime,
    where: sa.ColumnElement[bool],
    group: Any = None,
) -> dict[int | None, CaseKpis]:
    measures = _case_measures(period, now)
    sums = [func.sum(sa.case((condition, 1), else_=0)) for condition in measures.values()]
    key = group if group is not None else sa.null()
    stmt = sa.select(key, *sums).where(col(Case.kind) != CaseKind.RETURN_VISIT, where)
    if group is not None:
        stmt = stmt.group_by(group)
    found: dict[int | None, CaseKpis] = {}
    for row in await _rows(session, stmt):
        counts = zip(measures, row[1:], strict=True)
        found[row[0]] = CaseKpis(**{name: int(n or 0) for name, n in counts})
    return found


async def case_kpis(
    session: AsyncSession, period: Period, scope: KpiScope, now: datetime
) -> CaseKpis:
    """Cases in the scope (see ``CaseKpis`` for every definition)."""
    found = await _case_counts(session, period, now, _cases_in(scope))
    return found.get(None, CaseKpis())


async def case_kpis_by_staff(
    session: AsyncSession, period: Period, staff_ids: Iterable[int], now: datetime
) -> dict[int, CaseKpis]:
    """``case_kpis`` for each of these staff members (their assigned cases), in one query."""
    ids = list(staff_ids)
    assignee = col(Case.assignee_staff_id)
    found = await _case_counts(session, period, now, assignee.in_(ids), assignee)
    return {staff_id: found.get(staff_id, CaseKpis()) for staff_id in ids}


# ───────────────────────────── ratings ─────────────────────────────


@dataclass(frozen=True)
class NationalLevel:
    """One level of the national five-level 好差评 scale."""

    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class RatingScale:
    """The five national levels (best first) and where each of the six window levels goes."""

    five: tuple[NationalLevel, ...]
    six: Mapping[RatingLevel, str]


def load_rating_scale(data_dir: Path) -> RatingScale:
    """data/rating_scale.toml, checked: every six-level code maps to a listed five-level code."""
    data = tomllib.loads((data_dir / "rating_scale.toml").read_text(encoding="utf-8"))
    five = tuple(NationalLevel(e["code"], e["name_zh"], e["name_en"]) for e in data["five"])
    codes = {level.code for level in five}
    six = {RatingLevel(code): str(target) for code, target in data["six"].items()}
    missing = [str(level) for level in RatingLevel if level not in six]
    unknown = sorted(target for target in six.values() if target not in codes)
    if len(five) != 5 or len(codes) != 5 or missing or unknown:
        raise ValueError(f"rating_scale.toml: missing {missing}, unknown {unknown}")
    return RatingScale(five, six)


@dataclass(frozen=True)
class NationalCount:
    """How many ratings fall on one national level."""

    level: NationalLevel
    count: int


@dataclass(frozen=True)
class RatingKpis:
    """Ratings given in the period (``created_at``), by the six window levels.

    satisfaction = (很满意 + 满意) / all ratings; ``not_level(l)`` = ratings other than ``l`` / all
    ratings (the stars' proficiency and attitude). Every share is None when there are no ratings.
    """

    levels: Mapping[RatingLevel, int] = field(default_factory=dict)

    def count(self, level: RatingLevel) -> int:
        """Ratings at one level."""
        return self.levels.get(level, 0)

    @property
    def total(self) -> int:
        """All ratings."""
        return sum(self.levels.values())

    @property
    def satisfaction(self) -> Rate:
        """(very satisfied + satisfied) / all ratings."""
        return Rate(sum(self.count(level) for level in SATISFIED), self.total)

    def not_level(self, level: RatingLevel) -> Rate:
        """Ratings that are not this level / all ratings."""
        return Rate(self.total - self.count(level), self.total)

    @property
    def poor(self) -> int:
        """时间长, 态度差 and 业务差 together."""
        return sum(self.count(level) for level in POOR)

    def national(self, scale: RatingScale) -> tuple[NationalCount, ...]:
        """The same ratings on the national five-level scale, best level first."""
        by_code: dict[str, int] = defaultdict(int)
        for level, n in self.levels.items():
            by_code[scale.six[level]] += n
        return tuple(NationalCount(level, by_code[level.code]) for level in scale.five)


async def _rating_levels(
    session: AsyncSession, period: Period, where: sa.ColumnElement[bool], group: Any = None
) -> dict[int | None, dict[RatingLevel, int]]:
    key = group if group is not None else sa.null()
    grouping = (group, col(Rating.level)) if group is not None else (col(Rating.level),)
    stmt = (
        sa.select(key, col(Rating.level), func.count())
        .where(period.holds(col(Rating.created_at)), where)
        .group_by(*grouping)  # PostgreSQL refuses GROUP BY NULL
    )
    found: dict[int | None, dict[RatingLevel, int]] = defaultdict(dict)
    for owner, level, n in await _rows(session, stmt):
        found[owner][RatingLevel(level)] = int(n)
    return found


async def rating_kpis(session: AsyncSession, period: Period, scope: KpiScope) -> RatingKpis:
    """Ratings given in the period, in the scope (see ``RatingKpis``)."""
    found = await _rating_levels(session, period, _ratings_in(scope))
    return RatingKpis(found.get(None, {}))


async def ratings_by_staff(
    session: AsyncSession, period: Period, staff_ids: Iterable[int]
) -> dict[int, RatingKpis]:
    """``rating_kpis`` for each of these staff members (ratings of them), in one query."""
    ids = list(staff_ids)
    rated = col(Rating.staff_id)
    found = await _rating_levels(session, period, rated.in_(ids), rated)
    return {staff_id: RatingKpis(found.get(staff_id, {})) for staff_id in ids}


# ───────────────────────────── demand ─────────────────────────────


@dataclass(frozen=True)
class DemandCategory:
    """A need category and its items, ranked by supporters (+1s) given in the period."""

    code: str
    name_zh: str
    name_en: str
    supporters: int  # the items' supporters added up (a resident backing two items counts twice)
    items: tuple[tuple[NeedItem, int], ...]


async def demand_ranking(
    session: AsyncSession,
    period: Period,
    scope: KpiScope,
    data_dir: Path,
    *,
    items_per_category: int = 5,
) -> list[DemandCategory] | None:
    """Need items ranked by distinct supporters (``need_ops.top_items``, the one ranking), grouped
    by category, categories ranked by their items' supporters added up.

    Support is counted from the period's start up to now: ``top_items`` takes a start only, so
    for a past period later +1s are counted too. None for a department, window or staff scope
    (needs belong to the street and its communities).
    """
    if scope.kind not in (ScopeKind.STREET, ScopeKind.COMMUNITY):
        return None
    ranked = await top_items(
        session, limit=ALL_ITEMS, since=period.start_at, community_id=scope.value
    )
    names = {c.code: (c.name_zh, c.name_en) for c in load_categories(data_dir)}
    grouped: dict[str, list[tuple[NeedItem, int]]] = defaultdict(list)
    for item, supporters in ranked:
        grouped[item.category].append((item, supporters))
    categories = [
        DemandCategory(
            code,
            *names.get(code, (code, code)),
            sum(n for _, n in items),
            tuple(items[:items_per_category]),
        )
        for code, items in grouped.items()
    ]
    return sorted(categories, key=lambda c: (-c.supporters, c.code))


# ───────────────────────────── supervision ─────────────────────────────


class SupervisionReason(StrEnum):
    """Why a case or a rating is on the supervision list (督查)."""

    LATE_ACCEPTANCE = "late_acceptance"
    OVERDUE = "overdue"
    RETURNED_WITHOUT_REASON = "returned_without_reason"
    POOR_RATING_NO_RETURN_VISIT = "poor_rating_no_return_visit"
    RETURN_VISIT_OVERDUE = "return_visit_overdue"


@dataclass(frozen=True)
class SupervisionItem:
    """One entry of the supervision list; ``at`` is when it went wrong."""

    reason: SupervisionReason
    at: datetime
    case_id: int | None = None
    case_ref: str | None = None
    rating_id: int | None = None
    level: RatingLevel | None = None
    staff_id: int | None = None
    department_id: int | None = None


def _case_item(reason: SupervisionReason, case: Case, at: datetime) -> SupervisionItem:
    return SupervisionItem(
        reason,
        at,
        case_id=case.id,
        case_ref=case.ref,
        staff_id=case.assignee_staff_id,
        department_id=case.department_id,
    )


async def supervision_list(
    session: AsyncSession, period: Period, scope: KpiScope, now: datetime
) -> list[SupervisionItem]:
    """What a supervisor should look into, oldest first:

    - late_acceptance: a resident's case whose first-reply deadline fell in the period before
      now, and which was accepted after it, or not accepted at all (and not cancelled).
    - overdue: a resident's case open now past its deadline (as ``CaseKpis.overdue``).
    - returned_without_reason: a call a department gave back (event "returned") in the period
      with an empty note. Scope: the returning staff member's department, window or person; the
      case's community.
    - poor_rating_no_return_visit: a 时间长 / 态度差 / 业务差 rating given in the period with no
      return visit (a return_visit case whose details name the rating) opened for it.
    - return_visit_overdue: a return visit open now past its deadline.
    """
    items = await _late_acceptances(session, period, scope, now)
    items += await _overdue(session, scope, now)
    items += await _returned_without_reason(session, period, scope)
    items += await _poor_ratings_without_visit(session, period, scope)
    return sorted(items, key=lambda item: (item.at, item.reason, item.case_id or 0))


async def _late_acceptances(
    session: AsyncSession, period: Period, scope: KpiScope, now: datetime
) -> list[SupervisionItem]:
    due, accepted = col(Case.first_reply_due_at), col(Case.accepted_at)
    never = accepted.is_(None) & (col(Case.status) != CaseStatus.CANCELLED)
    stmt = select(Case).where(
        col(Case.kind) != CaseKind.RETURN_VISIT,
        period.holds(due),
        due < now,
        never | (accepted > due),
        _cases_in(scope),
    )
    rows = (await session.exec(stmt)).all()
    return [
        _case_item(SupervisionReason.LATE_ACCEPTANCE, c, c.first_reply_due_at or now) for c in rows
    ]


async def _overdue(session: AsyncSession, scope: KpiScope, now: datetime) -> list[SupervisionItem]:
    stmt = select(Case).where(col(Case.status).in_(OPEN), col(Case.due_at) < now, _cases_in(scope))
    items = []
    for case in (await session.exec(stmt)).all():
        visit = case.kind == CaseKind.RETURN_VISIT
        reason = SupervisionReason.RETURN_VISIT_OVERDUE if visit else SupervisionReason.OVERDUE
        items.append(_case_item(reason, case, case.due_at or now))
    return items


async def _returned_without_reason(
    session: AsyncSession, period: Period, scope: KpiScope
) -> list[SupervisionItem]:
    note = col(CaseEvent.note)
    stmt = (
        select(CaseEvent, Case)
        .join(Case, col(Case.id) == col(CaseEvent.case_id))
        .where(
            CaseEvent.kind == RETURNED,
            period.holds(col(CaseEvent.at)),
            note.is_(None) | (func.trim(note) == ""),
        )
    )
    if scope.kind is ScopeKind.COMMUNITY:
        stmt = stmt.where(_cases_in(scope))
    elif scope.kind is not ScopeKind.STREET:
        actors = sa.select(col(Staff.id)).where(staff_in_scope(scope))
        stmt = stmt.where(CaseEvent.actor_kind == "staff", col(CaseEvent.actor_id).in_(actors))
    return [
        SupervisionItem(
            SupervisionReason.RETURNED_WITHOUT_REASON,
            event.at,
            case_id=case.id,
            case_ref=case.ref,
            staff_id=event.actor_id if event.actor_kind == "staff" else None,
            department_id=case.department_id,
        )
        for event, case in (await session.exec(stmt)).all()
    ]


async def _poor_ratings_without_visit(
    session: AsyncSession, period: Period, scope: KpiScope
) -> list[SupervisionItem]:
    stmt = select(Rating).where(
        period.holds(col(Rating.created_at)), col(Rating.level).in_(POOR), _ratings_in(scope)
    )
    poor = list((await session.exec(stmt)).all())
    if not poor:
        return []
    # A return visit is opened the moment its rating is given, so none older can name one.
    visits = select(col(Case.details)).where(
        Case.kind == CaseKind.RETURN_VISIT, col(Case.created_at) >= period.start_at
    )
    answered = {details.get(RATING_ID) for details in (await session.exec(visits)).all()}
    return [
        SupervisionItem(
            SupervisionReason.POOR_RATING_NO_RETURN_VISIT,
            rating.created_at,
            rating_id=rating.id,
            level=rating.level,
            staff_id=rating.staff_id,
        )
        for rating in poor
        if rating.id not in answered
    ]


# ───────────────────────────── the whole report ─────────────────────────────


@dataclass(frozen=True)
class KpiReport:
    """Every number for one period and scope, as of ``now``."""

    period: Period
    scope: KpiScope
    now: datetime
    appointments: AppointmentKpis
    cases: CaseKpis
    ratings: RatingKpis
    national: tuple[NationalCount, ...]
    demand: list[DemandCategory] | None
    supervision: list[SupervisionItem]


async def kpi_report(
    session: AsyncSession, period: Period, scope: KpiScope, *, now: datetime, data_dir: Path
) -> KpiReport:
    """All the numbers of this module for one period and scope."""
    ratings = await rating_kpis(session, period, scope)
    return KpiReport(
        period,
        scope,
        now,
        await appointment_kpis(session, period, scope),
        await case_kpis(session, period, scope, now),
        ratings,
        ratings.national(load_rating_scale(data_dir)),
        await demand_ranking(session, period, scope, data_dir),
        await supervision_list(session, period, scope, now),
    )


# ───────────────────────────── rows for a spreadsheet ─────────────────────────────


def _plain(code: str) -> str:
    return code


def _fraction(value: float | None, no_data: str) -> str:
    return no_data if value is None else f"{value:.4f}"


def kpi_rows(
    report: KpiReport, *, label: Callable[[str], str] = _plain, lang: str = "zh-CN"
) -> list[list[str]]:
    """The report as spreadsheet rows: metric, value, numerator, denominator.

    ``label`` words a metric code (e.g. ``appointments.booked``, ``cases.reply_on_time``,
    ``ratings.level.too_slow``, ``no_data``) for the reader; by default the code itself. Names
    from the data files (national levels, need categories) are given in ``lang``. A share is a
    fraction with four decimals, or ``label("no_data")`` when it has no denominator.
    """
    en = lang == "en"
    no_data = label("no_data")
    rows: list[list[str]] = [
        [label("metric"), label("value"), label("numerator"), label("denominator")],
        [label("period"), f"{report.period.start.isoformat()} – {report.period.last_day}", "", ""],
        [label("scope"), report.scope.code, "", ""],
    ]

    def count(code: str, n: int) -> None:
        rows.append([label(code), str(n), "", ""])

    def share(code: str, rate: Rate) -> None:
        value = _fraction(rate.value, no_data)
        rows.append([label(code), value, str(rate.numerator), str(rate.denominator)])

    a, c, r = report.appointments, report.cases, report.ratings
    for name in ("booked", "served", "no_shows", "cancelled", "after_work", "non_working"):
        count(f"appointments.{name}", getattr(a, name))
    share("appointments.after_work_share", a.after_work_share)
    share("appointments.non_working_share", a.non_working_share)
    for name in ("received", "accepted", "resolved", "overdue"):
        count(f"cases.{name}", getattr(c, name))
    share("cases.reply_on_time", c.reply_on_time)
    share("cases.completed_on_time", c.completed_on_time)
    count("ratings.total", r.total)
    for level in RatingLevel:
        count(f"ratings.level.{level}", r.count(level))
    for national in report.national:
        name = national.level.name_en if en else national.level.name_zh
        rows.append([f"{label('ratings.national')}: {name}", str(national.count), "", ""])
    share("ratings.satisfaction", r.satisfaction)
    for category in report.demand or ():
        name = category.name_en if en else category.name_zh
        rows.append([f"{label('demand')}: {name}", str(category.supporters), "", ""])
    for reason in SupervisionReason:
        count(f"supervision.{reason}", sum(i.reason is reason for i in report.supervision))
    return rows


def report_csv(report: KpiReport, **kwargs: Any) -> bytes:
    """``kpi_rows`` as UTF-8 CSV with a byte-order mark (see ``csv_export.to_csv``)."""
    return to_csv(kpi_rows(report, **kwargs))
