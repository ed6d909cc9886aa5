"""Benchmark: WeChat customer-service sends — what we ship versus threads and raw aiohttp.

    .venv/bin/python -m bench.wechat_outbound [--sends 2000] [--concurrency 50] [--delay-ms 0,50]

All three variants post the same `message/custom/send` JSON to the fake WeChat API
(`tests.fakes.wechat_api.FakeWeChatAPI`) on 127.0.0.1, N sends at concurrency C
(`asyncio.gather` over a semaphore), once per platform delay:

- threads: the design we rejected, kept here as the baseline — wechatpy's synchronous
  `WeChatClient` (requests) pointed at the fake, `auto_retry=False`, our timeout and a token
  fetched once, each send in `asyncio.to_thread` under `asyncio.wait_for`;
- shipped: `WeChatApi.call` — wechatpy builds the request and reads the answer, `AioWeChatClient`
  sends it over one aiohttp session; SQLite-backed shared token and `SystemClock`;
- aiohttp: one shared `aiohttp.ClientSession` posting the same body with a token fetched once —
  the floor, with no wechatpy and no token bookkeeping.

The fake runs in a child process so that the event loop measured here carries only the sender.
Token fetches happen before the clock starts, and each run starts from a collected, frozen heap
(`gc.freeze`): a full collection of the app's import-time heap stalls the loop for 100+ ms at a
random moment whichever transport is in use, and would otherwise decide the comparison by luck.
While sending, a probe task sleeps 10 ms in a loop and records how late it wakes (event-loop
lag: the webhook shares this loop with its 5-second WeChat deadline).

Prints the machine facts, an idle-loop lag baseline, a table (total seconds, sends/s, p50/p95/p99
latency per send, lag p99/max and probe wake-ups, sends the fake accepted, errors) and a
one-line verdict computed from those numbers: whether the shipped transport meets the targets
(at least the worker's WeChat rate ceiling, loop-lag p99 within budget, no errors) and how it
compares with threads and with the raw aiohttp floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import multiprocessing
import os
import platform
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import aiohttp
from wechatpy import WeChatClient

from bot.app import SEND_RATES
from bot.channels.wechat_api import WeChatApi
from bot.clock import SystemClock
from models.db import make_engine, make_session_factory
from models.migrate import upgrade
from tests.fakes.wechat_api import FakeWeChatAPI

TIMEOUT = 5.0  # Settings.wechat_api_timeout's default
PROBE_INTERVAL = 0.010
IDLE_SECONDS = 1.0
LAG_BUDGET_MS = 50.0  # 1% of WeChat's 5-second webhook deadline
NEED_PER_SECOND = SEND_RATES["wechat"]  # the outbox worker's ceiling for WeChat
# ThreadPoolExecutor's default size, which `asyncio.to_thread` gets from the default executor.
EXECUTOR_THREADS = min(32, (os.cpu_count() or 1) + 4)

Send = Callable[[int], Awaitable[None]]


@dataclass
class Run:
    """One variant at one platform delay: timings, loop lags, outcome counts."""

    variant: str
    delay_ms: float
    seconds: float
    latencies: list[float]
    lags: list[float]
    accepted: int
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        """Sends per second over the whole run."""
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-th percentile of values (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def custom_text(openid: str, text: str) -> dict[str, Any]:
    """The customer-service text body that wechatpy's `message.send_text` posts."""
    return {"touser": openid, "msgtype": "text", "text": {"content": text}}


def recipient(n: int) -> tuple[str, str]:
    """The openid and text of send number n."""
    return f"oBench-{n:05d}", f"社区通知 {n}：明天上午九点在居委会办理社保卡补办。"


# The fake WeChat API, in a child process.


def serve_fake(conn: Connection) -> None:
    """Child process: run the fake WeChat API and answer the parent's commands."""
    asyncio.run(_serve_fake(conn))


async def _serve_fake(conn: Connection) -> None:
    """Serve until told to stop; answer each command with the count of accepted sends."""
    fake = FakeWeChatAPI()
    conn.send((await fake.start(), fake.appid, fake.secret))
    while True:
        command, value = await asyncio.to_thread(conn.recv)
        if command == "stop":
            break
        if command == "delay":
            fake.delay = float(value)
        conn.send(len(fake.sent))
    await fake.close()


