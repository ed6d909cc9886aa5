"""The web chat as a push channel: the inbox, its sender, the live stream and migration 0009."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import alembic.command
import sqlalchemy as sa
from aiohttp import ClientConnectionError, ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.app import Linli, build_linli
from bot.channels.web_inbox import WebInboxSender
from bot.clock import ManualClock
from bot.messages import Reply
from bot.outbound import Recipient, SendStatus
from bot.outbox import OUTBOX_ID_KEY
from bot.web.app import create_web_app
from models.inbox import WebInboxItem, mark_shown, store_delivery, unshown_items
from models.messaging import OutboxMessage, OutboxStatus, queue_message
from models.notices import Notice
from models.org import Staff
from models.people import ChannelIdentity, Resident
from tests.security.test_personal_data import migrate
from tests.security.web_rig import browser_id, demo_settings

Client = TestClient[web.Request, web.Application]


async def web_account(linli: Linli, client: Client, user: str) -> int:
    """The page's first message makes its account; a resident is attached to it."""
    response = await client.post("/api/chat", json={"user": user, "payload": "menu"})
    assert response.status == 200
    async with linli.sessions() as session, session.begin():
        found = await session.exec(
            select(ChannelIdentity).where(ChannelIdentity.external_id == user)
        )
        identity = found.one()
        resident = Resident(created_at=linli.clock.now())
        session.add(resident)
        await session.flush()
        identity.resident_id = resident.id
        assert identity.id is not None
        return identity.id


async def resident_of(linli: Linli, account: int) -> int:
    async with linli.sessions() as session:
        identity = await session.get(ChannelIdentity, account)
        assert identity is not None and identity.resident_id is not None
        return identity.resident_id


async def queue_for(linli: Linli, resident_id: int, text: str) -> int:
    async with linli.engine.begin() as connection:
        row = await queue_message(
            connection,
            kind="notice",
            payload={"replies": [Reply(text).to_dict()]},
            now=linli.clock.now(),
            resident_id=resident_id,
        )
    linli.worker.wake()
    return row


async def next_event(response: ClientResponse, seconds: float = 5.0) -> dict[str, Any] | None:
    """The next event on an open stream (pings skipped), or None if none comes in time."""
    event: dict[str, Any] = {}
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            raw = await asyncio.wait_for(response.content.readline(), left)
        except (TimeoutError, ClientConnectionError):
            return None
        line = raw.decode("utf-8").rstrip("\r\n")
        if not raw:
            return None
        if line == "" and "data" in event:
            return event
        if line.startswith("id: "):
            event["id"] = int(line[4:])
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])


@asynccontextmanager
async def stream(
    client: Client, user: str, last: int | None = None
) -> AsyncIterator[ClientResponse]:
    headers = {} if last is None else {"Last-Event-ID": str(last)}
    response = await client.get(f"/api/chat/events?user={user}", headers=headers)
    try:
        yield response
    finally:
        response.close()


@asynccontextmanager
async def serving(linli: Linli, worker: bool = True) -> AsyncIterator[Client]:
    app = create_web_app(linli, run_worker=worker)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


# --- the inbox itself ------------------------------------------------------------------------


async def test_inbox_stores_once_lists_after_and_marks_only_its_own(linli: Linli) -> None:
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        mine = ChannelIdentity(
            channel="web", external_id="mine-0001", created_at=now, last_seen_at=now
        )
        other = ChannelIdentity(
            channel="web", external_id="other-0001", created_at=now, last_seen_at=now
        )
        session.add_all([mine, other])
        await session.flush()
        assert mine.id is not None and other.id is not None
        a, b = mine.id, other.id
    replies = [Reply("一").to_dict()]
    async with linli.engine.begin() as c:
        first = await store_delivery(c, a, replies, now, outbox_id=901)
        again = await store_delivery(c, a, [Reply("重复").to_dict()], now, outbox_id=901)
        second = await store_delivery(c, a, [Reply("二").to_dict()], now, outbox_id=902)
        theirs = await store_delivery(c, b, [Reply("别人的").to_dict()], now)
    assert again == first and second > first
    async with linli.engine.begin() as c:
        items = await unshown_items(c, a)
        assert [(i.id, i.replies[0]["text"]) for i in items] == [(first, "一"), (second, "二")]
        assert [i.id for i in await unshown_items(c, a, after_id=first)] == [second]
        assert await mark_shown(c, a, [theirs], now) == 0  # their item is not theirs to mark
        assert await mark_shown(c, a, [second, theirs], now) == 1
        assert [i.id for i in await unshown_items(c, a)] == [first]  # named one by one
        assert [i.id for i in await unshown_items(c, a, skip={first})] == []
        assert [i.id for i in await unshown_items(c, b)] == [theirs]


