"""Fixtures for WeChat tests: the fake platform API, a signed-callback maker, a configured app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.config import Settings
from bot.router import Router
from bot.web.app import create_web_app
from models.intents import load_intent_model
from tests.conftest import DATA
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.fakes.wechat_sender import WeChatAccount, WeChatServer

TOKEN = "linli-test-token"
AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
OLD_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"
# WeChat waits 5 s and the app answers within 4; a test rig shares two cores with the rest of
# the suite and PostgreSQL, where a passing stall could push a message past 4 s and turn its
# passive reply into "success". Tests of the budget itself set their own.
RIG_REPLY_BUDGET = 20.0

Client = TestClient[web.Request, web.Application]


@dataclass
class WeChatRig:
    """Everything a WeChat test talks to."""

    linli: Linli
    client: Client
    platform: FakeWeChatAPI
    server: WeChatServer

    async def post(self, xml: str, *, safe: bool = False) -> dict[str, str]:
        """Deliver a message as WeChat does and read the passive reply."""
        query, body = self.server.request(xml, safe=safe)
        response = await self.client.post("/wechat", params=query, data=body)
        assert response.status == 200, await response.text()
        return self.server.read_reply(await response.read(), safe=safe)

    async def post_raw(self, xml: str) -> str:
        """Deliver a message and return the body as is (e.g. "success" with no passive reply)."""
        query, body = self.server.request(xml)
        response = await self.client.post("/wechat", params=query, data=body)
        assert response.status == 200, await response.text()
        return await response.text()


def wechat_settings(db_url: str, platform: FakeWeChatAPI, **extra: object) -> Settings:
    """Settings for an account whose API is the fake platform."""
    values: dict[str, object] = {
        "database_url": db_url,
        "data_dir": DATA,
        "secret_key": "test-secret",
        "wechat_app_id": platform.appid,
        "wechat_app_secret": platform.secret,
        "wechat_token": TOKEN,
        "wechat_aes_key": AES_KEY,
        "wechat_aes_key_previous": OLD_AES_KEY,
        "wechat_api_base": platform.base_url,
        # WeChat's own API answers within a second; the fake shares its event loop with the
        # test and, on a loaded CI machine, a passing stall of a second made a push fail and
        # wait for its retry (a test then read the resident's next words without it in view).
        "wechat_api_timeout": 5.0,
        # Most tests post both plain and encrypted bodies; tests/security checks safe mode.
        "wechat_mode": "compatible",
        "wechat_reply_budget": RIG_REPLY_BUDGET,
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def platform() -> AsyncIterator[FakeWeChatAPI]:
    """The fake WeChat API server on 127.0.0.1."""
    fake = FakeWeChatAPI()
    await fake.start()
    yield fake
    await fake.close()


OpenRig = Callable[..., Awaitable[WeChatRig]]


@asynccontextmanager
async def _serve_rig(
    db_url: str,
    platform: FakeWeChatAPI,
    clock: ManualClock,
    *,
    router: Router | None = None,
    aes_key: str = AES_KEY,
    **extra: object,
) -> AsyncIterator[WeChatRig]:
    """Build the app for an account on the fake platform and serve it over loopback."""
    linli = build_linli(wechat_settings(db_url, platform, **extra), clock=clock, router=router)
    # The understanding model trains in the background from start-up; a test's first message
    # must not spend WeChat's reply budget waiting for it (a server's first one may).
    await asyncio.to_thread(load_intent_model, Path(linli.settings.data_dir))
    account = WeChatAccount(TOKEN, platform.appid, aes_key)
    async with TestClient(TestServer(create_web_app(linli), host="127.0.0.1")) as client:
        yield WeChatRig(linli, client, platform, WeChatServer(account))


@pytest.fixture
async def open_rig(
    db_url: str, platform: FakeWeChatAPI, clock: ManualClock
) -> AsyncIterator[OpenRig]:
    """Open WeChat accounts with settings of the test's choosing; all closed at the end."""
    async with AsyncExitStack() as stack:

        async def open_one(**options: object) -> WeChatRig:
            return await stack.enter_async_context(
                _serve_rig(db_url, platform, clock, **options)  # type: ignore[arg-type]
            )

        yield open_one


@pytest.fixture
async def rig(open_rig: OpenRig) -> WeChatRig:
    """A WeChat account on the fake platform with every feature's router."""
    return await open_rig()
