"""Outbox depth, the age of the oldest waiting message and the dead count, for /metrics."""

from __future__ import annotations

import sqlalchemy as sa

from bot.metrics import OUTBOX_DEAD, OUTBOX_DEPTH, OUTBOX_OLDEST
from models.messaging import OutboxMessage, OutboxStatus
from scheduler.context import JobContext

_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
WAITING = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)


async def measure_outbox(ctx: JobContext) -> int:
    """Set the outbox gauges; returns the depth."""
    async with ctx.engine.connect() as connection:
        waiting = (
            await connection.execute(
                sa.select(sa.func.count(), sa.func.min(_OUTBOX.c.created_at)).where(
                    _OUTBOX.c.status.in_(WAITING)
                )
            )
        ).one()
        dead = (
            await connection.execute(
                sa.select(sa.func.count()).where(_OUTBOX.c.status == OutboxStatus.DEAD.value)
            )
        ).scalar_one()
    depth, oldest = int(waiting[0]), waiting[1]
    OUTBOX_DEPTH.set(depth)
    OUTBOX_DEAD.set(int(dead))
    OUTBOX_OLDEST.set((ctx.clock.now() - oldest).total_seconds() if oldest else 0.0)
    return depth
