"""Forgetting handled messages: the inbound log keeps each message's replies (personal data
among them) only so that a redelivery gets the first answer, and that is over in minutes; after
LINLI_INBOUND_RETENTION_DAYS the rows are deleted, as are finished outgoing messages and the
web chat's inbox items (what a page was sent). Bind tries, kept only for the guess limits,
go after a day."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from models.binding import forget_bind_attempts
from models.inbox import forget_inbox_items
from models.messaging import InboundMessage, OutboxMessage, OutboxStatus
from scheduler.context import JobContext

_INBOUND = InboundMessage.__table__  # type: ignore[attr-defined]
_KEY = (_INBOUND.c.channel, _INBOUND.c.user_ref, _INBOUND.c.message_id)
_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_FINISHED = (OutboxStatus.SENT.value, OutboxStatus.DEAD.value, OutboxStatus.CANCELLED.value)
# Batches one tick deletes at most; a backlog (the first run over years of rows) goes on at the
# next tick, so a tick never holds the database for long.
BATCHES_PER_TICK = 200
BIND_ATTEMPTS_KEPT = timedelta(days=1)  # the guess limits look back one hour


async def forget_old_messages(ctx: JobContext) -> int:
    """Delete handled messages older than the retention, oldest first, one short transaction
    per batch; returns how many went."""
    cutoff = ctx.clock.now() - timedelta(days=ctx.settings.inbound_retention_days)
    deleted = 0
    for _ in range(BATCHES_PER_TICK):
        gone = (
            await _delete_batch(ctx, cutoff)
            + await _delete_sent_batch(ctx, cutoff)
            + await _delete_inbox_batch(ctx, cutoff)
        )
        deleted += gone
        if gone < ctx.batch:
            break
    async with ctx.sessions() as session, session.begin():
        await forget_bind_attempts(session, ctx.clock.now() - BIND_ATTEMPTS_KEPT)
    return deleted


async def _delete_sent_batch(ctx: JobContext, cutoff: datetime) -> int:
    """Finished outgoing messages (replies, alerts, relays: their text is in the payload).
    Notice deliveries keep only the notice's id and stay for its report."""
    oldest = (
        sa.select(_OUTBOX.c.id)
        .where(
            _OUTBOX.c.notice_id.is_(None),
            _OUTBOX.c.status.in_(_FINISHED),
            _OUTBOX.c.created_at < cutoff,
        )
        .limit(ctx.batch)
    )
    async with ctx.engine.begin() as connection:
        result = await connection.execute(sa.delete(_OUTBOX).where(_OUTBOX.c.id.in_(oldest)))
    return int(result.rowcount or 0)


async def _delete_inbox_batch(ctx: JobContext, cutoff: datetime) -> int:
    """Web chat deliveries older than the retention, shown or not (the page had its chance)."""
    async with ctx.engine.begin() as connection:
        return await forget_inbox_items(connection, cutoff, ctx.batch)


async def _delete_batch(ctx: JobContext, cutoff: datetime) -> int:
    oldest = (
        sa.select(*_KEY)
        .where(_INBOUND.c.received_at < cutoff)
        .order_by(_INBOUND.c.received_at)
        .limit(ctx.batch)
    )
    async with ctx.engine.begin() as connection:
        result = await connection.execute(sa.delete(_INBOUND).where(sa.tuple_(*_KEY).in_(oldest)))
    return int(result.rowcount or 0)
