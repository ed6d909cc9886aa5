"""Database statements (round trips) per WeChat message, counted in process.

    .venv/bin/python -m bench.wechat_statements                    # SQLite, a temp file
    .venv/bin/python -m bench.wechat_statements --database-url postgresql+asyncpg://…  # wiped!

Sends bench/wrk_load.py's message mix (returning and new followers) through the WeChat parser
and the pipeline, with each callback's replay key, and counts what reaches the database: on
SQLite every statement SQLite runs (its trace hook, BEGIN and COMMIT included); on PostgreSQL
every statement SQLAlchemy sends, plus BEGIN, COMMIT and the pool's ping on each checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.desk_numbers import reset_postgres
from bench.wrk_load import Messages
from bot.app import build_linli
from bot.channels.wechat import fits_passive, parse, to_inbound
from bot.config import Settings
from bot.pipeline import Delivery
from models.migrate import upgrade
from models.seed import seed_street

DATA = Path(__file__).resolve().parents[1] / "data"
WARM = 2200  # every pool follower has spoken once before counting starts


def count_statements(engine: Any, counts: Counter[str]) -> None:
    """Count, by first word, what reaches the database through engine from now on."""
    sync = engine.sync_engine
    if sync.dialect.name == "sqlite":

        @event.listens_for(sync, "connect")
        def trace(dbapi_connection: Any, _record: Any) -> None:
            raw = dbapi_connection
            while not isinstance(raw, sqlite3.Connection):  # SQLAlchemy's, then aiosqlite's
                raw = raw._connection
            raw.set_trace_callback(lambda sql: counts.update([sql.split()[0].upper()]))

        return

    @event.listens_for(sync, "before_cursor_execute")
    def statement(*args: Any) -> None:
        counts.update([str(args[2]).split()[0].upper()])

    @event.listens_for(sync, "begin")
    def begin(_connection: Any) -> None:
        counts.update(["BEGIN"])

    @event.listens_for(sync, "commit")
    def commit(_connection: Any) -> None:
        counts.update(["COMMIT"])

    @event.listens_for(sync.pool, "checkout")
    def ping(*_args: Any) -> None:
        counts.update(["PING"])


async def run(url: str | None, messages: int) -> Counter[str]:
    """Counted statements for messages messages after a warm-up."""
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite+aiosqlite:///{tmp}/count.db"
        if url.startswith("postgresql"):
            await reset_postgres(url)
        linli = build_linli(Settings(database_url=url, data_dir=DATA))
        await upgrade(linli.engine)
        async with linli.sessions() as session, session.begin():
            await seed_street(session, DATA, datetime.now(UTC).date(), datetime.now(UTC))
        await linli.engine.dispose()
        counts: Counter[str] = Counter()
        count_statements(linli.engine, counts)
        source = Messages("count")
        delivery = Delivery(fits=fits_passive)
        for index, (_openid, _word, path, body) in enumerate(source.take(WARM + messages)):
            if index == WARM:
                counts.clear()
            query = dict(part.split("=", 1) for part in path.partition("?")[2].split("&"))
            key = (query["timestamp"], query["nonce"], query["signature"])
            inbound = replace(to_inbound(parse(body.decode())), replay_key=key)
            await linli.pipeline.handle(inbound, delivery)
        await linli.close()
    return counts


def main() -> None:
    """Parse arguments, count, print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="PostgreSQL (wiped!); SQLite when left out")
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    counts = asyncio.run(run(args.database_url, args.messages))
    total = sum(counts.values())
    print(f"{total / args.messages:.2f} statements per message ({args.messages} messages)")
    for name, count in counts.most_common():
        print(f"  {name:<8} {count / args.messages:.2f}")


if __name__ == "__main__":
    main()
