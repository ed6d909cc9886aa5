"""Benchmark: a street-wide notice to 310,000 residents — fan-out, paced delivery and a restart.

    .venv/bin/python -m bench.broadcast                        # SQLite in a temporary directory
    .venv/bin/python -m bench.broadcast --database-url postgresql+asyncpg://root@127.0.0.1/test
    .venv/bin/python -m bench.broadcast --residents 20000 --rate 50 --seconds 10

The demo street (data/) is seeded, then the residents with bulk Core inserts, spread over its
compounds and grids: about 85% with one chat account (WeChat mostly, some Telegram), 5% with two
(one on each), 10% with none; 1% of accounts are unreachable (blocked the bot), 3% of residents
opted out of notices. On PostgreSQL everything lives in a schema of its own (bench_broadcast_PID),
dropped at the end, so the tables of the tests sharing that database are left alone; it is
ANALYZEd after seeding, as autovacuum would have done on a live database. Seeding is not timed.

The measurements run in a freshly spawned process, so its memory figures are its own:

1. Fan-out: `release_notice` for Audience(street=True) in one transaction (as the notices tick
   does), each statement timed, and the commit; the rows created are checked against the seed.
   Targets: ≤ 20 s on SQLite, ≤ 10 s on PostgreSQL. Also times `notice_report`, which the
   notices tick runs every 5 s on each notice still sending.
2. Pacing: an `OutboxWorker` (production send rates, notice_rate=--rate) with fake senders that
   accept at once and log the time, for --seconds. Meanwhile conversation replies are queued
   (--replies a second, waking the worker as the pipeline does); their latency is from commit to
   acceptance. Rate per 5-second window, drift = (achieved − configured) / configured.
3. Restart: the worker is stopped mid-send (`stop_and_wait`, --grace), a second worker with
   another name goes on for --resume seconds; no account may have received the notice twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.reminders import DATA, in_fresh_process, insert_returning_ids, memory
from bot.app import SEND_RATES
from bot.clock import SystemClock
from bot.config import Settings
from bot.outbound import Recipient, SendResult, SendStatus
from bot.outbox import STOP_GRACE, OutboxWorker, WorkerPolicy
from models.base import SHANGHAI
from models.db import make_engine, make_session_factory
from models.messaging import OutboxMessage, OutboxStatus, queue_message
from models.migrate import upgrade
from models.notice_audience import Audience
from models.notice_ops import count_audience, notice_report, release_notice
from models.notices import Notice, NoticeDelivery, NoticeStatus
from models.org import Compound, Staff
from models.people import ChannelIdentity, Resident
from models.seed import seed_street
from scheduler.context import JobContext
from scheduler.notices import release_step

PG_URL = "postgresql+asyncpg://root@127.0.0.1/test"
CHUNK = 10_000  # residents per bulk INSERT
NO_ACCOUNT, TWO_ACCOUNTS = 0.10, 0.05  # shares of residents; the rest have one account
TELEGRAM_SHARE = 0.1  # of single accounts
UNREACHABLE, OPT_OUT = 0.01, 0.03  # of accounts, of residents
WINDOW = 5.0  # seconds per pacing window
TEXT = (
    "【停水通知】因管网检修，本周六上午8点至下午4点全街道停水，请提前储水。如有困难请联系网格员。"
)

_RESIDENT = Resident.__table__  # type: ignore[attr-defined]
_IDENTITY = ChannelIdentity.__table__  # type: ignore[attr-defined]
_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_DELIVERY = NoticeDelivery.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Plan:
    """What to run, handed to the measuring process."""

    url: str
    schema: str | None
    residents: int
    rate: float
    seconds: float
    resume: float
    replies: float
    grace: float
    claim_timeout: float
    stepped: bool = False


@dataclass(frozen=True)
class Population:
    """What was seeded, and what the fan-out should create from it."""

    residents: int
    accounts: int
    opted_out: int
    expected_outbox: int  # usable accounts of residents who did not opt out
    expected_unreachable: int  # residents who did not opt out and have no usable account
    seconds: float


# The database.


def bench_engine(url: str, schema: str | None) -> AsyncEngine:
    """The production engine, confined to the bench's own schema on PostgreSQL."""
    engine = make_engine(url)
    if schema is not None:

        @event.listens_for(engine.sync_engine, "connect")
        def _search_path(dbapi_connection: Any, _record: Any) -> None:
            # On the raw connection, outside any transaction a rollback could undo.
            dbapi_connection.run_async(lambda raw: raw.execute(f'SET search_path TO "{schema}"'))

    return engine


