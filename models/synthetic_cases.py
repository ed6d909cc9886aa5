"""Synthetic cases at scale (for benchmarks and scale tests): two years of history spread over
the residents already in the database, written with Core bulk inserts.

Every case gets its lead CaseHandler row (and co-handler rows for grid reports that have them)
and one "received" event, so `进度`, a typed case number and `我的案件` work on it as on a real
one. References follow the street's format (`LC-YYYYMMDD-NNNN`) on days strictly before today,
continue after any number already handed out for such a day, and the ReferenceCounter rows are
moved past the last one written, so `next_reference` never repeats one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.calendar import add_working_days, classify_day, load_overrides
from models.cases import Case, CaseEvent, CaseHandler, CaseKind, CaseStatus
from models.messaging import ReferenceCounter
from models.org import Department, Staff, StaffRole, get_street
from models.people import Resident
from models.services import DayKind, HolidayOverride

CHUNK = 5_000
HISTORY_DAYS = 730
FREQUENT_SHARE = 0.1  # a tenth of the residents (the elderly, mostly) …
FREQUENT_CASES = 0.3  # … ask for three cases in ten
OPEN_STATUSES = (CaseStatus.ASSIGNED, CaseStatus.ACCEPTED, CaseStatus.WAITING_RESIDENT)
OPEN_WEIGHTS = (0.40, 0.52, 0.08)
DONE_STATUSES = (
    CaseStatus.CLOSED,
    CaseStatus.RESOLVED,
    CaseStatus.READY_FOR_PICKUP,
    CaseStatus.CANCELLED,
)
DONE_WEIGHTS = (0.80, 0.10, 0.03, 0.07)
HANDLING_ROLES = (StaffRole.CLERK, StaffRole.DEPARTMENT_STAFF)


@dataclass(frozen=True)
class _Kind:
    kind: CaseKind
    weight: float
    deadline_days: int
    first_reply_days: int
    summaries: tuple[str, ...]


@dataclass(frozen=True)
class _Category:
    kind: CaseKind
    code: str
    name_zh: str
    department: str
    co: tuple[str, ...] = ()


KINDS = (
    _Kind(CaseKind.PROXY, 0.48, 5, 1, ("请帮忙代办", "老人行动不便，请上门代办", "材料已备齐")),
    _Kind(CaseKind.GRID_REPORT, 0.32, 3, 1, ("巡查发现", "居民反映，网格员核实", "需协调处理")),
    _Kind(CaseKind.CONSULTATION, 0.10, 3, 1, ("咨询办理条件", "咨询所需材料")),
    _Kind(CaseKind.COMPLAINT, 0.07, 5, 1, ("反映办事等待时间长", "反映噪音扰民")),
    _Kind(CaseKind.DISPUTE, 0.03, 10, 2, ("邻里之间有矛盾，请求调解",)),
)
CATEGORIES = (
    _Category(CaseKind.PROXY, "ss-card", "社保卡办理", "social_security"),
    _Category(CaseKind.PROXY, "ss-medical-reimburse", "医疗费用报销", "social_security"),
    _Category(CaseKind.PROXY, "ca-elderly-allowance", "高龄补贴申领", "civil_affairs"),
    _Category(CaseKind.PROXY, "ca-disability-card", "残疾证办理", "civil_affairs"),
    _Category(CaseKind.PROXY, "ca-home-care", "居家养老服务申请", "civil_affairs"),
    _Category(CaseKind.PROXY, "hl-family-doctor", "家庭医生签约", "health"),
    _Category(CaseKind.PROXY, "fl-residence-permit", "居住证办理", "floating"),
    _Category(CaseKind.PROXY, "fpl-birth-register", "生育登记", "family_planning"),
    _Category(CaseKind.PROXY, "jd-legal-aid", "法律援助申请", "judicial"),
    _Category(CaseKind.PROXY, "ed-school-enrol", "入学材料代办", "education"),
    _Category(CaseKind.PROXY, "mw-hardship", "困难职工帮扶申请", "masswork"),
    _Category(CaseKind.GRID_REPORT, "sanitation", "环境卫生", "health", ("masswork",)),
    _Category(CaseKind.GRID_REPORT, "safety", "安全隐患", "masswork", ("floating",)),
    _Category(CaseKind.GRID_REPORT, "neighbour-dispute", "邻里纠纷", "judicial", ("masswork",)),
    _Category(CaseKind.GRID_REPORT, "facilities", "公共设施损坏（路灯、井盖等）", "masswork"),
    _Category(CaseKind.GRID_REPORT, "elderly-care", "独居老人关怀", "civil_affairs", ("health",)),
    _Category(CaseKind.CONSULTATION, "consultation", "咨询", "masswork"),
    _Category(CaseKind.COMPLAINT, "complaint", "投诉", "masswork"),
    _Category(CaseKind.DISPUTE, "dispute", "纠纷调解", "judicial"),
)
KIND_WEIGHTS = tuple(k.weight for k in KINDS)
BY_KIND = {k.kind: tuple(c for c in CATEGORIES if c.kind is k.kind) for k in KINDS}


@dataclass
class _Street:
    """What the generator needs from the database, read once."""

    prefix: str
    residents: list[tuple[int, int | None]]  # id, grid id
    frequent: list[tuple[int, int | None]]
    departments: dict[str, tuple[int, str]]  # code: id, name
    handlers: dict[int, list[int]]  # department id: staff who take cases
    leaders: list[tuple[int, int | None]]  # grid leader: staff id, grid id
    overrides: dict[date, HolidayOverride]
    counters: dict[str, int] = field(default_factory=dict)  # day key: last number handed out


@dataclass
class _Pending:
    """A case row waiting for its id, with what its handler and event rows need."""

    row: dict[str, Any]
    lead: int
    co: list[int]
    actor: tuple[str, int | None]
    department: str


async def seed_cases(session: AsyncSession, count: int, now: datetime, *, seed: int = 7) -> int:
    """Add count synthetic cases over the past two years, spread over existing residents."""
    if count <= 0:
        return 0
    rng = random.Random(seed)
    today = now.astimezone(SHANGHAI).date()
    days = [today - timedelta(days=back) for back in range(HISTORY_DAYS, 0, -1)]
    street = await _load(session, rng, days)
    connection = await session.connection()
    buffer: list[_Pending] = []
    for day, planned in zip(days, _day_counts(rng, count, days, street.overrides), strict=True):
        buffer += _cases_of_day(rng, street, day, planned, today, now)
        if len(buffer) >= CHUNK:
            await _insert(connection, buffer)
            buffer = []
    if buffer:
        await _insert(connection, buffer)
    await _advance_counters(connection, street)
    return count


async def _load(session: AsyncSession, rng: random.Random, days: list[date]) -> _Street:
    residents = [
        (int(rid), grid_id)
        for rid, grid_id in (
            await session.exec(select(Resident.id, Resident.grid_id).order_by(col(Resident.id)))
        ).all()
        if rid is not None
    ]
    if not residents:
        raise ValueError("add residents first: synthetic cases belong to existing residents")
    departments = {
        code: (int(did or 0), name)
        for did, code, name in (
            await session.exec(select(Department.id, Department.code, Department.name_zh))
        ).all()
    }
    missing = {c.department for c in CATEGORIES} - set(departments)
    if missing:
        raise ValueError(f"seed the street first: no department {sorted(missing)}")
    staff = (
        await session.exec(
            select(Staff.id, Staff.role, Staff.department_id, Staff.grid_id)
            .where(col(Staff.active).is_(True))
            .order_by(col(Staff.id))
        )
    ).all()
    handlers: dict[int, list[int]] = {}
    for sid, role, department_id, _grid in staff:
        if role in HANDLING_ROLES and department_id is not None and sid is not None:
            handlers.setdefault(department_id, []).append(sid)
    leaders = [
        (sid, grid) for sid, role, _d, grid in staff if role == StaffRole.GRID_LEADER and sid
    ]
    street_row = await get_street(session)
    prefix = street_row.code if street_row is not None else "LC"
    keys = [d.strftime("%Y%m%d") for d in days]
    stmt = select(ReferenceCounter.day, ReferenceCounter.last).where(
        ReferenceCounter.prefix == prefix,
        col(ReferenceCounter.day) >= keys[0],
        col(ReferenceCounter.day) <= keys[-1],
    )
    counters = {key: int(last) for key, last in (await session.exec(stmt)).all()}
    frequent = rng.sample(residents, max(1, int(len(residents) * FREQUENT_SHARE)))
    return _Street(
        prefix,
        residents,
        frequent,
        departments,
        handlers,
        leaders,
        await load_overrides(session),
        counters,
    )


def _day_counts(
    rng: random.Random, count: int, days: list[date], overrides: dict[date, HolidayOverride]
) -> list[int]:
    """How many cases each day gets: fewer on weekends and holidays, slowly growing use."""
    weights = [
        (1.0 if classify_day(d, overrides).kind is DayKind.WORKDAY else 0.3)
        * (0.8 + 0.4 * n / len(days))
        for n, d in enumerate(days)
    ]
    total = sum(weights)
    counts = [int(count * w / total) for w in weights]
    for n in rng.sample(range(len(days)), count - sum(counts)):
        counts[n] += 1
    return counts


def _open_chance(age_days: int) -> float:
    """Recent cases are mostly still open; a few old ones got stuck (about 5% overall)."""
    if age_days <= 10:
        return 0.75
    if age_days <= 60:
        return 0.75 - (0.75 - 0.01) * (age_days - 10) / 50
    return 0.01


def _cases_of_day(
    rng: random.Random, street: _Street, day: date, planned: int, today: date, now: datetime
) -> list[_Pending]:
    key = day.strftime("%Y%m%d")
    seq = street.counters.get(key, 0)
    noon = datetime.combine(day, time(12), SHANGHAI)
    targets = {
        k.deadline_days: add_working_days(noon, k.deadline_days, street.overrides).date()
        for k in KINDS
    } | {
        k.first_reply_days: add_working_days(noon, k.first_reply_days, street.overrides).date()
        for k in KINDS
    }
    seconds = sorted(
        rng.randint(8 * 3600, 18 * 3600) if rng.random() < 0.9 else rng.randrange(86_400)
        for _ in range(planned)
    )
    chance = _open_chance((today - day).days)
    pending = []
    for second in seconds:
        seq += 1
        local = datetime.combine(day, time(second // 3600, second // 60 % 60, second % 60))
        created = local.replace(tzinfo=SHANGHAI).astimezone(UTC)
        pending.append(
            _case(rng, street, f"{street.prefix}-{key}-{seq:04d}", created, targets, chance, now)
        )
    if planned:
        street.counters[key] = seq
    return pending


def _at(target: date, created: datetime) -> datetime:
    """The same local time of day as created, on the target day."""
    local = created.astimezone(SHANGHAI)
    return datetime.combine(target, local.timetz()).astimezone(UTC)


def _case(
    rng: random.Random,
    street: _Street,
    ref: str,
    created: datetime,
    targets: dict[int, date],
    open_chance: float,
    now: datetime,
) -> _Pending:
    spec = rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
    category = rng.choice(BY_KIND[spec.kind])
    lead_id, lead_name = street.departments[category.department]
    resident_id: int | None = None
    reporter: int | None = None
    if spec.kind is CaseKind.GRID_REPORT and street.leaders:
        reporter, grid_id = rng.choice(street.leaders)
        actor: tuple[str, int | None] = ("staff", reporter)
    else:
        pool = street.frequent if rng.random() < FREQUENT_CASES else street.residents
        resident_id, grid_id = rng.choice(pool)
        actor = ("resident", resident_id)
    is_open = rng.random() < open_chance
    status = rng.choices(
        OPEN_STATUSES if is_open else DONE_STATUSES,
        weights=OPEN_WEIGHTS if is_open else DONE_WEIGHTS,
    )[0]
    staff = street.handlers.get(lead_id, [])
    if status is not CaseStatus.ASSIGNED and status is not CaseStatus.CANCELLED and not staff:
        status = CaseStatus.ASSIGNED if is_open else CaseStatus.CANCELLED
    due = _at(targets[spec.deadline_days], created)
    first_due = _at(targets[spec.first_reply_days], created)
    times = _times(rng, status, created, first_due, due, now)
    handled = status not in (CaseStatus.ASSIGNED, CaseStatus.CANCELLED)
    row: dict[str, Any] = {
        "ref": ref,
        "kind": spec.kind.value,
        "category": category.name_zh,
        "status": status.value,
        "summary": f"{category.name_zh}：{rng.choice(spec.summaries)}",
        "details": {"category_code": category.code, "synthetic": True},
        "resident_id": resident_id,
        "reporter_staff_id": reporter,
        "department_id": lead_id,
        "assignee_staff_id": rng.choice(staff) if handled else None,
        "grid_id": grid_id,
        "latitude": None,
        "longitude": None,
        "attachments": [],
        "first_reply_due_at": first_due,
        "due_at": due,
        "created_at": created,
        **times,
    }
    co = [street.departments[code][0] for code in category.co]
    return _Pending(row, lead_id, co, actor, lead_name)


def _times(
    rng: random.Random,
    status: CaseStatus,
    created: datetime,
    first_due: datetime,
    due: datetime,
    now: datetime,
) -> dict[str, datetime | None]:
    """When it was accepted, resolved, closed and escalated, never later than now."""
    accepted = resolved = closed = escalated = None
    if status not in (CaseStatus.ASSIGNED, CaseStatus.CANCELLED):
        accepted = min(created + (first_due - created) * rng.uniform(0.05, 1.1), now)
    if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        worked = (due - created) * rng.uniform(0.2, 1.3)
        resolved = min(max(created + worked, (accepted or created) + timedelta(minutes=30)), now)
    if status is CaseStatus.CLOSED and resolved is not None:
        closed = min(resolved + timedelta(hours=rng.uniform(1, 72)), now)
    if (resolved or now) > due and (resolved is not None or status in OPEN_STATUSES):
        escalated = min(due + timedelta(minutes=15), now)  # the SLA sweep saw it overdue
    moments = [m for m in (created, accepted, resolved, closed, escalated) if m is not None]
    return {
        "accepted_at": accepted,
        "first_replied_at": accepted,
        "resolved_at": resolved,
        "closed_at": closed,
        "escalated_at": escalated,
        "updated_at": max(moments),
    }


async def _insert(connection: AsyncConnection, pending: Sequence[_Pending]) -> None:
    """One chunk: the cases (ids come back by reference), then their handlers and events."""
    cases = Case.__table__  # type: ignore[attr-defined]
    stmt = sa.insert(cases).returning(cases.c.id, cases.c.ref)
    result = await connection.execute(stmt, [p.row for p in pending])
    ids = {ref: case_id for case_id, ref in result.all()}
    handler_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    for item in pending:
        case_id, row = ids[item.row["ref"]], item.row
        done = row["resolved_at"]
        handler_rows.append(
            {"case_id": case_id, "department_id": item.lead, "lead": True, "done_at": done}
        )
        handler_rows += [
            {"case_id": case_id, "department_id": co, "lead": False, "done_at": done}
            for co in item.co
        ]
        event_rows.append(
            {
                "case_id": case_id,
                "at": row["created_at"],
                "actor_kind": item.actor[0],
                "actor_id": item.actor[1],
                "kind": "received",
                "note": None,
                "data": {"department": item.department},
            }
        )
    await connection.execute(sa.insert(CaseHandler.__table__), handler_rows)  # type: ignore[attr-defined]
    await connection.execute(sa.insert(CaseEvent.__table__), event_rows)  # type: ignore[attr-defined]


async def _advance_counters(connection: AsyncConnection, street: _Street) -> None:
    """Move each day's counter past the last number written (never back)."""
    table = ReferenceCounter.__table__  # type: ignore[attr-defined]
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    rows = [{"prefix": street.prefix, "day": k, "last": n} for k, n in street.counters.items()]
    stmt = module.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["prefix", "day"],
        set_={
            "last": sa.case(
                (table.c.last > stmt.excluded.last, table.c.last), else_=stmt.excluded.last
            )
        },
    )
    for start in range(0, len(rows), CHUNK):
        await connection.execute(stmt, rows[start : start + CHUNK])
