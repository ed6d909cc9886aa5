"""Fixtures for Telegram tests: the fake Bot API, a configured app, and a person in a chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from telegram.error import TelegramError

from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.config import Settings
from bot.web.app import create_web_app
from tests.conftest import DATA
from tests.fakes.telegram_api import FakeTelegramAPI, SentText, callback_update, text_update

SECRET = "linli-test-telegram-secret"

Client = TestClient[web.Request, web.Application]


def telegram_settings(db_url: str, platform: FakeTelegramAPI, **extra: object) -> Settings:
    """Settings for a bot whose Bot API is the fake platform."""
    values: dict[str, object] = {
        "database_url": db_url,
        "data_dir": DATA,
        "secret_key": "test-secret",
        "telegram_token": platform.token,
        "telegram_secret": SECRET,
        "telegram_api_base": platform.base_url,
        "telegram_api_timeout": 0.5,
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def telegram_platform() -> AsyncIterator[FakeTelegramAPI]:
    """A started fake Telegram Bot API, closed after the test."""
    fake = FakeTelegramAPI()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@dataclass
class TelegramRig:
    """The app on the fake platform, and the way updates reach it."""

    linli: Linli
    client: Client
    platform: FakeTelegramAPI

    async def post(self, update: dict[str, Any], *, secret: str | None = SECRET) -> int:
        """POST an update to /telegram as Telegram does; returns the HTTP status."""
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        response = await self.client.post("/telegram", json=update, headers=headers)
        return response.status

    async def deliver(self) -> list[SentText]:
        """Run the outbox worker until nothing is due; the messages it sent."""
        before = len(self.platform.sent_messages)
        while await self.linli.worker.deliver_due():
            pass
        return self.platform.sent_messages[before:]

    async def say(self, chat_id: int, text: str, **options: Any) -> list[SentText]:
        """A person types text; the bot's answers as the platform received them."""
        assert await self.post(text_update(chat_id, text, **options)) == 200
        return await self.deliver()

    async def press(self, chat_id: int, data: str, **options: Any) -> list[SentText]:
        """A person presses an inline button."""
        assert await self.post(callback_update(chat_id, data, **options)) == 200
        return await self.deliver()


@pytest.fixture
async def telegram(
    db_url: str, telegram_platform: FakeTelegramAPI, clock: ManualClock
) -> AsyncIterator[TelegramRig]:
    """A bot on the fake platform with every feature's router, served over loopback."""
    linli = build_linli(telegram_settings(db_url, telegram_platform), clock=clock)
    async with TestClient(TestServer(create_web_app(linli), host="127.0.0.1")) as client:
        await warm_up(linli)
        yield TelegramRig(linli, client, telegram_platform)


async def warm_up(linli: Linli, attempts: int = 5) -> None:
    """Ask getMe before the test starts.

    The rig's API timeout is short (0.5 s) so tests of stalls stay quick; on two busy cores the
    first getMe of a fresh connection pool has overrun it, and the test's first update was
    refused with 503. Tests of the bot not being ready build their own bot.
    """
    assert linli.telegram is not None
    for attempt in range(attempts):
        try:
            await linli.telegram.ready()
            return
        except TelegramError:
            if attempt == attempts - 1:
                raise


def button_data(sent: SentText) -> list[str]:
    """The callback_data of every inline button under a sent message."""
    markup = sent.reply_markup or {}
    return [
        button["callback_data"]
        for row in markup.get("inline_keyboard", [])
        for button in row
        if "callback_data" in button
    ]
