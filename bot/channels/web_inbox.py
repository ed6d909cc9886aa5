"""The web chat as a push channel: a delivery is stored in the account's inbox, and a bell
wakes the account's open pages in this process at once (others find it by polling)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.web import CHANNEL
from bot.clock import Clock
from bot.outbound import Recipient, SendResult, SendStatus
from bot.outbox import OUTBOX_ID_KEY
from models.inbox import store_delivery, unshown_signatures

logger = logging.getLogger(__name__)


class InboxBell:
    """An in-process notice, keyed by chat account, that something arrived in its inbox."""

    def __init__(self) -> None:
        self._listeners: defaultdict[int, set[asyncio.Event]] = defaultdict(set)

    def ring(self, account_id: int) -> None:
        """Wake every page listening for this account."""
        for event in self._listeners.get(account_id, ()):
            event.set()

    @contextmanager
    def listen(self, account_id: int) -> Iterator[asyncio.Event]:
        """An event set whenever the account's bell rings, for as long as the block lasts."""
        event = asyncio.Event()
        self._listeners[account_id].add(event)
        try:
            yield event
        finally:
            listeners = self._listeners[account_id]
            listeners.discard(event)
            if not listeners:
                del self._listeners[account_id]

    async def watch_database(
        self, sessions: async_sessionmaker[AsyncSession], every: float
    ) -> None:
        """Ring for deliveries another process stored (a separate `linli worker`): one look at
        the inbox per interval for the whole process, and only while pages are open."""
        known: dict[int, tuple[int, int]] = {}
        while True:
            try:
                if self._listeners:
                    async with sessions() as session:
                        connection = await session.connection()
                        now = await unshown_signatures(connection, list(self._listeners))
                    for account_id, signature in now.items():
                        if known.get(account_id) != signature:
                            self.ring(account_id)
                    known = now
            except Exception:
                logger.exception("looking for new web deliveries failed")
            await asyncio.sleep(every)


class WebInboxSender:
    """Delivers to a web chat account by storing the replies in its inbox (once per outbox row)."""

    channel = CHANNEL

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, bell: InboxBell
    ) -> None:
        self.sessions, self.clock, self.bell = sessions, clock, bell

    async def send(
        self, recipient: Recipient, payload: dict[str, Any], parts_done: int
    ) -> SendResult:
        """Store the delivery for the account (delivered once stored) and ring its bell."""
        if parts_done >= 1:
            return SendResult(SendStatus.SENT, parts_sent=parts_done)
        if not recipient.account_id:
            return SendResult(SendStatus.FAILED, "web delivery without an account id")
        replies = list(payload.get("replies", []))
        outbox_id = payload.get(OUTBOX_ID_KEY)
        async with self.sessions() as session, session.begin():
            connection = await session.connection()
            await store_delivery(
                connection,
                recipient.account_id,
                replies,
                self.clock.now(),
                outbox_id=None if outbox_id is None else int(outbox_id),
            )
        self.bell.ring(recipient.account_id)
        return SendResult(SendStatus.SENT, parts_sent=1)
