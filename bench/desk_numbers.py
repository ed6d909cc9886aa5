"""Benchmark: the staff desk's numbers (models/kpis.py, models/stars.py, /admin pages) at the
scale of the street, 柳城街道: 310,000 residents and a year of cases, appointments and ratings.

    .venv/bin/python -m bench.desk_numbers                     # SQLite in a temporary directory
    .venv/bin/python -m bench.desk_numbers \\
        --database-url postgresql+asyncpg://root@127.0.0.1:5432/linli_h4
    .venv/bin/python -m bench.desk_numbers --residents 20000 --cases 8000 --runs 3

On PostgreSQL the benchmark owns the database: its `public` schema is DROPPED and recreated at the
start (everything in it is lost), then migrated. A SQLite URL must name a file that does not
exist yet; without --database-url a new file in a temporary directory is used and removed.

The clock is fixed at 10:00 (Asia/Shanghai) on the last 20th of a month before today, so that
"this month" on the desk holds two thirds of a month whatever the day of the run.

Building the street (timed per step, not part of the results):

- the demo street (data/), `seed_residents` (--residents) and `seed_cases` (--cases: what
  `linli seed --cases N` writes, two years of history growing over time; the default 110,000 puts
  about 60,000 in the last year; the count is printed);
- the past year's duty roster from data/roster.toml (as `linli seed` makes it ahead), so that
  the window numbers find who sat at which window;
- --appointments over the past 365 days (working days weighted 1, weekends and holidays 0.35,
  weekend services only, in their opening rules' slots; services by a skewed popularity),
  plus the next 14 days' bookings; the past ones completed 80%, no-show 6%, cancelled 9%,
  never marked 5%; served by a trained member of that day's roster; their booking slots;
- window visits rated without an appointment (0.3 per appointment) at the departments' windows;
- ratings: 40% of the completed appointments, 35% of the residents' finished cases (of the whole
  history), every window visit; six levels mostly 很满意/满意, with each staff member's share of
  poor ratings varied; 85% of the poor ratings have their return visit (回访) case, owned by the
  answering supervisor, mostly closed;
- 3% of the past year's grid reports returned by a department (a "returned" event; 5% of them
  with no reason);
- 131 need items in the 18 categories (most of them of one community) with about 0.08 +1s a
  resident over the year (NeedSupport rows, which the ranking counts), skewed to popular items.

Counters for the reference numbers are moved past everything written. PostgreSQL gets the ANALYZE
autovacuum would run after such a load; SQLite gets none (the application runs none either).

The web app starts training the understanding model in a thread at start-up, which would compete
with the pages for the interpreter. A server has long finished that by the time anyone opens the
numbers, so the model is first trained (or found in the disk cache) in a process of its own, and
the measuring process, freshly spawned so that its memory is its own, loads it from the cache
and waits for it before anything is timed. It builds Linli with the fixed clock, gives supervisor
S037 (the hall manager, who reads the whole street) a desk password and times the real functions:

- `kpi_report` for the street for last month and for the past 365 days, for one community
  (南街社区) and for one department (the one with the most cases) for last month;
- `monthly_scorecards` for the street for last month;
- through the real aiohttp app (create_web_app, aiohttp's TestServer and TestClient, logged in
  through the login form): GET /admin/numbers (this month, the default), /admin/numbers.csv
  ?block=all, /admin/cases (the open queue) and /admin/stars; each must answer 200.

Each is called once cold (shown as "first"), then --runs times (fewer once the runs took more
than BUDGET_S seconds, never fewer than MIN_RUNS). The table gives runs, p50, p95 and max in ms
(nearest rank) and the measuring process's memory after each line: its peak RSS (getrusage's
ru_maxrss, which includes the model's loading, or its training when models/ changed since the
disk cache was written), the peak since the model was ready (VmHWM, reset then through
/proc/self/clear_refs; both are high-water marks, so a line's growth over the one above is what
it added) and its RSS then.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import re
import resource
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.reminders import in_fresh_process, insert_returning_ids, memory
from bot.app import build_linli
from bot.clock import ManualClock
from bot.config import Settings
from bot.web.admin.passwords import hash_password
from bot.web.app import create_web_app
from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus, BookingSlot, RosterShift
from models.calendar import add_working_days, classify_day, load_overrides
from models.case_ops import case_catalogue
from models.cases import (
    CONCERNS,
    Case,
    CaseEvent,
    CaseHandler,
    CaseKind,
    CaseStatus,
    Rating,
    RatingLevel,
)
from models.db import make_engine, make_session_factory
from models.intents import warm_intent_model
from models.kpis import KpiScope, Period, kpi_report
from models.messaging import ReferenceCounter
from models.migrate import upgrade
from models.need_ops import load_categories
from models.needs import NeedItem, NeedStage, NeedSupport
from models.org import Community, Department, Staff, StaffRole, StaffSkill, get_street
from models.people import Resident
from models.ratings import POOR, WINDOW, WindowVisit
from models.reminders import APPOINTMENT, CASE
from models.sealed import derived_key, use_keys
from models.seed import read_toml, seed_residents, seed_street
from models.services import DayKind, HolidayOverride, OpeningRule, Service
from models.slots import pick_rule, serves_on
from models.stars import monthly_scorecards
from models.supervision import answering_supervisor
from models.synthetic_cases import CATEGORIES, seed_cases

DATA = Path(__file__).resolve().parents[1] / "data"
SECRET = "bench-desk-numbers-secret"
PASSWORD = "bench desk numbers password"
SUPERVISOR = "S037"  # the hall manager: a supervisor of no one department, reads the street
COMMUNITY = "南街社区"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')

YEAR_DAYS, AHEAD_DAYS = 365, 14
CHUNK = 5_000
BUDGET_S, MIN_RUNS = 40.0, 3
HOLIDAY_WEIGHT = 0.35  # a weekend or holiday morning's bookings, per working day's
WINDOW_VISITS = 0.3  # rated window visits without an appointment, per appointment
RATED_APPOINTMENTS, RATED_CASES = 0.40, 0.35
RETURN_VISITS = 0.85  # of poor ratings
RETURNED = 0.03  # of the year's grid reports, returned by a department
NO_REASON = 0.05  # of those, with no reason
NEED_ITEMS, SUPPORTS_PER_RESIDENT = 131, 0.08
PAST = (
    (AppointmentStatus.COMPLETED, 0.80),
    (AppointmentStatus.NO_SHOW, 0.06),
    (AppointmentStatus.CANCELLED, 0.09),
    (AppointmentStatus.BOOKED, 0.05),  # past, never marked by the clerk
)
AHEAD = ((AppointmentStatus.BOOKED, 0.92), (AppointmentStatus.CANCELLED, 0.08))
LEVELS = (
    (RatingLevel.VERY_SATISFIED, 0.60),
    (RatingLevel.SATISFIED, 0.26),
    (RatingLevel.AVERAGE, 0.08),
    (RatingLevel.TOO_SLOW, 0.03),
    (RatingLevel.BAD_ATTITUDE, 0.015),
    (RatingLevel.POOR_SKILL, 0.015),
)
RETURN_REASONS = ("不属于本科室职责范围", "需由社区先行核实", "已由其他部门处理")
NEED_STAGES = (
    (NeedStage.COLLECTING, 0.55),
    (NeedStage.APPROVED, 0.12),
    (NeedStage.PLANNING, 0.08),
    (NeedStage.REVIEW, 0.06),
    (NeedStage.IMPLEMENTING, 0.09),
    (NeedStage.DONE, 0.07),
    (NeedStage.REJECTED, 0.03),
)

_SLOT = BookingSlot.__table__  # type: ignore[attr-defined]
_APPOINTMENT = Appointment.__table__  # type: ignore[attr-defined]
_VISIT = WindowVisit.__table__  # type: ignore[attr-defined]
_RATING = Rating.__table__  # type: ignore[attr-defined]
_CASE = Case.__table__  # type: ignore[attr-defined]
_HANDLER = CaseHandler.__table__  # type: ignore[attr-defined]
_EVENT = CaseEvent.__table__  # type: ignore[attr-defined]
_ROSTER = RosterShift.__table__  # type: ignore[attr-defined]
_COUNTER = ReferenceCounter.__table__  # type: ignore[attr-defined]
_ITEM = NeedItem.__table__  # type: ignore[attr-defined]
_SUPPORT = NeedSupport.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Plan:
    """What to build and measure (handed to the measuring process)."""

    url: str
    residents: int
    cases: int
    appointments: int
    runs: int
    now: datetime

    @property
    def today(self) -> date:
        """The clock's day in Shanghai."""
        return self.now.astimezone(SHANGHAI).date()

    @property
    def year(self) -> Period:
        """The past 365 days, today included."""
        return Period(self.today - timedelta(days=YEAR_DAYS - 1), self.today + timedelta(days=1))

    @property
    def last_month(self) -> Period:
        """The calendar month before this one."""
        return Period.month(self.today.replace(day=1) - timedelta(days=1))


