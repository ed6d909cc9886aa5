"""Benchmark: issue 21's interfaces at the scale of the street, 柳城街道 (310,000 residents, two
years of cases, a year of appointments, ratings and needs): Open311, the CSV exports, a staff
member's calendar feed and a resident's 我的数据 (see, copy, delete).

    .venv/bin/python bench/open_interfaces.py                    # a new SQLite file under /tmp
    .venv/bin/python bench/open_interfaces.py \\
        --database-url postgresql+asyncpg://root@127.0.0.1:5432/linli_h5
    .venv/bin/python bench/open_interfaces.py --residents 20000 --cases 8000 --runs 5

On PostgreSQL the benchmark owns the database: its `public` schema is DROPPED and recreated at the
start (everything in it is lost), then migrated. A SQLite URL must name a file that does not
exist yet; without --database-url a new file in a temporary directory under /tmp is used and
removed.

Building the street is bench/desk_numbers.py's `build` (imported, not copied: the demo street,
seed_residents, seed_cases, a year's roster, appointments and their slots, window visits, ratings
and return visits, returned calls, need items and +1s; same defaults, same fixed clock: 10:00
Asia/Shanghai on the last 20th of a month before today; the personal-data keys are configured
first, which desk_numbers' own run does not do). Added here:

- the residents' own need submissions (`Need` rows, which Open311 publishes as `need-<n>` and
  which desk_numbers does not write): NEEDS_PER_RESIDENT of the residents over the past year,
  each joined to one of the 131 items, in the item's words;
- with --messages N (default 0: desk_numbers writes no chat traffic), N kept chat messages
  (`inboundmessage`, with their replies) and N sent messages (`outboxmessage`, typed payloads)
  of other residents over the past 180 days (the retention of both), to see what the size of
  those tables costs 我的数据 and the erasure;
- one resident with a realistic handful of records (HANDFUL): a phone and ID number (sealed),
  both consents, a web chat and a WeChat account with a few kept messages, three cases (proxy,
  complaint, consultation; with their timelines), four appointments (two completed, one
  cancelled, one to come), two needs, three +1s and three ratings.

The understanding model is trained (or found in the disk cache) in a process of its own first,
as in bench/desk_numbers.py; the measuring process is freshly spawned, loads it and builds Linli
with the fixed clock, then times, each once cold ("first") and then --runs times (fewer once a
line took more than desk_numbers' BUDGET_S, never fewer than its MIN_RUNS):

1. through the real aiohttp app (create_web_app, aiohttp's TestServer and TestClient):
   GET /open311/v2/requests.json (the default: the last 90 days, at most 1000), the same with the
   service_code of the most requested service in those 90 days and with that of the least
   requested case service, and GET /open311/v2/services.json. The Open311 list limit (60 lists
   a minute from one address, bot/web/open311/routes.py) is lifted for the run, since every
   request here comes from 127.0.0.1; nothing else of the app is changed;
2. the CSV export of last month's cases and of its appointments, `bot/cli_export.export_csv`
   (what `linli export cases|appointments --from --to` writes, without the file);
3. GET /feeds/staff/<code>.ics?key=… for the staff member whose feed holds the most
   appointments (trained for the most booked services on the roster), the address made by
   `bot/web/staff_feed.feed_url`, the function `linli staff feed CODE` prints;
4. `models.my_data.held_data` and `models.erasure.erase_resident` for the resident of the
   handful, each in a transaction that is rolled back (so it can repeat; the erasure is checked
   to have removed the name before the rollback, and the name checked back after the runs);
   我的数据 through POST /api/chat from that resident's web chat account (the chat's rate limit
   is lifted likewise), and the JSON download GET /me/data/<token>.json the export reply links to.

Every HTTP answer must be 200. The table gives runs, first, p50, p95 (nearest rank) and max in
ms, and the 1-minute load average when the line finished: the machine has two cores and other
work may run on it, so compare figures with the load beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from datetime import time as day_time
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/open_interfaces.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.desk_numbers import (
    DATA,
    Plan,
    Row,
    bench_now,
    build,
    checkout,
    local_at,
    server_version,
    step,
    timed,
    warm_process,
)
from bench.reminders import in_fresh_process, insert_returning_ids
from bot.app import build_linli
from bot.cli_export import export_csv
from bot.clock import ManualClock
from bot.config import Settings
from bot.my_data_text import EXPORT_PURPOSE
from bot.signing import expiring_token
from bot.web.app import create_web_app
from bot.web.open311.routes import LIMITS
from bot.web.ratelimit import ClientRateLimit
from bot.web.staff_feed import feed_url
from models.appointments import BookingLimits
from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus, BookingSlot, RosterShift
from models.cases import Case, CaseEvent, CaseHandler, CaseKind, CaseStatus, Rating, RatingLevel
from models.consent import ConsentPurpose, record_consent
from models.db import make_engine, make_session_factory
from models.erasure import erase_resident
from models.intents import warm_intent_model
from models.messaging import InboundMessage, OutboxMessage, OutboxStatus
from models.my_data import held_data
from models.need_ops import text_hash
from models.needs import Need, NeedItem, NeedSupport
from models.open311 import open311_services
from models.org import Department, Staff, StaffRole, StaffSkill, get_street
from models.people import ChannelIdentity, Resident, set_id_number, set_phone
from models.sealed import use_keys
from models.services import Service
from models.staff_calendar import feed_days

SECRET = "bench-open-interfaces-secret"
WEB_USER = "bench-open-interfaces-web-0001"  # the handful resident's web chat account
WECHAT_USER = "oBenchOpenInterfaces0001"
PHONE, ID_NUMBER = "13800138021", "510124199001011236"
NEEDS_PER_RESIDENT = 0.01  # need submissions over the past year, per resident
NEED_WORDS = ("", "，希望尽快解决", "，小区很多老人都有这个需求", "，建议街道统筹考虑")
BATCH = 5_000
LIFTED = "1000000/minute"  # the Open311 list and chat limits, lifted for one client's runs
RETAINED_DAYS = 180  # LINLI_INBOUND_RETENTION_DAYS: kept chat messages and sent outbox rows
REPLY = (
    "您好，您预约的社保卡办理已确认：11月21日 09:30，柳城街道便民服务中心3号窗口。"
    "请携带身份证原件及复印件、一寸照片两张。如需取消请回复“取消”。"
)
HANDFUL = "3 cases, 4 appointments, 2 needs, 3 +1s, 3 ratings, 2 chat accounts, 2 consents"


# ───────────────────────────── what desk_numbers does not build ─────────────────────────────


async def add_need_submissions(session: AsyncSession, plan: Plan, rng: random.Random) -> int:
    """Residents' own needs (Need rows) over the past year, each in its item's words."""
    items = (
        await session.exec(
            select(NeedItem.id, NeedItem.title, NeedItem.category, NeedItem.created_at).order_by(
                col(NeedItem.id)
            )
        )
    ).all()
    residents = (
        await session.exec(select(Resident.id, Resident.community_id).order_by(col(Resident.id)))
    ).all()
    if not items or not residents:
        return 0
    year_start = local_at(plan.today - timedelta(days=364), day_time(0))
    weights = [1 / (rank + 1) for rank in range(len(items))]
    rng.shuffle(weights)
    seen: set[tuple[int, str]] = set()
    rows: list[dict[str, Any]] = []
    count = round(len(residents) * NEEDS_PER_RESIDENT)
    for n in rng.choices(range(len(items)), weights=weights, k=count):
        item_id, title, category, created = items[n]
        rid, community = rng.choice(residents)
        assert rid is not None
        text = title + rng.choice(NEED_WORDS)
        digest = text_hash(text)
        if (rid, digest) in seen:
            continue
        seen.add((rid, digest))
        since = max(created, year_start)
        rows.append(
            {
                "resident_id": rid,
                "submitted_by_staff_id": None,
                "text": text,
                "text_hash": digest,
                "category": category,
                "item_id": item_id,
                "community_id": community,
                "grid_id": None,
                "compound_id": None,
                "latitude": None,
                "longitude": None,
                "attachments": [],
                "created_at": since + (plan.now - since) * rng.random(),
            }
        )
    rows.sort(key=lambda r: r["created_at"])
    connection = await session.connection()
    table = Need.__table__  # type: ignore[attr-defined]
    for start in range(0, len(rows), BATCH):
        await insert_returning_ids(connection, table, rows[start : start + BATCH])
    return len(rows)


async def add_chat_traffic(session: AsyncSession, plan: Plan, count: int) -> None:
    """count kept chat messages and count sent outbox rows over the retention period, of
    residents other than the handful's (no chat account: only the tables' size matters)."""
    rng = random.Random(180)
    top = await _first_id(session, select(func.max(Resident.id)))
    connection = await session.connection()
    inbound = InboundMessage.__table__  # type: ignore[attr-defined]
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    for start in range(0, count, BATCH):
        messages, sent = [], []
        for n in range(start, min(count, start + BATCH)):
            at = plan.now - timedelta(seconds=rng.uniform(0, RETAINED_DAYS * 86400))
            ref = f"LCY-{at.astimezone(SHANGHAI):%Y%m%d}-{rng.randrange(1, 300):04d}"
            messages.append(
                {
                    "channel": "wechat",
                    "user_ref": f"oBench{rng.randrange(top):08d}",
                    "message_id": f"bench-{n}",
                    "identity_id": None,
                    "received_at": at,
                    "replies": [{"text": REPLY, "buttons": [], "ref": ref}],
                }
            )
            sent.append(
                {
                    "identity_id": None,
                    "channel": "wechat",
                    "resident_id": rng.randrange(1, top + 1),
                    "staff_id": None,
                    "kind": "reminder",
                    "payload": {
                        "key": "reminders.appointment_day_before",
                        "values": {"ref": ref, "service": "社保卡办理", "when": "11月21日 09:30"},
                        "options": [{"label": "取消", "payload": f"cancel:{ref}"}],
                    },
                    "dedupe_key": None,
                    "status": OutboxStatus.SENT.value,
                    "attempts": 1,
                    "next_attempt_at": at,
                    "sent_at": at,
                    "created_at": at,
                }
            )
        await connection.execute(sa.insert(inbound), messages)
        await connection.execute(sa.insert(outbox), sent)


async def _first_id(session: AsyncSession, stmt: Any) -> int:
    found = (await session.exec(stmt)).first()
    assert found is not None, str(stmt)
    return int(found)


async def add_handful(session: AsyncSession, plan: Plan) -> int:
    """One resident with a realistic handful of records of every kind; their id."""
    now = plan.now
    street = await get_street(session)
    prefix = street.code if street is not None else "LC"
    count = await _first_id(session, select(func.count()).select_from(Resident))
    resident = (
        await session.exec(
            select(Resident)
            .where(col(Resident.id) >= count // 2, col(Resident.community_id).is_not(None))
            .order_by(col(Resident.id))
        )
    ).first()
    assert resident is not None
    assert resident.id is not None
    rid = resident.id
    if not resident.name:
        resident.name = "王秀英"
    set_phone(resident, PHONE)
    set_id_number(resident, ID_NUMBER)
    session.add(resident)
    for purpose in ConsentPurpose:
        record_consent(session, rid, purpose, True, now - timedelta(days=200))
    accounts = []
    for channel, external in (("web", WEB_USER), ("wechat", WECHAT_USER)):
        account = ChannelIdentity(
            channel=channel,
            external_id=external,
            resident_id=rid,
            display_name=resident.name,
            created_at=now - timedelta(days=300),
            last_seen_at=now - timedelta(days=2),
        )
        session.add(account)
        accounts.append(account)
    await session.flush()
    for n in range(6):
        account = accounts[n % 2]
        session.add(
            InboundMessage(
                channel=account.channel,
                user_ref=account.external_id,
                message_id=f"bench-handful-{n}",
                identity_id=account.id,
                received_at=now - timedelta(hours=6 * (n + 1)),
                replies=[{"text": "好的"}],
            )
        )
    department_id = await _first_id(
        session, select(Department.id).where(col(Department.window).is_not(None))
    )
    staff_id = await _first_id(
        session,
        select(Staff.id)
        .where(Staff.department_id == department_id, Staff.role == StaffRole.DEPARTMENT_STAFF)
        .order_by(col(Staff.id)),
    )
    cases = []
    for n, (kind, category, status, days) in enumerate(
        (
            (CaseKind.PROXY, "社保卡办理", CaseStatus.CLOSED, 150),
            (CaseKind.COMPLAINT, "窗口服务", CaseStatus.RESOLVED, 60),
            (CaseKind.CONSULTATION, "政策咨询", CaseStatus.ACCEPTED, 3),
        ),
        start=1,
    ):
        created = now - timedelta(days=days)
        done = status in (CaseStatus.RESOLVED, CaseStatus.CLOSED)
        case = Case(
            ref=f"{prefix}-{created.astimezone(SHANGHAI):%Y%m%d}-{9000 + n}",
            kind=kind,
            category=category,
            status=status,
            summary=f"我叫{resident.name}，电话{PHONE}，请帮忙处理{category}的事",
            details={"answers": {"phone": PHONE, "address": "南街社区3栋2单元501"}},
            resident_id=rid,
            department_id=department_id,
            assignee_staff_id=staff_id,
            due_at=created + timedelta(days=5),
            accepted_at=created + timedelta(hours=2),
            resolved_at=created + timedelta(days=2) if done else None,
            closed_at=created + timedelta(days=3) if status is CaseStatus.CLOSED else None,
            created_at=created,
            updated_at=created + timedelta(days=3) if done else created + timedelta(hours=2),
        )
        session.add(case)
        await session.flush()
        assert case.id is not None
        cases.append(case)
        session.add(CaseHandler(case_id=case.id, department_id=department_id, lead=True))
        for k, (actor, actor_id, event, note) in enumerate(
            (
                ("resident", rid, "received", None),
                ("staff", staff_id, "question", "请确认上门时间"),
                ("resident", rid, "answer", f"周六上午在家，电话{PHONE}"),
                ("staff", staff_id, "note", "已电话联系"),
            )
        ):
            session.add(
                CaseEvent(
                    case_id=case.id,
                    at=created + timedelta(hours=k),
                    actor_kind=actor,
                    actor_id=actor_id,
                    kind=event,
                    note=note,
                    data={},
                )
            )
    services = (
        await session.exec(
            select(Service).where(col(Service.active).is_(True)).order_by(col(Service.id))
        )
    ).all()
    appointments = []
    for n, (booking, days) in enumerate(
        (
            (AppointmentStatus.COMPLETED, -120),
            (AppointmentStatus.COMPLETED, -40),
            (AppointmentStatus.CANCELLED, -10),
            (AppointmentStatus.BOOKED, 6),
        ),
        start=1,
    ):
        service = services[n % len(services)]
        assert service.id is not None
        starts = local_at((now + timedelta(days=days)).astimezone(SHANGHAI).date(), day_time(10))
        taken = 0 if booking is AppointmentStatus.CANCELLED else 1
        slot = (
            await session.exec(
                select(BookingSlot).where(
                    BookingSlot.service_id == service.id, BookingSlot.starts_at == starts
                )
            )
        ).first()
        if slot is None:
            slot = BookingSlot(
                service_id=service.id,
                day=starts.astimezone(SHANGHAI).date(),
                starts_at=starts,
                ends_at=starts + timedelta(minutes=30),
                capacity=4,
                booked=taken,
            )
        else:  # a slot the street's bookings already use: one place more, taken
            slot.capacity += 1
            slot.booked += taken
        session.add(slot)
        await session.flush()
        created = min(starts, now) - timedelta(days=3)
        done = booking is AppointmentStatus.COMPLETED
        appointment = Appointment(
            ref=f"{prefix}Y-{created.astimezone(SHANGHAI):%Y%m%d}-{9000 + n}",
            resident_id=rid,
            service_id=service.id,
            slot_id=slot.id or 0,
            identity_id=accounts[0].id,
            status=booking,
            starts_at=starts,
            checked_in_at=starts if done else None,
            served_by_staff_id=staff_id if done else None,
            created_at=created,
            updated_at=starts if done else created,
        )
        session.add(appointment)
        appointments.append(appointment)
    await session.flush()
    items = (await session.exec(select(NeedItem).order_by(col(NeedItem.id)).limit(5))).all()
    for n, item in enumerate(items[:2]):
        text = f"{item.title}，我家楼下就需要"
        session.add(
            Need(
                resident_id=rid,
                text=text,
                text_hash=text_hash(text),
                category=item.category,
                item_id=item.id,
                community_id=resident.community_id,
                created_at=now - timedelta(days=30 * (n + 1)),
            )
        )
    supported = set(
        await session.exec(select(NeedSupport.item_id).where(NeedSupport.resident_id == rid))
    )
    for item in items[2:5]:
        if item.id not in supported:
            session.add(
                NeedSupport(item_id=item.id or 0, resident_id=rid, created_at=now - timedelta(1))
            )
    subjects = [
        ("appointment", appointments[0].id, RatingLevel.VERY_SATISFIED, None),
        ("appointment", appointments[1].id, RatingLevel.TOO_SLOW, f"等了很久，我电话{PHONE}"),
        ("case", cases[0].id, RatingLevel.SATISFIED, None),
    ]
    for subject_kind, subject_id, level, comment in subjects:
        session.add(
            Rating(
                subject_kind=subject_kind,
                subject_id=subject_id or 0,
                resident_id=rid,
                staff_id=staff_id,
                level=level,
                comment=comment,
                created_at=now - timedelta(days=5),
            )
        )
    return rid


def bench_settings(plan: Plan) -> Settings:
    """The settings of the run: the fixed secret (so the sealing keys are the same in every
    process) and the chat's rate limit lifted."""
    return Settings(database_url=plan.url, data_dir=DATA, secret_key=SECRET, chat_rate_limit=LIFTED)


