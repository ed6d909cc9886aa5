"""Shared fixtures: a migrated and seeded database per test, on SQLite and (if set) PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import handlers.needs
from bot.app import Linli, build_linli
from bot.clock import ManualClock, local_today
from bot.config import Settings
from bot.messages import Inbound, Reply
from bot.router import Router
from bot.web.app import create_web_app
from models.base import SHANGHAI
from models.db import make_engine, make_session_factory
from models.migrate import alembic_config, upgrade
from models.seed import seed_street

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
# Friday 27 November 2026, 10:00 in Shanghai: a working day, with a weekend ahead.
START = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)
PG_URL = os.environ.get("LINLI_TEST_DATABASE_URL")
ENGINES = ["sqlite", *(["postgresql"] if PG_URL else [])]


async def _migrate_and_seed(url: str, *, reset_pg: bool = False) -> None:
    engine = make_engine(url)
    if reset_pg:
        async with engine.begin() as connection:
            await connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            await connection.execute(sa.text("CREATE SCHEMA public"))
    await upgrade(engine)
    if not reset_pg:
        await _seed(engine)
    await engine.dispose()


@cache
def _head_revision() -> str | None:
    """The newest migration's revision."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _seed(engine: AsyncEngine) -> None:
    async with make_session_factory(engine)() as session, session.begin():
        await seed_street(session, DATA, local_today(ManualClock(START)), START)


def run_in_own_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run set-up work on a private event loop (session fixtures may be reached from a test's)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "linli.db"
    run_in_own_loop(_migrate_and_seed(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    """The PostgreSQL test database, emptied and migrated once per run."""
    assert PG_URL is not None
    run_in_own_loop(_migrate_and_seed(PG_URL, reset_pg=True))
    return PG_URL


@pytest.fixture(params=ENGINES)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database URL holding the seeded demo street, fresh for this test."""
    if request.param == "sqlite":
        path = tmp_path / "linli.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("pg_migrated")
    engine = make_engine(url)
    async with engine.connect() as connection:  # a migration test may have left it behind
        version = await connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
    if version != _head_revision():
        await upgrade(engine)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await _seed(engine)
    await engine.dispose()
    yield url


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """Undo a test's logging set-up (the CLI's `setup_logging` puts a handler on the stderr of
    the moment, a capture stream closed after the test): a handler left behind would fail on
    every later log line and slow the rest of the run with tracebacks printed per record."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    access = logging.getLogger("aiohttp.access")
    access_level = access.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    access.setLevel(access_level)


@pytest.fixture(autouse=True)
def fresh_need_matchers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's database starts anew (on PostgreSQL under the same URL), so no need matcher
    built in an earlier test may be kept."""
    monkeypatch.setattr(handlers.needs, "_matchers", {})


@pytest.fixture
def clock() -> ManualClock:
    """Time stands still at Friday 10:00 until a test moves it."""
    return ManualClock(START)


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Demo settings pointing at this test's database."""
    return Settings(database_url=db_url, data_dir=DATA, secret_key="test-secret")


@pytest.fixture
async def linli(settings: Settings, clock: ManualClock) -> AsyncIterator[Linli]:
    """The whole system with every feature's router, on this test's database."""
    app = build_linli(settings, clock=clock)
    yield app
    await app.close()


def make_linli(settings: Settings, clock: ManualClock, router: Router) -> Linli:
    """The system with a router of the test's own (for failure paths)."""
    return build_linli(settings, clock=clock, router=router)


class Chat:
    """A person talking to the pipeline on one channel."""

    def __init__(self, linli: Linli, user: str = "resident-0001", channel: str = "web") -> None:
        self.linli, self.user, self.channel = linli, user, channel

    async def send(
        self, text: str, *, message_id: str | None = None, lang: str | None = None
    ) -> list[Reply]:
        """Type a message."""
        inbound = Inbound(self.channel, self.user, text=text, message_id=message_id, lang=lang)
        return await self.linli.pipeline.handle(inbound)

    async def press(self, payload: str, *, message_id: str | None = None) -> list[Reply]:
        """Press a button."""
        inbound = Inbound(self.channel, self.user, payload=payload, message_id=message_id)
        return await self.linli.pipeline.handle(inbound)


@pytest.fixture
def chat(linli: Linli) -> Chat:
    """A resident on the web chat channel."""
    return Chat(linli)


@pytest.fixture
async def client(linli: Linli) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """Real HTTP to the aiohttp app over loopback."""
    async with TestClient(TestServer(create_web_app(linli), host="127.0.0.1")) as test_client:
        yield test_client


def labels(reply: Reply) -> list[str]:
    """The button labels of a reply."""
    return [button.label for button in reply.buttons]


def payloads(reply: Reply) -> list[str]:
    """The button payloads of a reply."""
    return [button.payload for button in reply.buttons]
