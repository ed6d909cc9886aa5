"""Per-client request limits for public endpoints (the `limits` library, in memory)."""

from __future__ import annotations

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


class ClientRateLimit:
    """At most N requests per window from one client address, e.g. "60/minute"."""

    def __init__(self, rule: str) -> None:
        self.rule = parse(rule)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def allow(self, client: str) -> bool:
        """Count a request from client; False once it is over the limit."""
        return bool(await self._limiter.hit(self.rule, "client", client))

    async def spent(self, client: str) -> bool:
        """Whether the client has used up the limit (nothing is counted)."""
        return not await self._limiter.test(self.rule, "client", client)