async def build_more(plan: Plan, messages: int) -> int:
    """The need submissions and the handful resident (after desk_numbers' build); their id."""
    use_keys(bench_settings(plan).data_key_list)  # the handful's phone and ID number are sealed
    engine = make_engine(plan.url)
    sessions = make_session_factory(engine)
    try:
        with step("residents' need submissions"):
            async with sessions() as session, session.begin():
                needs = await add_need_submissions(session, plan, random.Random(21))
            print(f"    {needs:,} needs", flush=True)
        if messages:
            with step(f"{messages:,} kept chat messages and {messages:,} sent outbox rows"):
                async with sessions() as session, session.begin():
                    await add_chat_traffic(session, plan, messages)
        with step("the resident with a handful of records"):
            async with sessions() as session, session.begin():
                rid = await add_handful(session, plan)
            print(f"    resident {rid}: {HANDFUL}", flush=True)
        if engine.dialect.name == "postgresql":
            with step("ANALYZE"):
                async with engine.connect() as connection:
                    await connection.execution_options(isolation_level="AUTOCOMMIT")
                    await connection.execute(sa.text("ANALYZE"))
    finally:
        await engine.dispose()
    return rid


# ───────────────────────────── measuring ─────────────────────────────


@dataclass(frozen=True)
class Measured:
    """A row of desk_numbers' shape and the 1-minute load average when it finished."""

    row: Row
    load: float


