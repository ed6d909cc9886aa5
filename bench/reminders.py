"""Benchmark: 100,000 appointment reminders due at once, swept and handed to a fake channel.

    .venv/bin/python -m bench.reminders                  # SQLite delivery and scheduler memory
    .venv/bin/python -m bench.reminders --postgres       # also PostgreSQL with two workers
    .venv/bin/python -m bench.reminders --reminders 20000 --postgres-url postgresql+asyncpg://…

Each resident has one chat account on the channel "fake" (no rate limit), one booked appointment
and its hour-before reminder. The data is written with bulk Core inserts before any clock starts,
and the SQLite scenarios run in freshly spawned processes, so their memory figures are their own.
The delivery table shows the sweep's own time, how many reminders had been delivered when it
returned ("by then"), the total time and messages a second, and the outbox afterwards (every row
sent with one attempt means none was sent twice). About two minutes on two cores.

1. SQLite, one process: the production sweep (`send_due_reminders`) and one delivery worker
   (`OutboxWorker.run`) share one event loop, as in `linli worker`. Timed from the start of the
   sweep until the fake channel has accepted every reminder. Target: ≤ 60 s for 100,000.
2. PostgreSQL, with --postgres only: it DROPS AND RECREATES every table in that database (by
   default the test suite's `test` database, which the tests' conftest also wipes). The sweep
   runs here, two worker processes deliver, each with its own engine and fake channel. Timed
   until every outbox row is `sent` (polled in the database); checks that the workers' sets of
   outbox rows are disjoint, add up to every reminder, and match the rows' `claimed_by`.
3. Scheduler memory: the production scheduler (`Ticker.start`, then every job ticked a few more
   times) over 1,000 and 100,000 appointments whose reminders are due tomorrow, and the due sweep
   of scenario 1 at both sizes. RSS (VmRSS, and the peak VmHWM) right after building the system
   and after the work, in MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

from bot.app import build_linli
from bot.clock import SystemClock
from bot.config import Settings
from bot.outbound import Recipient, SendResult, SendStatus
from models.base import SHANGHAI
from models.booking import Appointment, BookingSlot
from models.db import make_engine, make_session_factory
from models.messaging import JobRun, OutboxMessage, OutboxStatus, Reminder
from models.migrate import upgrade
from models.people import ChannelIdentity, Resident
from models.reminders import APPOINTMENT, HOUR_BEFORE, ReminderRules
from models.seed import seed_street
from models.services import Service
from scheduler.appointments import send_due_reminders
from scheduler.context import JobContext
from scheduler.runner import JOBS

DATA = Path(__file__).resolve().parents[1] / "data"
PG_URL = "postgresql+asyncpg://root@127.0.0.1/test"
CHUNK = 5_000  # rows per bulk INSERT
SLOT_CAPACITY = 100  # appointments per booking slot (every slot full)
SLOT_STEP = timedelta(milliseconds=600)  # 1,000 slots span ten minutes
DUE_LEAD = timedelta(minutes=40)  # first appointment: hour-before reminder 20 minutes overdue
NOT_DUE_LEAD = timedelta(days=1)  # reminders due tomorrow

_RESIDENT = Resident.__table__  # type: ignore[attr-defined]
_IDENTITY = ChannelIdentity.__table__  # type: ignore[attr-defined]
_SLOT = BookingSlot.__table__  # type: ignore[attr-defined]
_APPOINTMENT = Appointment.__table__  # type: ignore[attr-defined]
_REMINDER = Reminder.__table__  # type: ignore[attr-defined]
_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_SERVICE = Service.__table__  # type: ignore[attr-defined]
_JOBRUN = JobRun.__table__  # type: ignore[attr-defined]


# The fake channel.


@dataclass
class CountingChannel:
    """A Sender for channel "fake" with no rate limit that counts what it accepts, instead of
    keeping every message as RecordingChannel does (100,000 of those would be the bench's own
    memory, not the system's); with keep_ids it also keeps the accounts it sent to."""

    expected: int = 0
    keep_ids: bool = False
    accepted: int = 0
    recipients: set[str] = field(default_factory=set)
    all_accepted: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def channel(self) -> str:
        """The channel name this sender serves."""
        return "fake"

    async def send(
        self, recipient: Recipient, payload: dict[str, Any], parts_done: int
    ) -> SendResult:
        """Accept the message (reading its first reply's text, as a real channel would)."""
        if not str(payload["replies"][0]["text"]):
            return SendResult(SendStatus.FAILED, "empty text")
        self.accepted += 1
        if self.keep_ids:
            self.recipients.add(recipient.external_id)
        if self.expected and self.accepted >= self.expected:
            self.all_accepted.set()
        return SendResult(SendStatus.SENT, "ok", 1)


# Data.


def bench_settings(url: str) -> Settings:
    """Demo settings on this database."""
    return Settings(database_url=url, data_dir=DATA, secret_key="bench")


async def reset_postgres(engine: AsyncEngine) -> None:
    """Drop every Linli table (and Alembic's) so the migration starts from nothing."""
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.drop_all)
        await connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


