"""Benchmark: Telegram updates at a fixed rate through `linli serve`, webhook to sendMessage.

    .venv/bin/python -m bench.telegram_webhook                  # 100/s and 200/s, 20 s each
    .venv/bin/python -m bench.telegram_webhook --rate 15 --seconds 20 --wait 30

For each scenario a fake Telegram Bot API (tests/fakes/telegram_api.py) starts in this process
and the server starts in a child process on a fresh SQLite file, pointed at the fake. Updates
(texts "/start", "办公时间", "菜单" and now and then an "hours" button press) are posted to
/telegram open-loop from 2,000 private chats, each with its own update_id. Two things are timed:

- the webhook: from the POST to its HTTP 200;
- end to end: from the POST to the fake receiving the first sendMessage of that update's reply.
  Replies go out through the outbox worker, and the server's Telegram sender keeps to about 30
  messages a second overall by design, so once replies need more than that a backlog grows;
  the table says how many updates had no reply by the end of the wait after the load.

Everything stays on 127.0.0.1. The server's stderr is kept and summarised after each scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.wechat_webhook import wait_until_up
from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, text_update

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-telegram-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CHATS = 2000
FIRST_CHAT_ID = 500_000_000
SEED = 20261128
SENDER_CEILING = 30  # messages a second the server's Telegram sender allows overall
DEFAULT_PLAN = ((100, 20), (200, 20))
LOG_LINES_SHOWN = 12


@dataclass(frozen=True)
class Kind:
    """One kind of update the load is made of, and how many messages its reply has."""

    label: str
    text: str | None  # a typed text, or None for a button press
    payload: str | None  # the button's callback data
    replies: int
    weight: int


KINDS = (
    Kind("/start", "/start", None, 2, 3),
    Kind("办公时间", "办公时间", None, 1, 3),
    Kind("菜单", "菜单", None, 2, 3),
    Kind("button hours", None, "hours", 1, 1),
)


@dataclass
class Planned:
    """One update to post, and what became of it."""

    chat_id: int
    kind: Kind
    body: bytes
    started: float = 0.0  # time.monotonic() when the POST began (the fake's clock too)
    answered: float | None = None  # seconds to the webhook's HTTP 200, if it came
    error: str | None = None
    first_reply: float | None = None  # monotonic time of the first sendMessage of the reply


@dataclass
class Outcome:
    """What one scenario measured."""

    rate: int
    seconds: int
    wait: float
    updates: list[Planned]
    elapsed: float  # from the first POST to the last answer
    waited: float  # how long after the load the replies were awaited
    sends: list[float]  # every sendMessage the fake accepted (monotonic times)
    extra_messages: int
    stderr_lines: list[str] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)

    @property
    def answered(self) -> list[float]:
        """Webhook latencies of the updates answered 200, in seconds."""
        return [u.answered for u in self.updates if u.answered is not None]

    @property
    def accepted(self) -> list[Planned]:
        """The updates the webhook accepted (only these owe a reply)."""
        return [u for u in self.updates if u.answered is not None]

    @property
    def unreplied(self) -> int:
        """Accepted updates with no reply by the end of the wait."""
        return sum(1 for u in self.accepted if u.first_reply is None)

    def end_to_end(self) -> list[float]:
        """POST to first reply for every accepted update; infinity when no reply came."""
        return sorted(
            (u.first_reply - u.started) if u.first_reply is not None else float("inf")
            for u in self.accepted
        )

    def out_rate(self) -> tuple[float, int]:
        """The fake's mean sendMessage rate between the first and last send, and its peak
        in any whole second since the first."""
        if len(self.sends) < 2:
            return 0.0, len(self.sends)
        first, last = self.sends[0], self.sends[-1]
        bins = Counter(int(t - first) for t in self.sends)
        return (len(self.sends) - 1) / max(last - first, 1e-9), max(bins.values())

    def owed_messages(self) -> int:
        """Reply messages the accepted updates should get that had not arrived by the end."""
        owed = sum(u.kind.replies for u in self.accepted)
        return max(owed - (len(self.sends) - self.extra_messages), 0)


def pct(sorted_values: list[float], p: float) -> float:
    """The p-th quantile of sorted values (nearest rank, as in the WeChat bench)."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(tmp: Path, fake: FakeTelegramAPI) -> dict[str, str]:
    """Environment for the server under test, pointed at the fake Bot API."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {
        "LINLI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        "LINLI_DATA_DIR": str(ROOT / "data"),
        "LINLI_STATE_DIR": str(tmp),
        "LINLI_SECRET_KEY": "bench-secret",
        "LINLI_TELEGRAM_TOKEN": fake.token,
        "LINLI_TELEGRAM_SECRET": SECRET,
        "LINLI_TELEGRAM_API_BASE": fake.base_url,
        "LINLI_WECHAT_API_BASE": "http://127.0.0.1:9",  # demo WeChat is on; it must not go out
        "LINLI_LOG_LEVEL": "WARNING",
        "LINLI_CHAT_RATE_LIMIT": "1000000/minute",
    }
    return env


def start_linli(tmp: Path, fake: FakeTelegramAPI, port: int) -> subprocess.Popen[bytes]:
    """Migrate, seed and serve Linli in a child process whose output goes to tmp/server.log."""
    env = server_env(tmp, fake)
    for args in (["db", "upgrade"], ["seed"]):
        subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, check=True, cwd=ROOT)
    with (tmp / "server.log").open("wb") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_linli(server: subprocess.Popen[bytes]) -> None:
    """Ask the server to stop and wait for it."""
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def prepare(count: int, update_ids: itertools.count[int]) -> list[Planned]:
    """The updates, serialised before the clock starts: chat n % 2,000, a weighted mix."""
    chooser = random.Random(SEED)
    kinds = chooser.choices(KINDS, weights=[k.weight for k in KINDS], k=count)
    planned = []
    for n, kind in enumerate(kinds):
        chat_id = FIRST_CHAT_ID + n % CHATS
        update_id = next(update_ids)
        if kind.text is not None:
            update = text_update(chat_id, kind.text, update_id=update_id)
        else:
            update = callback_update(chat_id, kind.payload or "", update_id=update_id)
        body = json.dumps(update, ensure_ascii=False).encode()
        planned.append(Planned(chat_id, kind, body))
    return planned


async def fire(url: str, updates: list[Planned], rate: int) -> float:
    """Post the updates rate a second, on schedule; returns seconds from first POST to last
    answer."""
    connector = aiohttp.TCPConnector(limit=2000)
    timeout = aiohttp.ClientTimeout(total=30)
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(update: Planned) -> None:
            update.started = time.monotonic()
            try:
                async with session.post(url, data=update.body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        update.error = f"HTTP {response.status}"
                        return
            except (aiohttp.ClientError, TimeoutError) as error:
                update.error = type(error).__name__
                return
            update.answered = time.monotonic() - update.started

        tasks = []
        start = time.monotonic()
        for index, update in enumerate(updates):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(update)))
        await asyncio.gather(*tasks)
        return time.monotonic() - start


async def await_replies(fake: FakeTelegramAPI, updates: list[Planned], wait: float) -> float:
    """Wait until every accepted update's reply has arrived, or wait seconds; returns the time
    waited."""
    owed = sum(u.kind.replies for u in updates if u.answered is not None)
    started = time.monotonic()
    # The fake records sends in a list and offers no event to wait on, so poll it.
    while time.monotonic() - started < wait and len(fake.sent_messages) < owed:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def match_replies(fake: FakeTelegramAPI, updates: list[Planned]) -> int:
    """Give each accepted update the first send of its reply; returns sends beyond the expected.

    A chat's updates are at least CHATS / rate seconds apart and the outbox sends rows oldest
    first, so a chat's sends are its replies in order: each update takes its reply's count.
    """
    by_chat: defaultdict[int, list[Planned]] = defaultdict(list)
    for update in updates:
        if update.answered is not None:
            by_chat[update.chat_id].append(update)
    extra = 0
    for chat_id, own in by_chat.items():
        sends = sorted(fake.send_times(chat_id))
        position = 0
        for update in sorted(own, key=lambda u: u.started):
            if position < len(sends):
                update.first_reply = sends[position]
            position += update.kind.replies
        extra += max(len(sends) - position, 0)
    return extra


def outbox_summary(db: Path) -> dict[str, int]:
    """Outbox rows by status once the server has stopped, plus rows tried more than once and
    each distinct last error."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        summary = dict(
            connection.execute("SELECT status, COUNT(*) FROM outboxmessage GROUP BY status")
        )
        retried = connection.execute("SELECT COUNT(*) FROM outboxmessage WHERE attempts > 1")
        summary["tried more than once"] = retried.fetchone()[0]
        errors = connection.execute(
            "SELECT last_error, COUNT(*) FROM outboxmessage"
            " WHERE last_error IS NOT NULL AND status != 'sent' GROUP BY last_error"
        )
        summary |= {f"error {error!r}": count for error, count in errors}
    finally:
        connection.close()
    return {str(key): int(value) for key, value in summary.items()}


