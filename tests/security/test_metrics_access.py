"""Issue 16, finding 8 (first item): /metrics is for this machine, or for whoever has the token.

The test client connects from 127.0.0.1. A request from elsewhere is made the way it reaches
us in a deployment: through a reverse proxy (declared trusted or not) that says who its client is.
"""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from bot.config import Settings
from bot.web.metrics_access import serve_metrics
from tests.security.conftest import Client, OpenApp

TOKEN = "metrics-test-token-3f9a1c7e5b2d4f6a8c0e"
INTERNET = {"X-Forwarded-For": "203.0.113.9"}


async def status(client: Client, headers: dict[str, str]) -> int:
    """GET /metrics with these headers; the HTTP status (the body is checked when it is 200)."""
    response = await client.get("/metrics", headers=headers)
    if response.status == 200:
        assert "linli_messages_total" in await response.text()
    return response.status


async def test_this_machine_reads_the_metrics(open_app: OpenApp) -> None:
    client = await open_app()
    assert await status(client, {}) == 200


@pytest.mark.parametrize(
    "relayed",
    [
        INTERNET,
        {"X-Forwarded-For": "127.0.0.1, 203.0.113.9"},  # the client's own claim comes first
        {"X-Real-IP": "203.0.113.9"},
        {"Forwarded": "for=203.0.113.9;proto=https"},
    ],
)
async def test_the_internet_through_a_proxy_on_this_machine_is_refused(
    open_app: OpenApp, relayed: dict[str, str]
) -> None:
    undeclared, declared = await open_app(), await open_app(trusted_proxies=["127.0.0.1"])
    assert await status(undeclared, relayed) == 403
    assert await status(declared, relayed) == 403


async def test_whatever_comes_through_a_proxy_needs_the_token(open_app: OpenApp) -> None:
    # nginx with a bare proxy_pass passes the client's own X-Forwarded-For on unchanged, so a
    # "127.0.0.1" in it proves nothing; and the proxy's own requests are not this machine's.
    client = await open_app(trusted_proxies=["127.0.0.1"])
    assert await status(client, {"X-Forwarded-For": "127.0.0.1"}) == 403
    assert await status(client, {}) == 403
    served = await open_app()
    assert await status(served, {}) == 200  # no proxy declared: loopback is this machine


async def test_from_elsewhere_only_the_bearer_token_opens_the_metrics(open_app: OpenApp) -> None:
    client = await open_app(trusted_proxies=["127.0.0.1"], metrics_token=TOKEN)
    refused = await client.get("/metrics", headers=INTERNET)
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    for wrong in (f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer"):
        assert await status(client, {**INTERNET, "Authorization": wrong}) == 401
    assert await status(client, {**INTERNET, "Authorization": f"Bearer {TOKEN}"}) == 200
    assert await status(client, {}) == 401  # the proxy's own peer address: fail closed


async def test_the_worker_metrics_port_keeps_the_same_rules() -> None:
    settings = Settings(trusted_proxies=["127.0.0.1"], metrics_token=TOKEN)
    port = unused_port()
    runner = await serve_metrics(settings, port)  # what `linli worker --metrics-port` serves
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url, headers=INTERNET) as response:
                assert response.status == 401
            bearer = {**INTERNET, "Authorization": f"Bearer {TOKEN}"}
            async with session.get(url, headers=bearer) as response:
                assert response.status == 200
                assert "linli_messages_total" in await response.text()
    finally:
        await runner.cleanup()
