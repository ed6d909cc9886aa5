"""`linli serve --processes 2` as a real subprocess: both children serve one port, and on
PostgreSQL messages, outbox rows and scheduler ticks each take effect once across them; a child
killed with SIGKILL comes back while the port keeps answering; SIGTERM stops all with status 0."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from bot.config import Settings
from bot.messages import Reply
from bot.serve_processes import PROCESS_HEADER, ServePlan, child_roles
from models.db import make_engine
from models.intents import warm_intent_model
from models.messaging import queue_message
from scheduler.runner import JOBS, ONCE_PER_INTERVAL
from tests.conftest import DATA, PG_URL, ROOT
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.fakes.wechat_sender import WeChatAccount, WeChatServer
from tests.wechat_fixtures import TOKEN, platform

__all__ = ["platform"]

USERS, MESSAGES_EACH = 100, 3  # (a): 300 signed WeChat messages
OUTBOX_ROWS = 300  # (b)
RETRIED, COPIES = 8, 4  # (d): messages each sent this many times at once
NO_PG = "PostgreSQL part: set LINLI_TEST_DATABASE_URL to a PostgreSQL database to run it"
INTERVAL = {job.name: job.every_seconds for job in JOBS}

# Every change of a job's last start, kept by PostgreSQL itself: JobRun holds only the last.
AUDIT = [
    "CREATE TABLE IF NOT EXISTS jobrun_audit (name text, started timestamptz)",
    "TRUNCATE jobrun_audit",
    """CREATE OR REPLACE FUNCTION jobrun_audit_row() RETURNS trigger AS $$
    BEGIN
        IF NEW.last_started_at IS DISTINCT FROM
           (CASE WHEN TG_OP = 'UPDATE' THEN OLD.last_started_at END) THEN
            INSERT INTO jobrun_audit VALUES (NEW.name, NEW.last_started_at);
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS jobrun_audit ON jobrun",
    """CREATE TRIGGER jobrun_audit AFTER INSERT OR UPDATE ON jobrun
    FOR EACH ROW EXECUTE FUNCTION jobrun_audit_row()""",
]
UNAUDIT = ["DROP TRIGGER IF EXISTS jobrun_audit ON jobrun", "DROP TABLE IF EXISTS jobrun_audit"]


