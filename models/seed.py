"""Load the street's editable data (data/*.toml) idempotently, and make synthetic residents."""

from __future__ import annotations

import random
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import RosterShift
from models.calendar import classify_day, load_overrides
from models.org import (
    Community,
    Compound,
    Department,
    Grid,
    Staff,
    StaffRole,
    StaffSkill,
    Street,
    list_grids,
)
from models.people import Resident
from models.sealed import lookup_hash
from models.services import DayKind, FaqEntry, HolidayOverride, OpeningRule, Service

ROSTER_DAYS = 28
Row = TypeVar("Row", bound=SQLModel)


@dataclass
class SeedReport:
    """How many rows each kind of data has after seeding."""

    counts: dict[str, int] = field(default_factory=dict)


def read_toml(data_dir: Path, name: str) -> dict[str, Any]:
    """One data file, parsed."""
    with (data_dir / name).open("rb") as handle:
        return tomllib.load(handle)


async def _upsert(
    session: AsyncSession,
    model: type[Row],
    key: str,
    rows: Iterable[dict[str, Any]],
    insert_only: tuple[str, ...] = (),
) -> dict[Any, Row]:
    """Insert or update rows matched on a natural key; returns every row by that key.

    Columns named in insert_only (e.g. created_at) keep their first value on later seeds.
    """
    existing = {getattr(row, key): row for row in (await session.exec(select(model))).all()}
    for values in rows:
        row = existing.get(values[key])
        if row is None:
            row = model(**values)
            existing[values[key]] = row
        else:
            for name, value in values.items():
                if name not in insert_only:
                    setattr(row, name, value)
        session.add(row)
    await session.flush()
    return existing


def _hhmm(text: str) -> time:
    return time.fromisoformat(text)


async def seed_street(
    session: AsyncSession, data_dir: Path, today: date, now: datetime
) -> SeedReport:
    """Load street, communities, departments, services, hours, staff, roster and FAQ."""
    street_data = read_toml(data_dir, "street.toml")
    streets = await _upsert(session, Street, "code", [street_data["street"]])
    street = streets[street_data["street"]["code"]]
    departments = await _upsert(session, Department, "code", street_data["departments"])
    communities = await _seed_communities(
        session, street, street_data["communities"], street_data["naming"]
    )
    services = await _seed_services(session, data_dir, departments)
    await _seed_opening(session, data_dir)
    staff = await _seed_staff(session, data_dir, departments, communities, services, now)
    shifts = await _seed_roster(session, data_dir, staff, today)
    faq = await _seed_faq(session, data_dir, departments)
    return SeedReport(
        {
            "communities": len(communities),
            "departments": len(departments),
            "services": len(services),
            "staff": len(staff),
            "roster_shifts_added": shifts,
            "faq": faq,
        }
    )


async def _seed_communities(
    session: AsyncSession,
    street: Street,
    entries: list[dict[str, Any]],
    naming: dict[str, str],
) -> dict[str, Community]:
    rows = [
        {
            "street_id": street.id,
            "code": e["code"],
            "name_zh": e["name_zh"],
            "name_en": e["name_en"],
            "address_zh": e.get("address_zh", ""),
            "resident_groups": e.get("groups", 0),
        }
        for e in entries
    ]
    communities = await _upsert(session, Community, "code", rows)
    for entry in entries:
        community = communities[entry["code"]]
        grids = await _seed_grids(session, community, int(entry.get("grids", 1)), naming)
        await _seed_compounds(session, community, grids, int(entry.get("compounds", 0)), naming)
    return communities


async def _seed_grids(
    session: AsyncSession, community: Community, count: int, naming: dict[str, str]
) -> list[Grid]:
    stmt = select(Grid).where(Grid.community_id == community.id)
    existing = {g.number: g for g in (await session.exec(stmt)).all()}
    for number in range(1, count + 1):
        if number not in existing:
            existing[number] = Grid(
                community_id=community.id or 0,
                number=number,
                name_zh=naming["grid_zh"].format(community=community.name_zh, number=number),
                name_en=naming["grid_en"].format(community=community.name_en, number=number),
            )
            session.add(existing[number])
    await session.flush()
    return [existing[n] for n in sorted(existing)]


