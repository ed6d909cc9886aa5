"""Waitlist offers: a held place whose time to accept has passed goes to the next in line."""

from __future__ import annotations

from bot.outgoing.tell import pass_on_offers
from scheduler.context import JobContext


async def pass_on_expired_offers(ctx: JobContext) -> int:
    """Release expired offers and offer the places to the next residents; how many offered."""
    async with ctx.sessions() as session, session.begin():
        return await pass_on_offers(session, ctx.clock.now(), ctx.settings.waitlist_offer_minutes)
