"""Street-wide facts that change only when an operator re-seeds, kept in memory for a minute.

The greeting, the opening hours and the community list are read on almost every message; they
come from here instead of from the database each time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from bot.unit import UnitOfWork
from models.calendar import load_overrides, street_opening_rule
from models.org import Community, Street, get_street, list_communities
from models.services import DayKind, HolidayOverride, OpeningRule, count_services

T = TypeVar("T")


class ReferenceData:
    """A small time-limited cache in front of the reference tables."""

    def __init__(self, ttl_seconds: float = 60.0) -> None:
        self.ttl = ttl_seconds
        self._values: dict[str, tuple[float, Any]] = {}

    async def _cached(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        hit = self._values.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]  # type: ignore[no-any-return]
        value = await load()
        self._values[key] = (time.monotonic() + self.ttl, value)
        return value

    async def remember(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """Any value derived only from reference data (e.g. today's opening hours text)."""
        return await self._cached(key, load)

    def clear(self) -> None:
        """Forget everything (after a re-seed in this process)."""
        self._values.clear()

    # Each getter takes the message's unit of work and opens its ORM session only on a miss.

    async def street(self, unit: UnitOfWork) -> Street | None:
        """The street this installation serves."""
        return await self._cached("street", lambda: get_street(unit.session))

    async def communities(self, unit: UnitOfWork) -> list[Community]:
        """All communities in code order."""
        return await self._cached("communities", lambda: list_communities(unit.session))

    async def overrides(self, unit: UnitOfWork) -> dict[date, HolidayOverride]:
        """The operator's holiday overrides."""
        return await self._cached("overrides", lambda: load_overrides(unit.session))

    async def opening_rule(self, unit: UnitOfWork, kind: DayKind) -> OpeningRule | None:
        """Street-wide opening hours for a kind of day."""
        return await self._cached(f"rule:{kind}", lambda: street_opening_rule(unit.session, kind))

    async def service_count(self, unit: UnitOfWork, *, weekend_only: bool) -> int:
        """How many services are offered (on weekend mornings, if asked)."""
        return await self._cached(
            f"services:{weekend_only}",
            lambda: count_services(unit.session, weekend_only=weekend_only),
        )
