"""2,000 residents press "confirm" on the same 20-place slot at once, over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.config import Settings
from bot.web.app import create_web_app
from models.booking import Appointment, BookingSlot
from models.org import Staff, StaffSkill
from models.services import Service
from models.slots import plan_day

ATTEMPTS, PLACES = 2000, 20
RUSH_DAY = date(2026, 11, 30)  # a Monday: the ten weekday clerks are on duty

Client = TestClient[web.Request, web.Application]


async def twenty_place_slot(linli: Linli) -> int:
    """Train all ten weekday clerks for the service: 10 people x 2 per 30 minutes = 20."""
    async with linli.sessions() as session, session.begin():
        service = (
            await session.exec(select(Service).where(Service.code == "ss-card-reissue"))
        ).one()
        clerks = (
            await session.exec(
                select(Staff.id).where(col(Staff.code).in_([f"S{n:03d}" for n in range(1, 11)]))
            )
        ).all()
        trained = set(
            (
                await session.exec(
                    select(StaffSkill.staff_id).where(StaffSkill.service_id == service.id)
                )
            ).all()
        )
        missing = [s for s in clerks if s is not None and s not in trained]
        session.add_all(StaffSkill(staff_id=s, service_id=service.id or 0) for s in missing)
        await session.flush()
        plan = await plan_day(session, service, RUSH_DAY, linli.clock.now())
    slot = plan.slots[0]
    assert slot.capacity == PLACES
    return slot.id or 0


@pytest.fixture
async def rush_client(
    settings: Settings, clock: ManualClock
) -> AsyncIterator[tuple[Linli, Client]]:
    settings.chat_rate_limit = "1000000/minute"  # every resident shares 127.0.0.1 here
    linli = build_linli(settings, clock=clock)
    async with TestClient(TestServer(create_web_app(linli), host="127.0.0.1")) as client:
        yield linli, client


async def test_two_thousand_attempts_get_exactly_twenty_places(
    rush_client: tuple[Linli, Client],
) -> None:
    linli, client = rush_client
    slot_id = await twenty_place_slot(linli)

    async def attempt(n: int) -> str:
        response = await client.post(
            "/api/chat", json={"user": f"rush-{n:04d}", "payload": f"book:ok:{slot_id}"}
        )
        body = await response.json()
        assert response.status == 200
        return str(body["replies"][0]["text"])

    texts = await asyncio.gather(*(attempt(n) for n in range(ATTEMPTS)))
    booked = [text for text in texts if text.startswith("预约成功")]
    full = [text for text in texts if text.startswith("很抱歉，这个时段刚刚约满了")]
    assert len(booked) == PLACES
    assert len(full) == ATTEMPTS - PLACES
    assert all("最近还有名额的时间" in text for text in full)  # with alternatives
    async with linli.sessions() as session:
        slot = await session.get(BookingSlot, slot_id)
        appointments = (await session.exec(select(Appointment))).all()
    assert slot is not None and slot.booked == PLACES
    assert len(appointments) == PLACES
    assert len({a.ref for a in appointments}) == PLACES
