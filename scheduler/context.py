"""What every periodic job gets."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.config import Settings


@dataclass(frozen=True)
class JobContext:
    """The database, the clock and the settings, shared by all jobs."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    settings: Settings
    batch: int = 500
