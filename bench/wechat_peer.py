"""Issue 22, "faster than the peer": Linli's whole WeChat pipeline against a WeRoBot echo.

    .venv/bin/python -m bench.wechat_peer                      # every target, 20 s each
    .venv/bin/python -m bench.wechat_peer --seconds 10 --only werobot,sqlite
    .venv/bin/python -m bench.wechat_peer --profile bench/profiles/after   # py-spy flame graphs

Targets, one after another in one run, driven by the same wrk (one thread, fixed connections)
with the same kind of signed plain-mode callbacks from 2,000 returning followers and a stream
of new ones (bench/wrk_load.py):

- werobot: a WeRoBot robot echoing each text (bench/werobot_echo.py, no database) under
  gunicorn with one sync worker, as WeRoBot's docs deploy it;
- sqlite: `linli serve`, one process, on a fresh SQLite file (db upgrade + seed);
- pg1 / pg2: `linli serve` on PostgreSQL (--database-url; its tables are DROPPED and rebuilt)
  with one process and with two (`linli serve --processes 2`);
- floor / floor-sqlite: aiohttp verifying, parsing and echoing, with no pipeline (and one
  committed SQLite row): the stack's ceiling (bench/stack_floor.py);
- webhook: `linli serve` on SQLite with the pipeline answering at once (bench/webhook_only.py):
  Linli's own HTTP and webhook layer, so that sqlite minus webhook is the pipeline's share.

After each run a few more messages go through aiohttp and their XML replies are checked in full.
Prints requests/s, wrk's p50/p99, errors and the issue's ratios, each marked met or not met.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.desk_numbers import reset_postgres
from bench.wechat_webhook import free_port, wait_until_up
from bench.wrk_load import APP_ID, TOKEN, Load, Messages, finish_wrk, start_wrk
from tests.fakes.wechat_sender import WeChatAccount, WeChatServer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG = "postgresql+asyncpg://root@127.0.0.1:5432/linli_h3"
TARGETS = ("werobot", "sqlite", "pg1", "pg2", "floor", "floor-sqlite", "webhook")
DEFAULT_TARGETS = TARGETS[:4]
FLOORS = ("floor", "floor-sqlite")  # the stack's ceiling: aiohttp with no pipeline
WARM_SECONDS = 5
START_SECONDS = 180  # a loaded 2-core machine can take a minute to import and warm a server
SAMPLES = 5
Servers = list[tuple[subprocess.Popen[bytes], int]]  # each process with the port it serves


@dataclass
class Row:
    """One target's line of the table."""

    target: str
    load: Load
    sample_errors: int
    cpu_ms: float  # server CPU per answer: what a shared machine's scheduling cannot blur


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its descendants so far, from /proc."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(cpu_seconds(int(child)) for child in children)


def linli_env(database_url: str) -> dict[str, str]:
    """The environment of a Linli server under test: plain mode, quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    return env | {
        "LINLI_DATABASE_URL": database_url,
        "LINLI_DATA_DIR": str(ROOT / "data"),
        "LINLI_WECHAT_TOKEN": TOKEN,
        "LINLI_WECHAT_APP_ID": APP_ID,
        "LINLI_WECHAT_APP_SECRET": "bench-secret",
        "LINLI_WECHAT_MODE": "plain",
        "LINLI_WECHAT_API_BASE": "http://127.0.0.1:9",  # nothing goes out in this bench
        "LINLI_LOG_LEVEL": "WARNING",
    }


def linli_cli(env: dict[str, str], *args: str) -> None:
    """Run a `linli` command to completion."""
    subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, check=True, cwd=ROOT)


def serve_linli(env: dict[str, str], processes: int, module: str = "bot.cli") -> Servers:
    """`linli serve --processes N` on one port (module bench.webhook_only: without the pipeline)."""
    port = free_port()
    command = [sys.executable, "-m", module, "serve", "--port", str(port)]
    command += ["--processes", str(processes)]
    return [(subprocess.Popen(command, env=env, cwd=ROOT), port)]


def serve_floor(folder: str, store: bool) -> Servers:
    """bench/stack_floor.py: aiohttp verifying, parsing and echoing (and committing one row)."""
    port = free_port()
    command = [sys.executable, "-m", "bench.stack_floor", str(port)]
    command += ["--sqlite", f"{folder}/floor.db"] if store else []
    return [(subprocess.Popen(command, cwd=ROOT), port)]


def serve_peer() -> Servers:
    """The WeRoBot echo under gunicorn, one sync worker."""
    port = free_port()
    env = os.environ | {"PEER_WECHAT_TOKEN": TOKEN}
    command = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}"]
    command += ["--log-level", "warning", "bench.werobot_echo:app"]
    return [(subprocess.Popen(command, env=env, cwd=ROOT), port)]


@contextmanager
def target_servers(target: str, args: argparse.Namespace) -> Iterator[Servers]:
    """Start a target's servers on a fresh database; stop them afterwards."""
    with tempfile.TemporaryDirectory(prefix="peer-") as folder:
        if target == "werobot":
            servers = serve_peer()
        elif target in FLOORS:
            servers = serve_floor(folder, target == "floor-sqlite")
        else:
            on_sqlite = target in ("sqlite", "webhook")
            url = f"sqlite+aiosqlite:///{folder}/bench.db" if on_sqlite else args.pg
            if url.startswith("postgresql"):
                asyncio.run(reset_postgres(url))
            env = linli_env(url)
            linli_cli(env, "db", "upgrade")
            linli_cli(env, "seed")
            module = "bench.webhook_only" if target == "webhook" else "bot.cli"
            servers = serve_linli(env, 2 if target == "pg2" else 1, module)
        try:
            for _process, port in servers:
                path = "/" if target == "werobot" else "/healthz"
                asyncio.run(wait_until_up(f"http://127.0.0.1:{port}{path}", START_SECONDS))
            yield servers
        finally:
            for process, _port in servers:
                process.terminate()
            for process, _port in servers:
                process.wait(timeout=30)


