"""The servers under test for the scenario: a fresh database, `linli serve` processes, and what
the database holds at the end (its size and the outbox rows not sent)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.scenario_channels import (
    TELEGRAM_SECRET,
    WECHAT_APP_ID,
    WECHAT_APP_SECRET,
    WECHAT_TOKEN,
)
from bench.telegram_webhook import free_port, stop_linli

ROOT = Path(__file__).resolve().parents[1]
PG_SIZE = "SELECT pg_database_size(current_database())"
BIND_CODE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b")


@dataclass
class Deployment:
    """The running servers of one configuration."""

    url: str  # the database URL
    processes: list[subprocess.Popen[bytes]]
    ports: list[int]
    logs: list[Path]
    reuseport: bool  # one port shared by N processes (`linli serve --processes N`)


def server_env(
    url: str, state: Path, wechat_base: str, telegram: tuple[str, str], now: str
) -> dict[str, str]:
    """Environment for the servers: the fakes for both platforms, a fixed clock, no rate limit."""
    token, telegram_base = telegram
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {
        "LINLI_DATABASE_URL": url,
        "LINLI_DATA_DIR": str(ROOT / "data"),
        "LINLI_STATE_DIR": str(state),
        "LINLI_SECRET_KEY": "scenario-secret-key",
        "LINLI_NOW": now,
        "LINLI_WECHAT_TOKEN": WECHAT_TOKEN,
        "LINLI_WECHAT_APP_ID": WECHAT_APP_ID,
        "LINLI_WECHAT_APP_SECRET": WECHAT_APP_SECRET,
        "LINLI_WECHAT_API_BASE": wechat_base,
        "LINLI_TELEGRAM_TOKEN": token,
        "LINLI_TELEGRAM_SECRET": TELEGRAM_SECRET,
        "LINLI_TELEGRAM_API_BASE": telegram_base,
        "LINLI_LOG_LEVEL": "WARNING",
        "LINLI_CHAT_RATE_LIMIT": "1000000/minute",
    }
    return env


async def fresh_postgres(url: str) -> None:
    """Drop and recreate the database the URL names (every connection to it is ended)."""
    parsed = make_url(url)
    name = parsed.database
    if not name or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"refusing to recreate database {name!r}")
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


def linli(env: dict[str, str], *args: str) -> str:
    """Run one `linli` command to the end; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def migrate_seed_bind(env: dict[str, str], staff: list[str]) -> dict[str, str]:
    """`linli db upgrade`, `linli seed`, then a bind code for each staff code."""
    linli(env, "db", "upgrade")
    linli(env, "seed")
    codes = {}
    for code in staff:
        found = BIND_CODE.search(linli(env, "staff", "bind-code", code))
        if found is None:
            raise RuntimeError(f"no bind code printed for {code}")
        codes[code] = found.group(0)
    return codes


def start(env: dict[str, str], processes: int, state: Path, reuseport: bool) -> Deployment:
    """`linli serve --processes N` on one port, or N servers on N ports."""
    children, ports, logs = [], [], []
    commands = [["--processes", str(processes)]] if reuseport else [[] for _ in range(processes)]
    for index, extra in enumerate(commands):
        port = free_port()
        log = state / f"server-{index}.log"
        with log.open("wb") as sink:  # the child keeps its own copy
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), *extra],
                    env=env,
                    cwd=ROOT,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            )
        ports.append(port)
        logs.append(log)
    return Deployment(env["LINLI_DATABASE_URL"], children, ports, logs, reuseport)


def stop(deployment: Deployment) -> None:
    """Stop every server of the deployment."""
    for child in deployment.processes:
        stop_linli(child)


async def outbox_and_size(url: str) -> tuple[dict[str, int], int]:
    """Outbox rows by status, and the database's size in bytes (SQLite: file, WAL included)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.text("SELECT status, COUNT(*) FROM outboxmessage GROUP BY status")
            )
            outbox = {str(status): int(count) for status, count in rows}
            if engine.dialect.name == "postgresql":
                size = await connection.scalar(sa.text(PG_SIZE))
            else:
                size = sqlite_size(make_url(url).database or "")
    finally:
        await engine.dispose()
    return outbox, int(size or 0)


def sqlite_size(path: str) -> int:
    """Bytes of a SQLite database with its WAL and shared-memory files."""
    return sum(
        Path(path + suffix).stat().st_size
        for suffix in ("", "-wal", "-shm")
        if Path(path + suffix).exists()
    )


def server_log_lines(deployment: Deployment) -> list[str]:
    """What the servers wrote, without the demo-mode notices."""
    lines: list[str] = []
    for log in deployment.logs:
        if log.exists():
            text = log.read_text(encoding="utf-8", errors="replace")
            lines += [line for line in text.splitlines() if "demo mode:" not in line]
    return lines
