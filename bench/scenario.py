"""Scenario runner (issue 22): thousands of residents on WeChat and Telegram at once.

    .venv/bin/python -m bench.scenario                           # sqlite-1, pg-1, pg-2, pg-4
    .venv/bin/python -m bench.scenario --configs sqlite-1 --residents 500 --seconds 20
    .venv/bin/python -m bench.scenario --residents 5000 --seconds 120 --telegram-share 0.1

For each configuration a fake WeChat API and a fake Telegram Bot API start in this process, a
fresh database is made (a SQLite file, or the PostgreSQL database of --pg-url dropped and
recreated), `linli db upgrade` and `linli seed` run, and `linli serve` starts as real child
processes pointed at both fakes (`--processes N` when this checkout has it, else N servers on N
ports with the residents spread over them), with the clock at Tuesday 1 December 2026 09:00.

Residents arrive over --seconds, each on WeChat (signed XML to POST /wechat, passive XML
answers) or Telegram (updates to POST /telegram; answers are the sendMessage calls reaching the
fake), and run a session of 3-5 steps from a weighted mix: menu, book, move, cancel, track,
need, rate, ask (see bench/scenario_steps.py). Three department supervisors bound on WeChat
resolve the return-visit cases that poor ratings open, while the servers' own scheduler and
outbox worker run. Afterwards the outbox is given --drain seconds to empty.

Printed per configuration: steps/s and messages/s, a markdown table of steps x (count, ok,
wrong, errors, p50/p95/p99 ms of the time spent waiting for answers), per-channel message
latency, the database size, outbox rows not sent, and the exact messages of failed steps.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bench.scenario_channels import TelegramClient, WatchedTelegram, WatchedWeChat, WeChatClient
from bench.scenario_load import Load, Plan, run_load
from bench.scenario_servers import (
    fresh_postgres,
    migrate_seed_bind,
    outbox_and_size,
    server_env,
    server_log_lines,
    start,
    stop,
)
from bench.scenario_steps import STEPS
from bench.telegram_webhook import pct, summarise_log
from bench.wechat_webhook import wait_until_up

CONFIGS = ("sqlite-1", "pg-1", "pg-2", "pg-4")
PG_URL = "postgresql+asyncpg://root@127.0.0.1:5432/linli_h4"
NOW = "2026-12-01T09:00:00+08:00"  # a Tuesday morning: every weekday service has slots
STAFF = ("S041", "S038", "S039")  # supervisors of 社会保障科, 民政科, 群众工作科
SHOWN_FAILURES = 2  # transcripts printed per step kind and outcome
UNSENT = ("pending", "sending")


@dataclass
class Result:
    """One configuration's measurements."""

    config: str
    load: Load
    outbox: dict[str, int]
    size: int
    drained: float  # seconds the outbox took to empty after the load (or the limit)
    telegram_sends: int
    wechat_pushes: int
    log: list[str] = field(default_factory=list)
    processes: str = ""

    @property
    def unsent(self) -> int:
        """Outbox rows not sent (pending or claimed) when the run ended."""
        return sum(self.outbox.get(status, 0) for status in UNSENT)


def database_url(config: str, tmp: Path, pg_url: str) -> str:
    """The database a configuration runs on."""
    if config.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp / 'scenario.db'}"
    return pg_url


async def drain(url: str, limit: float) -> tuple[float, dict[str, int], int]:
    """Wait until no outbox row is pending or being sent (or limit seconds)."""
    started = time.monotonic()
    while True:
        outbox, size = await outbox_and_size(url)
        waited = time.monotonic() - started
        if not any(outbox.get(status) for status in UNSENT) or waited > limit:
            return waited, outbox, size
        await asyncio.sleep(0.5)


