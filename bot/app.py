"""The running system: settings, clock, database, router and pipeline, built once."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.pipeline import Pipeline
from bot.router import Router
from models.db import make_engine, make_session_factory


@dataclass
class Linli:
    """Everything a channel or a command needs to talk to the system."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    pipeline: Pipeline

    async def database_ok(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        """Release the database connections."""
        await self.engine.dispose()


def build_linli(
    settings: Settings, *, clock: Clock | None = None, router: Router | None = None
) -> Linli:
    """Wire the system together; the router defaults to every feature in handlers/."""
    if router is None:
        from handlers import build_router

        router = build_router()
    clock = clock or SystemClock(settings.now)
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    pipeline = Pipeline(sessions, router, clock, settings)
    return Linli(settings, clock, engine, sessions, pipeline)