def load_servers(
    servers: Servers, messages: Messages, connections: int, seconds: float, rate: float
) -> Load:
    """wrk against every server at once, the connections and the requests split between them."""
    # Enough requests for twice the rate the warm-up saw, so that none is sent twice.
    count = int(max(rate, 500) * seconds * 2 / len(servers)) + 1000
    runs = []
    for _process, port in servers:
        requests = [(path, body) for _o, _w, path, body in messages.take(count)]
        url = f"http://127.0.0.1:{port}"
        runs.append(start_wrk(url, requests, connections // len(servers), seconds))
    loads = [finish_wrk(process, folder) for process, folder in runs]
    total = loads[0]
    for load in loads[1:]:
        total = total.plus(load)
    return total


async def check_samples(port: int, messages: Messages, echo: bool) -> int:
    """Send a few messages through aiohttp and count the replies that are not right."""
    wrong = 0
    account = WeChatAccount(TOKEN, APP_ID)
    async with aiohttp.ClientSession() as session:
        for openid, word, path, body in messages.take(SAMPLES):
            url = f"http://127.0.0.1:{port}{path}"
            async with session.post(url, data=body) as response:
                raw = await response.read()
            reply = WeChatServer(account, openid=openid).read_reply(raw)
            right = (
                response.status == 200
                and reply.get("ToUserName") == openid
                and reply.get("MsgType") == "text"
                and bool(reply.get("Content"))
                and (not echo or reply.get("Content") == word)
            )
            wrong += not right
    return wrong


async def settle(port: int) -> None:
    """A typed question, answered before any load: Linli trains its understanding model in the
    background at start-up, and the first question waits for it (a minute on a busy machine)."""
    follower = WeChatServer(WeChatAccount(TOKEN, APP_ID), openid="oSettle")
    query, body = follower.request(follower.text("办公时间", msg_id=1))
    url = f"http://127.0.0.1:{port}/wechat"
    timeout = aiohttp.ClientTimeout(total=START_SECONDS)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, params=query, data=body) as response,
    ):
        await response.read()


