"""A fake push channel with no rate limit: records what it accepts, can be down for a while."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.outbound import Recipient, SendResult, SendStatus


@dataclass
class Accepted:
    """One message the channel accepted."""

    to: str
    text: str
    by: str


@dataclass
class RecordingChannel:
    """Implements the Sender protocol for channel "fake"; `down_until` simulates an outage."""

    clock: Clock
    name: str = "fake"
    delay: float = 0.0
    down_until: datetime | None = None
    blocked: set[str] = field(default_factory=set)
    accepted: list[Accepted] = field(default_factory=list)
    refused: int = 0

    @property
    def channel(self) -> str:
        """The channel name this sender serves."""
        return self.name

    def for_worker(self, worker_name: str) -> WorkerView:
        """The same channel as seen by one worker (so tests can tell who sent what)."""
        return WorkerView(self, worker_name)

    async def send(
        self, recipient: Recipient, payload: dict[str, Any], parts_done: int
    ) -> SendResult:
        """Accept the message (first reply's text) unless the channel is down or blocked."""
        return await self.accept(recipient, payload, "worker")

    async def accept(self, recipient: Recipient, payload: dict[str, Any], by: str) -> SendResult:
        """The channel's side of one send."""
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down_until is not None and self.clock.now() < self.down_until:
            self.refused += 1
            return SendResult(SendStatus.RETRY, "channel down")
        if recipient.external_id in self.blocked:
            return SendResult(SendStatus.UNREACHABLE, "blocked")
        text = str(payload["replies"][0]["text"])
        self.accepted.append(Accepted(recipient.external_id, text, by))
        return SendResult(SendStatus.SENT, "ok", 1)


@dataclass
class WorkerView:
    """A Sender bound to one worker's name, delegating to the shared channel."""

    channel_state: RecordingChannel
    worker_name: str

    @property
    def channel(self) -> str:
        """The channel name this sender serves."""
        return self.channel_state.name

    async def send(
        self, recipient: Recipient, payload: dict[str, Any], parts_done: int
    ) -> SendResult:
        """Send through the shared channel, labelled with this worker's name."""
        return await self.channel_state.accept(recipient, payload, self.worker_name)
