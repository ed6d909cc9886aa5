"""The demo street from data/: complete, idempotent, and synthetic residents at scale."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, time, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from bot.app import Linli
from bot.clock import local_today
from models.booking import RosterShift
from models.calendar import classify_day, load_overrides
from models.case_ops import CaseCatalogue
from models.cases import CaseKind
from models.need_ops import load_categories
from models.org import Community, Compound, Department, Grid, Staff, StaffSkill, Street
from models.people import Resident
from models.seed import seed_residents, seed_street
from models.services import DayKind, FaqEntry, OpeningRule, Service
from tests.conftest import DATA


async def counts(linli: Linli) -> dict[str, int]:
    result = {}
    async with linli.sessions() as session:
        for model in (
            Community,
            Grid,
            Compound,
            Department,
            Service,
            Staff,
            StaffSkill,
            RosterShift,
            FaqEntry,
        ):
            stmt = select(sa.func.count()).select_from(model)
            result[model.__name__] = int((await session.exec(stmt)).one())
    return result


async def test_street_matches_the_design(linli: Linli) -> None:
    found = await counts(linli)
    assert found["Community"] == 19
    assert found["Department"] == 8
    assert found["Service"] == 72
    assert found["Compound"] == 188
    assert found["FaqEntry"] >= 20
    async with linli.sessions() as session:
        weekend = (await session.exec(select(Service).where(Service.weekend == True))).all()  # noqa: E712
        roles = Counter(s.role for s in (await session.exec(select(Staff))).all())
        groups = (await session.exec(select(sa.func.sum(Community.resident_groups)))).one()
    assert len(weekend) == 28
    assert set(roles) == {
        "clerk",
        "department_staff",
        "grid_leader",
        "dispatcher",
        "supervisor",
        "leader",
        "admin",
    }
    assert groups == 176


async def test_the_demo_street_is_the_seeds_street(linli: Linli) -> None:
    async with linli.sessions() as session:
        street = (await session.exec(select(Street))).one()
        communities = {c.name_zh for c in (await session.exec(select(Community))).all()}
        hours = {
            r.day_kind: (r.opens, r.closes)
            for r in (
                await session.exec(select(OpeningRule).where(col(OpeningRule.service_id).is_(None)))
            ).all()
        }
    assert (street.code, street.name_zh, street.name_en) == (
        "LC",
        "柳城街道",
        "Liucheng Sub-district",
    )
    assert "温江区" in street.address_zh and "Chengdu" in street.address_en
    assert street.phone.startswith("028-0000-")  # a placeholder nobody can reach
    assert {"南街社区", "永宁路社区"} <= communities
    assert hours[DayKind.WORKDAY] == (time(8, 0), time(18, 0))
    assert hours[DayKind.HOLIDAY] == (time(9, 0), time(12, 0))
    catalogue = CaseCatalogue.load(DATA)
    assert len(catalogue.categories[CaseKind.PROXY]) == 22
    assert len(load_categories(DATA)) == 18
    numbers = re.findall(
        r"0\d{2,3}-\d{4}-?\d{4}",
        "".join(p.read_text(encoding="utf-8") for p in DATA.glob("*.toml")),
    )
    assert numbers and all(n.startswith("028-0000-") for n in numbers), numbers


async def test_roster_covers_four_weeks_and_every_weekend_service(linli: Linli) -> None:
    today = local_today(linli.clock)
    async with linli.sessions() as session:
        overrides = await load_overrides(session)
        shifts = (await session.exec(select(RosterShift))).all()
        skills = (await session.exec(select(StaffSkill))).all()
        weekend = set((await session.exec(select(Service.id).where(Service.weekend == True))).all())  # noqa: E712
    trained = defaultdict(set)
    for skill in skills:
        trained[skill.staff_id].add(skill.service_id)
    on_duty = defaultdict(set)
    for shift in shifts:
        on_duty[shift.day].add(shift.staff_id)
    days = [today + timedelta(days=n) for n in range(28)]
    assert set(on_duty) == set(days)
    for day in days:
        if classify_day(day, overrides).kind is DayKind.HOLIDAY:
            covered = set().union(*(trained[s] for s in on_duty[day]))
            assert weekend <= covered, day


async def test_seeding_again_changes_nothing(linli: Linli) -> None:
    before = await counts(linli)
    async with linli.sessions() as session:
        created = {s.code: s.created_at for s in (await session.exec(select(Staff))).all()}
    linli.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    async with linli.sessions() as session, session.begin():
        report = await seed_street(session, DATA, local_today(linli.clock), linli.clock.now())
    assert report.counts["roster_shifts_added"] > 0  # three more days at the end of four weeks
    after = await counts(linli)
    assert {k: v for k, v in after.items() if k != "RosterShift"} == {
        k: v for k, v in before.items() if k != "RosterShift"
    }
    async with linli.sessions() as session:
        again = {s.code: s.created_at for s in (await session.exec(select(Staff))).all()}
    assert again == created


async def test_seeding_a_later_day_extends_the_roster(linli: Linli) -> None:
    before = await counts(linli)
    later = local_today(linli.clock) + timedelta(days=7)
    async with linli.sessions() as session, session.begin():
        report = await seed_street(session, DATA, later, linli.clock.now())
    assert report.counts["roster_shifts_added"] > 0
    assert (await counts(linli))["RosterShift"] == before["RosterShift"] + report.counts[
        "roster_shifts_added"
    ]
    async with linli.sessions() as session:
        last = (await session.exec(select(sa.func.max(RosterShift.day)))).one()
    assert last == later + timedelta(days=27)


async def test_synthetic_residents_live_in_real_compounds(linli: Linli) -> None:
    async with linli.sessions() as session, session.begin():
        await seed_residents(session, 2_500, DATA, linli.clock.now())
    async with linli.sessions() as session:
        residents = (await session.exec(select(Resident))).all()
        compounds = {c.id: c for c in (await session.exec(select(Compound))).all()}
    assert len(residents) == 2_500
    for resident in residents[:200]:
        compound = compounds[resident.compound_id]
        assert resident.community_id == compound.community_id
        assert resident.grid_id == compound.grid_id
        assert resident.synthetic
        assert resident.phone
        assert len(resident.phone) == 11
    assert date(2026, 1, 1) < residents[0].created_at.date()