def bench_now() -> datetime:
    """10:00 Shanghai time on the last 20th of a month before today."""
    today = datetime.now(SHANGHAI).date()
    day = today.replace(day=20)
    if day >= today:
        day = (today.replace(day=1) - timedelta(days=1)).replace(day=20)
    return datetime.combine(day, day_time(10), SHANGHAI).astimezone(UTC)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Print how long a block took."""
    started = time.perf_counter()
    yield
    print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)


def pick(rng: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    """One of the weighted choices."""
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def spread(rng: random.Random, count: int, weights: Sequence[float]) -> list[int]:
    """count split over the weights, the remainder given at random."""
    total = sum(weights)
    counts = [int(count * w / total) for w in weights]
    for n in rng.sample(range(len(weights)), count - sum(counts)):
        counts[n] += 1
    return counts


def local_at(day: date, moment: day_time) -> datetime:
    """A local wall-clock time on a day, in UTC."""
    return datetime.combine(day, moment, SHANGHAI).astimezone(UTC)


# ───────────────────────────── the street, as read once ─────────────────────────────


@dataclass
class World:
    """What the generators need from the seeded database."""

    now: datetime
    prefix: str
    overrides: dict[date, HolidayOverride]
    residents: list[int]
    by_community: dict[int, list[int]]
    services: list[Service]
    popularity: dict[int, float]
    rules: list[OpeningRule]
    departments: dict[int, Department]
    staff: dict[int, Staff]
    trained: dict[int, list[int]]  # service id: staff trained for it
    weekday: set[int]  # on the roster on working days
    teams: list[set[int]]  # weekend and holiday teams, by day number modulo their count
    counters: dict[tuple[str, str], int] = field(default_factory=dict)  # (prefix, day): last

    @property
    def today(self) -> date:
        """The clock's day in Shanghai."""
        return self.now.astimezone(SHANGHAI).date()

    def on_duty(self, day: date, kind: DayKind) -> set[int]:
        """Who is on the roster that day."""
        if kind is DayKind.WORKDAY:
            return self.weekday
        return self.teams[day.toordinal() % len(self.teams)] if self.teams else set()

    def next_ref(self, prefix: str, moment: datetime) -> str:
        """The next reference number for a prefix on the moment's local day."""
        key = (prefix, moment.astimezone(SHANGHAI).strftime("%Y%m%d"))
        self.counters[key] = self.counters.get(key, 0) + 1
        return f"{prefix}-{key[1]}-{self.counters[key]:04d}"


