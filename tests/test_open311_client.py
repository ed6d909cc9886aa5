"""A published Open311 client drives the API: civicbot (PyPI, `civicbot.open311.Open311Client`,
GeoReport v2 over the standard library's urllib) lists the services, reads a definition,
creates a request with an API key, and reads it back by id, by filter and by token, against the
real app served on 127.0.0.1. The client is synchronous, so it runs in a thread while the
server answers on the test's loop."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from civicbot.http import HttpTransport, RateLimiter  # type: ignore[import-untyped]
from civicbot.open311 import Open311Client  # type: ignore[import-untyped]
from civicbot.registry import Endpoint  # type: ignore[import-untyped]
from sqlmodel import select

from bot.app import Linli
from models.cases import Case
from models.messaging import OutboxMessage
from tests.conftest import Chat
from tests.test_binding import staff_code
from tests.test_open311 import new_key

Client = TestClient[web.Request, web.Application]


def open311_client(client: Client) -> Any:
    """civicbot's client pointed at this test's server (no politeness pause between calls)."""
    endpoint = Endpoint(
        id="linli-test",
        name="柳城街道",
        base_url=str(client.make_url("/open311/v2")),
        write=True,
        api_key_required_for_write=True,
    )
    transport = HttpTransport(rate_limiter=RateLimiter(min_interval=0.0), timeout=30)
    return Open311Client(endpoint, transport=transport)


async def test_a_published_client_lists_creates_and_reads(linli: Linli, client: Client) -> None:
    clerk = Chat(linli, "910021", "telegram")  # 民政科, to see the alert arrive
    assert "绑定成功" in (await clerk.send(f"绑定 {await staff_code(linli, 'S021')}"))[0].text
    key = await new_key(linli)
    open311 = open311_client(client)

    services = await asyncio.to_thread(open311.list_services)
    codes = [s["service_code"] for s in services]
    assert "proxy.ca-disability-subsidy" in codes and "need.library" in codes

    # The client fetches the definition itself and checks the required attributes against it.
    prepared = await asyncio.to_thread(
        lambda: open311.create_request(
            "proxy.ca-disability-subsidy",
            dry_run=False,
            confirm="SEND",
            api_key=key,
            validate_remote=True,
            address_string="幸福小区3号楼201",
            description="帮我母亲办残疾人补贴，她腿脚不便",
            attributes={"address": "幸福小区3号楼201", "visit_time": "工作日上午"},
            phone="13812345678",
            first_name="秀英",
            last_name="张",
        )
    )
    assert prepared.dry_run is False
    [created] = prepared.response
    request_id, token = created["service_request_id"], created["token"]

    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == request_id))).one()
        alerts = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "alert"))
        ).all()
    assert case.category == "残疾人补贴申领" and case.resident_id is not None
    assert [request_id in json.dumps(a.payload) for a in alerts] == [True]

    read = await asyncio.to_thread(open311.get_request, request_id)
    assert read["service_request_id"] == request_id
    assert read["service_code"] == "proxy.ca-disability-subsidy"
    assert read["status"] == "open" and read["agency_responsible"] == "民政科"
    assert read["expected_datetime"].endswith("+08:00")
    assert "13812345678" not in json.dumps(read, ensure_ascii=False)
    listed = await asyncio.to_thread(
        lambda: open311.list_requests(service_code="proxy.ca-disability-subsidy", status="open")
    )
    assert [r["service_request_id"] for r in listed] == [request_id]
    by_id = await asyncio.to_thread(lambda: open311.list_requests(service_request_ids=[request_id]))
    assert by_id == listed
    assert await asyncio.to_thread(open311.get_token, token) == [
        {"service_request_id": request_id, "token": token}
    ]