def server_log_lines(path: Path) -> list[str]:
    """The server's output, minus the one expected demo-mode WeChat warning."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if "demo mode:" not in line]


async def scenario(
    rate: int, seconds: int, wait: float, update_ids: itertools.count[int]
) -> Outcome:
    """One fresh server and fake, one load at rate for seconds, replies awaited for wait s."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fake = FakeTelegramAPI()
        await fake.start()
        try:
            port = free_port()
            server = await asyncio.to_thread(start_linli, tmp, fake, port)
            try:
                await wait_until_up(f"http://127.0.0.1:{port}/healthz")
                updates = prepare(rate * seconds, update_ids)
                elapsed = await fire(f"http://127.0.0.1:{port}/telegram", updates, rate)
                waited = await await_replies(fake, updates, wait)
                extra = match_replies(fake, updates)
                chats = {u.chat_id for u in updates}
                sends = sorted(t for chat_id in chats for t in fake.send_times(chat_id))
            finally:
                await asyncio.to_thread(stop_linli, server)
        finally:
            await fake.close()
        lines = server_log_lines(tmp / "server.log")
        outbox = outbox_summary(tmp / "bench.db")
    return Outcome(rate, seconds, wait, updates, elapsed, waited, sends, extra, lines, outbox)


def seconds_cell(value: float) -> str:
    """A latency in seconds for the end-to-end table; — for "no reply by the end"."""
    return f"{'—':>8}" if value == float("inf") else f"{value:>8.3f}"