async def chosen_staff(session: AsyncSession, plan: Plan) -> tuple[Staff, int]:
    """The active staff member on the roster in the feed's days whose trained services have the
    most appointments then (the largest feed), and that count."""
    first, last = feed_days(plan.today)
    start = datetime.combine(first, day_time(0), SHANGHAI)
    end = datetime.combine(last + timedelta(days=1), day_time(0), SHANGHAI)
    on_roster = select(RosterShift.staff_id).where(
        col(RosterShift.day) >= first, col(RosterShift.day) <= last
    )
    count = func.count(col(Appointment.id))
    stmt = (
        select(StaffSkill.staff_id, count)
        .join(Appointment, col(Appointment.service_id) == col(StaffSkill.service_id))
        .join(Staff, col(Staff.id) == col(StaffSkill.staff_id))
        .where(
            col(Staff.active).is_(True),
            col(StaffSkill.staff_id).in_(on_roster),
            col(Appointment.starts_at) >= start,
            col(Appointment.starts_at) < end,
            col(Appointment.status) != AppointmentStatus.CANCELLED,
        )
        .group_by(col(StaffSkill.staff_id))
        .order_by(count.desc(), col(StaffSkill.staff_id))
    )
    found = (await session.exec(stmt)).first()
    assert found is not None, "nobody on the roster is trained for a booked service"
    staff = await session.get(Staff, found[0])
    assert staff is not None
    return staff, int(found[1])