class FakeProcess:
    """The parent's handle on the fake: its URL, credentials, delay and accepted count."""

    def __init__(self) -> None:
        """Prepare a spawned child process and the pipe to it."""
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve_fake, args=(child,), daemon=True)
        self.base_url = self.appid = self.secret = ""

    async def start(self) -> None:
        """Start the child and wait for its address."""
        self._process.start()
        answer = await asyncio.to_thread(self._conn.recv)
        self.base_url, self.appid, self.secret = cast(tuple[str, str, str], answer)

    async def _ask(self, command: str, value: float = 0.0) -> int:
        """Send one command to the child and return its count of accepted sends."""
        self._conn.send((command, value))
        return cast(int, await asyncio.to_thread(self._conn.recv))

    async def set_delay(self, seconds: float) -> None:
        """Make every answer of the fake wait this long."""
        await self._ask("delay", seconds)

    async def accepted(self) -> int:
        """How many messages the fake has accepted so far."""
        return await self._ask("count")

    async def stop(self) -> None:
        """Stop the child."""
        self._conn.send(("stop", 0.0))
        await asyncio.to_thread(self._process.join, 10)


# Measuring.


@contextlib.contextmanager
def settled_heap() -> Iterator[None]:
    """Collect and freeze the heap so no full collection of older objects lands in a run."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.asynccontextmanager
async def lag_probe() -> AsyncIterator[list[float]]:
    """Record how late a task sleeping PROBE_INTERVAL in a loop wakes, in seconds."""
    lags: list[float] = []

    async def probe() -> None:
        """Sleep, wake, record the lateness, forever."""
        while True:
            start = time.perf_counter()
            await asyncio.sleep(PROBE_INTERVAL)
            lags.append(max(0.0, time.perf_counter() - start - PROBE_INTERVAL))

    task = asyncio.create_task(probe())
    try:
        yield lags
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def drive(
    variant: str, send: Send, fake: FakeProcess, delay_ms: float, sends: int, concurrency: int
) -> Run:
    """Run `sends` sends at `concurrency` under the lag probe and collect the numbers."""
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    async def one(n: int) -> None:
        """Send number n once a slot is free; time it and count its error if any."""
        async with semaphore:
            start = time.perf_counter()
            try:
                await send(n)
            except Exception as error:
                errors[type(error).__name__] += 1
            latencies.append(time.perf_counter() - start)

    before = await fake.accepted()
    with settled_heap():
        async with lag_probe() as lags:
            start = time.perf_counter()
            await asyncio.gather(*(one(n) for n in range(sends)))
            seconds = time.perf_counter() - start
    accepted = await fake.accepted() - before
    return Run(variant, delay_ms, seconds, latencies, list(lags), accepted, errors)


class ThreadsWeChatClient(WeChatClient):  # type: ignore[misc]
    """The rejected design: wechatpy's synchronous (requests) client, pointed at the fake."""

    def __init__(self, app_id: str, secret: str, base_url: str, token: str) -> None:
        super().__init__(app_id, secret, access_token=token, timeout=TIMEOUT, auto_retry=False)
        self.API_BASE_URL = base_url.rstrip("/") + "/cgi-bin/"

    def close(self) -> None:
        """Close the requests session and its pooled connections."""
        self._http.close()


def threads_sender(client: ThreadsWeChatClient) -> Send:
    """A send through the synchronous client in the default executor's threads."""

    async def send(n: int) -> None:
        """Send text number n in a thread, bounded like `WeChatApi.call`."""
        openid, text = recipient(n)
        await asyncio.wait_for(
            asyncio.to_thread(client.message.send_text, openid, text), TIMEOUT + 1
        )

    return send


def shipped_sender(api: WeChatApi) -> Send:
    """A send through what we ship: `WeChatApi.call` with wechatpy over aiohttp."""

    async def send(n: int) -> None:
        """Send text number n with `WeChatApi.call`."""
        openid, text = recipient(n)
        await api.call(lambda client: client.message.send_text(openid, text))

    return send


