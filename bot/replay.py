"""The replay memory of signed callbacks, shared by every instance through the database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from models.messaging import bind_callback, forget_callbacks

PURGE_EVERY_SECONDS = 60.0


class CallbackMemory:
    """Binds each (timestamp, nonce, signature) to the first message it carried, for a window."""

    def __init__(self, engine: AsyncEngine, window_seconds: float) -> None:
        self.engine = engine
        self.window = timedelta(seconds=window_seconds)
        self._purged_at = 0.0

    async def admit(self, key: tuple[str, str, str], sender: str, message_id: str) -> bool:
        """Whether this callback may go on: a new key, or the same message sent again."""
        now = datetime.now(UTC)  # the platform's time, not the demo clock
        async with self.engine.begin() as connection:
            first = await bind_callback(
                connection, key=key, sender=sender, message_id=message_id, now=now
            )
            if time.monotonic() - self._purged_at > PURGE_EVERY_SECONDS:
                self._purged_at = time.monotonic()
                # Twice the window: a timestamp may be up to one window in the future.
                await forget_callbacks(connection, now - 2 * self.window)
        return first == (sender, message_id)