async def create_schema(url: str, schema: str) -> None:
    """A new, empty schema for the bench's tables."""
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    await engine.dispose()


async def drop_schema(url: str, schema: str) -> None:
    """Remove the bench's schema and everything in it."""
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


async def seed(url: str, schema: str | None, residents: int) -> Population:
    """Migrate, seed the street, then the residents and their chat accounts."""
    started = time.perf_counter()
    engine = bench_engine(url, schema)
    await upgrade(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    async with make_session_factory(engine)() as session, session.begin():
        await seed_street(session, DATA, now.astimezone(SHANGHAI).date(), now)
    rng = random.Random(310)
    accounts = opted_out = expected_outbox = expected_unreachable = 0
    async with engine.begin() as connection:
        compounds = (
            await connection.execute(
                sa.select(Compound.id, Compound.community_id, Compound.grid_id)  # type: ignore[call-overload]
            )
        ).all()
        for start in range(0, residents, CHUNK):
            rows, opts = [], []
            for _ in range(start, min(residents, start + CHUNK)):
                compound_id, community_id, grid_id = compounds[rng.randrange(len(compounds))]
                opts.append(rng.random() < OPT_OUT)
                rows.append(
                    {
                        "community_id": community_id,
                        "grid_id": grid_id,
                        "compound_id": compound_id,
                        "elderly": rng.random() < 0.2,
                        "disabled": rng.random() < 0.03,
                        "notices_opt_out": opts[-1],
                        "synthetic": True,
                        "created_at": now,
                    }
                )
            ids = await insert_returning_ids(connection, _RESIDENT, rows)
            identities: list[dict[str, Any]] = []
            for resident_id, opted in zip(ids, opts, strict=True):
                share = rng.random()
                if share < NO_ACCOUNT:
                    channels: tuple[str, ...] = ()
                elif share < NO_ACCOUNT + TWO_ACCOUNTS:
                    channels = ("wechat", "telegram")
                else:
                    channels = ("telegram" if rng.random() < TELEGRAM_SHARE else "wechat",)
                usable = 0
                for channel in channels:
                    unreachable = rng.random() < UNREACHABLE
                    usable += not unreachable
                    seen = now - timedelta(minutes=rng.randrange(60 * 24 * 90))
                    identities.append(
                        {
                            "channel": channel,
                            "external_id": f"{channel[:2]}{resident_id}",
                            "resident_id": resident_id,
                            "lang": "en" if rng.random() < 0.05 else "zh-CN",
                            "active": True,
                            "unreachable": unreachable,
                            "created_at": seen,
                            "last_seen_at": seen,
                        }
                    )
                accounts += len(channels)
                opted_out += opted
                if not opted:
                    expected_outbox += usable
                    expected_unreachable += usable == 0
            await connection.execute(sa.insert(_IDENTITY), identities)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execute(sa.text("COMMIT"))  # ANALYZE outside a transaction block
            await connection.execute(sa.text("ANALYZE"))
    await engine.dispose()
    return Population(
        residents,
        accounts,
        opted_out,
        expected_outbox,
        expected_unreachable,
        time.perf_counter() - started,
    )


# The fake channels.


@dataclass(frozen=True)
class Accepted:
    """One message a fake channel accepted."""

    at: float  # perf_counter
    channel: str
    external_id: str
    reply: int | None  # the reply's sequence number; None for a notice delivery


@dataclass
class Tally:
    """Notice deliveries the fake channels accepted; halfway is set midway through a batch."""

    batch: int = 1
    notices: int = 0
    halfway: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self) -> None:
        """One more notice delivery accepted."""
        self.notices += 1
        if self.notices % self.batch == self.batch // 2:
            self.halfway.set()