async def load_world(session: AsyncSession, now: datetime, rng: random.Random) -> World:
    """Read the street (after seed_street, seed_residents and seed_cases)."""
    street = await get_street(session)
    prefix = street.code if street is not None else "LC"
    residents: list[int] = []
    by_community: dict[int, list[int]] = defaultdict(list)
    stmt = select(Resident.id, Resident.community_id).order_by(col(Resident.id))
    for rid, community in (await session.exec(stmt)).all():
        if rid is not None:
            residents.append(rid)
            if community is not None:
                by_community[community].append(rid)
    services = list(
        (
            await session.exec(
                select(Service).where(col(Service.active).is_(True)).order_by(col(Service.id))
            )
        ).all()
    )
    order = rng.sample(services, len(services))
    popularity = {s.id or 0: 1 / (rank + 1) ** 0.8 for rank, s in enumerate(order)}
    staff = {
        p.id or 0: p for p in (await session.exec(select(Staff).order_by(col(Staff.id)))).all()
    }
    trained: dict[int, list[int]] = defaultdict(list)
    for skill in (await session.exec(select(StaffSkill).order_by(col(StaffSkill.staff_id)))).all():
        trained[skill.service_id].append(skill.staff_id)
    by_code = {p.code: sid for sid, p in staff.items()}
    roster = read_toml(DATA, "roster.toml")
    stmt_counters = select(ReferenceCounter.prefix, ReferenceCounter.day, ReferenceCounter.last)
    counters = {(p, d): int(last) for p, d, last in (await session.exec(stmt_counters)).all()}
    return World(
        now,
        prefix,
        await load_overrides(session),
        residents,
        dict(by_community),
        services,
        popularity,
        list((await session.exec(select(OpeningRule).order_by(col(OpeningRule.id)))).all()),
        {
            d.id or 0: d
            for d in (await session.exec(select(Department).order_by(col(Department.id)))).all()
        },
        staff,
        dict(trained),
        {by_code[c] for c in roster["weekday"]["staff"] if c in by_code},
        [
            {by_code[c] for c in team["staff"] if c in by_code}
            for team in roster["holiday"].get("teams", [])
        ],
        counters,
    )


async def advance_counters(connection: AsyncConnection, world: World) -> None:
    """Move the reference counters past every number written (never back)."""
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    stmt = module.insert(_COUNTER)
    stmt = stmt.on_conflict_do_update(
        index_elements=["prefix", "day"],
        set_={
            "last": sa.case(
                (_COUNTER.c.last > stmt.excluded.last, _COUNTER.c.last), else_=stmt.excluded.last
            )
        },
    )
    rows = [{"prefix": p, "day": d, "last": n} for (p, d), n in world.counters.items()]
    for start in range(0, len(rows), CHUNK):
        await connection.execute(stmt, rows[start : start + CHUNK])


async def insert_all(
    connection: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]
) -> None:
    """Bulk INSERT in chunks."""
    for start in range(0, len(rows), CHUNK):
        await connection.execute(sa.insert(table), rows[start : start + CHUNK])


async def insert_ids(
    connection: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]
) -> list[int]:
    """Bulk INSERT in chunks; the new ids in the rows' order."""
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        ids += await insert_returning_ids(connection, table, rows[start : start + CHUNK])
    return ids


# ───────────────────────────── roster, appointments, visits ─────────────────────────────


async def add_roster(connection: AsyncConnection, world: World) -> int:
    """The past year's shifts, by the rules `linli seed` uses for the weeks ahead."""
    roster = read_toml(DATA, "roster.toml")
    rows = []
    for back in range(YEAR_DAYS + AHEAD_DAYS, 0, -1):
        day = world.today - timedelta(days=back)
        kind = classify_day(day, world.overrides).kind
        spec = roster["weekday"] if kind is DayKind.WORKDAY else roster["holiday"]
        for sid in sorted(world.on_duty(day, kind)):
            rows.append(
                {
                    "staff_id": sid,
                    "day": day,
                    "starts_at": local_at(day, day_time.fromisoformat(spec["start"])),
                    "ends_at": local_at(day, day_time.fromisoformat(spec["end"])),
                    "window": world.staff[sid].window,
                }
            )
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    stmt = module.insert(_ROSTER).on_conflict_do_nothing(index_elements=["staff_id", "starts_at"])
    for start in range(0, len(rows), CHUNK):
        await connection.execute(stmt, rows[start : start + CHUNK])
    return len(rows)


@dataclass
class Booked:
    """An appointment written, with what its rating needs."""

    row: dict[str, Any]
    service: Service
    slot_minutes: int
    id: int = 0


def _slot_times(world: World, service: Service, kind: DayKind) -> tuple[list[day_time], int]:
    """When the service's slots start on a kind of day (none when it is closed), and their
    length in minutes."""
    rule = pick_rule(world.rules, service, kind)
    if rule is None or not serves_on(service, kind):
        return [], 0
    times, at = [], datetime.combine(date(2000, 1, 1), rule.opens)
    end = datetime.combine(date(2000, 1, 1), rule.closes)
    while at + timedelta(minutes=rule.slot_minutes) <= end:
        times.append(at.time())
        at += timedelta(minutes=rule.slot_minutes)
    return times, rule.slot_minutes


def plan_appointments(rng: random.Random, world: World, count: int) -> list[Booked]:
    """count appointments over the past year, and the next two weeks' bookings."""
    today, now = world.today, world.now
    days = [today - timedelta(days=back) for back in range(YEAR_DAYS - 1, -AHEAD_DAYS - 1, -1)]
    kinds = [classify_day(day, world.overrides).kind for day in days]
    weights = [1.0 if kind is DayKind.WORKDAY else HOLIDAY_WEIGHT for kind in kinds]
    per_day = spread(rng, count, weights[:YEAR_DAYS])
    per_weight = count / sum(weights[:YEAR_DAYS])
    for n, w in enumerate(weights[YEAR_DAYS:], start=1):  # fewer booked the further ahead
        per_day.append(round(per_weight * w * (1 - n / (AHEAD_DAYS + 1))))
    open_on = {
        kind: [(s, slots) for s in world.services if (slots := _slot_times(world, s, kind))[0]]
        for kind in DayKind
    }
    booked: list[Booked] = []
    for day, kind, planned in zip(days, kinds, per_day, strict=True):
        offered = open_on[kind]
        if not offered or not planned:
            continue
        chosen = rng.choices(
            offered, weights=[world.popularity[s.id or 0] for s, _ in offered], k=planned
        )
        duty = world.on_duty(day, kind)
        for service, (times, minutes) in chosen:
            starts = local_at(day, rng.choice(times))
            status = pick(rng, PAST if starts < now else AHEAD)
            created = min(starts - timedelta(hours=rng.uniform(2, 240)), now - timedelta(minutes=5))
            checked_in = server = None
            updated = created
            if status is AppointmentStatus.COMPLETED:
                checked_in = starts + timedelta(minutes=rng.uniform(-10, 20))
                trained = world.trained.get(service.id or 0, [])
                pool = [s for s in trained if s in duty] or trained
                server = rng.choice(pool) if pool else None
                updated = min(checked_in + timedelta(minutes=service.duration_minutes), now)
            elif status is AppointmentStatus.CANCELLED:
                updated = created + (min(starts, now) - created) * rng.random()
            elif status is AppointmentStatus.NO_SHOW:
                updated = min(starts + timedelta(hours=2), now)
            row = {
                "resident_id": rng.choice(world.residents),
                "service_id": service.id,
                "identity_id": None,
                "status": status.value,
                "starts_at": starts,
                "checked_in_at": checked_in,
                "served_by_staff_id": server,
                "created_at": created,
                "updated_at": updated,
            }
            booked.append(Booked(row, service, minutes))
    booked.sort(key=lambda b: b.row["created_at"])
    for b in booked:
        b.row["ref"] = world.next_ref(f"{world.prefix}Y", b.row["created_at"])
    return booked


