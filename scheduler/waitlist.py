"""Waitlist offers: a held place whose time to accept has passed goes to the next in line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.i18n import format_day, t
from bot.messages import Button
from models.appointments import BookingLimits, expire_offers
from models.base import SHANGHAI
from models.booking import BookingSlot, WaitlistEntry
from models.messaging import queue_once
from scheduler.context import JobContext, localized


def offer_payload(starts_at: datetime, entry_id: int, minutes: int) -> dict[str, Any]:
    """The message telling a waiting resident a place is held for them."""
    local = starts_at.astimezone(SHANGHAI)

    def text(lang: str) -> str:
        when = f"{format_day(lang, local.date())} {local:%H:%M}"
        return t(lang, "booking.offer", when=when, minutes=minutes)

    return localized(
        text, lambda lang: (Button(t(lang, "booking.accept"), f"book:accept:{entry_id}"),)
    )


async def queue_offer(
    connection: AsyncConnection,
    entry: WaitlistEntry,
    slot: BookingSlot,
    minutes: int,
    now: datetime,
) -> None:
    """Queue one offer (once per entry and offer time)."""
    await queue_once(
        connection,
        dedupe_key=f"offer:{entry.id}:{entry.offer_expires_at:%Y%m%d%H%M%S}",
        kind="offer",
        payload=offer_payload(slot.starts_at, entry.id or 0, minutes),
        now=now,
        resident_id=entry.resident_id,
    )


async def pass_on_expired_offers(ctx: JobContext) -> int:
    """Release expired offers and offer the places to the next residents; how many offered."""
    now = ctx.clock.now()
    minutes = ctx.settings.waitlist_offer_minutes
    limits = BookingLimits(offer_minutes=minutes)
    async with ctx.sessions() as session, session.begin():
        _expired, offered = await expire_offers(session, now, limits)
        await session.flush()
        connection = await session.connection()
        for entry in offered:
            slot = await session.get(BookingSlot, entry.slot_id)
            if slot is not None:
                await queue_offer(connection, entry, slot, minutes, now)
    return len(offered)