@dataclass
class FakeChannel:
    """A Sender that accepts at once (no network) and logs what it accepted, and when."""

    name: str
    log: list[Accepted]
    tally: Tally

    @property
    def channel(self) -> str:
        """The channel name this sender serves."""
        return self.name

    async def send(
        self, recipient: Recipient, payload: dict[str, Any], parts_done: int
    ) -> SendResult:
        """Accept the message (reading its first reply's text, as a real channel would)."""
        if not str(payload["replies"][0]["text"]):
            return SendResult(SendStatus.FAILED, "empty text")
        seq = payload.get("bench_seq")
        if seq is None:
            self.tally.count()
        self.log.append(Accepted(time.perf_counter(), self.name, recipient.external_id, seq))
        return SendResult(SendStatus.SENT, "ok", 1)


# Measuring.


@dataclass
class Report:
    """Everything the measuring process found."""

    backend: str
    statements: list[tuple[str, float]] = field(default_factory=list)
    preview_seconds: float = 0.0
    release_seconds: float = 0.0
    commit_seconds: float = 0.0
    steps: list[float] = field(default_factory=list)
    outbox_rows: int = 0
    delivery_rows: int = 0
    notice_counts: dict[str, int] = field(default_factory=dict)
    rss_before: float = 0.0
    rss_after: float = 0.0
    rss_peak: float = 0.0
    report_seconds: float = 0.0
    windows: list[int] = field(default_factory=list)
    paced: int = 0
    reply_latencies: list[float] = field(default_factory=list)
    replies_queued: int = 0
    stop_seconds: float = 0.0
    stopped_at: tuple[int, int] = (0, 0)
    left_claimed: int = 0
    resumed: int = 0
    accepted: int = 0
    duplicates: int = 0
    outbox_after: dict[str, int] = field(default_factory=dict)
    sent_by: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    payload_bytes: dict[str, float] = field(default_factory=dict)
    delivery_rss_peak: float = 0.0


@contextlib.contextmanager
def statement_timer(engine: AsyncEngine) -> Iterator[list[tuple[str, float]]]:
    """Time each SQL statement run on the engine while the block runs."""
    timings: list[tuple[str, float]] = []
    started: list[float] = []

    def before(*_: Any) -> None:
        started.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        timings.append((" ".join(statement.split()[:3]), time.perf_counter() - started.pop()))

    target = engine.sync_engine
    event.listen(target, "before_cursor_execute", before)
    event.listen(target, "after_cursor_execute", after)
    try:
        yield timings
    finally:
        event.remove(target, "before_cursor_execute", before)
        event.remove(target, "after_cursor_execute", after)


