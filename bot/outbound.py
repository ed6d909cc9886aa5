"""What every channel's sender promises the outbox worker: a recipient in, an outcome out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class SendStatus(StrEnum):
    """What became of one attempt to send."""

    SENT = "sent"
    RETRY = "retry"  # a passing problem (rate limit, outage): try again later
    UNREACHABLE = "unreachable"  # this account cannot be reached (blocked, unfollowed)
    FAILED = "failed"  # a permanent error; retrying would not help


@dataclass(frozen=True)
class SendResult:
    """The outcome of one attempt, with how many parts of a long message are now delivered."""

    status: SendStatus
    detail: str = ""
    parts_sent: int = 0
    retry_after: float | None = None


@dataclass(frozen=True)
class Recipient:
    """The chat account a message goes to."""

    external_id: str
    lang: str
    last_seen_at: datetime
    account_id: int = 0  # the chat account's row id (a channel that stores, not sends, keys on it)


class Sender(Protocol):
    """A channel's way of pushing a message (customer-service API, Bot API sendMessage, …)."""

    @property
    def channel(self) -> str:
        """The channel this sender pushes to ("wechat", "telegram", …)."""
        ...

    async def send(
        self, recipient: Recipient, payload: dict[str, Any], parts_done: int
    ) -> SendResult:
        """Deliver payload's parts from parts_done on; never repeat an accepted part."""
        ...
