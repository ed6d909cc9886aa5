"""Benchmark: one message through the pipeline, in process, on a fresh SQLite file.

    .venv/bin/python -m bench.pipeline [--messages 2000] [--concurrency 32] [--warm-up 2500]
        [--profile pipeline.prof]

Sends the same words the webhook benchmark uses (菜单, 7, 办公时间, 8, 返回) from 500 chat accounts,
one at a time, as a text-only channel (WeChat's rendering), and prints milliseconds per message
for first contacts and for returning accounts. No HTTP, no XML: the pipeline's own cost.
With --concurrency N, N accounts' messages are handled at once, as under load: on SQLite they
then share a commit (bot/group_commit.py).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.app import build_linli
from bot.channels.wechat import fits_passive
from bot.config import Settings
from bot.messages import Inbound
from bot.pipeline import Delivery
from models.migrate import upgrade
from models.seed import seed_street

DATA = Path(__file__).resolve().parents[1] / "data"
ACCOUNTS = 500
WORDS = ["菜单", "7", "办公时间", "8", "返回"]


async def run(
    messages: int, concurrency: int = 1, warm_up: int = 0, profile: Path | None = None
) -> None:
    """Seed a street, then time first contacts and returning messages."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench.db", data_dir=DATA)
        linli = build_linli(settings)
        await upgrade(linli.engine)
        async with linli.sessions() as session, session.begin():
            await seed_street(session, DATA, datetime.now(UTC).date(), datetime.now(UTC))
        delivery = Delivery(fits=fits_passive)

        async def send(n: int) -> None:
            word = WORDS[(n // ACCOUNTS) % len(WORDS)]
            inbound = Inbound("wechat", f"oBench{n % ACCOUNTS}", text=word, message_id=str(n))
            await linli.pipeline.handle(inbound, delivery)

        async def send_all(first: int, last: int) -> float:
            started = time.perf_counter()
            for batch in range(first, last, concurrency):
                await asyncio.gather(
                    *(send(n) for n in range(batch, min(last, batch + concurrency)))
                )
            return (time.perf_counter() - started) / (last - first) * 1000

        first = await send_all(0, ACCOUNTS)
        start = ACCOUNTS + warm_up
        if warm_up:
            await send_all(ACCOUNTS, start)
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        returning = await send_all(start, start + messages)
        if profiler and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        await linli.close()
    print(f"concurrency {concurrency}")
    print(f"first contact: {first:.2f} ms/message ({ACCOUNTS} accounts)")
    print(f"returning:     {returning:.2f} ms/message ({messages} messages, {warm_up} before)")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--warm-up", type=int, default=0, help="returning messages not timed")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the timed part")
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.concurrency, args.warm_up, args.profile))


if __name__ == "__main__":
    main()