async def add_appointments(
    connection: AsyncConnection, rng: random.Random, world: World, count: int
) -> list[Booked]:
    """The appointments and the slots they were booked in."""
    booked = plan_appointments(rng, world, count)
    places: Counter[tuple[int, datetime]] = Counter()
    lengths: dict[tuple[int, datetime], int] = {}
    for b in booked:
        key = (b.row["service_id"], b.row["starts_at"])
        places[key] += b.row["status"] != AppointmentStatus.CANCELLED
        lengths[key] = b.slot_minutes
    keys = sorted(places, key=lambda k: (k[1], k[0]))
    by_service = {s.id: s for s in world.services}
    slots = []
    for service_id, starts in keys:
        minutes = lengths[(service_id, starts)]
        fit = max(1, minutes // max(1, by_service[service_id].duration_minutes))
        slots.append(
            {
                "service_id": service_id,
                "day": starts.astimezone(SHANGHAI).date(),
                "starts_at": starts,
                "ends_at": starts + timedelta(minutes=minutes),
                "capacity": max(places[(service_id, starts)], 4 * fit),
                "booked": places[(service_id, starts)],
            }
        )
    slot_ids = dict(zip(keys, await insert_ids(connection, _SLOT, slots), strict=True))
    for b in booked:
        b.row["slot_id"] = slot_ids[(b.row["service_id"], b.row["starts_at"])]
    ids = await insert_ids(connection, _APPOINTMENT, [b.row for b in booked])
    for b, new_id in zip(booked, ids, strict=True):
        b.id = new_id
    return booked


async def add_window_visits(
    connection: AsyncConnection, rng: random.Random, world: World, count: int
) -> list[tuple[int, dict[str, Any]]]:
    """Visits to the departments' windows over the past year (one a day per department)."""
    windows = [d for d in world.departments.values() if d.window is not None]
    days = [world.today - timedelta(days=back) for back in range(YEAR_DAYS - 1, 0, -1)]
    kinds = [classify_day(day, world.overrides).kind for day in days]
    weights = [1.0 if kind is DayKind.WORKDAY else HOLIDAY_WEIGHT for kind in kinds]
    seen: set[tuple[int, int, date]] = set()
    rows = []
    for day, kind, planned in zip(days, kinds, spread(rng, count, weights), strict=True):
        opens, hours = (8, 10) if kind is DayKind.WORKDAY else (9, 3)
        for _ in range(planned):
            resident, department = rng.choice(world.residents), rng.choice(windows)
            if (resident, department.id or 0, day) in seen:
                continue
            seen.add((resident, department.id or 0, day))
            at = local_at(day, day_time(opens)) + timedelta(seconds=rng.uniform(0, hours * 3600))
            rows.append(
                {
                    "resident_id": resident,
                    "department_id": department.id,
                    "day": day,
                    "created_at": at,
                }
            )
    ids = await insert_ids(connection, _VISIT, rows)
    return list(zip(ids, rows, strict=True))


# ───────────────────────────── ratings and return visits ─────────────────────────────


@dataclass(frozen=True)
class Subject:
    """A rated thing, with what its rating and return visit need."""

    kind: str
    id: int
    resident_id: int
    staff_id: int | None
    at: datetime  # when it was rated
    department_id: int | None
    name_zh: str
    name_en: str
    ref: str
    served_at: datetime


def level_table(rng: random.Random, world: World) -> dict[int | None, list[float]]:
    """Each staff member's chances of the six levels: poor ratings more or less often."""
    base = [w for _, w in LEVELS]
    table: dict[int | None, list[float]] = {None: base}
    for sid in world.staff:
        worse = rng.lognormvariate(0, 0.6)
        poor = [w * worse for w in base[3:]]
        average = base[2] * (0.5 + 0.5 * worse)
        good = 1 - sum(poor) - average
        table[sid] = [good * base[0] / (base[0] + base[1]), good * base[1] / (base[0] + base[1])]
        table[sid] += [average, *poor]
    return table


async def finished_cases(session: AsyncSession, world: World, rng: random.Random) -> list[Subject]:
    """The residents' finished cases that were rated (RATED_CASES of them)."""
    c = _CASE.c
    stmt = (
        sa.select(
            c.id,
            c.ref,
            c.resident_id,
            c.assignee_staff_id,
            c.resolved_at,
            c.department_id,
            c.category,
        )
        .where(
            col(Case.status).in_((CaseStatus.RESOLVED, CaseStatus.CLOSED)),
            col(Case.resident_id).is_not(None),
            col(Case.kind) != CaseKind.RETURN_VISIT,
            col(Case.resolved_at).is_not(None),
        )
        .order_by(c.id)
    )
    found = []
    rows = (await (await session.connection()).execute(stmt)).all()
    for cid, ref, rid, sid, resolved, did, category in rows:
        if rng.random() >= RATED_CASES or cid is None or rid is None or resolved is None:
            continue
        at = min(resolved + timedelta(hours=rng.uniform(1, 120)), world.now - timedelta(minutes=1))
        found.append(Subject(CASE, cid, rid, sid, at, did, category, category, ref, resolved))
    return found


def rated_appointments(rng: random.Random, world: World, booked: list[Booked]) -> list[Subject]:
    """RATED_APPOINTMENTS of the completed appointments."""
    found = []
    for b in booked:
        checked_in = b.row["checked_in_at"]
        if checked_in is None or rng.random() >= RATED_APPOINTMENTS:
            continue
        at = min(checked_in + timedelta(minutes=rng.uniform(10, 2880)), world.now)
        s = b.service
        found.append(
            Subject(
                APPOINTMENT,
                b.id,
                b.row["resident_id"],
                b.row["served_by_staff_id"],
                at,
                s.department_id,
                s.name_zh,
                s.name_en,
                b.row["ref"],
                b.row["starts_at"],
            )
        )
    return found


def rated_visits(world: World, visits: list[tuple[int, dict[str, Any]]]) -> list[Subject]:
    """Every window visit: a visit is recorded when it is rated."""
    found = []
    for vid, row in visits:
        d = world.departments[row["department_id"]]
        at = row["created_at"]
        found.append(
            Subject(WINDOW, vid, row["resident_id"], None, at, d.id, d.name_zh, d.name_en, "", at)
        )
    return found


async def add_ratings(
    session: AsyncSession, rng: random.Random, world: World, subjects: list[Subject]
) -> list[tuple[int, Subject, RatingLevel]]:
    """One rating for each subject, in time order; the ids."""
    chances = level_table(rng, world)
    levels = [level for level, _ in LEVELS]
    subjects = sorted(subjects, key=lambda s: s.at)
    rated = [(s, rng.choices(levels, weights=chances[s.staff_id])[0]) for s in subjects]
    rows = [
        {
            "subject_kind": s.kind,
            "subject_id": s.id,
            "resident_id": s.resident_id,
            "staff_id": s.staff_id,
            "level": level.value,
            "comment": None,
            "created_at": s.at,
        }
        for s, level in rated
    ]
    ids = await insert_ids(await session.connection(), _RATING, rows)
    return [(rid, s, level) for rid, (s, level) in zip(ids, rated, strict=True)]


async def add_return_visits(
    session: AsyncSession,
    rng: random.Random,
    world: World,
    ratings: list[tuple[int, Subject, RatingLevel]],
) -> int:
    """Return visits (回访) for RETURN_VISITS of the poor ratings, as open_return_visit makes
    them: owned by the answering supervisor, due in one working day; mostly closed."""
    spec = case_catalogue(DATA).types[CaseKind.RETURN_VISIT]
    answering: dict[tuple[int | None, int | None], Staff | None] = {}
    first_department = min(world.departments)
    pending = []
    for rating_id, s, level in ratings:
        if level not in POOR or rng.random() >= RETURN_VISITS:
            continue
        concerned = world.staff.get(s.staff_id or 0)
        department_id = (concerned.department_id if concerned else None) or s.department_id
        key = (department_id, s.staff_id)
        if key not in answering:
            answering[key] = await answering_supervisor(session, department_id, s.staff_id)
        supervisor = answering[key]
        if supervisor is None:
            continue
        department_id = department_id or first_department
        created = s.at
        due = add_working_days(created, spec.deadline_days, world.overrides)
        recent = world.now - created < timedelta(days=2)
        stuck = rng.random() < 0.03
        resolved = closed = escalated = None
        if recent or stuck:
            status = CaseStatus.ACCEPTED
        else:
            status = CaseStatus.CLOSED if rng.random() < 0.9 else CaseStatus.RESOLVED
            resolved = created + (due - created) * rng.uniform(0.1, 1.2)
            if status is CaseStatus.CLOSED:
                closed = resolved + timedelta(hours=rng.uniform(1, 48))
        if (resolved or world.now) > due:
            escalated = due + timedelta(minutes=15)
        thing = f"{s.name_zh} {s.ref}".strip()
        day = s.served_at.astimezone(SHANGHAI).date().isoformat()
        moments = [m for m in (created, resolved, closed, escalated) if m is not None]
        row: dict[str, Any] = {
            "ref": world.next_ref(world.prefix, created),
            "kind": CaseKind.RETURN_VISIT.value,
            "category": spec.name_zh,
            "status": status.value,
            "summary": thing,
            "details": {
                "category_code": None,
                "rating_id": rating_id,
                "subject": f"{s.kind}:{s.id}",
                "level": level.value,
                "thing": thing,
                "rated": {
                    "kind": s.kind,
                    "zh": s.name_zh,
                    "en": s.name_en,
                    "ref": s.ref,
                    "day": day,
                },
                CONCERNS: concerned.id if concerned else None,
                "synthetic": True,
            },
            "resident_id": s.resident_id,
            "reporter_staff_id": None,
            "department_id": department_id,
            "assignee_staff_id": supervisor.id,
            "grid_id": None,
            "latitude": None,
            "longitude": None,
            "attachments": [],
            "first_reply_due_at": due,
            "due_at": due,
            "accepted_at": created,
            "first_replied_at": None,
            "resolved_at": resolved,
            "closed_at": closed,
            "escalated_at": escalated,
            "created_at": created,
            "updated_at": min(max(moments), world.now),
        }
        pending.append((row, supervisor))
    connection = await session.connection()
    ids = await insert_ids(connection, _CASE, [row for row, _ in pending])
    handlers, events = [], []
    for case_id, (row, supervisor) in zip(ids, pending, strict=True):
        department = world.departments[row["department_id"]]
        handlers.append(
            {
                "case_id": case_id,
                "department_id": row["department_id"],
                "lead": True,
                "done_at": row["resolved_at"],
            }
        )
        at, resident = row["created_at"], row["resident_id"]
        events += [
            {
                "case_id": case_id,
                "at": at,
                "actor_kind": "resident",
                "actor_id": resident,
                "kind": "received",
                "note": None,
                "data": {"department": department.name_zh},
            },
            {
                "case_id": case_id,
                "at": at,
                "actor_kind": "system",
                "actor_id": None,
                "kind": "return_visit",
                "note": None,
                "data": {"staff": supervisor.name},
            },
        ]
    await insert_all(connection, _HANDLER, handlers)
    await insert_all(connection, _EVENT, events)
    return len(ids)


async def add_returned_calls(session: AsyncSession, rng: random.Random, world: World) -> int:
    """RETURNED of the past year's grid reports given back by a department (by its staff), a
    few of them with no reason."""
    co = {c.name_zh: c.co for c in CATEGORIES}
    department_of = {d.code: d.id or 0 for d in world.departments.values()}
    workers: dict[int, list[int]] = defaultdict(list)
    for sid, person in sorted(world.staff.items()):
        if person.role == StaffRole.DEPARTMENT_STAFF and person.department_id is not None:
            workers[person.department_id].append(sid)
    start = local_at(world.today - timedelta(days=YEAR_DAYS - 1), day_time(0))
    stmt = (
        select(Case.id, Case.department_id, Case.category, Case.created_at)
        .where(Case.kind == CaseKind.GRID_REPORT, col(Case.created_at) >= start)
        .order_by(col(Case.id))
    )
    rows = []
    for cid, lead, category, created in (await session.exec(stmt)).all():
        if rng.random() >= RETURNED:
            continue
        others = [department_of[c] for c in co.get(category, ()) if c in department_of]
        others = [d for d in others if workers.get(d)] or [
            d for d in workers if d != lead and workers[d]
        ]
        department = rng.choice(others)
        reason = None if rng.random() < NO_REASON else rng.choice(RETURN_REASONS)
        rows.append(
            {
                "case_id": cid,
                "at": min(created + timedelta(hours=rng.uniform(1, 30)), world.now),
                "actor_kind": "staff",
                "actor_id": rng.choice(workers[department]),
                "kind": "returned",
                "note": reason,
                "data": {"department": world.departments[department].name_zh},
            }
        )
    await insert_all(await session.connection(), _EVENT, rows)
    return len(rows)


async def add_needs(connection: AsyncConnection, rng: random.Random, world: World) -> int:
    """NEED_ITEMS items in the 18 categories, most of one community, and the year's +1s."""
    categories = load_categories(DATA)
    communities = sorted(world.by_community)
    year_start = local_at(world.today - timedelta(days=YEAR_DAYS - 1), day_time(0))
    items = []
    for n in range(NEED_ITEMS):
        category = categories[n % len(categories)]
        community = rng.choice(communities) if rng.random() < 0.8 else None
        created = (
            year_start - timedelta(days=rng.uniform(0, 200)) + timedelta(days=rng.uniform(0, 300))
        )
        items.append(
            {
                "title": f"{category.name_zh}：居民提出的第{n // len(categories) + 1}项",
                "category": category.code,
                "stage": pick(rng, NEED_STAGES).value,
                "stage_reason": None,
                "supporters": 0,
                "community_id": community,
                "merged_into_id": None,
                "created_at": created,
                "updated_at": created,
            }
        )
    ids = await insert_ids(connection, _ITEM, items)
    weights = [1 / (rank + 1) for rank in range(len(ids))]
    rng.shuffle(weights)
    supports: dict[tuple[int, int], datetime] = {}
    total = round(len(world.residents) * SUPPORTS_PER_RESIDENT)
    for n in rng.choices(range(len(ids)), weights=weights, k=total):
        item = items[n]
        pool = world.by_community.get(item["community_id"]) or world.residents
        since = max(item["created_at"], year_start)
        at = since + (world.now - since) * rng.random()
        supports.setdefault((ids[n], rng.choice(pool)), at)
    rows = [{"item_id": i, "resident_id": r, "created_at": at} for (i, r), at in supports.items()]
    await insert_all(connection, _SUPPORT, rows)
    counts = Counter(i for i, _ in supports)
    update = (
        sa.update(_ITEM)
        .where(_ITEM.c.id == sa.bindparam("item"))
        .values(supporters=sa.bindparam("n"))
    )
    await connection.execute(update, [{"item": i, "n": counts[i]} for i in ids])
    return len(rows)


# ───────────────────────────── building ─────────────────────────────


async def reset_postgres(url: str) -> None:
    """Drop and recreate the public schema: the benchmark owns this database."""
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(sa.text("CREATE SCHEMA public"))
    await engine.dispose()


async def build(plan: Plan) -> None:
    """Migrate and seed the street, then add what seeding does not make."""
    postgres = plan.url.startswith("postgresql")
    if postgres:
        with step("drop and recreate schema public"):
            await reset_postgres(plan.url)
    engine = make_engine(plan.url)
    sessions = make_session_factory(engine)
    rng = random.Random(20)
    use_keys([derived_key(SECRET)])  # seeded residents' phone numbers are sealed
    try:
        with step("migrate + street"):
            await upgrade(engine)
            async with sessions() as session, session.begin():
                await seed_street(session, DATA, plan.today, plan.now)
        with step(f"{plan.residents:,} residents"):
            async with sessions() as session, session.begin():
                await seed_residents(session, plan.residents, DATA, plan.now)
        with step(f"{plan.cases:,} cases over two years (seed_cases)"):
            async with sessions() as session, session.begin():
                await seed_cases(session, plan.cases, plan.now)
        async with sessions() as session, session.begin():
            world = await load_world(session, plan.now, rng)
            connection = await session.connection()
            with step("roster of the past year"):
                await add_roster(connection, world)
            with step("appointments and their slots"):
                booked = await add_appointments(connection, rng, world, plan.appointments)
            with step("window visits"):
                visits = await add_window_visits(
                    connection, rng, world, round(plan.appointments * WINDOW_VISITS)
                )
            with step("ratings and return visits"):
                subjects = rated_appointments(rng, world, booked)
                subjects += await finished_cases(session, world, rng)
                subjects += rated_visits(world, visits)
                ratings = await add_ratings(session, rng, world, subjects)
                await add_return_visits(session, rng, world, ratings)
            with step("returned calls"):
                await add_returned_calls(session, rng, world)
            with step("needs and +1s"):
                await add_needs(connection, rng, world)
            await advance_counters(connection, world)
        if postgres:
            with step("ANALYZE"):
                async with engine.connect() as connection:
                    await connection.execution_options(isolation_level="AUTOCOMMIT")
                    await connection.execute(sa.text("ANALYZE"))
        async with sessions() as session:
            await print_sizes(session, plan)
    finally:
        await engine.dispose()


async def print_sizes(session: AsyncSession, plan: Plan) -> None:
    """How much the measured periods hold."""

    async def count(stmt: Any) -> int:
        return int((await session.exec(stmt)).one())

    def counted(model: Any, *where: Any) -> Any:
        return select(func.count()).select_from(model).where(*where)

    lines = []
    for name, period in (("past 365 days", plan.year), ("last month", plan.last_month)):
        cases = await count(
            counted(Case, period.holds(col(Case.created_at)), Case.kind != CaseKind.RETURN_VISIT)
        )
        visits = await count(
            counted(Case, period.holds(col(Case.created_at)), Case.kind == CaseKind.RETURN_VISIT)
        )
        appointments = await count(counted(Appointment, period.holds(col(Appointment.starts_at))))
        ratings = await count(counted(Rating, period.holds(col(Rating.created_at))))
        supports = await count(counted(NeedSupport, period.holds(col(NeedSupport.created_at))))
        lines.append(
            f"  {name} ({period.start} – {period.last_day}): {cases:,} cases, "
            f"{visits:,} return visits, {appointments:,} appointments, {ratings:,} ratings, "
            f"{supports:,} need +1s"
        )
    totals = [
        f"{await count(counted(model)):,} {name}"
        for model, name in (
            (Resident, "residents"),
            (Case, "cases"),
            (CaseEvent, "case events"),
            (Appointment, "appointments"),
            (Rating, "ratings"),
        )
    ]
    open_cases = await count(
        counted(Case, col(Case.status).in_(("new", "assigned", "accepted", "waiting_resident")))
    )
    print("  in all: " + ", ".join(totals) + f"; {open_cases:,} cases open now", flush=True)
    print("\n".join(lines), flush=True)


# ───────────────────────────── measuring ─────────────────────────────


@dataclass(frozen=True)
class Row:
    """One measured line."""

    name: str
    runs: int
    first: float
    p50: float
    p95: float
    max: float
    peak_mib: float
    hwm_mib: float
    rss_mib: float
    note: str


def percentile(sorted_ms: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return sorted_ms[max(0, math.ceil(share * len(sorted_ms)) - 1)]


def reset_peak() -> bool:
    """Start the kernel's peak RSS of this process (VmHWM) again from its RSS now (Linux
    clear_refs); whether it could. ru_maxrss keeps the older peak (a thread that has exited
    leaves its process's peak in it)."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def peak_mib() -> float:
    """This process's peak resident set so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def timed(name: str, call: Callable[[], Awaitable[str]], runs: int) -> Row:
    """Once cold, then runs times (fewer past BUDGET_S, at least MIN_RUNS)."""
    started = time.perf_counter()
    note = await call()
    first = (time.perf_counter() - started) * 1000
    timings: list[float] = []
    began = time.perf_counter()
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
        if len(timings) >= MIN_RUNS and time.perf_counter() - began > BUDGET_S:
            break
    ms = sorted(timings)
    p50, p95 = percentile(ms, 0.5), percentile(ms, 0.95)
    rss, hwm = memory()
    row = Row(name, len(ms), first, p50, p95, ms[-1], peak_mib(), hwm, rss, note)
    print(
        f"  {name}: first {first:,.0f} ms, p50 {row.p50:,.0f} ms over {row.runs} ({note})",
        flush=True,
    )
    return row


def warm_process(conn: Connection) -> None:
    """Train the understanding model (or load it from the disk cache), as a server's first
    start does: how long it took and the peak RSS."""
    started = time.perf_counter()
    warm_intent_model(DATA).result()
    conn.send((time.perf_counter() - started, peak_mib()))
    conn.close()


def measure_process(conn: Connection, plan: Plan) -> None:
    """The measuring process: send back its rows and facts."""
    conn.send(asyncio.run(measure(plan)))
    conn.close()


async def measure(plan: Plan) -> tuple[list[Row], list[str]]:
    """Time the numbers' functions and the desk's pages."""
    facts = [f"at start: RSS {memory()[0]:.0f} MiB, peak {peak_mib():.0f} MiB"]
    started = time.perf_counter()
    await asyncio.to_thread(warm_intent_model(DATA).result)
    facts.append(
        f"understanding model loaded in {time.perf_counter() - started:.1f} s: "
        f"RSS {memory()[0]:.0f} MiB, peak {peak_mib():.0f} MiB"
    )
    if reset_peak():
        facts.append("VmHWM reset after the model was loaded: 'peak since' is the measuring's")
    settings = Settings(database_url=plan.url, data_dir=DATA, secret_key=SECRET)
    linli = build_linli(settings, clock=ManualClock(plan.now))
    now, today = plan.now, plan.today
    async with linli.sessions() as session, session.begin():
        supervisor = (await session.exec(select(Staff).where(Staff.code == SUPERVISOR))).one()
        supervisor.password_hash = hash_password(PASSWORD)
        session.add(supervisor)
        community = (
            await session.exec(select(Community).where(Community.name_zh == COMMUNITY))
        ).first() or (await session.exec(select(Community).order_by(col(Community.id)))).one()
        busiest = (
            await session.exec(
                select(Case.department_id)
                .where(plan.year.holds(col(Case.created_at)), col(Case.department_id).is_not(None))
                .group_by(col(Case.department_id))
                .order_by(func.count().desc())
            )
        ).first()
        department = await session.get(Department, busiest or 0)
        assert department is not None
        assert department.id is not None
        assert community.id is not None
    month, year = plan.last_month, plan.year

    async def report(period: Period, scope: KpiScope) -> str:
        async with linli.sessions() as session:
            r = await kpi_report(session, period, scope, now=now, data_dir=DATA)
        return (
            f"{r.cases.received:,} cases in, {r.appointments.booked:,} appointments, "
            f"{r.ratings.total:,} ratings, {len(r.supervision):,} to supervise"
        )

    async def stars() -> str:
        async with linli.sessions() as session:
            cards = await monthly_scorecards(session, month.start, DATA)
        return f"{len(cards)} scorecards"

    m = f"{month.start:%Y-%m}"
    rows = [
        await timed(
            f"kpi_report street, month {m}", lambda: report(month, KpiScope.street()), plan.runs
        ),
        await timed(
            f"kpi_report street, {year.start} – {year.last_day}",
            lambda: report(year, KpiScope.street()),
            plan.runs,
        ),
        await timed(
            f"kpi_report community {community.name_zh}, month {m}",
            lambda: report(month, KpiScope.community(community.id or 0)),
            plan.runs,
        ),
        await timed(
            f"kpi_report department {department.name_zh}, month {m}",
            lambda: report(month, KpiScope.department(department.id or 0)),
            plan.runs,
        ),
        await timed(f"monthly_scorecards street, month {m}", stars, plan.runs),
    ]
    app = create_web_app(linli)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        login = await client.get("/admin/login")
        token = CSRF.search(await login.text())
        assert token is not None, "no CSRF token on the login page"
        form = {"csrf": token.group(1), "code": SUPERVISOR, "password": PASSWORD}
        answer = await client.post("/admin/login", data=form, allow_redirects=False)
        assert answer.status == 303, f"login answered {answer.status}"

        async def page(path: str) -> str:
            response = await client.get(path, allow_redirects=False)
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}")
            return f"{len(body) / 1024:,.0f} KiB"

        this_month = Period.month(today)
        pages = (
            (f"GET /admin/numbers (this month, {this_month.start:%Y-%m})", "/admin/numbers"),
            ("GET /admin/numbers.csv?block=all", "/admin/numbers.csv?block=all"),
            ("GET /admin/cases (open queue)", "/admin/cases"),
            ("GET /admin/stars", "/admin/stars"),
        )
        for name, path in pages:
            rows.append(await timed(name, partial(page, path), plan.runs))
    return rows, facts


# ───────────────────────────── the run ─────────────────────────────


async def server_version(url: str) -> str:
    """The database's name and version."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                found = await connection.execute(sa.text("SHOW server_version"))
                return f"PostgreSQL {found.scalar_one()}"
            found = await connection.execute(sa.text("SELECT sqlite_version()"))
            return f"SQLite {found.scalar_one()}"
    finally:
        await engine.dispose()


def print_table(rows: list[Row]) -> None:
    """The results."""
    width = max(len(r.name) for r in rows)
    head = "runs  first ms    p50 ms    p95 ms    max ms  peak RSS MiB  peak since  RSS MiB"
    print(f"\n{'what':<{width}}  {head}")
    for r in rows:
        print(
            f"{r.name:<{width}}  {r.runs:>4}  {r.first:>8,.0f}  {r.p50:>8,.0f}  {r.p95:>8,.0f}"
            f"  {r.max:>8,.0f}  {r.peak_mib:>12,.0f}  {r.hwm_mib:>10,.0f}  {r.rss_mib:>7,.0f}"
        )
    print()
    for r in rows:
        print(f"{r.name}: {r.note}")


def checkout() -> str:
    """The commit measured, and whether the code had uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, check=True
        )
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "bot", "models", "handlers", "data"],
            cwd=root,
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    dirty = " with uncommitted changes" if changed.stdout.strip() else ""
    return f"commit {head.stdout.decode().strip()}{dirty}"


