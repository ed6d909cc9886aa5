"""The WeChat hot path's database work: few round trips, and the account's lock still first.

On PostgreSQL the lock of the chat account, the binding of the signed request's key, and the
writes at the end share statements (bench/wechat_statements.py counts them); these tests hold
the database to what the pipeline promises: a message from an account whose lock another
instance holds waits for it, and a returning follower's message costs a fixed few statements.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.wechat_statements import count_statements
from bot.app import Linli
from bot.channels.wechat import fits_passive, parse, to_inbound
from bot.messages import Inbound
from bot.pipeline import Delivery
from models.db import connection_lock, make_engine
from models.messaging import InboundMessage, WeChatCallback
from tests.fakes.wechat_sender import WeChatAccount, WeChatServer

OPENID = "oRoundTrip0001"
ACCOUNT = WeChatAccount("test-token", "wx-test-app")


def signed(text: str, msg_id: int, openid: str = OPENID) -> Inbound:
    """A text message as the webhook hands it on: parsed, with its signed request's key."""
    server = WeChatServer(ACCOUNT, openid=openid)
    query, body = server.request(server.text(text, msg_id=msg_id), nonce=f"n{msg_id}")
    key = (query["timestamp"], query["nonce"], query["signature"])
    return replace(to_inbound(parse(body.decode())), replay_key=key)


@asynccontextmanager
async def held_elsewhere(url: str) -> AsyncIterator[AsyncConnection]:
    """Another instance's transaction holding the account's lock (SQLite: the write lock)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection, connection.begin():
            await connection_lock(connection, f"chat:wechat\0{OPENID}")
            if engine.dialect.name == "sqlite":  # BEGIN IMMEDIATE took it; make it certain
                await connection.execute(sa.text("UPDATE channelidentity SET id = id"))
            yield connection
    finally:
        await engine.dispose()


async def count(linli: Linli, table: type) -> int:
    async with linli.engine.connect() as connection:
        return int(await connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_a_message_waits_for_the_lock_another_instance_holds(
    linli: Linli, db_url: str
) -> None:
    delivery = Delivery(fits=fits_passive)
    await linli.pipeline.handle(signed("菜单", 1), delivery)  # the account exists
    async with held_elsewhere(db_url):
        waiting = asyncio.ensure_future(linli.pipeline.handle(signed("7", 2), delivery))
        await asyncio.sleep(0.5)
        assert not waiting.done()
    replies = await asyncio.wait_for(waiting, 10)
    assert replies and replies[0].text
    assert await count(linli, WeChatCallback) == 2
    assert await count(linli, InboundMessage) == 2


async def test_a_returning_followers_message_costs_few_statements(linli: Linli) -> None:
    delivery = Delivery(fits=fits_passive)
    # Another follower first, so that what the server reads once (opening hours) is read.
    for msg_id, text in enumerate(("菜单", "7", "返回"), start=10):
        await linli.pipeline.handle(signed(text, msg_id, "oRoundTripWarm"), delivery)
    await linli.pipeline.handle(signed("菜单", 1), delivery)
    counts: Counter[str] = Counter()
    count_statements(linli.engine, counts)
    await linli.engine.dispose()  # the counting hooks see connections made from now on
    replies = await linli.pipeline.handle(signed("7", 2), delivery)
    assert replies and replies[0].text
    work = sum(counts.values()) - counts["BEGIN"] - counts["COMMIT"] - counts["PING"]
    # PostgreSQL: lock and key, the conversation, the writes. SQLite: key, conversation,
    # state and the message's row, each a call into the library rather than a round trip.
    assert work == (4 if linli.engine.dialect.name == "sqlite" else 3), counts
    assert counts["BEGIN"] == counts["COMMIT"] == 1