async def open311_codes(session: AsyncSession, plan: Plan) -> tuple[str, int, str, int]:
    """The most and the least requested case services of the last 90 days (as published)."""
    services = open311_services(DATA)
    since = plan.now - timedelta(days=90)
    stmt = (
        select(Case.kind, Case.category, func.count())
        .where(col(Case.created_at) >= since, col(Case.kind) != CaseKind.RETURN_VISIT)
        .group_by(col(Case.kind), col(Case.category))
    )
    counts: dict[str, int] = {}
    for kind, category, n in (await session.exec(stmt)).all():
        code = services.code_of(Case(ref="", kind=CaseKind(kind), category=category, summary=""))
        counts[code] = counts.get(code, 0) + int(n)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    (most, most_n), (least, least_n) = ranked[0], ranked[-1]
    return most, most_n, least, least_n


def measure_process(conn: Connection, plan: Plan, rid: int) -> None:
    """The measuring process: send back its rows and facts."""
    conn.send(asyncio.run(measure(plan, rid)))
    conn.close()


async def measure(plan: Plan, rid: int) -> tuple[list[Measured], list[str]]:
    """Time Open311, the exports, the staff feed and 我的数据."""
    facts = []
    started = time.perf_counter()
    await asyncio.to_thread(warm_intent_model(DATA).result)
    facts.append(f"understanding model loaded in {time.perf_counter() - started:.1f} s")
    settings = bench_settings(plan)
    linli = build_linli(settings, clock=ManualClock(plan.now))
    async with linli.sessions() as session:
        staff, staff_appointments = await chosen_staff(session, plan)
        most, most_n, least, least_n = await open311_codes(session, plan)
        name = (await session.get(Resident, rid)).name  # type: ignore[union-attr]
    facts.append(
        f"Open311 service codes in the last 90 days: most requested {most} ({most_n:,} cases), "
        f"least requested {least} ({least_n:,})"
    )
    facts.append(
        f"staff feed of {staff.code} ({staff.name}): {staff_appointments:,} appointments of "
        "their trained services in the feed's days, before the shift-cover check"
    )
    rows: list[Measured] = []

    async def line(name: str, call: Callable[[], Awaitable[str]]) -> None:
        rows.append(Measured(await timed(name, call, plan.runs), os.getloadavg()[0]))

    app = create_web_app(linli)
    limits = app[LIMITS]
    app[LIMITS] = replace(limits, lists=ClientRateLimit(LIFTED))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:

        async def get(path: str, what: Callable[[bytes], str]) -> str:
            response = await client.get(path, allow_redirects=False)
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")
            return f"{what(body)}, {len(body) / 1024:,.0f} KiB"

        def listed(body: bytes) -> str:
            found = json.loads(body)
            needs = sum(r["service_request_id"].startswith("need-") for r in found)
            return f"{len(found):,} requests ({needs:,} needs)"

        base = "/open311/v2"
        await line(f"GET {base}/requests.json", partial(get, f"{base}/requests.json", listed))
        await line(
            f"GET {base}/requests.json?service_code={most}",
            partial(get, f"{base}/requests.json?service_code={most}", listed),
        )
        await line(
            f"GET {base}/requests.json?service_code={least}",
            partial(get, f"{base}/requests.json?service_code={least}", listed),
        )
        await line(
            f"GET {base}/services.json",
            partial(get, f"{base}/services.json", lambda b: f"{len(json.loads(b))} services"),
        )

        month = plan.last_month
        for kind in ("cases", "appointments"):

            async def export(kind: str = kind) -> str:
                body, count = await export_csv(linli, kind, month, "zh-CN")
                return f"{count:,} rows, {len(body) / 1024:,.0f} KiB"

            await line(f"export {kind} {month.start:%Y-%m} (export_csv)", export)

        path = feed_url(settings, staff).removeprefix(settings.public_url.rstrip("/"))
        await line(
            f"GET /feeds/staff/{staff.code}.ics?key=…",
            partial(get, path, lambda b: f"{b.count(b'BEGIN:VEVENT'):,} events"),
        )

        async def see() -> str:
            async with linli.sessions() as session:
                transaction = await session.begin()
                data = await held_data(session, rid)
                await transaction.rollback()
            return ", ".join(
                f"{len(data[k])} {k}" for k in ("cases", "appointments", "needs", "ratings")
            )

        limits_of = BookingLimits(
            per_service=settings.booking_per_service,
            in_total=settings.booking_in_total,
            no_shows=settings.booking_no_show_limit,
            offer_minutes=settings.waitlist_offer_minutes,
        )

        async def erase() -> str:
            async with linli.sessions() as session:
                transaction = await session.begin()
                erasure = await erase_resident(session, rid, linli.clock.now(), limits_of)
                await session.flush()
                gone = await session.get(Resident, rid)
                assert gone is not None
                assert gone.name is None, "the erasure kept the name"
                await transaction.rollback()
            return (
                f"{erasure.accounts} accounts, {erasure.messages} messages, "
                f"{erasure.cancelled} cancelled; rolled back"
            )

        await line(f"held_data(resident {rid}) (rolled back)", see)
        await line(f"erase_resident(resident {rid}) (rolled back)", erase)
        async with linli.sessions() as session:
            kept = await session.get(Resident, rid)
            assert kept is not None
            assert kept.name == name, "the rollback did not restore the name"

        async def chat() -> str:
            response = await client.post("/api/chat", json={"user": WEB_USER, "text": "我的数据"})
            body = await response.json()
            if response.status != 200:
                raise RuntimeError(f"POST /api/chat answered {response.status}: {body}")
            text = "\n".join(r["text"] for r in body["replies"])
            assert name is None or name in text, text
            return f"{len(body['replies'])} replies, {len(text)} characters"

        await line("POST /api/chat 我的数据 (web account)", chat)
        expires = int(plan.now.timestamp()) + 3600
        token = expiring_token(settings.secret_key_value, EXPORT_PURPOSE, str(rid), expires)
        await line(
            "GET /me/data/<token>.json",
            partial(get, f"/me/data/{token}.json", lambda b: f"{len(json.loads(b))} sections"),
        )
    await linli.close()
    return rows, facts


