"""The data model: migrations match the tables, SQLite settings, UTC time, reference numbers."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select

from bot.app import Linli
from models.db import database_unreachable, make_engine
from models.messaging import OutboxMessage
from models.migrate import alembic_config, upgrade
from models.people import mask_phone
from models.refs import canonical_reference, next_reference, parse_reference


async def test_migrations_build_exactly_the_models(linli: Linli) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async with linli.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
        names = await connection.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert set(SQLModel.metadata.tables) <= names


async def test_upgrade_is_repeatable(linli: Linli) -> None:
    await upgrade(linli.engine)
    async with linli.engine.connect() as connection:
        version = (
            await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
        ).scalar_one()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert version == head


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/sub/dir/x.db")
    async with engine.connect() as connection:
        mode = (await connection.execute(sa.text("PRAGMA journal_mode"))).scalar_one()
        fks = (await connection.execute(sa.text("PRAGMA foreign_keys"))).scalar_one()
    await engine.dispose()
    assert (mode, fks) == ("wal", 1)


async def test_a_locked_sqlite_database_is_waited_for_without_freezing_the_loop(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/busy.db"
    holder, waiter = make_engine(url), make_engine(url)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    async with holder.begin() as held:  # BEGIN IMMEDIATE: the write lock
        await held.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        waiting = asyncio.create_task(_write(waiter))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        assert ticks >= 15  # the loop kept running while the second writer waited
    await asyncio.wait_for(waiting, 5)
    ticker.cancel()
    for engine in (holder, waiter):
        await engine.dispose()


async def _write(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(sa.text("INSERT INTO t VALUES (1)"))


async def test_timestamps_are_stored_utc_and_read_back_aware(linli: Linli) -> None:
    shanghai_noon = datetime(2026, 11, 27, 12, 0, tzinfo=timezone(timedelta(hours=8)))
    async with linli.sessions() as session, session.begin():
        row = OutboxMessage(kind="alert", next_attempt_at=shanghai_noon, created_at=shanghai_noon)
        session.add(row)
    async with linli.sessions() as session:
        loaded = (await session.exec(select(OutboxMessage))).one()
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at == datetime(2026, 11, 27, 4, 0, tzinfo=UTC)


async def test_naive_timestamps_are_refused(linli: Linli) -> None:
    naive = datetime(2026, 11, 27, 12, 0)
    async with linli.sessions() as session:
        session.add(OutboxMessage(kind="alert", next_attempt_at=naive, created_at=naive))
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            await session.flush()


async def test_reference_numbers_are_sequential_per_day_and_unique_under_load(linli: Linli) -> None:
    day = date(2026, 11, 28)

    async def take() -> str:
        async with linli.sessions() as session, session.begin():
            return await next_reference(session, "LC", day)

    refs = await asyncio.gather(*(take() for _ in range(30)))
    assert sorted(refs) == [f"LC-20261128-{n:04d}" for n in range(1, 31)]
    async with linli.sessions() as session, session.begin():
        assert await next_reference(session, "LC", date(2026, 11, 29)) == "LC-20261129-0001"
        assert await next_reference(session, "LCY", day) == "LCY-20261128-0001"


def test_parse_reference() -> None:
    assert parse_reference(" lc-20261128-0042 ") == ("LC", "20261128", 42)
    bad = (
        "LC-2026112-0042",
        "LC-20261128",
        "12-20261128-1",
        "LC-2026112X-0001",
        "",
        "LC-20261128-²",
    )
    for text in (*bad, "LC-２０２６１１２８-0001", "柳城-20261128-0001"):
        assert parse_reference(text) is None


def test_phone_numbers_are_masked() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("12345") == "*****"
    assert mask_phone(None) == ""


def test_a_reference_is_read_as_people_type_it() -> None:
    for typed in ("LC-20261128-0042", "lc-20261128-0042", "LC20261128-0042", "lc 20261128 42"):
        assert canonical_reference(typed) == "LC-20261128-0042", typed
    assert canonical_reference("lc202611280042") == "LC-20261128-0042"
    full_width = "ＬＣ－２０２６１１２８－００４２"
    assert canonical_reference(full_width) == "LC-20261128-0042"
    for not_one in ("LC-2026112-0042", "hello", "20261128", "柳城20261128-0001", ""):
        assert canonical_reference(not_one) is None, not_one


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (ConnectionResetError(104, "reset"), True),
        (socket.gaierror(-2, "no such host"), True),
        (FileNotFoundError(2, "data/faq.toml"), False),  # a handler's own trouble
        (TimeoutError(), False),
        (sa.exc.IntegrityError("INSERT", {}, Exception("unique")), False),
        (sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("disk is full")), False),
    ],
)
def test_only_a_database_out_of_reach_is_worth_trying_again(
    error: BaseException, transient: bool
) -> None:
    assert database_unreachable(error) is transient
