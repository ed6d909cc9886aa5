"""The numbers leaders decide by (models/kpis.py), on a fixed small data set made by hand and
checked against values worked out by hand in the comments, for every scope.

The week is Sunday 20 – Saturday 26 September 2026 (end exclusive: Sunday 27 00:00 is out). In
it, Sunday 20 is a make-up working day (调休 for National Day) and Friday 25 – Saturday 26 are
the Mid-autumn holiday, so "weekend" must come from the holiday calendar, not from weekday().
"now" is Monday 28 September 10:00. The seeded demo street has no appointments, cases, ratings
or needs, so the street scope sees exactly the rows below.

People and places made here:
  community K (grid G1): residents r1, r2      community L (grid G2): resident r3
  resident r4 has no community
  department D, hall window 41: service SD; staff A (clerk, window 41, 2 skills),
      B (department staff, no window, lives in community K), V (supervisor)
  department E, hall window 42: service SE; staff C (clerk, window 42)
  C is on the roster at window 41 on Friday 25 09:00–12:00 (standing in for A's window).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outgoing import pushes
from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus, BookingSlot, RosterShift
from models.cases import Case, CaseEvent, CaseKind, CaseStatus, Rating, RatingLevel
from models.csv_export import BOM, to_csv
from models.db import make_engine, make_session_factory
from models.kpis import (
    AppointmentKpis,
    CaseKpis,
    KpiScope,
    Period,
    Rate,
    RatingKpis,
    SupervisionReason,
    appointment_kpis,
    case_kpis,
    demand_ranking,
    kpi_report,
    kpi_rows,
    load_rating_scale,
    rating_kpis,
    report_csv,
    supervision_list,
)
from models.needs import NeedItem, NeedSupport
from models.org import Community, Department, Grid, Staff, StaffRole, StaffSkill, get_street
from models.people import Resident
from models.ratings import WindowVisit
from models.services import Service
from scheduler.digests import week_kpi
from tests.conftest import DATA

WEEK = Period(date(2026, 9, 20), date(2026, 9, 27))
NOW = datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI)
CREATED = datetime(2026, 9, 1, 9, 0, tzinfo=SHANGHAI)
U = RatingLevel


def at(day: int, hour: int, minute: int = 0, month: int = 9) -> datetime:
    """A local (Shanghai) moment in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def when(text: str) -> datetime:
    """A local moment: "21 09:00" is 21 September 2026 09:00, "10-09 10:00" is 9 October."""
    day, clock = text.split()
    month, _, day = day.rpartition("-")
    hour, minute = clock.split(":")
    return at(int(day), int(hour), int(minute), int(month or 9))


# The cases (c8, the return visit, is added after the ratings). Resident n is rn; grid 1 is G1
# (community K), grid 2 is G2 (community L).
CASE_ROWS: list[tuple[Any, ...]] = [
    # name kind           status      dept who grid res created  reply due  replied  due    resolved
    ("c1", "proxy", "resolved", "D", "A", 1, 1, "21 09:00", "22 09:00", "21 10:00", "24 09:00",
     "23 15:00"),
    ("c2", "proxy", "resolved", "D", "A", 1, 2, "21 11:00", "22 11:00", "22 14:00", "24 11:00",
     "25 10:00"),
    ("c3", "complaint", "assigned", "D", "B", None, 2, "22 09:00", "23 09:00", None, "25 09:00",
     None),
    ("c4", "complaint", "accepted", "E", "C", 2, 4, "23 10:00", "24 10:00", "23 11:00",
     "29 10:00", None),
    ("c5", "proxy", "closed", "E", "C", 2, 3, "17 10:00", "18 10:00", "18 09:00", "22 10:00",
     "22 09:00"),
    ("c6", "proxy", "accepted", "D", "A", 1, 1, "25 10:00", "29 10:00", "26 10:00",
     "10-09 10:00", None),
    ("c7", "grid_report", "assigned", "E", None, 1, None, "26 20:00", "28 20:00", None,
     "10-09 20:00", None),
    ("c9", "proxy", "assigned", "E", "C", 2, 1, "27 00:00", "28 00:00", None, "30 00:00", None),
    ("c10", "proxy", "resolved", "E", "C", 2, 4, "19 23:59", "20 09:00", "20 10:00",
     "23 23:59", "23 20:00"),
]  # fmt: skip


@dataclass
class World:
    """The ids of everything made by hand."""

    community_k: int
    community_l: int
    dept_d: int
    dept_e: int
    staff: dict[str, int]  # A, B, C, V
    cases: dict[str, int]  # c1 … c10
    refs: dict[str, str]
    ratings: dict[str, int]  # rt1 … rt11
    category_1: str
    category_2: str


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with sessions() as session, session.begin():
        return await build_world(session)


