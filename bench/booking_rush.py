"""Benchmark: 2,000 residents confirm one 20-place slot at once, against a running `linli serve`.

    .venv/bin/python -m bench.booking_rush                    # SQLite, then PostgreSQL
    .venv/bin/python -m bench.booking_rush --sqlite-only --attempts 500

For each backend: migrate and seed with the `linli` commands, train the ten weekday clerks for
the social-security card reissue (10 people x 2 per 30 minutes = 20 places in the 08:00 slot of
Monday 30 November 2026), then start `linli serve --no-worker --no-scheduler` with its clock at
Friday 27 November 2026 10:00 and send every `book:ok` confirm to POST /api/chat at once, each
from its own chat account. Exactly 20 must be booked, every other resident must be told the
slot is full with the nearest free times, and the database must hold exactly 20 appointments.
Prints the wall time, the latency percentiles and the counts.

PostgreSQL runs only when something answers on 127.0.0.1:5432, and it DROPS every Linli table
in postgresql+asyncpg://root@127.0.0.1/test (the test suite's database, which the suite empties
and reseeds on its own) before migrating afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import sqlalchemy as sa
from sqlmodel import SQLModel, col, func, select

from bot.app import build_linli
from bot.clock import ManualClock
from bot.config import Settings
from models.base import SHANGHAI
from models.booking import Appointment, BookingSlot
from models.db import make_engine, make_session_factory
from models.org import Staff, StaffSkill
from models.services import Service
from models.slots import plan_day

ROOT = Path(__file__).resolve().parents[1]
PG_URL = "postgresql+asyncpg://root@127.0.0.1/test"
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)  # a Friday morning, for the server too
RUSH_DAY = date(2026, 11, 30)  # the Monday after: the ten weekday clerks are on duty
SERVICE = "ss-card-reissue"
CLERKS = tuple(f"S{n:03d}" for n in range(1, 11))
PLACES = 20
BOOKED = "预约成功"
FULL = "很抱歉，这个时段刚刚约满了"
ALTERNATIVES = "最近还有名额的时间"


@dataclass(frozen=True)
class Answer:
    """What the server said to one resident."""

    status: str  # the HTTP status, or the client error's name
    seconds: float
    text: str = ""
    buttons: int = 0


@dataclass
class Rush:
    """What one backend's rush measured."""

    label: str
    places: int
    seconds: float
    answers: list[Answer]
    connects: list[float] = field(default_factory=list)
    slot_booked: int = -1
    appointments: int = -1
    refs: int = -1

    def count(self, prefix: str) -> int:
        """Answers with status 200 whose text starts with prefix."""
        return sum(1 for a in self.answers if a.status == "200" and a.text.startswith(prefix))

    def full_without_alternatives(self) -> int:
        """ "Full" answers that offer no other times or no buttons."""
        return sum(
            1
            for a in self.answers
            if a.text.startswith(FULL) and (ALTERNATIVES not in a.text or a.buttons == 0)
        )

    def problems(self) -> list[str]:
        """Every way the rush broke its promise (empty when it kept it)."""
        attempts = len(self.answers)
        expected = min(self.places, attempts)
        booked, full = self.count(BOOKED), self.count(FULL)
        statuses = Counter(a.status for a in self.answers if a.status != "200")
        found = [f"{n} x {status}" for status, n in sorted(statuses.items())]
        if booked != expected:
            found.append(f"{booked} booked, expected {expected}")
        if full != attempts - expected:
            found.append(f"{full} told full, expected {attempts - expected}")
        if self.full_without_alternatives():
            found.append(f"{self.full_without_alternatives()} full answers without alternatives")
        if not self.slot_booked == self.appointments == self.refs == booked:
            found.append(
                f"database: slot.booked={self.slot_booked}, {self.appointments} appointments, "
                f"{self.refs} distinct refs, {booked} told booked"
            )
        return found

    def line(self) -> str:
        """One table row."""
        lat = sorted(a.seconds for a in self.answers) or [0.0]
        attempts = len(self.answers)
        booked, full = self.count(BOOKED), self.count(FULL)
        check = "FAIL" if self.problems() else "ok"
        return (
            f"{self.label:<11} {attempts:>6} {self.seconds:>7.2f} {attempts / self.seconds:>8.0f} "
            f"{percentile(lat, 0.5):>7.0f} {percentile(lat, 0.95):>7.0f} "
            f"{percentile(lat, 0.99):>7.0f} {lat[-1] * 1000:>7.0f} "
            f"{booked:>6} {full:>6} {attempts - booked - full:>6} "
            f"{self.slot_booked:>4}/{self.appointments:<4} {check}"
        )


