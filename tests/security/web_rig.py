"""The web chat over real HTTP, in demo or production mode, for the security tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.config import Settings
from bot.web.app import create_web_app
from models.binding import format_code, issue_bind_code
from models.messaging import BindCode
from models.org import Staff
from models.people import ChannelIdentity
from tests.conftest import DATA

Client = TestClient[web.Request, web.Application]
STRONG_SECRET = "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f"
# Attackers come from many addresses; the per-address rate limit is not what is tested here.
MANY = "100000/minute"


def production_settings(db_url: str, **extra: Any) -> Settings:
    """Production settings with strong secrets on this test's database."""
    return Settings(
        env="production",
        database_url=db_url,
        data_dir=DATA,
        secret_key=STRONG_SECRET,
        chat_rate_limit=MANY,
        **extra,
    )


def demo_settings(db_url: str, **extra: Any) -> Settings:
    """Demo settings (the web chat may still bind staff there) on this test's database."""
    return Settings(
        database_url=db_url, data_dir=DATA, secret_key=STRONG_SECRET, chat_rate_limit=MANY, **extra
    )


@asynccontextmanager
async def web_client(settings: Settings, clock: ManualClock) -> AsyncIterator[tuple[Linli, Client]]:
    """The whole system behind real HTTP on loopback."""
    linli = build_linli(settings, clock=clock)
    async with TestClient(TestServer(create_web_app(linli), host="127.0.0.1")) as client:
        yield linli, client


def browser_id() -> str:
    """An id as the chat page makes one: 128 random bits, base64url."""
    return secrets.token_urlsafe(16)


async def post(client: Client, user: str, **fields: str) -> tuple[int, dict[str, Any]]:
    """POST /api/chat; the status and the JSON answer."""
    response = await client.post("/api/chat", json={"user": user, **fields})
    return response.status, await response.json()


async def say(client: Client, user: str, text: str) -> str:
    """Type text in the web chat; all reply texts joined (the request must succeed)."""
    status, body = await post(client, user, text=text)
    assert status == 200, body
    return "\n".join(reply["text"] for reply in body["replies"])


async def press(client: Client, user: str, payload: str) -> list[dict[str, Any]]:
    """Press a button in the web chat; the replies."""
    status, body = await post(client, user, payload=payload)
    assert status == 200, body
    replies: list[dict[str, Any]] = body["replies"]
    return replies


def buttons(replies: list[dict[str, Any]]) -> list[str]:
    """Every button payload in some replies."""
    return [button["payload"] for reply in replies for button in reply["buttons"]]


async def staff_code(linli: Linli, staff: str, hours: float = 24) -> str:
    """A fresh bind code for a staff member, as `linli staff bind-code` prints it."""
    async with linli.sessions() as session, session.begin():
        row = (await session.exec(select(Staff).where(Staff.code == staff))).one()
        issued = await issue_bind_code(
            session,
            secret=linli.settings.secret_key_value,
            now=linli.clock.now(),
            ttl=timedelta(hours=hours),
            staff_id=row.id,
        )
    return format_code(issued.code)


async def account(linli: Linli, external_id: str, channel: str = "web") -> ChannelIdentity:
    """A chat account as stored."""
    async with linli.sessions() as session:
        stmt = select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
        return (await session.exec(stmt)).one()


async def codes(linli: Linli) -> list[BindCode]:
    """Every bind code as stored, oldest first."""
    async with linli.sessions() as session:
        return list((await session.exec(select(BindCode).order_by(BindCode.id))).all())  # type: ignore[arg-type]