def aiohttp_sender(session: aiohttp.ClientSession, base_url: str, token: str) -> Send:
    """A send through one shared aiohttp session, with the same URL, query and body."""
    url = f"{base_url}/cgi-bin/message/custom/send"

    async def send(n: int) -> None:
        """Post text number n and raise on an HTTP error or a non-zero errcode."""
        body = json.dumps(custom_text(*recipient(n)), ensure_ascii=False).encode("utf-8")
        async with session.post(url, params={"access_token": token}, data=body) as response:
            response.raise_for_status()
            answer = await response.json(content_type=None)
        if answer.get("errcode", 0) != 0:
            raise RuntimeError(f"errcode {answer['errcode']}")

    return send


async def aiohttp_token(session: aiohttp.ClientSession, fake: FakeProcess) -> str:
    """Fetch an access token once via GET /cgi-bin/token."""
    params = {"grant_type": "client_credential", "appid": fake.appid, "secret": fake.secret}
    async with session.get(f"{fake.base_url}/cgi-bin/token", params=params) as response:
        response.raise_for_status()
        answer = await response.json(content_type=None)
    return str(answer["access_token"])


async def idle_lag() -> list[float]:
    """The probe's lags on an otherwise idle loop, as a baseline."""
    with settled_heap():
        async with lag_probe() as lags:
            await asyncio.sleep(IDLE_SECONDS)
    return list(lags)


async def measure(db_file: Path, sends: int, concurrency: int, delays_ms: list[float]) -> None:
    """Start the fake and the three senders, run every delay for each, print the table."""
    fake = FakeProcess()
    await fake.start()
    engine = make_engine(f"sqlite+aiosqlite:///{db_file}")
    await upgrade(engine)
    api = WeChatApi(
        fake.appid,
        fake.secret,
        fake.base_url,
        TIMEOUT,
        make_session_factory(engine),
        SystemClock(),
    )
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    runs: list[Run] = []
    threads_client: ThreadsWeChatClient | None = None
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await api.tokens.get()
            token = await aiohttp_token(session, fake)
            threads_client = ThreadsWeChatClient(fake.appid, fake.secret, fake.base_url, token)
            senders = {
                "threads": threads_sender(threads_client),
                "shipped": shipped_sender(api),
                "aiohttp": aiohttp_sender(session, fake.base_url, token),
            }
            idle = await idle_lag()
            for delay_ms in delays_ms:
                await fake.set_delay(delay_ms / 1000)
                for variant, send in senders.items():
                    runs.append(await drive(variant, send, fake, delay_ms, sends, concurrency))
    finally:
        if threads_client is not None:
            threads_client.close()
        await api.close()
        await fake.stop()
        await engine.dispose()
    print_report(runs, idle, sends, concurrency)


# Reporting.


def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal."""
    return f"{seconds * 1000:.1f}"


def print_report(runs: list[Run], idle: list[float], sends: int, concurrency: int) -> None:
    """Print machine facts, the idle baseline, the table and the recommendation."""
    print(
        f"nproc {os.cpu_count()}, Python {platform.python_version()}, aiohttp "
        f"{aiohttp.__version__}; default executor {EXECUTOR_THREADS} threads; "
        f"{sends} sends, concurrency {concurrency}"
    )
    print(f"idle loop lag: p99 {ms(percentile(idle, 99))} ms, max {ms(max(idle, default=0))} ms")
    header = (
        "variant", "delay", "total s", "sends/s", "p50 ms", "p95 ms", "p99 ms",
        "lag p99", "lag max", "wakes", "accepted", "errors",
    )  # fmt: skip
    rows = [header]
    for run in runs:
        rows.append(
            (
                run.variant,
                f"{run.delay_ms:g} ms",
                f"{run.seconds:.2f}",
                f"{run.rate:.0f}",
                ms(percentile(run.latencies, 50)),
                ms(percentile(run.latencies, 95)),
                ms(percentile(run.latencies, 99)),
                ms(percentile(run.lags, 99)),
                ms(max(run.lags, default=0.0)),
                str(len(run.lags)),
                str(run.accepted),
                ", ".join(f"{name}×{count}" for name, count in run.errors.items()) or "0",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells))
    print(
        "lag: how late the 10 ms probe woke, in ms, over `wakes` wake-ups "
        "(p99 is the max below 101 wake-ups)"
    )
    print(f"verdict: {recommend(runs)}")


def shortfalls(runs: list[Run]) -> list[str]:
    """Why a variant's runs fall short of the worker's rate, the lag budget or zero errors."""
    reasons = []
    for run in runs:
        lag = percentile(run.lags, 99) * 1000
        if run.rate < NEED_PER_SECOND:
            reasons.append(f"{run.rate:.0f} sends/s at {run.delay_ms:g} ms delay")
        if lag > LAG_BUDGET_MS:
            reasons.append(f"loop lag p99 {lag:.1f} ms at {run.delay_ms:g} ms delay")
        if run.errors or run.accepted != len(run.latencies):
            reasons.append(
                f"{sum(run.errors.values())} errors, {run.accepted}/{len(run.latencies)} "
                f"accepted at {run.delay_ms:g} ms delay"
            )
    return reasons


def summary(runs: list[Run]) -> str:
    """A variant's worst throughput and worst loop lag across delays."""
    rate = min(run.rate for run in runs)
    lag = max(percentile(run.lags, 99) for run in runs) * 1000
    return f"worst {rate:.0f} sends/s, worst lag p99 {lag:.1f} ms"