async def test_the_sender_stores_a_retried_delivery_once(linli: Linli) -> None:
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        identity = ChannelIdentity(
            channel="web", external_id="send-0001", created_at=now, last_seen_at=now
        )
        session.add(identity)
        await session.flush()
        assert identity.id is not None
        account = identity.id
    sender = WebInboxSender(linli.sessions, linli.clock, linli.inbox_bell)
    recipient = Recipient("send-0001", "zh-CN", now, account)
    payload = {"replies": [Reply("您的案件已受理").to_dict()], OUTBOX_ID_KEY: 77}
    with linli.inbox_bell.listen(account) as rung:
        results = [await sender.send(recipient, payload, 0) for _ in range(2)]
        assert rung.is_set()
    assert [(r.status, r.parts_sent) for r in results] == [(SendStatus.SENT, 1)] * 2
    async with linli.sessions() as session:
        stored = (await session.exec(select(WebInboxItem))).all()
    assert [(s.identity_id, s.outbox_id, s.replies[0]["text"]) for s in stored] == [
        (account, 77, "您的案件已受理")
    ]


# --- through the running app ------------------------------------------------------------------


async def test_a_push_to_a_web_resident_arrives_on_the_open_stream(linli: Linli) -> None:
    user = browser_id()
    async with serving(linli) as client:
        account = await web_account(linli, client, user)
        resident = await resident_of(linli, account)
        async with stream(client, user) as events:
            assert events.status == 200
            assert events.headers["Content-Type"].startswith("text/event-stream")
            assert await next_event(events, 0.3) is None  # nothing waiting yet
            row = await queue_for(linli, resident, "您的案件已办结")
            event = await next_event(events)
    assert event is not None
    assert event["data"] == {"replies": [Reply("您的案件已办结").to_dict()]}
    async with linli.sessions() as session:
        sent = await session.get(OutboxMessage, row)
        item = (await session.exec(select(WebInboxItem))).one()
    assert sent is not None and sent.status == OutboxStatus.SENT
    assert (item.id, item.identity_id, item.outbox_id) == (event["id"], account, row)


async def test_a_delivery_stored_by_another_process_reaches_the_open_page(
    db_url: str, clock: ManualClock
) -> None:
    """A separate `linli worker` stores without ringing this server's bell: the server's one
    watcher of the inbox table rings it."""
    settings = demo_settings(db_url, web_push_poll_seconds=0.2)
    server, other = build_linli(settings, clock=clock), build_linli(settings, clock=clock)
    try:
        user = browser_id()
        async with serving(server, worker=False) as client:
            account = await web_account(server, client, user)
            async with stream(client, user) as events:
                assert await next_event(events, 0.3) is None
                async with other.engine.begin() as connection:  # the other process's store
                    await store_delivery(
                        connection, account, [Reply("另一进程").to_dict()], clock.now()
                    )
                event = await next_event(events, 3.0)
        assert event is not None and event["data"]["replies"][0]["text"] == "另一进程"
    finally:
        await other.close()


async def test_unread_items_come_back_until_seen_and_only_to_their_owner(linli: Linli) -> None:
    user, other = browser_id(), browser_id()
    async with serving(linli) as client:
        account = await web_account(linli, client, user)
        await web_account(linli, client, other)
        resident = await resident_of(linli, account)
        for text in ("第一条", "第二条"):
            await queue_for(linli, resident, text)
        for _ in range(50):
            await asyncio.sleep(0.1)
            async with linli.engine.begin() as c:
                if len(await unshown_items(c, account)) == 2:
                    break
        async with stream(client, user) as events:  # the page was closed: both wait for it
            first, second = await next_event(events), await next_event(events)
        assert first is not None and second is not None
        texts = sorted(e["data"]["replies"][0]["text"] for e in (first, second))
        assert texts == ["第一条", "第二条"]  # stored by one batch: either may be stored first
        async with stream(client, user, last=first["id"]) as events:  # a reconnect: the page
            again = [await next_event(events), await next_event(events)]  # skips what it has
            assert [e["id"] for e in again if e] == [first["id"], second["id"]]
        async with stream(client, other) as events:  # someone else's id sees none of it
            assert await next_event(events, 0.5) is None
        crafted = await client.post("/api/chat/seen", json={"user": other, "ids": [second["id"]]})
        assert (await crafted.json()) == {"marked": 0}
        seen = await client.post("/api/chat/seen", json={"user": user, "ids": [first["id"]]})
        assert (await seen.json()) == {"marked": 1}
        async with stream(client, user) as events:
            left = await next_event(events)
            assert left is not None and left["id"] == second["id"]
        await client.post("/api/chat/seen", json={"user": user, "ids": [second["id"]]})
        async with stream(client, user) as events:
            assert await next_event(events, 0.5) is None