# ───────────────────────────── the run ─────────────────────────────


def load_text() -> str:
    """The load averages now."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def print_table(rows: list[Measured]) -> None:
    """The results."""
    width = max(len(m.row.name) for m in rows)
    head = "runs  first ms    p50 ms    p95 ms    max ms  load 1m"
    print(f"\n{'what':<{width}}  {head}")
    for m in rows:
        r = m.row
        print(
            f"{r.name:<{width}}  {r.runs:>4}  {r.first:>8,.0f}  {r.p50:>8,.1f}  {r.p95:>8,.1f}"
            f"  {r.max:>8,.0f}  {m.load:>7.2f}"
        )
    print()
    for m in rows:
        print(f"{m.row.name}: {m.row.note}; peak RSS {m.row.peak_mib:,.0f} MiB")


def run(plan: Plan, messages: int) -> None:
    """Build, then measure in a fresh process, then print."""
    began = time.perf_counter()
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.platform()}; load average {load_text()} at the start",
        flush=True,
    )
    print(f"code: {checkout()}", flush=True)
    print(f"clock: {plan.now.astimezone(SHANGHAI):%Y-%m-%d %H:%M} Asia/Shanghai", flush=True)
    print(f"database: {make_url(plan.url).render_as_string(hide_password=True)}", flush=True)
    print(
        f"scale: {plan.residents:,} residents, {plan.cases:,} cases (seed_cases, two years), "
        f"{plan.appointments:,} appointments in the past year; {messages:,} kept chat messages "
        "and sent outbox rows",
        flush=True,
    )
    started = time.perf_counter()
    # seed_residents seals the phone numbers it writes: the keys measuring will use (desk_numbers'
    # build configures none of its own).
    use_keys(bench_settings(plan).data_key_list)
    asyncio.run(build(plan))
    rid = asyncio.run(build_more(plan, messages))
    print(
        f"  built in {time.perf_counter() - started:.0f} s; {asyncio.run(server_version(plan.url))}"
        f"; load average {load_text()}",
        flush=True,
    )
    seconds, _peak = in_fresh_process(warm_process)
    print(f"understanding model trained or loaded in {seconds:.0f} s", flush=True)
    print(f"measuring (a fresh process), load average {load_text()}:", flush=True)
    rows, facts = in_fresh_process(measure_process, plan, rid)
    for fact in facts:
        print(f"  {fact}")
    print_table(rows)
    print(
        f"\nload average {load_text()} at the end; {time.perf_counter() - began:.0f} s in all",
        flush=True,
    )


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
    parser.add_argument(
        "--messages",
        type=int,
        default=0,
        help="kept chat messages, and as many sent outbox rows, of other residents (180 days)",
    )
    parser.add_argument("--runs", type=int, default=20, help="timed calls of each (after one cold)")
    parser.add_argument(
        "--database-url", help="PostgreSQL (its public schema is DROPPED) or a new SQLite file"
    )
    args = parser.parse_args()

    def plan(url: str) -> Plan:
        return Plan(url, args.residents, args.cases, args.appointments, args.runs, bench_now())

    url = args.database_url
    if url is None:
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            run(plan(f"sqlite+aiosqlite:///{tmp}/open_interfaces.db"), args.messages)
        return
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and Path(parsed.database).exists():
            parser.error(f"{parsed.database} exists: give a new file")
    elif parsed.get_backend_name() != "postgresql":
        parser.error("SQLite or PostgreSQL only")
    run(plan(url), args.messages)


if __name__ == "__main__":
    main()
