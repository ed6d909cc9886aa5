"""What every periodic job gets, and how it words a message in both languages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import LANGS
from bot.messages import Button, Reply


@dataclass(frozen=True)
class JobContext:
    """The database, the clock and the settings, shared by all jobs."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    settings: Settings
    batch: int = 500


def localized(
    text: Callable[[str], str], buttons: Callable[[str], tuple[Button, ...]] | None = None
) -> dict[str, Any]:
    """An outbox payload carrying the message in every language; the worker picks the
    recipient's, because which of a person's accounts it goes to is decided only at delivery."""
    return {
        "localized": {
            lang: [Reply(text(lang), buttons(lang) if buttons else ()).to_dict()] for lang in LANGS
        }
    }
