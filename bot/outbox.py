"""The delivery worker: claims due outbox rows, sends them through the channel's sender, and
records the outcome — retried with back-off and jitter, never re-sent once accepted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from aiolimiter import AsyncLimiter
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.outbound import Recipient, Sender, SendResult, SendStatus
from models.messaging import OutboxMessage, OutboxStatus
from models.people import ChannelIdentity

logger = logging.getLogger(__name__)

PARTS_KEY = "_parts_sent"
STOP_GRACE = 8.0  # seconds a stopping worker may finish its batch (`linli serve` allows 10)


@dataclass(frozen=True)
class Claimed:
    """A claimed row with what is needed to send it outside the transaction."""

    row_id: int
    channel: str | None
    identity_id: int | None
    recipient: Recipient | None
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class WorkerPolicy:
    """How hard the worker tries."""

    batch: int = 50
    max_attempts: int = 8
    claim_timeout: timedelta = timedelta(minutes=5)
    base_backoff: float = 2.0
    max_backoff: float = 3600.0
    poll_seconds: float = 0.5


class OutboxWorker:
    """Delivers committed outbox rows; one claimer on SQLite, SKIP LOCKED on PostgreSQL."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        clock: Clock,
        *,
        rates: Mapping[str, float] | None = None,
        policy: WorkerPolicy | None = None,
        name: str | None = None,
    ) -> None:
        self.sessions, self.senders, self.clock = sessions, dict(senders), clock
        self.policy = policy or WorkerPolicy()
        self.name = name or f"worker-{os.getpid()}"
        self.limiters = {ch: AsyncLimiter(rate, 1.0) for ch, rate in (rates or {}).items()}
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()

    def wake(self) -> None:
        """Look for due rows now instead of at the next poll."""
        self._wakeup.set()

    def stop(self) -> None:
        """Finish the batch in hand, record it, and return from ``run``."""
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        """Deliver until ``stop`` (graceful) or cancellation (a claimed batch is redone later)."""
        self._stopping.clear()
        while not self._stopping.is_set():
            try:
                delivered = await self.deliver_due()
            except Exception:
                logger.exception("outbox pass failed")
                delivered = 0
            if delivered == 0 and not self._stopping.is_set():
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.policy.poll_seconds)

    async def stop_and_wait(self, task: asyncio.Task[None], grace: float = STOP_GRACE) -> None:
        """Stop the worker running in task, cancelling it if its batch outlasts grace seconds."""
        self.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            logger.warning("outbox worker cancelled mid-batch; claimed rows are retried later")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def deliver_due(self) -> int:
        """Claim one batch of due rows and deliver them; returns how many were claimed."""
        claimed = await self._claim()
        await asyncio.gather(*(self._deliver(item) for item in claimed))
        return len(claimed)

    async def _claim(self) -> list[Claimed]:
        now = self.clock.now()
        stale = now - self.policy.claim_timeout
        due = sa.or_(
            sa.and_(
                col(OutboxMessage.status) == OutboxStatus.PENDING,
                col(OutboxMessage.next_attempt_at) <= now,
            ),
            sa.and_(
                col(OutboxMessage.status) == OutboxStatus.SENDING,
                col(OutboxMessage.claimed_at) < stale,
            ),
        )
        stmt = (
            select(OutboxMessage)
            .where(due)
            .order_by(col(OutboxMessage.next_attempt_at))
            .limit(self.policy.batch)
        )
        async with self.sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list((await session.exec(stmt)).all())
            identities = await _identities(session, rows)
            claimed = []
            for row in rows:
                row.status, row.claimed_by, row.claimed_at = OutboxStatus.SENDING, self.name, now
                row.attempts += 1
                session.add(row)
                identity = identities.get(row.identity_id or 0)
                claimed.append(_claimed(row, identity))
        return claimed

    async def _deliver(self, item: Claimed) -> None:
        sender = self.senders.get(item.channel or "")
        if sender is None or item.recipient is None:
            reason = "no sender for this channel" if item.recipient else "no chat account"
            await self._record(item, SendResult(SendStatus.FAILED, reason))
            return
        limiter = self.limiters.get(sender.channel)
        try:
            if limiter is not None:
                async with limiter:
                    result = await sender.send(item.recipient, item.payload, _parts(item.payload))
            else:
                result = await sender.send(item.recipient, item.payload, _parts(item.payload))
        except Exception:
            logger.exception("sender crashed", extra={"outbox_id": item.row_id})
            result = SendResult(SendStatus.RETRY, "sender error", _parts(item.payload))
        await self._record(item, result)

    async def _record(self, item: Claimed, result: SendResult) -> None:
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            row = await session.get(OutboxMessage, item.row_id)
            if row is None:
                return
            row.payload = {**row.payload, PARTS_KEY: result.parts_sent}
            row.last_error = result.detail[:300] or None
            if result.status is SendStatus.SENT:
                row.status, row.sent_at = OutboxStatus.SENT, now
            elif result.status is SendStatus.RETRY and row.attempts < self.policy.max_attempts:
                row.status = OutboxStatus.PENDING
                row.next_attempt_at = now + timedelta(seconds=self._backoff(row.attempts, result))
            else:
                row.status = OutboxStatus.DEAD
                if result.status is SendStatus.UNREACHABLE and item.identity_id is not None:
                    await _mark_unreachable(session, item.identity_id)
                logger.warning(
                    "outbox message given up",
                    extra={
                        "outbox_id": row.id,
                        "status": result.status.value,
                        "detail": result.detail,
                    },
                )
            session.add(row)

    def _backoff(self, attempts: int, result: SendResult) -> float:
        delay = min(self.policy.base_backoff * 2 ** (attempts - 1), self.policy.max_backoff)
        delay *= random.uniform(0.5, 1.5)  # jitter, so a recovered platform is not hit all at once
        return float(max(delay, result.retry_after or 0.0))


def _parts(payload: dict[str, Any]) -> int:
    return int(payload.get(PARTS_KEY, 0))


def _claimed(row: OutboxMessage, identity: ChannelIdentity | None) -> Claimed:
    recipient = None
    if identity is not None:
        recipient = Recipient(identity.external_id, identity.lang, identity.last_seen_at)
    return Claimed(
        row_id=row.id or 0,
        channel=row.channel or (identity.channel if identity else None),
        identity_id=identity.id if identity else None,
        recipient=recipient,
        payload=dict(row.payload),
        attempts=row.attempts,
    )


async def _identities(
    session: AsyncSession, rows: list[OutboxMessage]
) -> dict[int, ChannelIdentity]:
    ids = {row.identity_id for row in rows if row.identity_id is not None}
    if not ids:
        return {}
    found = await session.exec(select(ChannelIdentity).where(col(ChannelIdentity.id).in_(ids)))
    return {identity.id or 0: identity for identity in found.all()}


async def _mark_unreachable(session: AsyncSession, identity_id: int) -> None:
    identity = await session.get(ChannelIdentity, identity_id)
    if identity is not None:
        identity.unreachable = True
        session.add(identity)