async def _add(session: AsyncSession, row: Any) -> int:
    session.add(row)
    await session.flush()
    return int(row.id)


async def build_world(session: AsyncSession) -> World:
    street = await get_street(session)
    assert street is not None and street.id is not None
    k = await _add(session, Community(street_id=street.id, code="KPI-K", name_zh="K", name_en="K"))
    el = await _add(session, Community(street_id=street.id, code="KPI-L", name_zh="L", name_en="L"))
    g1 = await _add(session, Grid(community_id=k, number=1, name_zh="G1", name_en="G1"))
    g2 = await _add(session, Grid(community_id=el, number=1, name_zh="G2", name_en="G2"))
    d = await _add(session, Department(code="kpi_d", name_zh="D", name_en="D", window=41))
    e = await _add(session, Department(code="kpi_e", name_zh="E", name_en="E", window=42))
    services = {}
    for code, dept in (("SD", d), ("SE", e)):
        services[code] = await _add(
            session,
            Service(
                code=f"kpi-{code}",
                name_zh=code,
                name_en=code,
                department_id=dept,
                category_zh="测试",
                category_en="test",
            ),
        )

    def person(code: str, role: StaffRole, dept: int, window: int | None) -> Staff:
        return Staff(
            code=f"K{code}", name=f"测试{code}", role=role, department_id=dept, window=window,
            created_at=CREATED,
        )  # fmt: skip

    staff = {
        "A": await _add(session, person("A", StaffRole.CLERK, d, 41)),
        "B": await _add(session, person("B", StaffRole.DEPARTMENT_STAFF, d, None)),
        "C": await _add(session, person("C", StaffRole.CLERK, e, 42)),
        "V": await _add(session, person("V", StaffRole.SUPERVISOR, d, None)),
    }
    b = await session.get(Staff, staff["B"])
    assert b is not None
    b.community_id = k
    session.add_all(
        [
            StaffSkill(staff_id=staff["A"], service_id=services["SD"]),
            StaffSkill(staff_id=staff["A"], service_id=services["SE"]),
            RosterShift(
                staff_id=staff["C"], day=date(2026, 9, 25), starts_at=at(25, 9),
                ends_at=at(25, 12), window=41,
            ),
        ]
    )  # fmt: skip
    r1, r2 = [
        await _add(session, Resident(community_id=k, grid_id=g1, created_at=CREATED))
        for _ in range(2)
    ]
    r3 = await _add(session, Resident(community_id=el, grid_id=g2, created_at=CREATED))
    r4 = await _add(session, Resident(created_at=CREATED))

    appointments: dict[str, int] = {}

    async def appointment(
        name: str, when: datetime, status: AppointmentStatus, resident: int, service: str,
        served: str | None,
    ) -> None:  # fmt: skip
        slot = await _add(
            session,
            BookingSlot(
                service_id=services[service], day=when.date(), starts_at=when,
                ends_at=when + timedelta(minutes=30), capacity=5, booked=1,
            ),
        )  # fmt: skip
        appointments[name] = await _add(
            session,
            Appointment(
                ref=f"KPI-{name}", resident_id=resident, service_id=services[service],
                slot_id=slot, status=status, starts_at=when,
                served_by_staff_id=staff[served] if served else None,
                created_at=CREATED, updated_at=CREATED,
            ),
        )  # fmt: skip

    s = AppointmentStatus
    await appointment("ap1", at(20, 19), s.COMPLETED, r1, "SD", "A")  # 调休 Sunday, after work
    await appointment("ap2", at(21, 7, 30), s.CHECKED_IN, r1, "SD", "A")  # before 08:00
    await appointment("ap3", at(22, 10), s.NO_SHOW, r2, "SD", None)
    await appointment("ap4", at(23, 14), s.CANCELLED, r3, "SE", None)
    await appointment("ap5", at(25, 9, 30), s.COMPLETED, r3, "SE", "C")  # holiday, on shift at 41
    await appointment("ap6", at(26, 23, 30), s.BOOKED, r4, "SE", None)  # holiday, last minutes in
    await appointment("ap7", at(27, 0), s.COMPLETED, r1, "SD", "A")  # out: the end is exclusive
    await appointment("ap8", at(19, 23, 59), s.BOOKED, r1, "SD", None)  # out: before the start
    await appointment("ap9", at(24, 10), s.COMPLETED, r2, "SE", "C")  # C at home window 42

    cases: dict[str, int] = {}
    refs: dict[str, str] = {}

    async def case(
        name: str, kind: CaseKind, status: CaseStatus, dept: int, assignee: str | None,
        grid: int | None, resident: int | None, created: datetime, reply_due: datetime | None,
        replied: datetime | None, due: datetime | None, resolved: datetime | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        refs[name] = f"KPI-{name}"
        cases[name] = await _add(
            session,
            Case(
                ref=refs[name], kind=kind, category="测试", status=status, summary=name,
                details=details or {}, resident_id=resident, department_id=dept,
                assignee_staff_id=staff[assignee] if assignee else None, grid_id=grid,
                first_reply_due_at=reply_due, due_at=due, accepted_at=replied,
                first_replied_at=replied, resolved_at=resolved, created_at=created,
                updated_at=created,
            ),
        )  # fmt: skip

    people = {1: r1, 2: r2, 3: r3, 4: r4, None: None}
    for name, kind, status, dept, assignee, grid, resident, *moments in CASE_ROWS:
        created, reply_due, replied, due, resolved = (when(m) if m else None for m in moments)
        assert created is not None
        await case(
            name, CaseKind(kind), CaseStatus(status), {"D": d, "E": e}[dept], assignee,
            {1: g1, 2: g2, None: None}[grid], people[resident], created, reply_due, replied,
            due, resolved,
        )  # fmt: skip

    ratings: dict[str, int] = {}

    async def rating(
        name: str, when: datetime, level: RatingLevel, kind: str, subject: int,
        rated: str | None, resident: int,
    ) -> None:  # fmt: skip
        ratings[name] = await _add(
            session,
            Rating(
                subject_kind=kind, subject_id=subject, resident_id=resident,
                staff_id=staff[rated] if rated else None, level=level, created_at=when,
            ),
        )  # fmt: skip

    visit = await _add(
        session,
        WindowVisit(resident_id=r4, department_id=d, day=date(2026, 9, 24), created_at=at(24, 11)),
    )
    A, K = "appointment", "case"  # noqa: N806 - short, to keep the rows below in columns
    await rating("rt1", at(21, 12), U.VERY_SATISFIED, A, appointments["ap1"], "A", r1)
    await rating("rt2", at(21, 13), U.SATISFIED, A, appointments["ap2"], "A", r1)
    await rating("rt3", at(23, 16), U.AVERAGE, K, cases["c1"], "A", r1)
    await rating("rt4", at(25, 11), U.TOO_SLOW, K, cases["c2"], "A", r2)
    await rating("rt5", at(25, 10, 30), U.BAD_ATTITUDE, A, appointments["ap5"], "C", r3)
    await rating("rt6", at(24, 12), U.POOR_SKILL, "window", visit, None, r4)
    await rating("rt7", at(26, 23, 59), U.SATISFIED, A, appointments["ap9"], "C", r2)  # in
    await rating("rt8", at(27, 0), U.VERY_SATISFIED, K, cases["c5"], "C", r3)  # out
    await rating("rt9", at(19, 23), U.POOR_SKILL, K, cases["c10"], "C", r4)  # out
    await rating("rt10", at(30, 23, 30), U.SATISFIED, K, cases["c4"], "C", r4)  # September
    await rating("rt11", at(1, 0, 10, month=10), U.BAD_ATTITUDE, K, cases["c9"], "C", r1)  # October

    # c8: the return visit the 时间长 rating rt4 opened, owned by supervisor V at once and overdue.
    await case(
        "c8", CaseKind.RETURN_VISIT, CaseStatus.ACCEPTED, d, "V", None, r2, at(25, 11),
        at(26, 11), at(25, 11), at(26, 11), details={"rating_id": ratings["rt4"]},
    )  # fmt: skip

    def event(name: str, when: datetime, by: str, note: str | None) -> CaseEvent:
        return CaseEvent(
            case_id=cases[name], at=when, actor_kind="staff", actor_id=staff[by],
            kind="returned", note=note,
        )  # fmt: skip

    session.add_all(
        [
            event("c7", at(26, 21), "B", None),  # no reason
            event("c4", at(24, 15), "C", "   "),  # blank is no reason
            event("c3", at(23, 8), "B", "不归我们管，应由城管科办理"),  # a reason: not listed
        ]
    )

    # Needs: two categories; +1s before the week do not count, a merged item is not ranked.
    category_1, category_2 = "public-facilities", "library"
    items = {}
    for name, category, community in (
        ("n1", category_1, k),
        ("n2", category_1, el),
        ("n3", category_2, k),
        ("n4", category_1, k),
    ):
        items[name] = await _add(
            session,
            NeedItem(title=name, category=category, community_id=community, created_at=CREATED,
                     updated_at=CREATED),
        )  # fmt: skip
    merged = await session.get(NeedItem, items["n4"])
    assert merged is not None
    merged.merged_into_id = items["n1"]
    for item, resident, moment in (
        ("n1", r1, at(21, 8)),
        ("n1", r2, at(22, 8)),
        ("n1", r3, at(23, 8)),
        ("n2", r4, at(24, 8)),
        ("n2", r1, at(19, 8)),  # before the week
        ("n3", r2, at(25, 8)),
        ("n3", r3, at(26, 8)),
        ("n4", r4, at(21, 9)),  # merged away
    ):
        session.add(NeedSupport(item_id=items[item], resident_id=resident, created_at=moment))
    await session.flush()
    return World(k, el, d, e, staff, cases, refs, ratings, category_1, category_2)


def scopes(w: World) -> dict[str, KpiScope]:
    return {
        "street": KpiScope.street(),
        "community K": KpiScope.community(w.community_k),
        "department D": KpiScope.department(w.dept_d),
        "department E": KpiScope.department(w.dept_e),
        "window 41": KpiScope.window(41),
        "window 42": KpiScope.window(42),
        "staff A": KpiScope.staff(w.staff["A"]),
        "staff B": KpiScope.staff(w.staff["B"]),
        "staff C": KpiScope.staff(w.staff["C"]),
    }


# ─────────────────────────── appointments ───────────────────────────

# In the week: ap1 ap2 ap3 ap4 ap5 ap6 ap9 (ap7 is Sunday 27 00:00, ap8 Saturday 19 23:59).
# served = checked in / completed; after work = working day, ≥18:00 or <08:00 (ap1 on the 调休
# Sunday 19:00, ap2 Monday 07:30); weekend/holiday = ap5 (Fri 25) and ap6 (Sat 26).
APPOINTMENTS = {
    # street: 7 booked; served ap1 ap2 ap5 ap9 = 4; no-show ap3; cancelled ap4; 2/7 and 2/7.
    "street": AppointmentKpis(
        booked=7, served=4, no_shows=1, cancelled=1, after_work=2, non_working=2
    ),
    # residents r1 r2: ap1 ap2 ap3 ap9; after work 2/4 = 0.5; none on a holiday: 0/4 = 0.0.
    "community K": AppointmentKpis(booked=4, served=3, no_shows=1, after_work=2),
    # D's service SD or served by A/B: ap1 ap2 ap3 (ap5 is SE and served by C of E).
    "department D": AppointmentKpis(booked=3, served=2, no_shows=1, after_work=2),
    # E's service SE: ap4 ap5 ap6 ap9.
    "department E": AppointmentKpis(booked=4, served=2, cancelled=1, non_working=2),
    # window 41: A's ap1 ap2 (A's own window, no shift), C's ap5 (C's shift at 41 covers 09:30),
    # unserved ap3 (SD → D → window 41): 4 booked, 1 on a holiday → 1/4.
    "window 41": AppointmentKpis(booked=4, served=3, no_shows=1, after_work=2, non_working=1),
    # window 42: C's ap9 (no shift: C's own window) and unserved SE ap4, ap6.
    "window 42": AppointmentKpis(booked=3, served=1, cancelled=1, non_working=1),
    "staff A": AppointmentKpis(booked=2, served=2, after_work=2),  # after work 2/2 = 1.0
    "staff B": AppointmentKpis(),  # nothing booked: both shares None, never 100%
    "staff C": AppointmentKpis(booked=2, served=2, non_working=1),  # ap5 ap9: 1/2
}


@pytest.mark.parametrize("name", list(APPOINTMENTS))
async def test_appointments_per_scope(
    sessions: async_sessionmaker[AsyncSession], world: World, name: str
) -> None:
    async with sessions() as session:
        found = await appointment_kpis(session, WEEK, scopes(world)[name])
    assert found == APPOINTMENTS[name]


def test_appointment_shares_are_worked_out_and_none_without_bookings() -> None:
    street, nothing = APPOINTMENTS["street"], APPOINTMENTS["staff B"]
    assert street.after_work_share == Rate(2, 7) and street.non_working_share == Rate(2, 7)
    assert street.after_work_share.value == pytest.approx(2 / 7)
    assert street.after_work_share.percent == 29
    assert APPOINTMENTS["community K"].non_working_share.value == 0.0  # 0 of 4, not "no data"
    assert nothing.after_work_share.value is None and nothing.non_working_share.percent is None


# ─────────────────────────── cases ───────────────────────────

# c8 is a return visit: never counted in case KPIs. Per case (now = Mon 28 10:00):
#   received in week: c1 c2 c3 c4 c6 c7 (c5 Thu 17, c10 Sat 19 23:59 and c9 Sun 27 00:00 are out)
#   accepted in week: c1 c2 c4 c6 c10 (c5 on Fri 18)
#   resolved in week: c1 (on time) c2 (late) c5 (on time) c10 (on time)
#   first reply settled in week: c1 on time, c2 late (14:00 > 11:00), c3 never (due Wed 23),
#     c4 on time, c6 early (Sat 26, due Tue 29: counts now), c10 late (10:00 > 09:00);
#     not: c5 (replied Fri 18), c7 (due Mon 28 20:00, after now), c9 (due Mon 28 00:00, next week)
#   overdue now: c3 (due Fri 25, open)
CASES = {
    # 3 of 6 replied on time → 0.5; 3 of 4 resolved on time → 0.75.
    "street": CaseKpis(received=6, accepted=5, resolved=4, overdue=1, replied_on_time=3,
                       reply_due=6, resolved_on_time=3, resolved_with_deadline=4),
    # grid G1: c1 c2 c6 c7; no grid, resident r2 of K: c3 → 2/4 replies, 1/2 on time.
    "community K": CaseKpis(received=5, accepted=3, resolved=2, overdue=1, replied_on_time=2,
                            reply_due=4, resolved_on_time=1, resolved_with_deadline=2),
    # lead department D: c1 c2 c3 c6.
    "department D": CaseKpis(received=4, accepted=3, resolved=2, overdue=1, replied_on_time=2,
                             reply_due=4, resolved_on_time=1, resolved_with_deadline=2),
    # lead department E: c4 c5 c7 c9 c10 → replies c4 (on time) c10 (late): 1/2; resolved 2/2.
    "department E": CaseKpis(received=2, accepted=2, resolved=2, replied_on_time=1, reply_due=2,
                             resolved_on_time=2, resolved_with_deadline=2),
    # assigned to window-41 staff (A): c1 c2 c6 → replies 2/3; resolved 1/2.
    "window 41": CaseKpis(received=3, accepted=3, resolved=2, replied_on_time=2, reply_due=3,
                          resolved_on_time=1, resolved_with_deadline=2),
    # assigned to window-42 staff (C): c4 c5 c9 c10.
    "window 42": CaseKpis(received=1, accepted=2, resolved=2, replied_on_time=1, reply_due=2,
                          resolved_on_time=2, resolved_with_deadline=2),
    "staff A": CaseKpis(received=3, accepted=3, resolved=2, replied_on_time=2, reply_due=3,
                        resolved_on_time=1, resolved_with_deadline=2),
    # B's only case c3: never replied (0 of 1 → 0.0), nothing resolved (None, not 100%).
    "staff B": CaseKpis(received=1, overdue=1, reply_due=1),
    "staff C": CaseKpis(received=1, accepted=2, resolved=2, replied_on_time=1, reply_due=2,
                        resolved_on_time=2, resolved_with_deadline=2),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
async def test_cases_per_scope(
    sessions: async_sessionmaker[AsyncSession], world: World, name: str
) -> None:
    async with sessions() as session:
        found = await case_kpis(session, WEEK, scopes(world)[name], NOW)
    assert found == CASES[name]


def test_case_rates_say_no_data_rather_than_100_percent() -> None:
    street, b = CASES["street"], CASES["staff B"]
    assert street.reply_on_time.value == 0.5  # 3 of 6
    assert street.completed_on_time.value == 0.75  # 3 of 4
    assert b.reply_on_time.value == 0.0  # 0 of 1: a real zero
    assert b.completed_on_time == Rate(0, 0) and b.completed_on_time.value is None
    assert CaseKpis().reply_on_time.percent is None


async def test_overdue_is_as_of_now(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    async with sessions() as session:
        before = await case_kpis(session, WEEK, KpiScope.street(), at(25, 8))
        later = await case_kpis(session, WEEK, KpiScope.street(), at(30, 12))
    assert before.overdue == 0  # c3 is due Fri 25 09:00
    # Wed 30 12:00: c3, and c9 (due Wed 30 00:00); c4 (due Tue 29 10:00) too; c8 is a visit.
    assert later.overdue == 3


# ─────────────────────────── ratings ───────────────────────────

# In the week: rt1 … rt7 (rt8 is Sun 27 00:00, rt9 Sat 19 23:00).
RATINGS = {
    # 很满意 rt1, 满意 rt2 rt7, 一般 rt3, 时间长 rt4, 态度差 rt5, 业务差 rt6 → satisfied 3 of 7.
    "street": {U.VERY_SATISFIED: 1, U.SATISFIED: 2, U.AVERAGE: 1, U.TOO_SLOW: 1,
               U.BAD_ATTITUDE: 1, U.POOR_SKILL: 1},
    # by residents r1 r2: rt1 rt2 rt3 (r1), rt4 rt7 (r2) → 3 of 5 = 0.6.
    "community K": {U.VERY_SATISFIED: 1, U.SATISFIED: 2, U.AVERAGE: 1, U.TOO_SLOW: 1},
    # of A and B: rt1 … rt4, and rt6 (window visit to D) → 2 of 5 = 0.4.
    "department D": {U.VERY_SATISFIED: 1, U.SATISFIED: 1, U.AVERAGE: 1, U.TOO_SLOW: 1,
                     U.POOR_SKILL: 1},
    # of C: rt5 rt7 → 1 of 2.
    "department E": {U.BAD_ATTITUDE: 1, U.SATISFIED: 1},
    # appointments served at 41: rt1 rt2, rt5 (C's shift); window visit to D: rt6; case ratings
    # of window-41 staff: rt3 rt4 → 2 of 6.
    "window 41": {U.VERY_SATISFIED: 1, U.SATISFIED: 1, U.AVERAGE: 1, U.TOO_SLOW: 1,
                  U.BAD_ATTITUDE: 1, U.POOR_SKILL: 1},
    "window 42": {U.SATISFIED: 1},  # rt7 (ap9 at C's own window) → 1 of 1
    "staff A": {U.VERY_SATISFIED: 1, U.SATISFIED: 1, U.AVERAGE: 1, U.TOO_SLOW: 1},  # 2 of 4
    "staff B": {},  # no ratings: satisfaction None, never 100%
    "staff C": {U.BAD_ATTITUDE: 1, U.SATISFIED: 1},
}  # fmt: skip
SATISFACTION = {
    "street": 3 / 7,
    "community K": 0.6,
    "department D": 0.4,
    "department E": 0.5,
    "window 41": 1 / 3,
    "window 42": 1.0,
    "staff A": 0.5,
    "staff B": None,
    "staff C": 0.5,
}


@pytest.mark.parametrize("name", list(RATINGS))
async def test_ratings_per_scope(
    sessions: async_sessionmaker[AsyncSession], world: World, name: str
) -> None:
    async with sessions() as session:
        found = await rating_kpis(session, WEEK, scopes(world)[name])
    assert dict(found.levels) == RATINGS[name]
    expected = SATISFACTION[name]
    if expected is None:
        assert found.total == 0 and found.satisfaction.value is None
        assert found.satisfaction.percent is None
    else:
        assert found.satisfaction.value == pytest.approx(expected)


def test_the_six_levels_map_onto_the_national_five() -> None:
    scale = load_rating_scale(DATA)
    assert [(lvl.code, lvl.name_zh) for lvl in scale.five] == [
        ("very_satisfied", "非常满意"),
        ("satisfied", "满意"),
        ("basically_satisfied", "基本满意"),
        ("dissatisfied", "不满意"),
        ("very_dissatisfied", "非常不满意"),
    ]
    names = {lvl.code: lvl.name_zh for lvl in scale.five}
    assert {str(six): names[five] for six, five in scale.six.items()} == {
        "very_satisfied": "非常满意",
        "satisfied": "满意",
        "average": "基本满意",
        "too_slow": "不满意",
        "bad_attitude": "非常不满意",
        "poor_skill": "不满意",
    }
    # The street's week: 1 / 2 / 1 / (时间长 1 + 业务差 1) / 1.
    national = RatingKpis(RATINGS["street"]).national(scale)
    assert [(n.level.name_zh, n.count) for n in national] == [
        ("非常满意", 1),
        ("满意", 2),
        ("基本满意", 1),
        ("不满意", 2),
        ("非常不满意", 1),
    ]
    assert [n.count for n in RatingKpis({}).national(scale)] == [0, 0, 0, 0, 0]


def test_a_rating_scale_that_leaves_a_level_out_is_refused(tmp_path: Any) -> None:
    text = (DATA / "rating_scale.toml").read_text(encoding="utf-8")
    (tmp_path / "rating_scale.toml").write_text(
        text.replace('poor_skill = "dissatisfied"', ""), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="poor_skill"):
        load_rating_scale(tmp_path)


# ─────────────────────────── demand ───────────────────────────


async def test_demand_ranks_items_by_supporters_within_categories(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    async with sessions() as session:
        street = await demand_ranking(session, WEEK, KpiScope.street(), DATA)
        k = await demand_ranking(session, WEEK, KpiScope.community(world.community_k), DATA)
        d = await demand_ranking(session, WEEK, KpiScope.department(world.dept_d), DATA)
    assert street is not None and k is not None
    # Street: n1 3 (r1 r2 r3) + n2 1 (r4; r1's +1 was before the week) = 4; library n3 2.
    # n4 was merged into n1 and is not ranked.
    assert [(c.code, c.supporters) for c in street] == [
        (world.category_1, 4),
        (world.category_2, 2),
    ]
    assert [(i.title, n) for i, n in street[0].items] == [("n1", 3), ("n2", 1)]
    assert street[1].name_zh == "连锁图书馆"
    # Community K: n1 3, n3 2 (n2 belongs to L).
    assert [(c.code, c.supporters) for c in k] == [(world.category_1, 3), (world.category_2, 2)]
    assert d is None  # needs belong to the street and its communities


# ─────────────────────────── supervision ───────────────────────────

R = SupervisionReason
# Street, oldest first (when each went wrong):
#   c10 late acceptance (reply due Sun 20 09:00, accepted 10:00)
#   c2  late acceptance (due Tue 22 11:00, accepted 14:00)
#   c3  late acceptance (due Wed 23 09:00, never accepted)
#   rt6 业务差 with no return visit (Thu 24 12:00)
#   c4  returned with a blank note (Thu 24 15:00)
#   c3  overdue (due Fri 25 09:00)
#   rt5 态度差 with no return visit (Fri 25 10:30); rt4 (时间长) has its return visit c8
#   c8  return visit overdue (due Sat 26 11:00)
#   c7  returned with no note (Sat 26 21:00); c3's return gave a reason: not listed
SUPERVISION = {
    "street": [(R.LATE_ACCEPTANCE, "c10"), (R.LATE_ACCEPTANCE, "c2"), (R.LATE_ACCEPTANCE, "c3"),
               (R.POOR_RATING_NO_RETURN_VISIT, "rt6"), (R.RETURNED_WITHOUT_REASON, "c4"),
               (R.OVERDUE, "c3"), (R.POOR_RATING_NO_RETURN_VISIT, "rt5"),
               (R.RETURN_VISIT_OVERDUE, "c8"), (R.RETURNED_WITHOUT_REASON, "c7")],
    # cases in K: c1 c2 c3 c6 c7, and c8 (no grid, resident r2); no poor rating by r1/r2 lacks
    # a return visit.
    "community K": [(R.LATE_ACCEPTANCE, "c2"), (R.LATE_ACCEPTANCE, "c3"), (R.OVERDUE, "c3"),
                    (R.RETURN_VISIT_OVERDUE, "c8"), (R.RETURNED_WITHOUT_REASON, "c7")],
    # lead D: c2 c3 c8; B (of D) returned c7; rt6 is a window visit to D.
    "department D": [(R.LATE_ACCEPTANCE, "c2"), (R.LATE_ACCEPTANCE, "c3"),
                     (R.POOR_RATING_NO_RETURN_VISIT, "rt6"), (R.OVERDUE, "c3"),
                     (R.RETURN_VISIT_OVERDUE, "c8"), (R.RETURNED_WITHOUT_REASON, "c7")],
    # C's cases and returns; rt5 was at window 41 (C's shift there), so not window 42's.
    "window 42": [(R.LATE_ACCEPTANCE, "c10"), (R.RETURNED_WITHOUT_REASON, "c4")],
    "staff B": [(R.LATE_ACCEPTANCE, "c3"), (R.OVERDUE, "c3"), (R.RETURNED_WITHOUT_REASON, "c7")],
    "staff C": [(R.LATE_ACCEPTANCE, "c10"), (R.RETURNED_WITHOUT_REASON, "c4"),
                (R.POOR_RATING_NO_RETURN_VISIT, "rt5")],
}  # fmt: skip


@pytest.mark.parametrize("name", list(SUPERVISION))
async def test_supervision_list_per_scope(
    sessions: async_sessionmaker[AsyncSession], world: World, name: str
) -> None:
    async with sessions() as session:
        found = await supervision_list(session, WEEK, scopes(world)[name], NOW)
    case_names = {v: k for k, v in world.cases.items()}
    rating_names = {v: k for k, v in world.ratings.items()}
    named = [
        (i.reason, case_names[i.case_id] if i.case_id else rating_names[i.rating_id or 0])
        for i in found
    ]
    assert named == SUPERVISION[name]
    refs = {i.case_ref for i in found if i.case_id}
    assert refs <= set(world.refs.values())


# ─────────────────────────── the report, CSV and the weekly digest ───────────────────────────


async def test_report_rows_and_csv_with_a_byte_order_mark(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    async with sessions() as session:
        report = await kpi_report(
            session, WEEK, KpiScope.staff(world.staff["B"]), now=NOW, data_dir=DATA
        )
    assert report.ratings.total == 0 and report.demand is None
    labels = {"no_data": "暂无数据", "cases.completed_on_time": "按期办结率"}
    rows = kpi_rows(report, label=lambda code: labels.get(code, code))
    by_metric = {row[0]: row[1:] for row in rows}
    assert by_metric["按期办结率"] == ["暂无数据", "0", "0"]  # not 100%
    assert by_metric["ratings.satisfaction"] == ["暂无数据", "0", "0"]
    assert by_metric["cases.reply_on_time"] == ["0.0000", "0", "1"]
    assert by_metric["period"][0] == "2026-09-20 – 2026-09-26"
    assert by_metric["supervision.late_acceptance"][0] == "1"
    data = report_csv(report, label=lambda code: labels.get(code, code))
    assert data.startswith(BOM)
    assert "按期办结率,暂无数据,0,0\r\n" in data[len(BOM) :].decode("utf-8")


def test_csv_is_utf8_with_a_bom_and_quotes_what_needs_quoting() -> None:
    data = to_csv([["指标", "数值"], ["满意率, 本周", 0.5], ["空", None]])
    assert data[:3] == b"\xef\xbb\xbf"
    assert data[3:].decode("utf-8") == '指标,数值\r\n"满意率, 本周",0.5\r\n空,\r\n'


async def test_the_weekly_digest_says_no_ratings_rather_than_100_percent(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    async with sessions() as session:
        empty = await week_kpi(session, at(1, 0, month=11), at(8, 0, month=11), NOW)
        full = await week_kpi(session, WEEK.start_at, WEEK.end_at, NOW)
    assert empty == {"opened": 0, "resolved": 0, "on_time": None, "overdue": 1,
                     "satisfied": None, "rated": 0}  # fmt: skip
    # The week: 6 received, 4 resolved, 3 of 4 on time, c3 overdue, 3 of 7 satisfied (43%).
    assert full == {"opened": 6, "resolved": 4, "on_time": 75, "overdue": 1, "satisfied": 43,
                    "rated": 7}  # fmt: skip
    monday, sunday = date(2026, 11, 2), date(2026, 11, 8)
    quiet = pushes.weekly_kpi(monday=monday, end=sunday, kpi=empty).render("zh-CN").text
    assert "按期办结率 暂无数据" in quiet and "满意率 暂无数据（上周没有收到评价）" in quiet
    assert "100%" not in quiet
    english = pushes.weekly_kpi(monday=monday, end=sunday, kpi=empty).render("en").text
    assert "satisfied: no data yet (no ratings last week)" in english and "100%" not in english
    busy = pushes.weekly_kpi(monday=monday, end=sunday, kpi=full).render("zh-CN").text
    assert "办结 4 件，按期办结率 75%" in busy and "收到评价 7 条，满意率 43%" in busy


def test_periods_are_whole_shanghai_days() -> None:
    assert WEEK.start_at == datetime(2026, 9, 20, tzinfo=SHANGHAI)
    assert WEEK.end_at.astimezone(SHANGHAI) == datetime(2026, 9, 27, tzinfo=SHANGHAI)
    assert Period.month(date(2026, 12, 15)) == Period(date(2026, 12, 1), date(2027, 1, 1))
    assert Period.week(date(2026, 9, 24)) == Period(date(2026, 9, 21), date(2026, 9, 28))
    with pytest.raises(ValueError, match="ends after"):
        Period(date(2026, 9, 2), date(2026, 9, 2))
    with pytest.raises(ValueError, match="scope"):
        KpiScope(KpiScope.staff(1).kind)


async def test_the_data_set_is_what_the_comments_say(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    """Guard: the rows above were stored as written (so a wrong expectation is not hidden by a
    wrong fixture)."""
    async with sessions() as session:
        starts = (await session.exec(select(Appointment.starts_at))).all()
        local = sorted(s.astimezone(SHANGHAI) for s in starts)
    assert local[0] == at(19, 23, 59) and local[-1] == at(27, 0)
    assert len(local) == 9


def test_csv_cells_never_run_as_formulas() -> None:
    # A resident's need typed as a formula must open as text in Excel or WPS.
    cells = ['=HYPERLINK("//x.cn","查看")', "+1+cmd|'/c calc'!A0", "@SUM(A1)", "-5", -5, "—", None]
    rows = list(csv.reader(io.StringIO(to_csv([cells]).decode("utf-8-sig"))))
    defused = ["'" + str(cell) for cell in cells[:3]]
    assert rows == [[*defused, "-5", "-5", "—", ""]]  # numbers, even negative, stay numbers
