"""Sending outbox messages through the Telegram Bot API within its flood limits.

About 30 messages a second overall, about one a second in a chat and 20 a minute in a group.
A 429 pauses every send for its retry_after; the outbox retries the rest later, and parts the
platform accepted are never sent again.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.channels.telegram import render
from bot.clock import Clock
from bot.messages import Reply
from bot.outbound import Recipient, SendResult, SendStatus

OVERALL_PER_SECOND = 30
PRIVATE_BURST, PRIVATE_PERIOD = 3, 3.0  # about one a second, a reply of three bubbles at once
GROUP_BURST, GROUP_PERIOD = 20, 60.0
KEPT_CHATS = 10_000


class ChatLimits:
    """A leaky bucket per chat, forgetting the least recently used chats beyond a bound."""

    def __init__(self) -> None:
        self._limiters: OrderedDict[int, AsyncLimiter] = OrderedDict()

    def of(self, chat_id: int) -> AsyncLimiter:
        """The limiter of one chat (group chats have negative ids)."""
        limiter = self._limiters.pop(chat_id, None)
        if limiter is None:
            burst, period = (
                (GROUP_BURST, GROUP_PERIOD) if chat_id < 0 else (PRIVATE_BURST, PRIVATE_PERIOD)
            )
            limiter = AsyncLimiter(burst, period)
        self._limiters[chat_id] = limiter
        while len(self._limiters) > KEPT_CHATS:
            self._limiters.popitem(last=False)
        return limiter


class TelegramSender:
    """Sends replies as messages with inline keyboards; maps Bot API errors onto outcomes."""

    channel = "telegram"

    def __init__(self, bot: Bot, ready: Callable[[], Awaitable[None]], clock: Clock) -> None:
        self.bot, self.ready, self.clock = bot, ready, clock
        self.overall = AsyncLimiter(OVERALL_PER_SECOND, 1.0)
        self.chats = ChatLimits()
        self._paused_until = datetime.min.replace(tzinfo=UTC)  # set by a 429

    async def send(
        self, recipient: Recipient, payload: dict[str, Any], parts_done: int
    ) -> SendResult:
        """Deliver one outbox payload's messages from parts_done on."""
        messages = render([Reply.from_dict(item) for item in payload.get("replies", [])])
        try:
            chat_id = int(recipient.external_id)
        except ValueError:
            return SendResult(SendStatus.FAILED, "not a Telegram chat id", parts_done)
        try:
            await self.ready()
        except TelegramError as error:
            return SendResult(SendStatus.RETRY, type(error).__name__, parts_done)
        for index in range(parts_done, len(messages)):
            paused = (self._paused_until - self.clock.now()).total_seconds()
            if paused > 0:
                return SendResult(SendStatus.RETRY, "flood pause", index, retry_after=paused)
            async with self.chats.of(chat_id), self.overall:
                message = messages[index]
                try:
                    await self.bot.send_message(
                        chat_id, message.text, reply_markup=message.keyboard
                    )
                except TelegramError as error:
                    return self._outcome(error, index)
        return SendResult(SendStatus.SENT, "sendMessage", len(messages))

    def _outcome(self, error: TelegramError, parts_sent: int) -> SendResult:
        """Retry what passes (flood control, outages, timeouts); give up on what will not."""
        name = type(error).__name__
        if isinstance(error, RetryAfter):
            wait = retry_after_seconds(error)
            until = self.clock.now() + timedelta(seconds=wait)
            self._paused_until = max(self._paused_until, until)
            return SendResult(SendStatus.RETRY, name, parts_sent, retry_after=wait)
        if isinstance(error, Forbidden):  # blocked by the user, or the account is gone
            return SendResult(SendStatus.UNREACHABLE, name, parts_sent)
        if isinstance(error, BadRequest | ChatMigrated):
            return SendResult(SendStatus.FAILED, f"{name}: {error.message[:200]}", parts_sent)
        if isinstance(error, NetworkError):  # 5xx, timeouts, dropped connections
            return SendResult(SendStatus.RETRY, name, parts_sent)
        return SendResult(SendStatus.FAILED, name, parts_sent)


def retry_after_seconds(error: RetryAfter) -> float:
    """retry_after in seconds, whichever type this PTB version gives."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB deprecates the int form; both are handled here
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
