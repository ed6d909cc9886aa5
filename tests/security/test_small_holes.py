"""Issue 16, finding 8 (two of its small holes), through the web chat's HTTP API.

- A web chat id with a trailing newline was accepted ("$" matches before a final newline), making
  a second account that looks like the first in every log; ids and message ids must match whole.
- `book:wait` put a resident on the waitlist of a slot that still had places. The waitlist is
  served before anyone else when a place frees and its offers skip the booking limits, so it must
  only ever hold people waiting for a full slot; a slot with places is offered to book instead.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import func, select

from bot.app import Linli
from models.booking import Appointment, BookingSlot, WaitlistEntry
from models.people import ChannelIdentity
from tests.security.web_rig import buttons, post, press

Client = TestClient[web.Request, web.Application]


@pytest.mark.parametrize(
    "fields",
    [
        {"user": "web-user-0001\n", "text": "菜单"},
        {"user": "web-user-0001\n", "payload": "menu"},
        {"user": "web-user-0001", "text": "菜单", "message_id": "msg-1\n"},
    ],
)
async def test_ids_with_a_trailing_newline_are_refused(
    client: Client, linli: Linli, fields: dict[str, str]
) -> None:
    rest = {key: value for key, value in fields.items() if key != "user"}
    status, body = await post(client, fields["user"], **rest)
    assert status == 400 and "replies" not in body
    async with linli.sessions() as session:
        count = select(func.count()).select_from(ChannelIdentity)
        assert (await session.exec(count.where(ChannelIdentity.channel == "web"))).one() == 0


async def _slots_with_places(client: Client, user: str) -> list[int]:
    days = await press(client, user, "book:svc:ss-card-reissue")
    slots = await press(client, user, buttons(days)[1])  # tomorrow
    return [int(p.rsplit(":", 1)[1]) for p in buttons(slots) if p.startswith("book:slot:")]


async def _count(linli: Linli, table: Any) -> int:
    async with linli.sessions() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def test_waiting_for_a_slot_with_places_offers_the_place_instead(
    client: Client, linli: Linli
) -> None:
    user = "resident-wait-01"
    first, second = (await _slots_with_places(client, user))[:2]
    async with linli.sessions() as session:
        slot = await session.get(BookingSlot, first)
        assert slot is not None and slot.booked < slot.capacity

    offered = await press(client, user, f"book:wait:{first}")
    assert f"book:ok:{first}" in buttons(offered)
    assert "候补" not in offered[0]["text"]
    assert await _count(linli, WaitlistEntry) == 0
    booked = await press(client, user, f"book:ok:{first}")
    assert "预约成功" in booked[0]["text"]

    # At the one-booking-per-service limit, the waitlist is no way around it either.
    offered = await press(client, user, f"book:wait:{second}")
    assert await _count(linli, WaitlistEntry) == 0
    refused = await press(client, user, buttons(offered)[0])
    assert "预约成功" not in refused[0]["text"]
    assert await _count(linli, Appointment) == 1