def run(plan: Plan) -> None:
    """Build, then measure in a fresh process, then print."""
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.platform()}",
        flush=True,
    )
    print(f"code: {checkout()}", flush=True)
    print(f"clock: {plan.now.astimezone(SHANGHAI):%Y-%m-%d %H:%M} Asia/Shanghai", flush=True)
    print(f"database: {make_url(plan.url).render_as_string(hide_password=True)}", flush=True)
    started = time.perf_counter()
    asyncio.run(build(plan))
    print(
        f"  built in {time.perf_counter() - started:.0f} s; {asyncio.run(server_version(plan.url))}"
    )
    seconds, peak = in_fresh_process(warm_process)
    print(
        f"understanding model trained or loaded in {seconds:.0f} s in a process of its own "
        f"(peak RSS {peak:,.0f} MiB), so that the measuring process finds it on disk",
        flush=True,
    )
    print("measuring (a fresh process):", flush=True)
    rows, facts = in_fresh_process(measure_process, plan)
    for fact in facts:
        print(f"  {fact}")
    print_table(rows)


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=310_000)
    parser.add_argument(
        "--cases", type=int, default=110_000, help="seed_cases' two years (about 55%% in the last)"
    )
    parser.add_argument("--appointments", type=int, default=50_000, help="in the past year")
    parser.add_argument("--runs", type=int, default=20, help="timed calls of each (after one cold)")
    parser.add_argument(
        "--database-url", help="PostgreSQL (its public schema is DROPPED) or a new SQLite file"
    )
    args = parser.parse_args()

    def plan(url: str) -> Plan:
        return Plan(url, args.residents, args.cases, args.appointments, args.runs, bench_now())

    url = args.database_url
    if url is None:
        with tempfile.TemporaryDirectory() as tmp:
            run(plan(f"sqlite+aiosqlite:///{tmp}/desk_numbers.db"))
        return
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and Path(parsed.database).exists():
            parser.error(f"{parsed.database} exists: give a new file")
    elif parsed.get_backend_name() != "postgresql":
        parser.error("SQLite or PostgreSQL only")
    run(plan(url))


if __name__ == "__main__":
    main()
