"""Benchmark: signed WeChat text messages at a fixed rate against a running `linli serve`.

    .venv/bin/python -m bench.wechat_webhook                 # the README's scenarios
    .venv/bin/python -m bench.wechat_webhook --rate 500 --seconds 30 --mode plain

Starts the server (one process, a fresh SQLite file) and, for the ratio, a "protocol floor"
server that only verifies the signature, parses the XML and echoes the text. Messages are
sent open-loop (on schedule, whether or not earlier ones have been answered) from 2,000
followers. Prints throughput, latency percentiles and how many answers took over 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.fakes.wechat_sender import WeChatAccount, WeChatServer

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
APP_ID = "wx-bench-app"
AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
FOLLOWERS = 2000
WORDS = ["菜单", "7", "办公时间", "8", "返回"]


@dataclass(frozen=True)
class Outcome:
    """What one scenario measured."""

    label: str
    rate: int
    sent: int
    answered: int
    errors: int
    seconds: float
    latencies: list[float]

    def line(self) -> str:
        """One table row."""
        lat = sorted(self.latencies) or [0.0]

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000

        over_5s = sum(1 for x in lat if x > 5)
        return (
            f"{self.label:<22} {self.rate:>5}/s {self.answered / self.seconds:>8.1f}/s "
            f"{pct(0.5):>7.1f} {pct(0.95):>7.1f} {pct(0.99):>7.1f} {lat[-1] * 1000:>8.1f} "
            f"{self.errors:>6} {over_5s:>5}"
        )


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(db: Path) -> dict[str, str]:
    """Environment for the server under test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {
        "LINLI_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "LINLI_DATA_DIR": str(ROOT / "data"),
        "LINLI_WECHAT_TOKEN": TOKEN,
        "LINLI_WECHAT_APP_ID": APP_ID,
        "LINLI_WECHAT_APP_SECRET": "bench-secret",
        "LINLI_WECHAT_AES_KEY": AES_KEY,
        "LINLI_WECHAT_MODE": "compatible",  # the bench sends plain and safe-mode bodies
        "LINLI_WECHAT_API_BASE": "http://127.0.0.1:9",  # nothing is sent out in this bench
        "LINLI_LOG_LEVEL": "WARNING",
        "LINLI_CHAT_RATE_LIMIT": "1000000/minute",
    }
    return env


def start_linli(db: Path, port: int) -> subprocess.Popen[bytes]:
    """Migrate, seed and serve Linli in a child process."""
    env = server_env(db)
    for args in (["db", "upgrade"], ["seed"]):
        subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, check=True, cwd=ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env, cwd=ROOT
    )


def start_floor(port: int) -> subprocess.Popen[bytes]:
    """The protocol-floor server in a child process."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.wechat_webhook", "--floor-server", str(port)], cwd=ROOT
    )


def run_floor_server(port: int) -> None:
    """Verify, parse, answer: the least any WeChat webhook must do (bench/stack_floor.py)."""
    from bench.stack_floor import make_app
    from bot.channels.wechat import WeChatGatekeeper

    gate = WeChatGatekeeper(TOKEN, APP_ID, (AES_KEY,), mode="compatible")
    web.run_app(make_app(gate), host="127.0.0.1", port=port, print=None, access_log=None)


async def wait_until_up(url: str, seconds: float = 30) -> None:
    """Poll until the server answers (anything but a 5xx), for up to seconds."""
    async with aiohttp.ClientSession() as session:
        for _ in range(int(seconds * 10)):
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def prepare(count: int, safe: bool) -> list[tuple[dict[str, str], bytes]]:
    """Signed (and in safe mode encrypted) requests, made before the clock starts."""
    account = WeChatAccount(TOKEN, APP_ID, AES_KEY)
    followers = [WeChatServer(account, openid=f"oBench{n:05d}") for n in range(FOLLOWERS)]
    requests = []
    for n in range(count):
        server = followers[n % FOLLOWERS]
        word = WORDS[(n // FOLLOWERS) % len(WORDS)]
        requests.append(server.request(server.text(word, msg_id=10**12 + n), safe=safe))
    return requests


async def fire(url: str, label: str, rate: int, seconds: int, safe: bool) -> Outcome:
    """Send rate messages a second for seconds, on schedule, and time every answer."""
    requests = prepare(rate * seconds, safe)
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=2000)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(query: dict[str, str], body: bytes) -> None:
            nonlocal errors
            started = time.perf_counter()
            try:
                async with session.post(url, params=query, data=body) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                        return
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
                return
            latencies.append(time.perf_counter() - started)

        tasks = []
        start = time.perf_counter()
        for index, (query, body) in enumerate(requests):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(query, body)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return Outcome(label, rate, len(requests), len(latencies), errors, elapsed, latencies)


async def scenarios(args: argparse.Namespace) -> None:
    """Run the chosen scenarios against Linli and the protocol floor."""
    with tempfile.TemporaryDirectory() as tmp:
        linli_port, floor_port = free_port(), free_port()
        linli = start_linli(Path(tmp) / "bench.db", linli_port)
        floor = start_floor(floor_port)
        try:
            await wait_until_up(f"http://127.0.0.1:{linli_port}/healthz")
            await wait_until_up(f"http://127.0.0.1:{floor_port}/")
            plan = (
                [(args.mode, args.rate)]
                if args.rate
                else [
                    ("plain", 300),
                    ("plain", 500),
                    ("safe", 300),
                ]
            )
            rows = []
            for mode, rate in plan:
                safe = mode == "safe"
                for name, port in (("linli", linli_port), ("floor", floor_port)):
                    url = f"http://127.0.0.1:{port}/wechat"
                    rows.append(await fire(url, f"{name} {mode}", rate, args.seconds, safe))
                    await asyncio.sleep(1)
        finally:
            for process in (linli, floor):
                process.terminate()
                process.wait(timeout=30)
    print(f"cores: {os.cpu_count()}, {args.seconds} s per scenario, {FOLLOWERS} followers")
    print(
        f"{'scenario':<22} {'rate':>7} {'done':>10} {'p50':>7} {'p95':>7} {'p99':>7} "
        f"{'max ms':>8} {'errors':>6} {'>5s':>5}"
    )
    for row in rows:
        print(row.line())
    for linli_row, floor_row in zip(rows[::2], rows[1::2], strict=True):
        ratio = statistics.median(linli_row.latencies or [0]) / max(
            statistics.median(floor_row.latencies or [1e-9]), 1e-9
        )
        print(f"{linli_row.label}: median latency {ratio:.1f}x the protocol floor")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=0, help="one scenario at this rate")
    parser.add_argument("--mode", choices=["plain", "safe"], default="plain")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--floor-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_server:
        run_floor_server(args.floor_server)
        return
    asyncio.run(scenarios(args))


if __name__ == "__main__":
    main()
