"""Benchmark: "进度", a typed case number and "我的案件" through the pipeline, with 1,000,000 cases.

    .venv/bin/python -m bench.cases_lookup [--residents 310000] [--cases 1000000]
        [--postgres | --url URL] [--sqlite-file PATH] [--reuse] [--sql "CREATE INDEX …"]

Builds a database: by default a new SQLite file in a temporary directory (or --sqlite-file, which
is kept); with --postgres, postgresql+asyncpg://root@127.0.0.1/test, whose tables are DROPPED and
recreated (everything in that database is lost). It migrates, seeds the street, the synthetic
residents and the synthetic cases, printing how long each step took; PostgreSQL then gets the
ANALYZE autovacuum would run after such a load. --reuse skips all that and measures a database
built earlier; --sql runs extra statements first (e.g. an ad hoc index, to compare plans).

Then it binds 2,000 residents who have cases and 20 department staff to web chat accounts and
sends, one at a time, in process (`linli.pipeline.handle`, no HTTP):
(a) 进度 from each resident, (b) each resident's newest case number, (c) 我的案件 from the staff,
2,000 calls in turn. It prints p50/p95/p99/max in ms per scenario (target: p99 < 50 ms), and the
query plans (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL) of `resident_cases`
and `staff_cases`, as captured from the real calls.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, col, select

from bot.app import Linli, build_linli
from bot.clock import ManualClock, local_today
from bot.config import Settings
from bot.messages import Inbound
from models.case_ops import OPEN, resident_cases, staff_cases
from models.cases import Case
from models.migrate import upgrade
from models.org import Staff, StaffRole
from models.people import ChannelIdentity
from models.seed import seed_residents, seed_street
from models.synthetic_cases import seed_cases

DATA = Path(__file__).resolve().parents[1] / "data"
POSTGRES = "postgresql+asyncpg://root@127.0.0.1/test"
RESIDENT_ACCOUNTS, STAFF_ACCOUNTS, WARM_UP = 2_000, 20, 50
TARGET_MS = 50.0
Message = tuple[str, str, str]  # user, text, what the first reply must contain


@dataclass(frozen=True)
class Accounts:
    """Web chat users bound for the run: residents with their newest case, and staff."""

    residents: list[tuple[str, int, str]]  # user, resident id, newest case ref
    warm_up: list[tuple[str, int, str]]
    staff: list[tuple[str, Staff]]


@contextmanager
def step(name: str) -> Iterator[None]:
    """Print how long a block took."""
    started = time.perf_counter()
    yield
    print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)


async def build(linli: Linli, residents: int, cases: int) -> None:
    """Drop (PostgreSQL), migrate and seed: street, residents, cases."""
    engine, now = linli.engine, linli.clock.now()
    if engine.dialect.name == "postgresql":
        with step("drop tables"):
            async with engine.begin() as connection:
                await connection.run_sync(SQLModel.metadata.drop_all)
                await connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    with step("migrate + street"):
        await upgrade(engine)
        async with linli.sessions() as session, session.begin():
            await seed_street(session, DATA, local_today(linli.clock), now)
    with step(f"{residents:,} residents"):
        async with linli.sessions() as session, session.begin():
            await seed_residents(session, residents, DATA, now)
    with step(f"{cases:,} cases (+ handlers and received events)"):
        async with linli.sessions() as session, session.begin():
            await seed_cases(session, cases, now)


async def run_sql(engine: AsyncEngine, statements: Sequence[str]) -> None:
    """Extra statements (ad hoc indexes), then fresh planner statistics on PostgreSQL."""
    for statement in statements:
        with step(statement):
            async with engine.begin() as connection:
                await connection.execute(sa.text(statement))
    if engine.dialect.name == "postgresql":
        with step("ANALYZE"):
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(sa.text("ANALYZE"))


async def bind_accounts(linli: Linli, seed: int) -> Accounts:
    """Web accounts for residents who have cases and for department staff (idempotent)."""
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        with_cases = (
            await session.exec(
                select(Case.resident_id)
                .where(col(Case.resident_id).is_not(None))
                .distinct()
                .order_by(col(Case.resident_id))
            )
        ).all()
        chosen = random.Random(seed).sample(
            [int(r) for r in with_cases if r is not None],
            min(len(with_cases), RESIDENT_ACCOUNTS + WARM_UP),
        )
        staff = (
            await session.exec(
                select(Staff)
                .where(
                    col(Staff.active).is_(True),
                    col(Staff.role).in_((StaffRole.CLERK, StaffRole.DEPARTMENT_STAFF)),
                )
                .order_by(col(Staff.id))
            )
        ).all()
        rank: dict[int | None, int] = {}
        spread = []  # every department before anyone's second colleague
        for person in staff:
            rank[person.department_id] = rank.get(person.department_id, -1) + 1
            spread.append((rank[person.department_id], person.id or 0, person))
        bound_staff = [person for _, _, person in sorted(spread)[:STAFF_ACCOUNTS]]
        wanted = {f"bench-r{rid}": (rid, None) for rid in chosen} | {
            f"bench-s{person.code}": (None, person.id) for person in bound_staff
        }
        stmt = select(ChannelIdentity.external_id).where(
            ChannelIdentity.channel == "web", col(ChannelIdentity.external_id).startswith("bench-")
        )
        existing = set((await session.exec(stmt)).all())
        rows = [
            {
                "channel": "web",
                "external_id": user,
                "resident_id": rid,
                "staff_id": sid,
                "lang": "zh-CN",
                "active": True,
                "unreachable": False,
                "created_at": now,
                "last_seen_at": now,
            }
            for user, (rid, sid) in wanted.items()
            if user not in existing
        ]
        if rows:
            table = ChannelIdentity.__table__  # type: ignore[attr-defined]
            await (await session.connection()).execute(sa.insert(table), rows)
        residents = []
        for rid in chosen:
            [newest] = await resident_cases(session, rid, limit=1)
            residents.append((f"bench-r{rid}", rid, newest.ref))
    return Accounts(
        residents[WARM_UP:],
        residents[:WARM_UP],
        [(f"bench-s{person.code}", person) for person in bound_staff],
    )


async def measure(linli: Linli, tag: str, messages: Sequence[Message]) -> tuple[list[float], int]:
    """Send each message through the pipeline; milliseconds each, and how many answered wrong."""
    timings, wrong = [], 0
    for n, (user, text, expected) in enumerate(messages):
        inbound = Inbound("web", user, text=text, message_id=f"{tag}-{n}")
        started = time.perf_counter()
        replies = await linli.pipeline.handle(inbound)
        timings.append((time.perf_counter() - started) * 1000)
        if not replies or expected not in replies[0].text:
            wrong += 1
    return timings, wrong


def percentile(sorted_ms: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return sorted_ms[max(0, math.ceil(share * len(sorted_ms)) - 1)]


def report(name: str, timings: list[float], wrong: int) -> bool:
    """Print one scenario's line; whether it met the target."""
    ms = sorted(timings)
    p50, p95, p99 = (percentile(ms, share) for share in (0.5, 0.95, 0.99))
    verdict = "ok" if p99 < TARGET_MS else "OVER TARGET"
    print(
        f"{name:<22} n={len(ms):>5}  p50 {p50:6.2f}  p95 {p95:6.2f}"
        f"  p99 {p99:6.2f}  max {ms[-1]:7.2f} ms  wrong answers {wrong}  [{verdict}]",
        flush=True,
    )
    return p99 < TARGET_MS