def print_tables(rows: list[Outcome]) -> None:
    """The webhook table, the end-to-end table, and what the server wrote to stderr."""
    print(f"cores: {os.cpu_count()}, {CHATS} chats, mix: ", end="")
    total = sum(k.weight for k in KINDS)
    print(", ".join(f"{k.label} {k.weight / total:.0%} ({k.replies} msg)" for k in KINDS))
    print("\nwebhook: POST /telegram → HTTP 200 (ms)")
    print(
        f"{'scenario':<14} {'sent':>6} {'done':>9} {'p50':>7} {'p95':>7} {'p99':>7} "
        f"{'max':>8} {'errors':>6}"
    )
    for row in rows:
        lat = sorted(row.answered)
        errors = sum(1 for u in row.updates if u.error is not None)
        print(
            f"{row.rate:>4}/s x {row.seconds:>2} s {len(row.updates):>6} "
            f"{len(lat) / row.elapsed:>7.1f}/s {pct(lat, 0.5) * 1000:>7.1f} "
            f"{pct(lat, 0.95) * 1000:>7.1f} {pct(lat, 0.99) * 1000:>7.1f} "
            f"{(lat[-1] if lat else 0.0) * 1000:>8.1f} {errors:>6}"
        )
    print("\nend to end: POST → first sendMessage of the reply at the fake (s)")
    print(
        f"{'scenario':<14} {'need/s':>7} {'p50':>8} {'p95':>8} {'p99':>8} {'no reply':>9} "
        f"{'rep. p50':>8} {'rep. max':>8} {'owed msg':>8} {'out msg/s':>9} {'peak/s':>6}"
    )
    for row in rows:
        e2e = row.end_to_end()
        replied = [x for x in e2e if x != float("inf")]
        need = sum(u.kind.replies for u in row.accepted) / row.seconds
        mean_rate, peak = row.out_rate()
        print(
            f"{row.rate:>4}/s x {row.seconds:>2} s {need:>7.0f} {seconds_cell(pct(e2e, 0.5))} "
            f"{seconds_cell(pct(e2e, 0.95))} {seconds_cell(pct(e2e, 0.99))} "
            f"{row.unreplied:>9} {seconds_cell(pct(replied, 0.5))} "
            f"{seconds_cell(replied[-1] if replied else 0.0)} "
            f"{row.owed_messages():>8} {mean_rate:>9.1f} {peak:>6}"
        )
    print(
        f"\nneed/s: reply messages the load asks for a second; the sender's ceiling is about "
        f"{SENDER_CEILING}/s.\np50-p99: over all accepted updates; — : that quantile had no "
        f"reply by the end of the wait.\nno reply: accepted updates without any reply by the "
        f"end of the wait after the load.\nrep. p50, rep. max: over the updates that had a "
        f"reply by then only.\nowed msg: reply messages still to send then (at "
        f"{SENDER_CEILING}/s, about owed / {SENDER_CEILING} s more). out msg/s: sendMessage "
        f"calls the fake\naccepted a second, first to last; peak/s: the most in one second."
    )
    for row in rows:
        waited = f"waited {row.waited:.1f} s of {row.wait:.0f} s after the load"
        extra = f", {row.extra_messages} unexpected extra messages" if row.extra_messages else ""
        print(f"{row.rate}/s: load took {row.elapsed:.1f} s, {waited}{extra}")
        failures = Counter(u.error for u in row.updates if u.error is not None)
        if failures:
            print(f"  webhook errors: {dict(failures)}")
        print(f"  outbox when the server stopped: {row.outbox}")
        summarise_log(row.stderr_lines)


