"""The one place time is read; injected so tests and demos can run at any instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from models.base import SHANGHAI


class Clock(Protocol):
    """Something that tells the current instant."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


def local_today(clock: Clock) -> date:
    """Today's date in the street's time zone."""
    return clock.now().astimezone(SHANGHAI).date()


class SystemClock:
    """Real time, optionally shifted so that it starts at a chosen instant (LINLI_NOW)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = start - datetime.now(UTC) if start is not None else timedelta(0)

    def now(self) -> datetime:
        """Real time plus the offset."""
        return datetime.now(UTC) + self._offset


class ManualClock:
    """A clock that moves only when told to (for tests and scripted demos)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        """The instant last set."""
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self._now += delta

    def set(self, moment: datetime) -> None:
        """Jump to an instant."""
        self._now = moment
