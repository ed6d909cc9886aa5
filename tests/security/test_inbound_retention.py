"""Issue 16, finding 8: the inbound message log does not keep residents' replies forever.

Messages come in through the web chat (POST /api/chat) with message ids, so their answers are
stored for retries. After LINLI_INBOUND_RETENTION_DAYS (180) the scheduler's retention tick
deletes them, in batches; younger ones stay, and a retry of one still gets its stored answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import select

from bot.app import Linli
from bot.clock import ManualClock
from models.inbox import store_delivery, unshown_items, web_account_id
from models.messaging import BindAttempt, InboundMessage, OutboxMessage, queue_message
from scheduler.context import JobContext
from scheduler.runner import JOBS, Ticker
from tests.conftest import START

Client = TestClient[web.Request, web.Application]
USER = "retention-resident-0001"


async def say(client: Client, text: str, message_id: str | None = None) -> dict[str, Any]:
    """One message through the web chat; the JSON answer."""
    message = {"user": USER, "text": text} | ({"message_id": message_id} if message_id else {})
    response = await client.post("/api/chat", json=message)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def kept(linli: Linli) -> list[str]:
    """The message ids in the inbound log."""
    async with linli.sessions() as session:
        rows = await session.exec(select(InboundMessage.message_id))
        return sorted(rows.all())


async def run_retention(linli: Linli, batch: int) -> int | None:
    """One retention tick, as the scheduler runs it (with the advisory lock on PostgreSQL)."""
    [job] = [job for job in JOBS if job.name == "inbound_retention"]
    ctx = JobContext(linli.engine, linli.sessions, linli.clock, linli.settings, batch=batch)
    return await Ticker(ctx, jobs=[job]).tick(job)


async def test_old_messages_go_and_a_retry_within_retention_gets_its_answer(
    client: Client, linli: Linli, clock: ManualClock
) -> None:
    assert linli.settings.inbound_retention_days == 180
    for n in range(5):  # my phone is 138 1234 5678, 身份证 …: what the log must not keep
        await say(client, f"我的电话是13812345678 ({n})", message_id=f"old-{n}")
    clock.set(START + timedelta(days=100))
    await say(client, "我的")
    first = await say(client, "1", message_id="young-1")
    assert "社区" in first["replies"][0]["text"]

    clock.set(START + timedelta(days=180, minutes=1))
    assert await run_retention(linli, batch=2) == 5  # three batches in one tick
    assert await kept(linli) == ["young-1"]
    assert await run_retention(linli, batch=2) == 0

    # Had the retry been handled again, "1" would now pick the first community.
    assert await say(client, "1", message_id="young-1") == first
    clock.set(START + timedelta(days=280, minutes=1))
    assert await run_retention(linli, batch=2) == 1
    assert await kept(linli) == []


async def bind_tries(linli: Linli) -> int:
    async with linli.sessions() as session:
        return len((await session.exec(select(BindAttempt))).all())


async def test_bind_tries_are_forgotten_after_a_day(
    client: Client, linli: Linli, clock: ManualClock
) -> None:
    for guess in ("AAAA-2345", "BBBB-2345"):
        await say(client, f"绑定 {guess}")
    assert await bind_tries(linli) == 2
    clock.set(START + timedelta(hours=23))
    await run_retention(linli, batch=10)
    assert await bind_tries(linli) == 2  # the per-account limit still needs them
    clock.set(START + timedelta(days=1, minutes=1))
    await run_retention(linli, batch=10)
    assert await bind_tries(linli) == 0


async def outbox_rows(linli: Linli) -> list[tuple[str, str]]:
    async with linli.sessions() as session:
        rows = await session.exec(select(OutboxMessage.kind, OutboxMessage.status))
        return sorted((kind, str(status)) for kind, status in rows.all())


async def test_sent_messages_with_their_text_are_forgotten_too(
    linli: Linli, clock: ManualClock
) -> None:
    async with linli.engine.begin() as connection:
        for kind, status in (("reply", "sent"), ("alert", "dead"), ("reminder", "pending")):
            number = await queue_message(
                connection, kind=kind, payload={"text": "电话13812345678"}, now=clock.now()
            )
            table = OutboxMessage.__table__  # type: ignore[attr-defined]
            await connection.execute(
                table.update().where(table.c.id == number).values(status=status)
            )
    clock.set(START + timedelta(days=179))
    await run_retention(linli, batch=10)
    assert len(await outbox_rows(linli)) == 3
    clock.set(START + timedelta(days=180, minutes=1))
    await run_retention(linli, batch=10)
    assert await outbox_rows(linli) == [("reminder", "pending")]  # not yet sent: kept


async def test_web_inbox_items_are_forgotten_after_the_retention(
    linli: Linli, client: Client, clock: ManualClock
) -> None:
    await say(client, "菜单")
    async with linli.sessions() as session:
        account = await web_account_id(await session.connection(), USER)
    assert account is not None
    async with linli.engine.begin() as connection:
        await store_delivery(connection, account, [{"text": "电话13812345678"}], clock.now())
    clock.set(START + timedelta(days=10))
    async with linli.engine.begin() as connection:
        await store_delivery(connection, account, [{"text": "较新"}], clock.now())
    clock.set(START + timedelta(days=180, minutes=1))
    await run_retention(linli, batch=10)
    async with linli.engine.begin() as connection:
        left = await unshown_items(connection, account)
    assert [item.replies[0]["text"] for item in left] == ["较新"]
