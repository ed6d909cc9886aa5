"""Fixtures shared by the attack tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_linli
from bot.clock import ManualClock
from bot.config import Settings
from bot.web.app import create_web_app
from tests.conftest import DATA

Client = TestClient[web.Request, web.Application]
OpenApp = Callable[..., Awaitable[Client]]


@pytest.fixture
async def open_app(db_url: str, clock: ManualClock) -> AsyncIterator[OpenApp]:
    """Serve the app with settings of the test's choosing over loopback."""
    clients: list[Client] = []

    async def open_one(**options: object) -> Client:
        values: dict[str, object] = {"database_url": db_url, "data_dir": DATA, **options}
        settings = Settings(secret_key="test-secret", **values)  # type: ignore[arg-type]
        app = create_web_app(build_linli(settings, clock=clock))
        client: Client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield open_one
    for client in clients:
        await client.close()