async def fan_out(engine: AsyncEngine, report: Report, stepped: bool = False) -> int:
    """Write and release a street-wide notice, timed; returns its id. Stepped: released by the
    notices tick's path, 20,000 residents a transaction, each step timed."""
    sessions = make_session_factory(engine)
    clock = SystemClock()
    audience = Audience(street=True)
    async with sessions() as session:
        # A supervisor: the stepped release checks the author may reach the whole street.
        boss = sa.select(sa.func.min(Staff.id)).where(Staff.role == "supervisor")  # type: ignore[arg-type]
        author = (await session.exec(boss)).one()[0]  # type: ignore[call-overload]
        started = time.perf_counter()
        await count_audience(session, audience, urgent=False)
        report.preview_seconds = time.perf_counter() - started
    report.rss_before, _ = memory()
    async with sessions() as session:
        with statement_timer(engine) as timings:
            async with session.begin():
                now = clock.now()
                notice = Notice(
                    author_staff_id=author,
                    text=TEXT,
                    audience=audience.as_data(),
                    status=NoticeStatus.SCHEDULED,
                    send_at=now,
                    created_at=now,
                )
                session.add(notice)
                await session.flush()
                started = time.perf_counter()
                if not stepped:
                    await release_notice(await session.connection(), notice, now)
                committing = time.perf_counter()
                report.release_seconds = committing - started
            report.commit_seconds = time.perf_counter() - committing
            if stepped:
                report.steps = await release_in_steps(engine, int(notice.id or 0))
                report.release_seconds = sum(report.steps)
        report.statements = [t for t in timings if not t[0].startswith("BEGIN")]
    report.rss_after, report.rss_peak = memory()
    async with sessions() as session:
        stored = await session.get(Notice, notice.id)
        assert stored is not None
        report.notice_counts = {
            "audience": stored.audience_size,
            "opted out": stored.opted_out,
            "accounts": stored.accounts,
            "unreachable": stored.unreachable,
        }
        started = time.perf_counter()
        await notice_report(session, stored)
        report.report_seconds = time.perf_counter() - started
    report.outbox_rows = await count_rows(engine, _OUTBOX.c.notice_id == notice.id)
    report.delivery_rows = await count_rows(engine, _DELIVERY.c.notice_id == notice.id)
    return int(notice.id or 0)


async def release_in_steps(engine: AsyncEngine, notice_id: int) -> list[float]:
    """Release the notice as the notices tick does, one timed transaction per step."""
    ctx = JobContext(engine, make_session_factory(engine), SystemClock(), Settings())
    steps: list[float] = []
    while True:
        started = time.perf_counter()
        if await release_step(ctx, notice_id) is None:
            return steps
        steps.append(time.perf_counter() - started)


async def count_rows(engine: AsyncEngine, *where: sa.ColumnElement[bool]) -> int:
    """Rows of the table the conditions are on that meet them all."""
    async with engine.connect() as connection:
        return int(
            (await connection.execute(sa.select(sa.func.count()).where(*where))).scalar_one()
        )


async def trickle(
    engine: AsyncEngine,
    worker: OutboxWorker,
    every: float,
    queued: dict[int, float],
    stop: asyncio.Event,
) -> None:
    """Queue a conversation reply every `every` seconds to a random account until stop."""
    async with engine.connect() as connection:
        targets = (
            await connection.execute(
                sa.select(_IDENTITY.c.id, _IDENTITY.c.channel)
                .where(_IDENTITY.c.unreachable.is_(False))
                .limit(2_000)
            )
        ).all()
    rng, clock = random.Random(5), SystemClock()
    while not stop.is_set():
        identity_id, channel = targets[rng.randrange(len(targets))]
        seq = len(queued)
        payload: dict[str, Any] = {
            "replies": [{"text": "您的预约已确认。", "buttons": [], "link": None}]
        }
        async with engine.begin() as connection:
            await queue_message(
                connection,
                kind="reply",
                payload=payload | {"bench_seq": seq},
                now=clock.now(),
                identity_id=identity_id,
                channel=channel,
            )
        queued[seq] = time.perf_counter()
        worker.wake()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every * rng.uniform(0.5, 1.5))