async def _seed_compounds(
    session: AsyncSession,
    community: Community,
    grids: list[Grid],
    count: int,
    naming: dict[str, str],
) -> None:
    stmt = select(Compound.number).where(Compound.community_id == community.id)
    existing = set((await session.exec(stmt)).all())
    for number in range(1, count + 1):
        if number not in existing:
            grid = grids[(number - 1) % len(grids)] if grids else None
            session.add(
                Compound(
                    community_id=community.id or 0,
                    grid_id=grid.id if grid else None,
                    number=number,
                    name_zh=naming["compound_zh"].format(
                        community=community.name_zh.removesuffix(
                            naming.get("community_suffix", "")
                        ),
                        number=number,
                    ),
                )
            )
    await session.flush()


async def _seed_services(
    session: AsyncSession, data_dir: Path, departments: dict[str, Department]
) -> dict[str, Service]:
    entries = read_toml(data_dir, "services.toml")["services"]
    rows = []
    for e in entries:
        values = {k: v for k, v in e.items() if k != "department"}
        values["department_id"] = departments[e["department"]].id
        rows.append(values)
    return await _upsert(session, Service, "code", rows)


async def _seed_opening(session: AsyncSession, data_dir: Path) -> None:
    opening = read_toml(data_dir, "opening.toml")
    rules = (await session.exec(select(OpeningRule).where(OpeningRule.service_id == None))).all()  # noqa: E711
    by_kind = {rule.day_kind: rule for rule in rules}
    for kind in DayKind:
        spec = opening[kind.value if kind is DayKind.HOLIDAY else "weekday"]
        rule = by_kind.get(kind) or OpeningRule(day_kind=kind, opens=time(0), closes=time(0))
        rule.opens, rule.closes = _hhmm(spec["start"]), _hhmm(spec["end"])
        rule.slot_minutes = int(opening.get("slot_minutes", 30))
        session.add(rule)
    await _seed_service_hours(session, opening.get("service_hours", []))
    overrides = [
        {
            "day": date.fromisoformat(str(o["date"])),
            "day_kind": o["kind"],
            "name_zh": o.get("name_zh", ""),
            "name_en": o.get("name_en", ""),
        }
        for o in opening.get("overrides", [])
    ]
    await _upsert(session, HolidayOverride, "day", overrides)