def percentile(ordered: list[float], share: float) -> float:
    """The share-th value of an ascending list of seconds, in milliseconds."""
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def answers_on(host: str, port: int) -> bool:
    """Whether something accepts TCP connections there."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def unused_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def server_env(url: str, state_dir: Path) -> dict[str, str]:
    """Environment of the `linli` child processes: this database, the fixed clock, no limits."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LINLI_")}
    return env | {
        "LINLI_DATABASE_URL": url,
        "LINLI_DATA_DIR": str(ROOT / "data"),
        "LINLI_STATE_DIR": str(state_dir),
        "LINLI_SECRET_KEY": "bench",
        "LINLI_LOG_LEVEL": "WARNING",
        "LINLI_CHAT_RATE_LIMIT": "1000000/minute",  # every resident comes from 127.0.0.1
        "LINLI_NOW": NOW.isoformat(),
        "LINLI_WECHAT_API_BASE": "http://127.0.0.1:9",  # nothing is sent out in this bench
    }


async def drop_postgres_tables(url: str) -> None:
    """Drop every Linli table and Alembic's record, so the migrations start from nothing."""
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.drop_all)
        await connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    await engine.dispose()


async def open_rush_slot(url: str) -> tuple[int, int]:
    """Train the ten weekday clerks for the service; the rush slot's id and capacity."""
    settings = Settings(database_url=url, data_dir=ROOT / "data", secret_key="bench")
    linli = build_linli(settings, clock=ManualClock(NOW))
    try:
        async with linli.sessions() as session, session.begin():
            service = (await session.exec(select(Service).where(Service.code == SERVICE))).one()
            clerks = await session.exec(select(Staff.id).where(col(Staff.code).in_(CLERKS)))
            skilled = await session.exec(
                select(StaffSkill.staff_id).where(StaffSkill.service_id == service.id)
            )
            untrained = set(clerks.all()) - set(skilled.all())
            session.add_all(
                StaffSkill(staff_id=staff_id, service_id=service.id or 0)
                for staff_id in untrained
                if staff_id is not None
            )
            await session.flush()
            plan = await plan_day(session, service, RUSH_DAY, NOW)
        if not plan.slots:
            raise RuntimeError(f"{SERVICE} has no slots on {RUSH_DAY}: {plan.closed}")
        slot = plan.slots[0]
        return slot.id or 0, slot.capacity
    finally:
        await linli.close()


async def read_bookings(url: str, slot_id: int) -> tuple[int, int, int]:
    """The slot's booked count, its appointments and their distinct references."""
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            slot = await session.get(BookingSlot, slot_id)
            rows = await session.exec(
                select(func.count(), func.count(sa.distinct(col(Appointment.ref)))).where(
                    Appointment.slot_id == slot_id
                )
            )
            appointments, refs = rows.one()
    finally:
        await engine.dispose()
    return (slot.booked if slot else -1), appointments, refs


async def wait_for_health(base: str, server: subprocess.Popen[bytes]) -> None:
    """Poll /healthz until the server says its database answers."""
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if server.poll() is not None:
                raise RuntimeError(f"linli serve exited with {server.returncode}")
            try:
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{base} did not become healthy")


def connect_timer(connects: list[float]) -> aiohttp.TraceConfig:
    """A trace that records how long each new TCP connection took to open."""

    async def started(
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        _params: aiohttp.TraceConnectionCreateStartParams,
    ) -> None:
        context.connect_started = time.perf_counter()

    async def ended(
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        _params: aiohttp.TraceConnectionCreateEndParams,
    ) -> None:
        connects.append(time.perf_counter() - context.connect_started)

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_start.append(started)
    trace.on_connection_create_end.append(ended)
    return trace