async def captured(
    engine: AsyncEngine, call: Callable[[], Awaitable[Any]]
) -> list[tuple[str, Any]]:
    """The SQL statements (and their parameters) a call sent to the database."""
    seen: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", listen)
    try:
        await call()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listen)
    return seen


async def explain(linli: Linli, accounts: Accounts) -> None:
    """Plans of resident_cases and staff_cases, for the busiest resident and department."""
    engine = linli.engine
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS)" if postgres else "EXPLAIN QUERY PLAN"
    async with linli.sessions() as session:
        ids = [rid for _, rid, _ in accounts.residents]
        busiest = (
            await session.exec(
                select(Case.resident_id)
                .where(col(Case.resident_id).in_(ids))
                .group_by(col(Case.resident_id))
                .order_by(sa.func.count().desc(), col(Case.resident_id))
            )
        ).first()
        load = (
            await session.exec(
                select(Case.department_id)
                .where(col(Case.status).in_(OPEN))
                .group_by(col(Case.department_id))
                .order_by(sa.func.count().desc())
            )
        ).all()
        staff = min(
            (person for _, person in accounts.staff),
            key=lambda p: load.index(p.department_id) if p.department_id in load else len(load),
        )
        queries = {
            f"resident_cases (resident {busiest})": lambda: resident_cases(session, busiest or 0),
            f"staff_cases ({staff.code}, department {staff.department_id})": lambda: staff_cases(
                session, staff
            ),
        }
        for name, call in queries.items():
            for statement, parameters in await captured(engine, call):
                connection = await session.connection()
                result = await connection.exec_driver_sql(f"{prefix} {statement}", parameters)
                print(f"\n-- {name}\n{' '.join(statement.split())}")
                for row in result.all():
                    print("   ", row[-1])