@dataclass
class Served:
    """A running `linli serve --processes 2` and how to reach it."""

    process: asyncio.subprocess.Process
    base: str
    log: Path
    http: aiohttp.ClientSession

    def children(self) -> set[int]:
        """The supervisor's child processes, by pid."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in path.read_text().split()}

    async def get(self, path: str) -> tuple[int, str]:
        """Status and answering process of a GET on a new connection."""
        async with self.http.get(self.base + path) as response:
            await response.read()
            return response.status, response.headers.get(PROCESS_HEADER, "")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_env(db_url: str, platform: FakeWeChatAPI, state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    return env | {
        "LINLI_DATABASE_URL": db_url,
        "LINLI_DATA_DIR": str(DATA),
        "LINLI_STATE_DIR": str(state_dir),
        "LINLI_SECRET_KEY": "processes-test",
        "LINLI_LOG_LEVEL": "WARNING",
        "LINLI_CHAT_RATE_LIMIT": "100000/minute",
        "LINLI_WECHAT_TOKEN": TOKEN,
        "LINLI_WECHAT_APP_ID": platform.appid,
        "LINLI_WECHAT_APP_SECRET": platform.secret,
        "LINLI_WECHAT_API_BASE": platform.base_url,
        "LINLI_WECHAT_MODE": "plain",
        "LINLI_OUTBOX_BATCH": "10",  # small batches, so that both workers take a share
    }


@asynccontextmanager
async def serving(env: dict[str, str], tmp_path: Path) -> AsyncIterator[Served]:
    """`linli serve --processes 2` on a free port, until both children answer; stopped after."""
    port, log = free_port(), tmp_path / "serve.log"
    # The parent learns before forking; with the model in the disk cache it reads, not trains.
    await asyncio.to_thread(lambda: warm_intent_model(DATA).result())
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bot.cli", "serve", "--processes", "2"),
            *("--port", str(port)),
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
        )
    # A new connection a request: the kernel spreads connections, not requests, over children.
    connector = aiohttp.TCPConnector(force_close=True, limit=16)
    http = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))
    served = Served(process, f"http://127.0.0.1:{port}", log, http)
    try:
        await until(lambda: both_answer(served), 90)
        yield served
    finally:
        await http.close()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 40)


async def until(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out waiting")


async def both_answer(served: Served) -> bool:
    """Whether both children answer /healthz (over a few dozen new connections)."""
    seen = set()
    for _ in range(40):
        try:
            status, process = await served.get("/healthz")
        except aiohttp.ClientError:
            return False
        if status == 200:
            seen.add(process)
    return seen == {"0", "1"}


async def post_wechat(served: Served, server: WeChatServer, xml: str) -> tuple[str, str]:
    """Deliver one signed message; (answering process, passive reply's text)."""
    query, body = server.request(xml)
    async with served.http.post(served.base + "/wechat", params=query, data=body) as response:
        assert response.status == 200, await response.text()
        reply = server.read_reply(await response.read())
        return response.headers[PROCESS_HEADER], reply.get("Content", "")


def wechat_user(platform: FakeWeChatAPI, n: int) -> WeChatServer:
    return WeChatServer(WeChatAccount(TOKEN, platform.appid), openid=f"oProc{n:05d}")


async def converse(served: Served, platform: FakeWeChatAPI) -> list[tuple[str, str, str]]:
    """(a) USERS residents send MESSAGES_EACH messages each, in turn, many residents at once."""

    async def talks(n: int) -> list[tuple[str, str, str]]:
        server = wechat_user(platform, n)  # numbers its messages: one server per resident
        return [
            (server.openid, *await post_wechat(served, server, server.text("菜单")))
            for _ in range(MESSAGES_EACH)
        ]

    batches = await asyncio.gather(*(talks(n) for n in range(USERS)))
    return [one for batch in batches for one in batch]


def answered_once(results: list[tuple[str, str, str]], platform: FakeWeChatAPI) -> None:
    """Every message got its answer: in the passive reply, or (when late) pushed."""
    pushed = Counter(sent.touser for sent in platform.sent)
    for openid, _process, text in results:
        assert text or pushed[openid], f"{openid} got no answer"


async def scalar(db_url: str, sql: str, **params: object) -> object:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(sa.text(sql), params)
    finally:
        await engine.dispose()


async def execute(db_url: str, statements: list[str]) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def queue_rows(db_url: str, count: int) -> None:
    """(b) count outbox rows, one for each WeChat account of (a), in turn."""
    engine = make_engine(db_url)
    try:
        async with engine.begin() as connection:
            accounts = (
                await connection.execute(
                    sa.text("SELECT id FROM channelidentity WHERE channel = 'wechat' ORDER BY id")
                )
            ).scalars()
            ids = list(accounts)
            now = datetime.now(UTC)  # the servers run on real time
            for n in range(count):
                await queue_message(
                    connection,
                    kind="notice",
                    payload={"replies": [Reply(f"通知{n:04d}").to_dict()]},
                    now=now,
                    identity_id=ids[n % len(ids)],
                    channel="wechat",
                )
    finally:
        await engine.dispose()


async def retried_in_flight(served: Served, platform: FakeWeChatAPI) -> list[set[str]]:
    """(d) WeChat's retries: the very same request COPIES times at once; the processes that
    answered each, after checking that all copies got the same answer."""
    spread = []
    for n in range(RETRIED):
        server = wechat_user(platform, 50_000 + n)
        query, body = server.request(server.text("菜单"))

        async def once(query: dict[str, str] = query, body: bytes = body) -> tuple[str, bytes]:
            async with served.http.post(
                served.base + "/wechat", params=query, data=body
            ) as response:
                assert response.status == 200
                return response.headers[PROCESS_HEADER], await response.read()

        copies = await asyncio.gather(*(once() for _ in range(COPIES)))
        texts = {server.read_reply(body).get("Content", "") for _, body in copies}
        assert len(texts) == 1, texts  # one answer, whichever process gave it
        spread.append({process for process, _ in copies})
    return spread


async def kill_one_child(served: Served) -> int:
    """(e) SIGKILL a child; the port answers all along and the child comes back; how many
    requests were answered meanwhile."""
    before = served.children()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    answered = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, _ = await served.get("/healthz")
        assert status == 200
        answered += 1
        now = served.children()
        if len(now) == 2 and victim not in now:
            break
    else:
        raise AssertionError(f"no child replaced {victim}: {served.children()}")
    await until(lambda: both_answer(served), 60)
    return answered


async def stop(served: Served) -> str:
    """SIGTERM the supervisor: every child stops gracefully and it exits 0; its log."""
    served.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(served.process.wait(), 40) == 0
    return served.log.read_text(errors="replace")


def check_ticks(runs: list[tuple[str, object]], watched: float) -> None:
    """(c) each job started at most once per interval, and the shortest ran all along."""
    by_job: dict[str, list[float]] = {}
    for name, started in runs:
        by_job.setdefault(name, []).append(started.timestamp())  # type: ignore[attr-defined]
    assert set(by_job) == set(INTERVAL), set(INTERVAL) ^ set(by_job)
    for name, starts in by_job.items():
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        shortest = INTERVAL[name] * ONCE_PER_INTERVAL - 0.05
        assert all(gap >= shortest for gap in gaps), (name, gaps)
    notices = by_job["notices"]  # every 5 s: it kept running while both processes ticked
    assert len(notices) >= int(watched / INTERVAL["notices"]) - 1, (len(notices), watched)


@pytest.mark.skipif(PG_URL is None, reason=NO_PG)
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_two_processes_on_postgresql_share_the_work_exactly_once(
    db_url: str, platform: FakeWeChatAPI, tmp_path: Path
) -> None:
    await execute(db_url, AUDIT)
    try:
        async with serving(serve_env(db_url, platform, tmp_path), tmp_path) as served:
            began = time.monotonic()
            results = await converse(served, platform)  # (a)
            processes = Counter(process for _, process, _ in results)
            assert set(processes) == {"0", "1"}, processes
            answered_once(results, platform)
            handled = await scalar(db_url, "SELECT count(*) FROM inboundmessage")
            assert handled == USERS * MESSAGES_EACH

            pushed_before = len(platform.sent)  # (b)
            await queue_rows(db_url, OUTBOX_ROWS)
            await until(lambda: _notices_sent(platform, OUTBOX_ROWS), 40)
            await until(lambda: _all_sent(db_url), 20)
            await asyncio.sleep(1.0)  # a second delivery of any row would show by now
            notices = Counter(s.text for s in platform.sent[pushed_before:] if _notice(s.text))
            assert set(notices) == {f"通知{n:04d}" for n in range(OUTBOX_ROWS)}
            assert set(notices.values()) == {1}, notices.most_common(3)
            claimers = await scalar(
                db_url, "SELECT count(DISTINCT claimed_by) FROM outboxmessage WHERE kind='notice'"
            )
            assert claimers == 2  # both processes delivered a share

            spread = await retried_in_flight(served, platform)  # (d)
            assert any(len(processes) == 2 for processes in spread), spread
            for n in range(RETRIED):
                openid = f"oProc{50_000 + n:05d}"
                rows = await scalar(
                    db_url, "SELECT count(*) FROM inboundmessage WHERE user_ref = :u", u=openid
                )
                accounts = await scalar(
                    db_url, "SELECT count(*) FROM channelidentity WHERE external_id = :u", u=openid
                )
                assert (rows, accounts) == (1, 1), openid

            answered = await kill_one_child(served)  # (e)
            assert answered >= 1

            # (c), last: a restarted child ticks every job at its start, and must leave alone
            # those another process ran within their interval.
            await asyncio.sleep(2.0)
            watched = time.monotonic() - began
            check_ticks(await _job_runs(db_url), watched)
            log = await stop(served)
    finally:
        await execute(db_url, UNAUDIT)
    assert "exited with SIGKILL; restarting" in log, log[-2000:]
    assert platform.token_requests == 1  # one access token, shared by both processes


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_two_processes_on_sqlite_serve_one_file(
    db_url: str, platform: FakeWeChatAPI, tmp_path: Path
) -> None:
    async with serving(serve_env(db_url, platform, tmp_path), tmp_path) as served:
        results = await converse(served, platform)
        processes = Counter(process for _, process, _ in results)
        assert set(processes) == {"0", "1"}, processes
        answered_once(results, platform)
        handled = await scalar(db_url, "SELECT count(*) FROM inboundmessage")
        assert handled == USERS * MESSAGES_EACH
        await queue_rows(db_url, 50)
        await until(lambda: _notices_sent(platform, 50), 30)
        # Only child 0 delivers on SQLite.
        claimers = await scalar(
            db_url, "SELECT count(DISTINCT claimed_by) FROM outboxmessage WHERE kind='notice'"
        )
        assert claimers == 1
        answered = await kill_one_child(served)
        assert answered >= 1
        log = await stop(served)
    assert "exited with SIGKILL; restarting" in log, log[-2000:]


def _notice(text: str | None) -> bool:
    return bool(text and text.startswith("通知"))


async def _notices_sent(platform: FakeWeChatAPI, count: int) -> bool:
    return len({s.text for s in platform.sent if _notice(s.text)}) >= count


async def _all_sent(db_url: str) -> bool:
    pending = await scalar(
        db_url, "SELECT count(*) FROM outboxmessage WHERE kind='notice' AND status <> 'sent'"
    )
    return pending == 0


async def _job_runs(db_url: str) -> list[tuple[str, object]]:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.text("SELECT name, started FROM jobrun_audit ORDER BY started")
            )
            return [(row.name, row.started) for row in rows]
    finally:
        await engine.dispose()