async def attempt(session: aiohttp.ClientSession, url: str, user: str, payload: str) -> Answer:
    """One resident presses "confirm"; what came back and how long it took."""
    started = time.perf_counter()
    try:
        async with session.post(url, json={"user": user, "payload": payload}) as response:
            body: dict[str, Any] = await response.json(content_type=None)
            status = str(response.status)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return Answer(type(error).__name__, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    replies = body.get("replies") or [{}]
    first = replies[0]
    return Answer(status, seconds, str(first.get("text", "")), len(first.get("buttons") or []))


async def rush(base: str, slot_id: int, attempts: int) -> tuple[float, list[Answer], list[float]]:
    """Send every confirm at once; the wall time, the answers and the connect times."""
    url = f"{base}/api/chat"
    connects: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trace_configs=[connect_timer(connects)]
    ) as session:
        warm = await attempt(session, url, "rush-warm-up", "菜单")  # imports, caches, pool
        if warm.status != "200":
            raise RuntimeError(f"the warm-up message got {warm.status}")
        connects.clear()
        payload = f"book:ok:{slot_id}"
        started = time.perf_counter()
        tasks = [
            asyncio.create_task(attempt(session, url, f"rush-{n:04d}", payload))
            for n in range(attempts)
        ]
        answers = await asyncio.gather(*tasks)
        seconds = time.perf_counter() - started
    return seconds, list(answers), connects


def run_backend(label: str, url: str, attempts: int, state_dir: Path) -> Rush:
    """Prepare the database, serve it in a child process, rush it and read the result back."""
    env = server_env(url, state_dir)
    if url.startswith("postgresql"):
        asyncio.run(drop_postgres_tables(url))
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run([sys.executable, "-m", "bot.cli", *command], env=env, check=True, cwd=ROOT)
    slot_id, places = asyncio.run(open_rush_slot(url))
    print(f"{label}: slot {slot_id} on {RUSH_DAY} 08:00 has {places} places")
    if places != PLACES:
        raise RuntimeError(f"the rush slot has {places} places, not {PLACES}")
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    serve = ["serve", "--port", str(port), "--no-worker", "--no-scheduler"]
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", *serve], env=env, cwd=ROOT)
    print(f"{label}: server pid {server.pid}, {attempts} confirms at once")

    async def measured() -> tuple[float, list[Answer], list[float]]:
        await wait_for_health(base, server)
        return await rush(base, slot_id, attempts)

    try:
        seconds, answers, connects = asyncio.run(measured())
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = Rush(label, places, seconds, answers, connects)
    result.slot_booked, result.appointments, result.refs = asyncio.run(read_bookings(url, slot_id))
    return result


def report(results: list[Rush]) -> None:
    """Print the table, the connect times and anything that went wrong."""
    print(f"\ncores: {os.cpu_count()}, one server process, all confirms sent at once")
    print(
        f"{'backend':<11} {'tries':>6} {'wall s':>7} {'tries/s':>8} {'p50':>7} {'p95':>7} "
        f"{'p99':>7} {'max ms':>7} {'booked':>6} {'full':>6} {'other':>6} {'slot/appt':>9} check"
    )
    for result in results:
        print(result.line())
    for result in results:
        connects = sorted(result.connects) or [0.0]
        print(
            f"{result.label}: TCP connect p50 {percentile(connects, 0.5):.0f} ms, "
            f"p99 {percentile(connects, 0.99):.0f} ms, max {connects[-1] * 1000:.0f} ms"
        )
        for problem in result.problems():
            print(f"{result.label}: FAIL {problem}")
        odd = [a for a in result.answers if a.status == "200"]
        odd = [a for a in odd if not a.text.startswith((BOOKED, FULL))]
        for text, n in Counter(a.text[:60] for a in odd).most_common(3):
            print(f"{result.label}: {n} x other answer: {text!r}")


def main() -> None:
    """Parse arguments and run the rush on each backend."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=2000, help="confirms sent at once")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite+aiosqlite:///{tmp}/rush.db"
        results.append(run_backend("sqlite", sqlite_url, args.attempts, Path(tmp)))
        if args.sqlite_only:
            pass
        elif answers_on("127.0.0.1", 5432):
            results.append(run_backend("postgresql", PG_URL, args.attempts, Path(tmp)))
        else:
            print("postgresql: skipped, nothing answers on 127.0.0.1:5432")
    report(results)
    if any(result.problems() for result in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