async def run(args: argparse.Namespace, url: str) -> None:
    """Build (unless reused), bind accounts, measure the three scenarios, show the plans."""
    clock = ManualClock(datetime.now(UTC))
    linli = build_linli(Settings(database_url=url, data_dir=DATA), clock=clock)
    print(f"backend: {linli.engine.dialect.name}", flush=True)
    try:
        if not args.reuse:
            await build(linli, args.residents, args.cases)
        await run_sql(linli.engine, args.sql)
        with step("bind accounts"):
            accounts = await bind_accounts(linli, args.seed)
        tag = f"bench-{time.time_ns()}"
        await measure(linli, f"{tag}-w", [(u, "进度", ref) for u, _, ref in accounts.warm_up])
        title = "在办和待受理的事项"
        staff_calls = [
            (accounts.staff[n % len(accounts.staff)][0], "我的案件", title)
            for n in range(len(accounts.residents))
        ]
        scenarios: dict[str, list[Message]] = {
            "进度 (resident)": [(u, "进度", ref) for u, _, ref in accounts.residents],
            "case number (resident)": [(u, ref, ref) for u, _, ref in accounts.residents],
            "我的案件 (staff)": staff_calls,
        }
        print()
        met = [
            report(name, *await measure(linli, f"{tag}-{n}", messages))
            for n, (name, messages) in enumerate(scenarios.items())
        ]
        print(f"target p99 < {TARGET_MS:.0f} ms: {'met' if all(met) else 'NOT met'}")
        await explain(linli, accounts)
    finally:
        await linli.close()


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=310_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true", help=f"use {POSTGRES} (dropped!)")
    parser.add_argument("--url", help="another database URL (its tables are dropped too)")
    parser.add_argument("--sqlite-file", type=Path, help="build the SQLite file here and keep it")
    parser.add_argument("--reuse", action="store_true", help="measure the database as it is")
    parser.add_argument("--sql", action="append", default=[], help="extra SQL before measuring")
    parser.add_argument("--seed", type=int, default=7, help="which residents get bound")
    args = parser.parse_args()
    if args.url or args.postgres:
        asyncio.run(run(args, args.url or POSTGRES))
    elif args.sqlite_file:
        asyncio.run(run(args, f"sqlite+aiosqlite:///{args.sqlite_file.resolve()}"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(args, f"sqlite+aiosqlite:///{tmp}/bench.db"))


if __name__ == "__main__":
    main()
