"""Benchmark: time `seed_residents` for N synthetic residents on a fresh database.

    .venv/bin/python -m bench.seed_residents --residents 310000 [--url postgresql+asyncpg://…]

Prints the time for migrate + street seed and for the residents, and the rows per second.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import SQLModel

from models.db import make_engine, make_session_factory
from models.migrate import upgrade
from models.seed import seed_residents, seed_street

DATA = Path(__file__).resolve().parents[1] / "data"


async def run(url: str, residents: int) -> None:
    """Migrate, seed the street, then time the synthetic residents."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
            await connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    sessions = make_session_factory(engine)
    started = time.perf_counter()
    await upgrade(engine)
    async with sessions() as session, session.begin():
        await seed_street(session, DATA, date.today(), datetime.now(UTC))
    street_seconds = time.perf_counter() - started
    started = time.perf_counter()
    async with sessions() as session, session.begin():
        await seed_residents(session, residents, DATA, datetime.now(UTC))
    seconds = time.perf_counter() - started
    await engine.dispose()
    print(f"backend: {engine.dialect.name}")
    print(f"migrate + street seed: {street_seconds:.2f} s")
    print(f"{residents} residents: {seconds:.2f} s ({residents / seconds:,.0f} rows/s)")


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=310_000)
    parser.add_argument("--url", help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        asyncio.run(run(url, args.residents))


if __name__ == "__main__":
    main()