async def insert_returning_ids(
    connection: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]
) -> list[int]:
    """Bulk-insert rows and return their new ids in the rows' order."""
    stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(row_id) for row_id in (await connection.execute(stmt, rows)).scalars()]


async def insert_slots(
    connection: AsyncConnection, service_id: int, count: int, first: datetime
) -> list[int]:
    """Full booking slots for count appointments, SLOT_STEP apart from first on."""
    rows = []
    for k in range(math.ceil(count / SLOT_CAPACITY)):
        starts_at = first + k * SLOT_STEP
        rows.append(
            {
                "service_id": service_id,
                "day": starts_at.astimezone(SHANGHAI).date(),
                "starts_at": starts_at,
                "ends_at": starts_at + timedelta(minutes=15),
                "capacity": SLOT_CAPACITY,
                "booked": min(SLOT_CAPACITY, count - k * SLOT_CAPACITY),
            }
        )
    return await insert_returning_ids(connection, _SLOT, rows)


async def insert_bookings(
    connection: AsyncConnection,
    numbers: range,
    slot_ids: Sequence[int],
    service_id: int,
    first: datetime,
    now: datetime,
) -> None:
    """Residents numbered numbers, each with a chat account, an appointment and a reminder."""
    resident_ids = await insert_returning_ids(
        connection, _RESIDENT, [{"created_at": now} for _ in numbers]
    )
    identities = [
        {
            "channel": "fake",
            "external_id": f"r{n}",
            "resident_id": resident_id,
            "lang": "zh-CN",
            "active": True,
            "unreachable": False,
            "created_at": now,
            "last_seen_at": now,
        }
        for n, resident_id in zip(numbers, resident_ids, strict=True)
    ]
    await connection.execute(sa.insert(_IDENTITY), identities)
    starts = [first + (n // SLOT_CAPACITY) * SLOT_STEP for n in numbers]
    appointments = [
        {
            "ref": f"BENCH{n:07d}",
            "resident_id": resident_id,
            "service_id": service_id,
            "slot_id": slot_ids[n // SLOT_CAPACITY],
            "status": "booked",
            "starts_at": starts_at,
            "created_at": now,
            "updated_at": now,
        }
        for n, resident_id, starts_at in zip(numbers, resident_ids, starts, strict=True)
    ]
    appointment_ids = await insert_returning_ids(connection, _APPOINTMENT, appointments)
    rules = ReminderRules()  # the sweep recomputes due_at with these rules: they must agree
    reminders = [
        {
            "subject_kind": APPOINTMENT,
            "subject_id": appointment_id,
            "kind": HOUR_BEFORE,
            "due_at": rules.due_at(HOUR_BEFORE, starts_at),
            "done": False,
        }
        for appointment_id, starts_at in zip(appointment_ids, starts, strict=True)
    ]
    await connection.execute(sa.insert(_REMINDER), reminders)


async def seed(url: str, count: int, *, due: bool) -> float:
    """A fresh schema, the street, and count booked appointments; returns the seconds taken."""
    started = time.perf_counter()
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        await reset_postgres(engine)
    await upgrade(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    async with make_session_factory(engine)() as session, session.begin():
        await seed_street(session, DATA, now.astimezone(SHANGHAI).date(), now)
    first = now + (DUE_LEAD if due else NOT_DUE_LEAD)
    async with engine.begin() as connection:
        service_id = (await connection.execute(sa.select(sa.func.min(_SERVICE.c.id)))).scalar()
        if service_id is None:
            raise RuntimeError("the street seed made no services")
        slot_ids = await insert_slots(connection, service_id, count, first)
        for start in range(0, count, CHUNK):
            numbers = range(start, min(count, start + CHUNK))
            await insert_bookings(connection, numbers, slot_ids, service_id, first, now)
    await engine.dispose()
    return time.perf_counter() - started


async def outbox_summary(engine: AsyncEngine) -> dict[str, tuple[int, int]]:
    """Outbox rows by status: (rows, attempts summed)."""
    stmt = sa.select(
        _OUTBOX.c.status, sa.func.count(), sa.func.coalesce(sa.func.sum(_OUTBOX.c.attempts), 0)
    ).group_by(_OUTBOX.c.status)
    async with engine.connect() as connection:
        rows = (await connection.execute(stmt)).all()
    return {str(status): (int(rows_), int(attempts)) for status, rows_, attempts in rows}


# Memory.


def memory() -> tuple[float, float]:
    """This process's resident set now and at its peak (VmRSS, VmHWM), in MiB."""
    values: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


@dataclass(frozen=True)
class Footprint:
    """RSS of one measured process."""

    label: str
    appointments: int
    built: float
    after: float
    peak: float
    note: str = ""

    def line(self) -> str:
        """One table row."""
        return (
            f"{self.label:<30} {self.appointments:>9,} {self.built:>9.1f} {self.after:>9.1f} "
            f"{self.after - self.built:>+8.1f} {self.peak:>9.1f}  {self.note}"
        )


# Scenario 1: SQLite, sweep and one worker in one event loop.


@dataclass(frozen=True)
class Delivery:
    """What one sweep-and-deliver run measured."""

    backend: str
    reminders: int
    queued: int
    accepted: int
    sweep_seconds: float
    total_seconds: float
    outbox: dict[str, tuple[int, int]]
    during_sweep: int = 0  # delivered by the time the sweep returned
    footprint: Footprint | None = None
    workers: dict[str, int] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One table row."""
        sent = self.outbox.get(OutboxStatus.SENT.value, (0, 0))[0]
        rate = self.accepted / self.total_seconds if self.total_seconds else 0.0
        return (
            f"{self.backend:<30} {self.reminders:>9,} {self.queued:>9,} {self.accepted:>9,} "
            f"{sent:>9,} {self.sweep_seconds:>8.1f} {self.during_sweep:>9,} "
            f"{self.total_seconds:>8.1f} {rate:>9,.0f}"
        )


async def sweep_and_deliver(url: str, count: int, limit: float) -> Delivery:
    """The sweep and one delivery worker on one loop, timed until every reminder is accepted."""
    settings = bench_settings(url)
    linli = build_linli(settings, clock=SystemClock())
    channel = CountingChannel(expected=count)
    linli.worker.senders["fake"] = channel
    ctx = JobContext(linli.engine, linli.sessions, linli.clock, settings)
    built, _ = memory()
    started = time.perf_counter()
    worker = asyncio.create_task(linli.worker.run())
    queued = await send_due_reminders(ctx)
    sweep_seconds, during_sweep = time.perf_counter() - started, channel.accepted
    linli.worker.wake()  # what the Ticker's on_effects does once the tick returns
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(channel.all_accepted.wait(), limit)
    total_seconds = time.perf_counter() - started
    await linli.worker.stop_and_wait(worker)
    after, peak = memory()
    outbox = await outbox_summary(linli.engine)
    await linli.close()
    footprint = Footprint("sweep + deliver, due", count, built, after, peak, "SQLite")
    return Delivery(
        backend="SQLite, one process",
        reminders=count,
        queued=queued,
        accepted=channel.accepted,
        sweep_seconds=sweep_seconds,
        total_seconds=total_seconds,
        outbox=outbox,
        during_sweep=during_sweep,
        footprint=footprint,
    )


def deliver_child(conn: Connection, url: str, count: int, limit: float) -> None:
    """Entry point of the spawned process for scenario 1."""
    conn.send(asyncio.run(sweep_and_deliver(url, count, limit)))


# Scenario 2: PostgreSQL, the sweep here and two worker processes.


@dataclass(frozen=True)
class WorkerReport:
    """What one worker process sent."""

    name: str
    accepted: int
    recipients: list[str]


async def postgres_worker(conn: Connection, url: str) -> WorkerReport:
    """Deliver until told to stop; report what this process's fake channel accepted."""
    linli = build_linli(bench_settings(url), clock=SystemClock())
    channel = CountingChannel(keep_ids=True)
    linli.worker.senders["fake"] = channel
    if not await linli.database_ok():
        raise RuntimeError(f"cannot reach {url}")
    task = asyncio.create_task(linli.worker.run())
    conn.send(linli.worker.name)
    await asyncio.to_thread(conn.recv)
    await linli.worker.stop_and_wait(task)
    await linli.close()
    return WorkerReport(linli.worker.name, channel.accepted, sorted(channel.recipients))


def postgres_worker_child(conn: Connection, url: str) -> None:
    """Entry point of a spawned worker process for scenario 2."""
    conn.send(asyncio.run(postgres_worker(conn, url)))


async def count_sent(engine: AsyncEngine) -> int:
    """Outbox rows already sent."""
    stmt = sa.select(sa.func.count()).where(_OUTBOX.c.status == OutboxStatus.SENT.value)
    async with engine.connect() as connection:
        return int((await connection.execute(stmt)).scalar_one())


async def check_workers(engine: AsyncEngine, reports: list[WorkerReport], count: int) -> list[str]:
    """Compare what each worker's channel accepted with the outbox rows it claimed."""
    stmt = sa.select(_OUTBOX.c.id, _OUTBOX.c.claimed_by, _IDENTITY.c.external_id).select_from(
        _OUTBOX.join(_IDENTITY, _IDENTITY.c.resident_id == _OUTBOX.c.resident_id)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(stmt)).all()
    row_of = {external_id: row_id for row_id, _, external_id in rows}
    sets = {
        report.name: {row_of[external_id] for external_id in report.recipients}
        for report in reports
    }
    union = set().union(*sets.values())
    overlap = sum(len(ids) for ids in sets.values()) - len(union)
    checks = [
        f"one outbox row per account: {len(row_of) == len(rows) == count}",
        f"accepted per worker add up to {count:,}: "
        f"{sum(r.accepted for r in reports) == count == len(union)}",
        f"sets of outbox ids disjoint: {overlap == 0} ({overlap} in common)",
    ]
    for name, ids in sets.items():
        claimed = {row_id for row_id, claimed_by, _ in rows if claimed_by == name}
        checks.append(f"{name}: sent set equals rows claimed_by it: {ids == claimed}")
    return checks


async def postgres_delivery(url: str, count: int, limit: float) -> Delivery:
    """Two worker processes and the sweep here, timed until every row is sent."""
    context = multiprocessing.get_context("spawn")
    workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    for _ in range(2):
        here, there = context.Pipe()
        process = context.Process(target=postgres_worker_child, args=(there, url))
        process.start()
        there.close()
        workers.append((process, here))
    names = [str(await asyncio.to_thread(here.recv)) for _, here in workers]
    settings = bench_settings(url)
    linli = build_linli(settings, clock=SystemClock())
    ctx = JobContext(linli.engine, linli.sessions, linli.clock, settings)
    sweep_seconds, during_sweep = 0.0, 0
    started = time.perf_counter()

    async def sweep() -> int:
        nonlocal sweep_seconds, during_sweep
        queued = await send_due_reminders(ctx)
        sweep_seconds = time.perf_counter() - started
        during_sweep = await count_sent(linli.engine)
        return queued

    sweeping = asyncio.create_task(sweep())
    deadline = started + limit
    while time.perf_counter() < deadline:  # polled, as an operator would watch the table
        if await count_sent(linli.engine) >= count:
            break
        await asyncio.sleep(0.1)
    total_seconds = time.perf_counter() - started
    queued = await sweeping
    for _, here in workers:
        here.send("stop")
    reports: list[WorkerReport] = [await asyncio.to_thread(here.recv) for _, here in workers]
    for worker, _ in workers:
        await asyncio.to_thread(worker.join, 30)
    outbox = await outbox_summary(linli.engine)
    checks = await check_workers(linli.engine, reports, count)
    await linli.close()
    by_name = {report.name: report.accepted for report in reports}
    return Delivery(
        backend="PostgreSQL, sweep + 2 workers",
        reminders=count,
        queued=queued,
        accepted=sum(by_name.values()),
        sweep_seconds=sweep_seconds,
        total_seconds=total_seconds,
        outbox=outbox,
        during_sweep=during_sweep,
        workers={name: by_name.get(name, 0) for name in names},
        checks=checks,
    )


# Scenario 3: the scheduler's memory with reminders not yet due.


async def scheduler_memory(url: str, count: int, rounds: int) -> Footprint:
    """Start the production scheduler, let every job run, tick each rounds more times."""
    settings = bench_settings(url)
    linli = build_linli(settings, clock=SystemClock())
    ticker = linli.ticker
    assert ticker is not None
    built, _ = memory()
    ticker.start()
    names = {job.name for job in JOBS}
    finished = sa.select(_JOBRUN.c.name).where(_JOBRUN.c.last_finished_at.is_not(None))
    for _ in range(600):
        async with linli.engine.connect() as connection:
            if names <= set((await connection.execute(finished)).scalars()):
                break
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError("the scheduler did not run every job within a minute")
    effects = 0
    for _ in range(rounds):
        for job in JOBS:
            effects += await ticker.tick(job) or 0
    scheduled = len(ticker.scheduler.get_jobs()) if ticker.scheduler else 0
    after, peak = memory()
    ticker.shutdown()
    await linli.close()
    note = f"{scheduled} APScheduler jobs, {rounds} extra rounds, {effects} effects"
    return Footprint("scheduler, not due", count, built, after, peak, note)


def scheduler_child(conn: Connection, url: str, count: int, rounds: int) -> None:
    """Entry point of the spawned process for scenario 3."""
    conn.send(asyncio.run(scheduler_memory(url, count, rounds)))


# Running.


def in_fresh_process(target: Callable[..., None], *args: Any) -> Any:
    """Run target(conn, *args) in a spawned process and return what it sends back."""
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    process = context.Process(target=target, args=(there, *args))
    process.start()
    there.close()
    try:
        return here.recv()
    finally:
        process.join(60)


def sqlite_url(tmp: str, name: str) -> str:
    """A new SQLite file in the temporary directory."""
    return f"sqlite+aiosqlite:///{tmp}/{name}.db"


def print_report(
    deliveries: list[Delivery], footprints: list[Footprint], seeding: list[str]
) -> None:
    """The tables and the checks."""
    worker_batch = bench_settings("sqlite+aiosqlite://").outbox_batch
    print(
        f"cores: {os.cpu_count()}; sweep batch {JobContext.batch}, worker batch {worker_batch}, "
        "fake channel without rate limit"
    )
    for line in seeding:
        print(line)
    print()
    print(
        f"{'delivery':<30} {'due':>9} {'queued':>9} {'accepted':>9} {'sent':>9} "
        f"{'sweep s':>8} {'by then':>9} {'total s':>8} {'msg/s':>9}"
    )
    for delivery in deliveries:
        print(delivery.line())
    for delivery in deliveries:
        outbox = ", ".join(
            f"{status} {rows:,} (attempts {attempts:,})"
            for status, (rows, attempts) in sorted(delivery.outbox.items())
        )
        print(f"  {delivery.backend}: outbox {outbox}")
        for name, sent in delivery.workers.items():
            print(f"  {name}: {sent:,} accepted")
        for check in delivery.checks:
            print(f"  check: {check}")
    print()
    print(f"{'memory (MiB)':<30} {'appts':>9} {'built':>9} {'after':>9} {'growth':>8} {'peak':>9}")
    for footprint in footprints:
        print(footprint.line())


def run(args: argparse.Namespace) -> None:
    """Seed each database here, measure in fresh processes, print the tables."""
    deliveries: list[Delivery] = []
    footprints: list[Footprint] = []
    seeding: list[str] = []
    sizes = sorted({args.small, args.reminders})
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            url = sqlite_url(tmp, f"due-{size}")
            seconds = asyncio.run(seed(url, size, due=True))
            seeding.append(f"seeded {size:,} due reminders on SQLite in {seconds:.1f} s")
            delivery: Delivery = in_fresh_process(deliver_child, url, size, args.timeout)
            if size == args.reminders:
                deliveries.append(delivery)
            if delivery.footprint is not None:
                footprints.append(delivery.footprint)
        for size in sizes:
            url = sqlite_url(tmp, f"later-{size}")
            seconds = asyncio.run(seed(url, size, due=False))
            seeding.append(f"seeded {size:,} reminders due tomorrow on SQLite in {seconds:.1f} s")
            footprints.append(in_fresh_process(scheduler_child, url, size, args.rounds))
    if args.postgres:
        seconds = asyncio.run(seed(args.postgres_url, args.reminders, due=True))
        seeding.append(f"seeded {args.reminders:,} due reminders on PostgreSQL in {seconds:.1f} s")
        deliveries.append(
            asyncio.run(postgres_delivery(args.postgres_url, args.reminders, args.timeout))
        )
    print_report(deliveries, footprints, seeding)


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reminders", type=int, default=100_000, help="due at once")
    parser.add_argument("--small", type=int, default=1_000, help="the smaller memory scenario")
    parser.add_argument(
        "--postgres", action="store_true", help="also PostgreSQL (drops and recreates its tables)"
    )
    parser.add_argument("--postgres-url", default=PG_URL)
    parser.add_argument("--rounds", type=int, default=3, help="extra ticks of every job")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (seconds)")
    args = parser.parse_args()
    if args.reminders < 1 or args.small < 1:
        parser.error("--reminders and --small must be at least 1")
    run(args)


if __name__ == "__main__":
    main()