async def run_config(config: str, plan: Plan, args: argparse.Namespace) -> Result:
    """One configuration from a fresh database to the drained outbox."""
    processes = int(config.rsplit("-", 1)[1])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = database_url(config, tmp, args.pg_url)
        if url.startswith("postgresql"):
            await fresh_postgres(url)
        telegram_fake, wechat_fake = WatchedTelegram(), WatchedWeChat()
        await telegram_fake.start()
        await wechat_fake.start()
        env = server_env(
            url, tmp, wechat_fake.base_url, (telegram_fake.token, telegram_fake.base_url), NOW
        )
        codes = await asyncio.to_thread(migrate_seed_bind, env, list(STAFF))
        reuseport = processes > 1
        deployment = start(env, processes, tmp, reuseport)
        try:
            bases = [f"http://127.0.0.1:{port}" for port in deployment.ports]
            for base in bases:
                await up(f"{base}/healthz")
            connector = aiohttp.TCPConnector(limit=0)
            timeout = aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                wechat = WeChatClient(session, wechat_fake)
                await warm_up(wechat, bases, processes)
                load = await run_load(
                    plan,
                    bases,
                    wechat,
                    TelegramClient(session, telegram_fake),
                    codes,
                )
            drained, outbox, size = await drain(url, args.drain)
        finally:
            await asyncio.to_thread(stop, deployment)
            await telegram_fake.close()
            await wechat_fake.close()
        how = f"--processes {processes}" if reuseport else f"{processes} on {processes} ports"
        return Result(
            config,
            load,
            outbox,
            size,
            drained,
            len(telegram_fake.sent_messages),
            len(wechat_fake.sent),
            server_log_lines(deployment),
            how,
        )


async def up(url: str, tries: int = 10) -> None:
    """Wait until a server answers; several starting at once on two cores take more than the
    30 s one wait_until_up allows."""
    for _ in range(tries - 1):
        try:
            await wait_until_up(url)
        except RuntimeError:
            continue
        return
    await wait_until_up(url)


async def warm_up(wechat: WeChatClient, bases: list[str], processes: int) -> None:
    """A few questions to every server first, so that loading the understanding model is not
    timed as the residents' wait."""
    for n in range(2 * processes):
        base = bases[n % len(bases)]
        await wechat.say(f"{base}/wechat", f"oScenarioWarmUp{n}", "你们几点下班")


def ms(values: list[float], share: float) -> str:
    """A quantile of seconds, in whole milliseconds."""
    return f"{pct(values, share) * 1000:,.0f}"


def rates(result: Result) -> tuple[float, float]:
    """Steps and messages a second over the load window."""
    span = max(result.load.ended - result.load.started, 1e-9)
    records = result.load.records
    return len(records) / span, sum(r.messages for r in records) / span


