"""POST /api/chat, GET /, /healthz and /metrics over real HTTP."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import func, select

from bot.app import Linli, build_linli
from bot.config import Settings
from bot.i18n import t
from bot.web.app import create_web_app
from models.people import ChannelIdentity

Client = TestClient[web.Request, web.Application]


async def test_chat_contract_text_and_payload(client: Client) -> None:
    response = await client.post("/api/chat", json={"user": "web-user-0001", "payload": "menu"})
    assert response.status == 200
    body = await response.json()
    first = body["replies"][0]
    assert "柳城街道" in first["text"]
    assert first["buttons"][0] == {"label": "预约办事", "payload": "book"}
    assert first["link"] is None
    response = await client.post("/api/chat", json={"user": "web-user-0001", "text": "7"})
    assert "08:00–18:00" in (await response.json())["replies"][0]["text"]


async def test_retry_with_same_message_id_returns_same_answer(client: Client) -> None:
    base = {"user": "web-user-0002", "message_id": "abc-1"}
    await client.post("/api/chat", json={"user": "web-user-0002", "text": "我的"})
    first = await client.post("/api/chat", json={**base, "text": "1"})
    body = await first.json()
    assert "请选择您所在的社区" in body["replies"][0]["text"]
    # Had the retry been handled again, "1" would now mean the first community.
    second = await client.post("/api/chat", json={**base, "text": "1"})
    assert await second.json() == body


async def test_english_request(client: Client) -> None:
    response = await client.post(
        "/api/chat", json={"user": "web-user-0003", "text": "menu", "lang": "en"}
    )
    body = await response.json()
    assert body["replies"][0]["text"].startswith("Hello!")


async def test_bad_requests_get_polite_errors(client: Client) -> None:
    cases = [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"user": "short", "text": "hi"}', 400),
        (b'{"user": "web-user-0004"}', 400),
        (b'{"user": "web-user-0004", "text": "a", "payload": "b"}', 400),
        (b'{"user": "web-user-0004", "text": 5}', 400),
        (b'{"user": "web-user-0004", "text": "hi", "message_id": "bad id!"}', 400),
    ]
    for raw, status in cases:
        response = await client.post(
            "/api/chat", data=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status == status, raw
        error = (await response.json())["error"]
        # In the language the text is written in ("hi": English), else the page's (Chinese).
        expected = "en" if b'"hi"' in raw else "zh-CN"
        assert error == t(expected, "error.bad_request"), raw


async def test_too_long_text_is_refused_and_nothing_is_stored(client: Client) -> None:
    response = await client.post("/api/chat", json={"user": "web-user-0005", "text": "长" * 1001})
    assert response.status == 413
    assert "最多 1000 个字" in (await response.json())["error"]
    huge = await client.post(
        "/api/chat", json={"user": "web-user-0005", "text": "x" * 40_000, "lang": "en"}
    )
    assert huge.status == 413
    assert "too long" in (await huge.json())["error"] or "太长" in (await huge.json())["error"]
    # An English writer on a Chinese page is refused in English: the text tells, not the page.
    english = await client.post(
        "/api/chat",
        json={"user": "web-user-0005", "text": "please help me " * 100, "lang": "zh"},
    )
    assert english.status == 413 and "too long" in (await english.json())["error"]


async def test_chat_page_is_escaped_and_protected(client: Client) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = await response.text()
    assert '<html lang="zh-CN">' in page
    assert "柳城街道便民服务" in page
    assert "$" not in page.replace("$$", "")
    english = await (await client.get("/?lang=en")).text()
    assert '<html lang="en">' in english
    assert "Liucheng Sub-district services" in english
    script = await client.get("/static/chat.js")
    assert script.status == 200


async def test_health_and_metrics(client: Client) -> None:
    health = await client.get("/healthz")
    assert health.status == 200
    assert await health.json() == {"status": "ok", "database": True}
    await client.post("/api/chat", json={"user": "web-user-0006", "text": "菜单"})
    metrics = await (await client.get("/metrics")).text()
    assert 'linli_messages_total{channel="web",outcome="ok"}' in metrics


async def test_health_reports_a_database_that_cannot_open(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}")  # a directory, not a file
    app = create_web_app(build_linli(settings))
    async with TestClient(TestServer(app, host="127.0.0.1")) as dead:
        response = await dead.get("/healthz")
        assert response.status == 503
        assert await response.json() == {"status": "unavailable", "database": False}


async def test_odd_json_gets_400_not_a_crash(client: Client) -> None:
    bodies = [
        b'{"user": "web-user-0007", "text": "hi", "lang": 5}',
        b'{"user": "web-user-0007", "text": "hi", "lang": ["en"]}',
        b"[" * 5000 + b"]" * 5000,
        b'{"user": "web-user-0007", "text": "\\ud800abc"}',
        b'{"user": "web-user-0007", "payload": "\\udfff"}',
    ]
    for raw in bodies:
        response = await client.post(
            "/api/chat", data=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400, raw[:40]
        assert "error" in await response.json()
    ok = await client.post("/api/chat", json={"user": "web-user-0007", "text": "菜单"})
    assert ok.status == 200


async def test_a_client_sending_too_fast_is_slowed_down(linli: Linli) -> None:
    linli.settings.chat_rate_limit = "3/minute"
    async with TestClient(TestServer(create_web_app(linli), host="127.0.0.1")) as limited:
        statuses = []
        for n in range(5):
            response = await limited.post(
                "/api/chat", json={"user": f"web-fast-{n:04d}", "text": "菜单"}
            )
            statuses.append(response.status)
        assert statuses == [200, 200, 200, 429, 429]
        assert "请稍等一分钟" in (await response.json())["error"]
    async with linli.sessions() as session:
        count = (await session.exec(select(func.count()).select_from(ChannelIdentity))).one()
    assert count == 3