def summarise_log(lines: list[str]) -> None:
    """How much the server wrote, its tracebacks, and the first distinct lines."""
    if not lines:
        print("  server stderr: nothing beyond the demo-mode notice")
        return
    tracebacks = sum(1 for line in lines if line.startswith("Traceback"))
    print(f"  server stderr: {len(lines)} lines, {tracebacks} tracebacks; first distinct lines:")
    seen: set[str] = set()
    for line in lines:
        key = re.sub(r"\d+", "N", line)
        if key in seen or line.startswith(" "):
            continue
        seen.add(key)
        print(f"    {line[:200]}")
        if len(seen) >= LOG_LINES_SHOWN:
            break


async def run(args: argparse.Namespace) -> None:
    """Run the chosen scenarios, each on a fresh server, and print the tables."""
    plan = [(args.rate, args.seconds)] if args.rate else list(DEFAULT_PLAN)
    update_ids = itertools.count(1)
    rows: list[Outcome] = []
    for rate, seconds in plan:
        rows.append(await scenario(rate, seconds, args.wait, update_ids))
    print_tables(rows)


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=0, help="one scenario at this rate")
    parser.add_argument("--seconds", type=int, default=20, help="length of that scenario")
    parser.add_argument(
        "--wait", type=float, default=10.0, help="seconds to await replies after the load"
    )
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