def print_summary(results: list[Result], plan: Plan) -> None:
    """One line per configuration."""
    print(
        f"\n{plan.residents:,} residents ({plan.telegram_share:.0%} on Telegram), arriving "
        f"over {plan.seconds:.0f} s, {plan.steps[0]}-{plan.steps[1]} steps each; "
        f"{len(STAFF)} staff on WeChat. Machine: {platform.node() or '?'}, "
        f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores "
        f"shared by the load generator, the servers and PostgreSQL.\n"
    )
    print(
        "| config | servers | load s | steps/s | messages/s | ok | wrong | errors | "
        "step p50 ms | step p99 ms | DB size | outbox unsent | drain s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        steps, messages = rates(result)
        records = result.load.records
        seconds = sorted(r.seconds for r in records if r.error is None)
        print(
            f"| {result.config} | {result.processes} | "
            f"{result.load.ended - result.load.started:.0f} | {steps:.1f} | {messages:.1f} | "
            f"{sum(r.ok for r in records):,} | {sum(r.wrong for r in records):,} | "
            f"{sum(r.error is not None for r in records):,} | {ms(seconds, 0.5)} | "
            f"{ms(seconds, 0.99)} | {result.size / 2**20:.1f} MiB | {result.unsent} | "
            f"{result.drained:.1f} |"
        )


def print_steps(result: Result) -> None:
    """The steps table and the per-channel message latency of one configuration."""
    print(f"\n#### {result.config}\n")
    print("| step | count | ok | wrong | errors | msgs/step | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind in [*STEPS, "staff"]:
        records = result.load.staff if kind == "staff" else result.load.records
        mine = [r for r in records if r.kind == kind]
        if not mine:
            continue
        seconds = sorted(r.seconds for r in mine if r.error is None)
        print(
            f"| {kind} | {len(mine):,} | {sum(r.ok for r in mine):,} | "
            f"{sum(r.wrong for r in mine):,} | {sum(r.error is not None for r in mine):,} | "
            f"{sum(r.messages for r in mine) / len(mine):.1f} | {ms(seconds, 0.5)} | "
            f"{ms(seconds, 0.95)} | {ms(seconds, 0.99)} |"
        )
    print()
    for channel in ("wechat", "telegram"):
        mine = [r for r in result.load.records if r.channel == channel]
        per_message = sorted(r.seconds / r.messages for r in mine if r.messages and not r.error)
        print(
            f"{channel}: {len(mine):,} steps, {sum(r.messages for r in mine):,} messages, "
            f"mean wait per message in a step p50 {ms(per_message, 0.5)} ms, "
            f"p99 {ms(per_message, 0.99)} ms"
        )
    resolved = sum(1 for r in result.load.staff if r.ok and "已办结" in " ".join(r.transcript))
    print(
        f"staff: {resolved} cases resolved; fakes received {result.telegram_sends:,} "
        f"Telegram sendMessage and {result.wechat_pushes:,} WeChat pushes; outbox at the end "
        f"{result.outbox}; sessions cut short at the deadline: {result.load.abandoned}"
    )


def print_failures(result: Result) -> None:
    """The exact messages of a few failed steps of each kind, and the servers' output."""
    shown: Counter[tuple[str, str]] = Counter()
    failed = [r for r in [*result.load.records, *result.load.staff] if not r.ok]
    if failed:
        print(f"\nfailed steps in {result.config} (first {SHOWN_FAILURES} of each kind):")
    for record in failed:
        outcome = "error" if record.error else "wrong"
        if shown[record.kind, outcome] >= SHOWN_FAILURES:
            continue
        shown[record.kind, outcome] += 1
        print(f"  {record.kind} ({record.channel}, {outcome}):")
        for line in record.transcript:
            print(f"    {line}")
    summarise_log(result.log)


async def run(args: argparse.Namespace) -> None:
    """Run the chosen configurations one after another and print the tables."""
    plan = Plan(args.residents, args.seconds, args.tail, args.telegram_share, (3, 5), args.seed)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configs {unknown}; choose from {', '.join(CONFIGS)}")
    began = time.monotonic()
    results = []
    for config in configs:
        print(f"running {config} ...", flush=True)
        try:
            results.append(await run_config(config, plan, args))
        except (RuntimeError, OSError, subprocess.CalledProcessError) as failed:
            print(f"{config} failed: {failed!r}", flush=True)
            continue
        print_summary(results[-1:], plan)
        print_steps(results[-1])
        print(flush=True)
    print(f"\n### Scenario, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print_summary(results, plan)
    for result in results:
        print_steps(result)
    for result in results:
        print_failures(result)
    print(f"\nwhole run: {time.monotonic() - began:.0f} s")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated")
    parser.add_argument("--residents", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=40.0, help="arrival window")
    parser.add_argument(
        "--tail", type=float, default=20.0, help="seconds after the window a step may start"
    )
    parser.add_argument("--telegram-share", type=float, default=0.05)
    parser.add_argument("--drain", type=float, default=30.0, help="seconds for the outbox")
    parser.add_argument("--pg-url", default=PG_URL, help="dropped and recreated")
    parser.add_argument("--seed", type=int, default=20261201)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