@contextmanager
def profiling(
    servers: Servers, folder: Path | None, target: str, seconds: float, *, raw: bool = False
) -> Iterator[None]:
    """py-spy flame graphs (or, raw, collapsed stacks to add up) of the serving processes while
    the measured load runs."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    spies = []
    for index, (process, _port) in enumerate(servers):
        suffix = "txt" if raw else "svg"
        name = f"{target}.{suffix}" if len(servers) == 1 else f"{target}-{index + 1}.{suffix}"
        command = [str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking"]
        command += ["--format", "raw"] if raw else []
        command += ["--rate", "50", "--function", "--subprocesses", "--duration", str(int(seconds))]
        command += ["-o", str(folder / name), "--pid", str(process.pid)]
        spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
    try:
        yield
    finally:
        for spy in spies:
            spy.wait(timeout=120)


def measure(target: str, args: argparse.Namespace) -> Row:
    """Warm a target up, measure it, check a sample of its answers."""
    messages = Messages(f"{target}{int(time.time())}")
    with target_servers(target, args) as servers:
        for _process, port in servers:  # one at a time first: start-up work (the model) ends
            if target not in ("werobot", *FLOORS):
                asyncio.run(settle(port))
            asyncio.run(check_samples(port, messages, echo=echoes(target)))
        warm = load_servers(servers, messages, args.connections, WARM_SECONDS, 0)
        seconds = args.seconds
        used = sum(cpu_seconds(process.pid) for process, _port in servers)
        with profiling(servers, args.profile, target, seconds, raw=args.raw):
            load = load_servers(servers, messages, args.connections, seconds, warm.rate)
        used = sum(cpu_seconds(process.pid) for process, _port in servers) - used
        wrong = sum(
            asyncio.run(check_samples(port, messages, echo=echoes(target)))
            for _process, port in servers
        )
    answered = max(load.requests - load.non_2xx - load.bad, 1)
    return Row(target, load, wrong, used * 1000 / answered)


def echoes(target: str) -> bool:
    """Whether a target answers each text with the text itself."""
    return target == "werobot" or target in FLOORS


def ratio_lines(rows: dict[str, Row]) -> list[str]:
    """The issue's three ratios, where both sides were measured."""
    rate: Callable[[str], float] = lambda name: rows[name].load.rate  # noqa: E731
    wanted = [
        ("Linli 1 process SQLite / WeRoBot", "sqlite", "werobot", 1.0, 1.0),
        ("Linli 1 process PostgreSQL / WeRoBot", "pg1", "werobot", 1.0, 1.0),
        ("PostgreSQL 2 processes / (2 x 1 process)", "pg2", "pg1", 2.0, 0.8),
        # The stack's ceiling: the most any pipeline on aiohttp could reach against WeRoBot.
        ("aiohttp echo, no pipeline / WeRoBot", "floor", "werobot", 1.0, 1.0),
        ("aiohttp echo + 1 SQLite commit / WeRoBot", "floor-sqlite", "werobot", 1.0, 1.0),
        # Linli's own webhook layer with the pipeline answering at once: what is left is its cost.
        ("Linli webhook, no pipeline / WeRoBot", "webhook", "werobot", 1.0, 1.0),
    ]
    lines = []
    for label, top, bottom, times, target in wanted:
        if top in rows and bottom in rows and rate(bottom) > 0:
            value = rate(top) / (times * rate(bottom))
            verdict = "met" if value >= target else "NOT met"
            lines.append(f"{label:<42} {value:5.2f}  (target >= {target:.1f}: {verdict})")
    return lines


def report(rows: dict[str, Row], args: argparse.Namespace) -> None:
    """Print the table and the ratios."""
    print(
        f"\ncores: {os.cpu_count()} (shared with wrk and PostgreSQL); wrk 1 thread, "
        f"{args.connections} connections, {args.seconds:.0f} s per target after "
        f"{WARM_SECONDS} s of warm-up; plain mode"
    )
    print(
        f"{'target':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
        f"{'socket':>7} {'bad':>5} {'sample':>7} {'reused':>7} {'CPU ms/answer':>14}"
    )
    for row in rows.values():
        load = row.load
        print(
            f"{row.target:<9} {load.rate:>8.0f} {load.p50_ms:>8.1f} {load.p99_ms:>8.1f} "
            f"{load.non_2xx:>8} {load.socket_errors:>7} {load.bad:>5} "
            f"{row.sample_errors:>5}/{SAMPLES * (2 if row.target == 'pg2' else 1)} "
            f"{load.wrapped:>6} {row.cpu_ms:>14.2f}"
        )
    print()
    for line in ratio_lines(rows):
        print(line)
    if "werobot" in rows and "sqlite" in rows and rows["sqlite"].cpu_ms > 0:
        share = rows["werobot"].cpu_ms / rows["sqlite"].cpu_ms
        print(f"(CPU per answer, WeRoBot / Linli SQLite: {share:.2f}: the ratio on idle cores)")


def main() -> None:
    """Parse arguments and run the chosen targets."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds a target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_TARGETS),
        help=f"comma-separated targets of {', '.join(TARGETS)}",
    )
    parser.add_argument("--database-url", dest="pg", default=DEFAULT_PG, help="PostgreSQL (wiped!)")
    parser.add_argument("--profile", type=Path, help="write py-spy flame graphs here")
    parser.add_argument("--raw", action="store_true", help="with --profile: collapsed stacks")
    args = parser.parse_args()
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    rows = {}
    for target in chosen:
        print(f"measuring {target} …", flush=True)
        try:
            rows[target] = measure(target, args)
        except (RuntimeError, OSError, subprocess.SubprocessError) as failure:
            print(f"{target} not measured: {failure}", flush=True)
    report(rows, args)


if __name__ == "__main__":
    main()