async def test_bad_and_unknown_ids_stream_nothing_and_make_no_account(linli: Linli) -> None:
    async with serving(linli, worker=False) as client:
        for query in ("", "?user=short", "?user=bad%20id!%20xxxxx"):
            assert (await client.get("/api/chat/events" + query)).status == 400
        unknown = await client.get(f"/api/chat/events?user={browser_id()}")
        assert unknown.status == 204
        bad = await client.post("/api/chat/seen", json={"user": browser_id(), "ids": ["1"]})
        assert bad.status == 400
        none = await client.post("/api/chat/seen", json={"user": browser_id(), "ids": [1]})
        assert await none.json() == {"marked": 0}
    async with linli.sessions() as session:
        assert (await session.exec(select(ChannelIdentity))).all() == []


async def test_streams_are_capped_per_account_and_per_address(
    db_url: str, clock: ManualClock
) -> None:
    settings = demo_settings(db_url, web_push_streams_per_account=2, web_push_streams_per_address=3)
    linli = build_linli(settings, clock=clock)
    users = [browser_id() for _ in range(3)]
    async with serving(linli, worker=False) as client:
        for user in users:
            await web_account(linli, client, user)
        async with stream(client, users[0]) as one, stream(client, users[0]) as two:
            async with stream(client, users[0]) as three:
                assert [one.status, two.status, three.status] == [200, 200, 429]
            async with stream(client, users[1]) as four, stream(client, users[2]) as five:
                assert [four.status, five.status] == [200, 429]  # four from this address
        await asyncio.sleep(1.2)  # a closed page is noticed within half a second
        async with stream(client, users[2]) as later:  # closed streams free their places
            assert later.status == 200


async def test_open_streams_do_not_hold_up_shutdown(linli: Linli) -> None:
    user = browser_id()
    client: Client = TestClient(TestServer(create_web_app(linli), host="127.0.0.1"))
    await client.start_server()
    await web_account(linli, client, user)
    response = await client.get(f"/api/chat/events?user={user}")
    assert response.status == 200
    started = time.monotonic()
    await client.close()
    assert time.monotonic() - started < 3
    assert await next_event(response, 1) is None  # the stream ended with the server


# --- migration 0009 ---------------------------------------------------------------------------