async def _seed_service_hours(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """A service's own hours for a kind of day (e.g. vaccinations only in the morning)."""
    for entry in entries:
        service = (
            await session.exec(select(Service).where(Service.code == entry["service"]))
        ).one()
        kind = DayKind.HOLIDAY if entry["kind"] == "holiday" else DayKind.WORKDAY
        stmt = select(OpeningRule).where(
            OpeningRule.day_kind == kind, OpeningRule.service_id == service.id
        )
        rule = (await session.exec(stmt)).first() or OpeningRule(
            day_kind=kind, service_id=service.id, opens=time(0), closes=time(0)
        )
        rule.opens, rule.closes = _hhmm(entry["start"]), _hhmm(entry["end"])
        rule.slot_minutes = int(entry.get("slot_minutes", 30))
        session.add(rule)


async def _seed_staff(
    session: AsyncSession,
    data_dir: Path,
    departments: dict[str, Department],
    communities: dict[str, Community],
    services: dict[str, Service],
    now: datetime,
) -> dict[str, Staff]:
    entries = read_toml(data_dir, "staff.toml")["staff"]
    rows = []
    for e in entries:
        community = communities.get(e.get("community", ""))
        grid_id = None
        if community is not None and "grid" in e:
            grids = await list_grids(session, community.id or 0)
            grid_id = next((g.id for g in grids if g.number == int(e["grid"])), None)
        dept = departments.get(e.get("department", ""))
        rows.append(
            {
                "code": e["code"],
                "name": e["name"],
                "role": StaffRole(e["role"]).value,
                "department_id": dept.id if dept else None,
                "community_id": community.id if community else None,
                "grid_id": grid_id,
                "window": e.get("window"),
                "created_at": now,
            }
        )
    staff = await _upsert(session, Staff, "code", rows, insert_only=("created_at",))
    await (await session.connection()).execute(sa.delete(StaffSkill))
    for e in entries:
        for code in e.get("skills", []):
            session.add(
                StaffSkill(staff_id=staff[e["code"]].id or 0, service_id=services[code].id or 0)
            )
    await session.flush()
    return staff


def _local_instant(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, SHANGHAI).astimezone(UTC)


async def _seed_roster(
    session: AsyncSession, data_dir: Path, staff: dict[str, Staff], today: date
) -> int:
    roster = read_toml(data_dir, "roster.toml")
    overrides = await load_overrides(session)
    teams = [team["staff"] for team in roster["holiday"].get("teams", [])]
    shifts: list[dict[str, Any]] = []
    for offset in range(ROSTER_DAYS):
        day = today + timedelta(days=offset)
        if classify_day(day, overrides).kind is DayKind.WORKDAY:
            spec, codes = roster["weekday"], roster["weekday"]["staff"]
        elif teams:
            spec, codes = roster["holiday"], teams[day.toordinal() % len(teams)]
        else:
            continue
        for code in codes:
            person = staff[code]
            shifts.append(
                {
                    "staff_id": person.id,
                    "day": day,
                    "starts_at": _local_instant(day, _hhmm(spec["start"])),
                    "ends_at": _local_instant(day, _hhmm(spec["end"])),
                    "window": person.window,
                }
            )
    return await _insert_missing(session, RosterShift, shifts, ["staff_id", "starts_at"])


async def _insert_missing(
    session: AsyncSession, model: type[SQLModel], rows: list[dict[str, Any]], keys: list[str]
) -> int:
    """INSERT … ON CONFLICT DO NOTHING; returns how many rows were new."""
    if not rows:
        return 0
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = model.__table__  # type: ignore[attr-defined]
    stmt = module.insert(table).on_conflict_do_nothing(index_elements=keys)
    # RETURNING counts the new rows on every backend (asyncpg reports no executemany rowcount).
    result = await (await session.connection()).execute(stmt.returning(table.c.id), rows)
    return len(result.all())


FAQ_STORED = frozenset({"question_zh", "answer_zh", "question_en", "answer_en", "keywords"})


async def _seed_faq(
    session: AsyncSession, data_dir: Path, departments: dict[str, Department]
) -> int:
    entries = read_toml(data_dir, "faq.toml")["faq"]
    rows = []
    for e in entries:
        # Only the texts and keywords are stored; the other phrasings live in the data file.
        values = {k: v for k, v in e.items() if k in FAQ_STORED}
        dept = departments.get(e.get("department", ""))
        values["department_id"] = dept.id if dept else None
        rows.append(values)
    return len(await _upsert(session, FaqEntry, "question_zh", rows))


async def seed_residents(
    session: AsyncSession, count: int, data_dir: Path, now: datetime, *, seed: int = 7
) -> int:
    """Add count synthetic residents spread over the compounds (for scale tests)."""
    names = read_toml(data_dir, "synthetic.toml")
    surnames, given = names["surnames"], names["given"]
    compounds = (
        await session.exec(select(Compound.id, Compound.community_id, Compound.grid_id))
    ).all()
    if not compounds:
        raise ValueError("seed the street first: there are no compounds to put residents in")
    rng = random.Random(seed)
    table = Resident.__table__  # type: ignore[attr-defined]
    batch = 20_000
    for start in range(0, count, batch):
        rows = []
        for _ in range(min(batch, count - start)):
            compound_id, community_id, grid_id = compounds[rng.randrange(len(compounds))]
            phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
            rows.append(
                {
                    "name": rng.choice(surnames) + "".join(rng.choices(given, k=rng.randint(1, 2))),
                    "phone": phone,  # sealed by the column type
                    "phone_lookup": lookup_hash(phone),
                    "community_id": community_id,
                    "grid_id": grid_id,
                    "compound_id": compound_id,
                    "elderly": rng.random() < 0.2,
                    "disabled": rng.random() < 0.03,
                    "notices_opt_out": False,
                    "synthetic": True,
                    "created_at": now,
                }
            )
        await (await session.connection()).execute(sa.insert(table), rows)
    return count
