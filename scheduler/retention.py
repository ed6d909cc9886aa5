"""Forgetting handled messages: the inbound log keeps each message's replies (personal data
among them) only so that a redelivery gets the first answer, and that is over in minutes; after
LINLI_INBOUND_RETENTION_DAYS the rows are deleted. Bind tries, kept only for the guess limits,
go after a day."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from models.binding import forget_bind_attempts
from models.messaging import InboundMessage
from scheduler.context import JobContext

_INBOUND = InboundMessage.__table__  # type: ignore[attr-defined]
_KEY = (_INBOUND.c.channel, _INBOUND.c.user_ref, _INBOUND.c.message_id)
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
        gone = await _delete_batch(ctx, cutoff)
        deleted += gone
        if gone < ctx.batch:
            break
    async with ctx.sessions() as session, session.begin():
        await forget_bind_attempts(session, ctx.clock.now() - BIND_ATTEMPTS_KEPT)
    return deleted


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
