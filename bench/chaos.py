"""`make chaos`: every fault of issue 22 against Linli, then a table of what was lost and
duplicated. Exits 1 if anything was lost, repeated or delivered out of order.

    .venv/bin/python -m bench.chaos            # all faults (about five minutes, root needed)
    .venv/bin/python -m bench.chaos --only clock,outage

Faults: SIGKILL of `linli serve` mid-load and restart (on SQLite, and on a throwaway
PostgreSQL cluster on port 5439); that PostgreSQL restarted under load (fast, then immediate);
the WeChat API down for minutes; the SQLite disk full; the clock jumping forward and back.
The shared PostgreSQL on 5432 is never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.chaos_clock import clock_jumps
from bench.chaos_disk import disk_full
from bench.chaos_outage import channel_outage
from bench.chaos_postgres import throwaway_postgres
from bench.chaos_report import FaultResult, details, table
from bench.chaos_serve import (
    ROOT,
    kill_and_restart,
    kill_one_child,
    restart_postgres,
    under_load,
)

Run = Callable[[Path], Awaitable[list[FaultResult]]]


async def seeded_sqlite(directory: Path) -> Path:
    """A migrated, seeded SQLite file made by the `linli` commands."""
    path = directory / "seeded.db"
    env = {"LINLI_DATABASE_URL": f"sqlite+aiosqlite:///{path}", "LINLI_SECRET_KEY": "chaos"}
    for args in (["db", "upgrade"], ["seed"]):
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot.cli", *args],
            env={**_plain_env(), **env},
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
    return path


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}


async def serve_faults(work: Path) -> list[FaultResult]:
    """Kill on SQLite; kill and database restarts on a throwaway PostgreSQL."""
    results = [
        await under_load(
            "SIGKILL serve, SQLite",
            "kill -9 mid-load, restart, WeChat retries",
            f"sqlite+aiosqlite:///{work}/serve.db",
            work,
            kill_and_restart,
        )
    ]
    with throwaway_postgres() as cluster:
        results.append(
            await under_load(
                "SIGKILL serve, PostgreSQL",
                "kill -9 mid-load, restart, WeChat retries",
                cluster.create_database("kill"),
                work,
                kill_and_restart,
            )
        )
        results.append(
            await under_load(
                "SIGKILL 1 of 2 processes, PostgreSQL",
                "kill -9 one child of serve --processes 2",
                cluster.create_database("child"),
                work,
                kill_one_child,
                processes=2,
            )
        )
        results.append(
            await under_load(
                "PostgreSQL restarted",
                "pg_ctl restart -m fast, then -m immediate, under load",
                cluster.create_database("restart"),
                work,
                restart_postgres(cluster),
            )
        )
    return results


async def outage(work: Path) -> list[FaultResult]:
    """The WeChat API down."""
    return [await channel_outage(f"sqlite+aiosqlite:///{await seeded_sqlite(work)}")]


async def disk(work: Path) -> list[FaultResult]:
    """The SQLite disk full."""
    return [await disk_full(await seeded_sqlite(work), work)]


async def clock(work: Path) -> list[FaultResult]:
    """The clock jumping."""
    return [await clock_jumps(f"sqlite+aiosqlite:///{await seeded_sqlite(work)}")]


FAULTS: dict[str, Run] = {"serve": serve_faults, "outage": outage, "disk": disk, "clock": clock}


async def run(names: list[str]) -> list[FaultResult]:
    """The named faults, one after another, each in its own directory."""
    results: list[FaultResult] = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"linli-chaos-{name}-") as work:
            results += await FAULTS[name](Path(work))
    return results


def main() -> None:
    """Run, print the table and the details, exit 1 on any loss or repeat."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default=",".join(FAULTS), help="comma-separated fault names")
    names = [name for name in parser.parse_args().only.split(",") if name]
    results = asyncio.run(run(names))
    print(table(results))
    print(details(results))
    lost = sum(len(r.lost) for r in results)
    twice = sum(len(r.duplicated) for r in results)
    print(f"lost: {lost}, duplicated: {twice}")
    sys.exit(0 if all(r.clean for r in results) else 1)


if __name__ == "__main__":
    main()