async def deliver(engine: AsyncEngine, plan: Plan, notice_id: int, report: Report) -> None:
    """Paced delivery with replies trickling in, a stop mid-send and a second worker."""
    sessions = make_session_factory(engine)
    log: list[Accepted] = []
    tally = Tally()
    senders = {name: FakeChannel(name, log, tally) for name in ("wechat", "telegram")}
    policy = WorkerPolicy(claim_timeout=timedelta(seconds=plan.claim_timeout))

    def worker(name: str) -> OutboxWorker:
        return OutboxWorker(
            sessions,
            senders,
            SystemClock(),
            rates=SEND_RATES,
            policy=policy,
            name=name,
            notice_rate=plan.rate,
        )

    first = worker("bench-w1")
    queued: dict[int, float] = {}
    stop_replies = asyncio.Event()
    started = time.perf_counter()
    running = asyncio.create_task(first.run())
    replies = asyncio.create_task(trickle(engine, first, 1 / plan.replies, queued, stop_replies))
    await asyncio.sleep(plan.seconds)
    ended = time.perf_counter()
    stop_replies.set()
    await replies
    tally.batch = first.policy.bulk_batch  # stop halfway through the batch in hand: mid-send
    tally.halfway.clear()
    with contextlib.suppress(TimeoutError):  # nothing left to send: stop anyway
        await asyncio.wait_for(tally.halfway.wait(), 10)
        report.stopped_at = (tally.notices % tally.batch, tally.batch)
    stopping = time.perf_counter()
    await first.stop_and_wait(running, plan.grace)
    report.stop_seconds = time.perf_counter() - stopping
    report.left_claimed = await count_rows(
        engine, _OUTBOX.c.notice_id == notice_id, _OUTBOX.c.status == OutboxStatus.SENDING.value
    )
    restarted = time.perf_counter()
    second = worker("bench-w2")
    running = asyncio.create_task(second.run())
    await asyncio.sleep(plan.resume)
    await second.stop_and_wait(running, plan.grace)
    _, report.delivery_rss_peak = memory()

    notices = [a for a in log if a.reply is None]
    windows = [0] * max(1, round(plan.seconds / WINDOW))
    for accepted in notices:
        k = int((accepted.at - started) // WINDOW)
        if accepted.at < ended and k < len(windows):
            windows[k] += 1
    report.windows = windows
    report.paced = sum(1 for a in notices if a.at < ended)
    report.resumed = sum(1 for a in notices if a.at >= restarted)
    report.accepted = len(notices)
    report.replies_queued = len(queued)
    report.reply_latencies = sorted(a.at - queued[a.reply] for a in log if a.reply is not None)
    per_account = Counter((a.channel, a.external_id) for a in notices)
    report.duplicates = sum(n - 1 for n in per_account.values() if n > 1)
    report.retried = await count_rows(
        engine, _OUTBOX.c.notice_id == notice_id, _OUTBOX.c.attempts > 1
    )
    mine = _OUTBOX.c.notice_id == notice_id
    async with engine.connect() as connection:
        by_status = await connection.execute(
            sa.select(_OUTBOX.c.status, sa.func.count()).where(mine).group_by(_OUTBOX.c.status)
        )
        report.outbox_after = {str(s): int(n) for s, n in by_status.all()}
        sent = _OUTBOX.c.status == OutboxStatus.SENT.value
        by_worker = await connection.execute(
            sa.select(_OUTBOX.c.claimed_by, sa.func.count())
            .where(mine, sent)
            .group_by(_OUTBOX.c.claimed_by)
        )
        report.sent_by = {str(w): int(n) for w, n in by_worker.all()}
        size = sa.func.avg(sa.func.length(sa.cast(_OUTBOX.c.payload, sa.Text)))
        by_size = await connection.execute(
            sa.select(_OUTBOX.c.status, size)
            .where(mine, _OUTBOX.c.status.in_(["pending", "sent"]))
            .group_by(_OUTBOX.c.status)
        )
        report.payload_bytes = {str(s): float(n) for s, n in by_size.all()}


async def measure(plan: Plan) -> Report:
    """Fan-out, then delivery, on the seeded database."""
    engine = bench_engine(plan.url, plan.schema)
    report = Report(engine.dialect.name)
    notice_id = await fan_out(engine, report, plan.stepped)
    await deliver(engine, plan, notice_id, report)
    await engine.dispose()
    return report


def measure_child(conn: Connection, plan: Plan) -> None:
    """Entry point of the spawned measuring process."""
    conn.send(asyncio.run(measure(plan)))


# Reporting.


def pct(values: list[float], p: float) -> float:
    """The p-th quantile of sorted values (0 when there are none)."""
    return values[min(len(values) - 1, int(p * len(values)))] if values else 0.0


def print_report(plan: Plan, population: Population, report: Report) -> None:
    """The summary tables."""
    target = 10.0 if report.backend == "postgresql" else 20.0
    fan_out = report.release_seconds + report.commit_seconds
    print(
        f"{report.backend}: {population.residents:,} residents, {population.accounts:,} chat "
        f"accounts, {population.opted_out:,} opted out; seeded in {population.seconds:.1f} s "
        f"(not measured); {os.cpu_count()} cores"
    )
    print()
    print(f"{'fan-out':<44} {'value':>12}")
    print(f"{'  preview (count_audience)':<44} {report.preview_seconds:>10.2f} s")
    totals: dict[str, float] = {}
    for label, seconds in report.statements:  # a stepped release runs each statement 16 times
        totals[label] = totals.get(label, 0.0) + seconds
    for label, seconds in totals.items():
        print(f"{'  ' + label:<44} {seconds:>10.2f} s")
    print(f"{'  commit':<44} {report.commit_seconds:>10.2f} s")
    if report.steps:
        print(
            f"{'  in steps (transactions / longest)':<44} {len(report.steps):>12}   "
            f"{max(report.steps):.2f} s"
        )
    verdict = "met" if fan_out <= target else "NOT met"
    print(f"{'fan-out in all':<44} {fan_out:>10.2f} s   target ≤ {target:.0f} s: {verdict}")
    ok_outbox = report.outbox_rows == population.expected_outbox
    ok_delivery = report.delivery_rows == population.expected_unreachable
    print(
        f"{'outbox rows (one per reachable account)':<44} {report.outbox_rows:>12,}   "
        f"expected {population.expected_outbox:,}: {ok_outbox}"
    )
    print(
        f"{'noticedelivery rows (no usable account)':<44} {report.delivery_rows:>12,}   "
        f"expected {population.expected_unreachable:,}: {ok_delivery}"
    )
    counts = ", ".join(f"{k} {v:,}" for k, v in report.notice_counts.items())
    print(f"{'notice counters':<44} {counts}")
    print(
        f"{'RSS before / after / peak (MiB)':<44} {report.rss_before:.0f} / "
        f"{report.rss_after:.0f} / {report.rss_peak:.0f}"
    )
    print(f"{'notice_report (notices tick, every 5 s)':<44} {report.report_seconds:>10.2f} s")
    print()
    achieved = report.paced / plan.seconds
    print(
        f"delivery at notice_rate {plan.rate:g}/s for {plan.seconds:g} s "
        f"(fake channels, production per-channel limits {SEND_RATES})"
    )
    print(f"{'  window':<16} {'sent':>8} {'rate/s':>9} {'deviation':>10}")
    for k, sent in enumerate(report.windows):
        rate = sent / WINDOW
        label = f"{k * WINDOW:g}–{(k + 1) * WINDOW:g} s"
        print(f"  {label:<14} {sent:>8,} {rate:>9.1f} {(rate - plan.rate) / plan.rate:>+10.1%}")
    deviations = [abs(n / WINDOW - plan.rate) / plan.rate for n in report.windows]
    steady = report.windows[1:] or report.windows
    steady_rate = sum(steady) / (len(steady) * WINDOW)
    print(
        f"{'  overall':<16} {report.paced:>8,} {achieved:>9.1f} "
        f"{(achieved - plan.rate) / plan.rate:>+10.1%}   (drift)"
    )
    print(
        f"{'  after 1st window':<16} {sum(steady):>8,} {steady_rate:>9.1f} "
        f"{(steady_rate - plan.rate) / plan.rate:>+10.1%}"
    )
    print(f"  max deviation of a window: {max(deviations):.1%}")
    lat = report.reply_latencies
    print(
        f"  replies during the broadcast: {len(lat)} of {report.replies_queued} delivered; "
        f"latency p50 {pct(lat, 0.5) * 1000:.0f} ms, p99 {pct(lat, 0.99) * 1000:.0f} ms, "
        f"max {(lat[-1] if lat else 0) * 1000:.0f} ms"
    )
    print()
    done, batch = report.stopped_at
    where = f"{done} notices into a batch of {batch}" if batch else "with nothing left to send"
    print(
        f"restart: bench-w1 told to stop {where}; stopped in "
        f"{report.stop_seconds:.2f} s (grace {plan.grace:g} s), leaving {report.left_claimed} "
        f"rows claimed (retaken after {plan.claim_timeout:g} s);"
    )
    print(
        f"  bench-w2 sent {report.resumed:,} in {plan.resume:g} s "
        f"({report.resumed / plan.resume:.1f}/s)"
    )
    print(f"  notice outbox rows by status: {report.outbox_after}")
    print(
        f"  sent rows by claimed_by: {report.sent_by}; rows with more than one attempt: "
        f"{report.retried}"
    )
    sent_rows = report.outbox_after.get(OutboxStatus.SENT.value, 0)
    print(
        f"  notices accepted by the fake channels {report.accepted:,}, rows marked sent "
        f"{sent_rows:,}: {'equal' if sent_rows == report.accepted else 'DIFFERENT'}"
    )
    print(f"  accounts that received the notice twice: {report.duplicates} (expected 0)")
    print(
        "  mean payload length, pending vs sent rows: "
        + ", ".join(f"{k} {v:,.0f} chars" for k, v in sorted(report.payload_bytes.items()))
    )
    print(f"  peak RSS of the measuring process: {report.delivery_rss_peak:.0f} MiB")


# Running.


def run(args: argparse.Namespace) -> None:
    """Seed a fresh database, measure in a fresh process, print, clean up."""
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/broadcast.db"
        postgres = url.startswith("postgresql")
        schema = f"bench_broadcast_{os.getpid()}" if postgres else None
        plan = Plan(
            url,
            schema,
            args.residents,
            args.rate,
            args.seconds,
            args.resume,
            args.replies,
            args.grace,
            args.claim_timeout,
            args.stepped,
        )
        try:
            if schema is not None:
                asyncio.run(create_schema(url, schema))
            population = asyncio.run(seed(url, schema, args.residents))
            report: Report = in_fresh_process(measure_child, plan)
        finally:
            if schema is not None:
                asyncio.run(drop_schema(url, schema))
        print_report(plan, population, report)


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", help=f"e.g. {PG_URL} (default: a new SQLite file in a temporary dir)"
    )
    parser.add_argument("--residents", type=int, default=310_000)
    parser.add_argument("--rate", type=float, default=200.0, help="notice_rate, messages/s")
    parser.add_argument("--seconds", type=float, default=30.0, help="paced delivery to measure")
    parser.add_argument("--resume", type=float, default=5.0, help="seconds of the second worker")
    parser.add_argument("--replies", type=float, default=2.0, help="replies queued a second")
    parser.add_argument(
        "--grace", type=float, default=STOP_GRACE, help="stop_and_wait's grace (seconds)"
    )
    parser.add_argument(
        "--claim-timeout",
        type=float,
        default=WorkerPolicy().claim_timeout.total_seconds(),
        help="seconds before a claim is retaken",
    )
    parser.add_argument(
        "--stepped", action="store_true", help="release as the notices tick does, in steps"
    )
    args = parser.parse_args()
    if args.residents < 1 or args.rate <= 0 or args.seconds < WINDOW or args.replies <= 0:
        parser.error("need residents ≥ 1, rate > 0, seconds ≥ 5, replies > 0")
    run(args)


if __name__ == "__main__":
    main()