def ratios(runs: list[Run], base: list[Run]) -> str:
    """Throughput of runs relative to base at each delay, e.g. "4.1× at 0 ms, 2.0× at 50 ms"."""
    by_delay = {run.delay_ms: run for run in base}
    parts = []
    for run in runs:
        other = by_delay.get(run.delay_ms)
        if other is not None and other.rate > 0:
            parts.append(f"{run.rate / other.rate:.2f}× at {run.delay_ms:g} ms")
    return ", ".join(parts) or "n/a"


def verdict(name: str, runs: list[Run]) -> str:
    """Whether a variant meets the targets, with its worst numbers or its shortfalls."""
    short = shortfalls(runs)
    if not short:
        return f"{name} meets them ({summary(runs)})"
    return f"{name} misses them: {'; '.join(short)} ({summary(runs)})"


def recommend(runs: list[Run]) -> str:
    """Judge the shipped transport against the targets, threads and the raw aiohttp floor."""
    by_variant = {
        name: [run for run in runs if run.variant == name]
        for name in ("threads", "shipped", "aiohttp")
    }
    threads, shipped, floor = by_variant["threads"], by_variant["shipped"], by_variant["aiohttp"]
    target = (
        f"targets ≥ {NEED_PER_SECOND:g} sends/s (worker ceiling), lag p99 ≤ {LAG_BUDGET_MS:g} ms, "
        "zero errors"
    )
    shipped_ok, threads_ok = not shortfalls(shipped), not shortfalls(threads)
    if shipped_ok and not threads_ok:
        outcome = "the switch from threads is confirmed"
    elif shipped_ok:
        outcome = "both meet the targets; the switch is not required by them"
    elif threads_ok:
        outcome = "threads would meet the targets the shipped transport misses — revisit the switch"
    else:
        outcome = "neither meets the targets"
    return (
        f"{outcome}. For the {target}: {verdict('shipped', shipped)}; "
        f"{verdict('threads', threads)}. Shipped vs threads throughput: "
        f"{ratios(shipped, threads)}; shipped vs the raw aiohttp floor: {ratios(shipped, floor)} "
        f"(aiohttp {summary(floor)})"
    )


def delay_list(text: str) -> list[float]:
    """Parse a comma-separated list of delays in milliseconds."""
    values = [float(part) for part in text.split(",") if part.strip()]
    if not values or any(value < 0 for value in values):
        raise argparse.ArgumentTypeError("expected non-negative milliseconds, e.g. 0,50")
    return values


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sends", type=int, default=2000, help="sends per run (default 2000)")
    parser.add_argument("--concurrency", type=int, default=50, help="sends in flight (default 50)")
    parser.add_argument(
        "--delay-ms", type=delay_list, default=[0.0, 50.0], help="fake's delays (default 0,50)"
    )
    args = parser.parse_args()
    if args.sends < 1 or args.concurrency < 1:
        parser.error("--sends and --concurrency must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(Path(tmp) / "bench.db", args.sends, args.concurrency, args.delay_ms))


if __name__ == "__main__":
    main()