async def test_migration_delivers_what_the_web_missed(linli: Linli) -> None:
    await migrate(linli, alembic.command.downgrade, "0008")
    now = datetime.now(UTC)  # the migration runs on the real clock
    recent, old = now - timedelta(days=2), now - timedelta(days=40)
    async with linli.sessions() as session, session.begin():
        # Rows of 0008's shape: the ORM's Resident holds columns added later (0013).
        blank = {"created_at": now, "elderly": False, "disabled": False}
        blank |= {"notices_opt_out": False, "synthetic": False}
        new_rows = [dict(blank) for _ in range(3)]
        table = Resident.__table__  # type: ignore[attr-defined]
        inserted = await session.execute(
            sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), new_rows
        )
        people = [Resident(id=number) for number in inserted.scalars().all()]
        en_web = ChannelIdentity(
            channel="web",
            external_id="mig-en-01",
            lang="en",
            resident_id=people[0].id,
            created_at=old,
            last_seen_at=old,
        )
        newer = ChannelIdentity(
            channel="web",
            external_id="mig-zh-01",
            resident_id=people[0].id,
            created_at=now,
            last_seen_at=recent,
        )
        lone = ChannelIdentity(
            channel="web", external_id="mig-lone-1", created_at=now, last_seen_at=now
        )
        wechat = ChannelIdentity(
            channel="wechat",
            external_id="mig-wx-01",
            resident_id=people[1].id,
            created_at=now,
            last_seen_at=now,
        )
        # Only the id: the staff table of revision 0008 lacks the columns added since.
        staff_id = (await session.exec(select(Staff.id).order_by(col(Staff.id)))).first()
        assert staff_id is not None
        staff_web = ChannelIdentity(
            channel="web",
            external_id="mig-staff1",
            lang="en",
            staff_id=staff_id,
            created_at=now,
            last_seen_at=now,
        )
        session.add_all([en_web, newer, lone, wechat, staff_web])
        notice = Notice(author_staff_id=staff_id, text="周六停水通知", created_at=now)
        session.add(notice)
        await session.flush()
    localized = {"localized": {"zh-CN": [Reply("中文").to_dict()], "en": [Reply("EN").to_dict()]}}
    rows: dict[str, dict[str, Any]] = {
        "lone": dict(identity_id=lone.id, payload={"replies": [Reply("单独").to_dict()]}),
        "person": dict(resident_id=people[0].id, payload=localized),
        "staff": dict(staff_id=staff_id, payload=localized),
        "notice": dict(
            resident_id=people[0].id, notice_id=notice.id, payload={"notice": notice.id}
        ),
        "typed": dict(resident_id=people[0].id, payload={"message": {"lines": []}}),
        "too_old": dict(resident_id=people[0].id, payload=localized, created_at=old),
        "no_web": dict(resident_id=people[1].id, payload=localized),
        "nobody": dict(resident_id=people[2].id, payload=localized),
        "other_error": dict(resident_id=people[0].id, payload=localized, last_error="HTTP 400"),
        # An offer as the code before 0009 wrote it: its place has passed on since.
        "offer": dict(resident_id=people[0].id, payload=localized, kind="offer"),
        "telegram": dict(resident_id=people[0].id, payload=localized, channel="telegram"),
    }
    ids: dict[str, int] = {}
    async with linli.sessions() as session, session.begin():
        for name, values in rows.items():
            row = OutboxMessage(
                kind=values.pop("kind", "notice"),
                status=OutboxStatus.DEAD,
                next_attempt_at=recent,
                created_at=values.pop("created_at", recent),
                last_error=values.pop("last_error", "no reachable chat account"),
                **values,
            )
            session.add(row)
            await session.flush()
            ids[name] = row.id or 0
    os.environ.pop("LINLI_WEB_INBOX_BACKFILL_DAYS", None)
    await migrate(linli, alembic.command.upgrade, "0009")

    async with linli.sessions() as session:
        items = {i.outbox_id: i for i in (await session.exec(select(WebInboxItem))).all()}
        after = {r.id: r for r in (await session.exec(select(OutboxMessage))).all()}
    texts = {name: items[ids[name]].replies[0]["text"] for name in rows if ids[name] in items}
    assert texts == {"lone": "单独", "person": "中文", "staff": "EN", "notice": "周六停水通知"}
    assert items[ids["person"]].identity_id == newer.id  # the web account seen last
    assert items[ids["lone"]].identity_id == lone.id
    for name in texts:
        assert after[ids[name]].status == OutboxStatus.SENT and after[ids[name]].sent_at
    typed = after[ids["typed"]]  # worded by the worker, for that web account
    assert (typed.status, typed.identity_id, typed.attempts) == (OutboxStatus.PENDING, newer.id, 0)
    for name in ("too_old", "no_web", "nobody", "other_error", "offer", "telegram"):
        assert after[ids[name]].status == OutboxStatus.DEAD, name
    async with linli.engine.connect() as connection:
        version = await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
        assert version.scalar_one() == "0009"


async def test_a_lower_id_committed_late_still_reaches_the_open_stream(linli: Linli) -> None:
    """On PostgreSQL ids come from a sequence, so item 10 can commit after item 11: a stream
    that only looked past the last id it sent would never send it."""
    user = browser_id()
    async with serving(linli, worker=False) as client:
        account = await web_account(linli, client, user)
        async with linli.engine.begin() as c:  # reserve a low id as a slow transaction would
            low = await store_delivery(c, account, [Reply("慢").to_dict()], linli.clock.now())
            await c.execute(sa.update(WebInboxItem.__table__).values(shown_at=linli.clock.now()))  # type: ignore[attr-defined]
        async with stream(client, user) as events:
            async with linli.engine.begin() as c:
                high = await store_delivery(c, account, [Reply("快").to_dict()], linli.clock.now())
            linli.inbox_bell.ring(account)
            first = await next_event(events)
            async with linli.engine.begin() as c:  # the slow one "commits" now
                await c.execute(
                    sa.update(WebInboxItem.__table__)  # type: ignore[attr-defined]
                    .where(WebInboxItem.__table__.c.id == low)  # type: ignore[attr-defined]
                    .values(shown_at=None)
                )
            linli.inbox_bell.ring(account)
            late = await next_event(events)
    assert first is not None and first["id"] == high
    assert late is not None and late["id"] == low < high