def test_only_the_first_child_delivers_when_any_street_is_on_sqlite(tmp_path: Path) -> None:
    """A PostgreSQL main database does not hide a street kept in a SQLite file."""
    streets = tmp_path / "streets.toml"
    streets.write_text(
        (DATA / "streets.example.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    on_pg = Settings(
        database_url="postgresql+asyncpg://root@127.0.0.1/unused", data_dir=DATA, secret_key="k"
    )
    plan = ServePlan("127.0.0.1", 8080, processes=2)
    assert child_roles(on_pg, plan, 1) == (True, True)
    with_streets = on_pg.model_copy(update={"streets_file": streets})
    assert child_roles(with_streets, plan, 0) == (True, True)
    assert child_roles(with_streets, plan, 1) == (False, False)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_children_stop_when_the_supervisor_is_killed(
    db_url: str, platform: FakeWeChatAPI, tmp_path: Path
) -> None:
    """SIGKILL of the supervisor leaves no orphan serving the port unsupervised."""
    async with serving(serve_env(db_url, platform, tmp_path), tmp_path) as served:
        children = served.children()
        assert len(children) == 2
        served.process.kill()
        await served.process.wait()
        await until(lambda: _all_gone(children), 30)


async def _all_gone(pids: set[int]) -> bool:
    return not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_links_point_at_the_port_served_unless_a_public_url_is_set() -> None:
    """An outside walkthrough served on 8093 and got 加入日历 links to :8080."""
    from bot.config import Settings
    from bot.serve_processes import links_to_the_port_served

    plain = Settings(_env_file=None)
    served = links_to_the_port_served(plain, ServePlan(host="0.0.0.0", port=8093))
    assert served.public_url == "http://127.0.0.1:8093"
    local = links_to_the_port_served(plain, ServePlan(host="127.0.0.1", port=9001))
    assert local.public_url == "http://127.0.0.1:9001"
    assert links_to_the_port_served(plain, ServePlan(host="[::1]", port=8093)).public_url == (
        "http://[::1]:8093"
    )
    assert links_to_the_port_served(plain, ServePlan(host="", port=0)) is plain
    chosen = Settings(_env_file=None, public_url="https://linli.example.cn")
    assert links_to_the_port_served(chosen, ServePlan(host="", port=8093)) is chosen
