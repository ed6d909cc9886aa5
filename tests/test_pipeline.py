"""The message pipeline: dedupe, per-user order, one transaction, errors, state timeout."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import select

from bot.app import Linli
from bot.clock import ManualClock
from bot.config import Settings
from bot.context import Context
from bot.messages import Inbound, Reply
from bot.router import HandlerResult, Router
from models.messaging import ConversationState, InboundMessage, OutboxMessage
from models.org import Street
from models.people import ChannelIdentity
from tests.conftest import Chat, make_linli, payloads


def counting_router() -> Router:
    """A feature that writes an outbox row per message, so effects can be counted."""
    router = Router("count")

    @router.fallback()
    async def record(ctx: Context) -> HandlerResult:
        ctx.session.add(
            OutboxMessage(
                identity_id=ctx.identity.id,
                kind="alert",
                payload={"text": ctx.text},
                next_attempt_at=ctx.now(),
                created_at=ctx.now(),
            )
        )
        await asyncio.sleep(0.05)  # long enough for redeliveries to arrive while this runs
        return Reply(f"recorded {ctx.text}")

    return router


def failing_router() -> Router:
    """A feature that writes, then fails."""
    router = Router("fail")

    @router.fallback()
    async def write_then_fail(ctx: Context) -> HandlerResult:
        street = (await ctx.session.exec(select(Street))).one()
        street.name_zh = "被改掉的名字"
        ctx.session.add(street)
        ctx.session.add(
            OutboxMessage(kind="alert", payload={}, next_attempt_at=ctx.now(), created_at=ctx.now())
        )
        await ctx.session.flush()
        raise RuntimeError("secret internal detail 13800138000")

    return router


async def count(linli: Linli, model: type) -> int:
    async with linli.sessions() as session:
        return int((await session.exec(select(sa.func.count()).select_from(model))).one())


async def test_same_message_three_times_concurrently_has_one_effect(
    settings: Settings, clock: ManualClock
) -> None:
    linli = make_linli(settings, clock, counting_router())
    inbound = Inbound("web", "dup-user-01", text="hello", message_id="m-1")
    results = await asyncio.gather(*(linli.pipeline.handle(inbound) for _ in range(3)))
    assert results[0] == results[1] == results[2] == [Reply("recorded hello")]
    assert await count(linli, OutboxMessage) == 1
    assert await count(linli, InboundMessage) == 1
    await linli.close()


async def test_redelivery_after_completion_returns_first_reply(
    settings: Settings, clock: ManualClock
) -> None:
    linli = make_linli(settings, clock, counting_router())
    first = await linli.pipeline.handle(Inbound("web", "dup-user-02", text="one", message_id="x"))
    again = await linli.pipeline.handle(Inbound("web", "dup-user-02", text="other", message_id="x"))
    other_channel = await linli.pipeline.handle(
        Inbound("console", "dup-user-02", text="one", message_id="x")
    )
    assert again == first == [Reply("recorded one")]
    assert other_channel == [Reply("recorded one")]
    assert await count(linli, OutboxMessage) == 2  # web once, console once
    await linli.close()


async def test_reusing_someone_elses_message_id_reveals_nothing(
    settings: Settings, clock: ManualClock
) -> None:
    linli = make_linli(settings, clock, counting_router())
    mine = await linli.pipeline.handle(
        Inbound("web", "victim-0001", text="private", message_id="m")
    )
    theirs = await linli.pipeline.handle(Inbound("web", "attacker-01", text="peek", message_id="m"))
    assert mine == [Reply("recorded private")]
    assert theirs == [Reply("recorded peek")]
    assert await count(linli, OutboxMessage) == 2
    await linli.close()


async def test_two_instances_share_dedupe_through_the_database(
    settings: Settings, clock: ManualClock
) -> None:
    first, second = (make_linli(settings, clock, counting_router()) for _ in range(2))
    inbound = Inbound("web", "dup-user-03", text="hi", message_id="shared")
    results = await asyncio.gather(first.pipeline.handle(inbound), second.pipeline.handle(inbound))
    assert results[0] == results[1]
    assert await count(first, OutboxMessage) == 1
    await first.close()
    await second.close()


async def test_messages_of_one_user_are_handled_in_order(
    settings: Settings, clock: ManualClock
) -> None:
    linli = make_linli(settings, clock, counting_router())
    sends = [Inbound("web", "order-user-1", text=str(n), message_id=f"o{n}") for n in range(5)]
    await asyncio.gather(*(linli.pipeline.handle(m) for m in sends))
    async with linli.sessions() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()  # type: ignore[arg-type]
    assert [row.payload["text"] for row in rows] == ["0", "1", "2", "3", "4"]
    await linli.close()


async def test_exception_in_handler_answers_politely_and_rolls_back(
    settings: Settings, clock: ManualClock, caplog: object
) -> None:
    linli = make_linli(settings, clock, failing_router())
    replies = await linli.pipeline.handle(
        Inbound("web", "fail-user-01", text="boom", message_id="f1")
    )
    assert len(replies) == 1
    assert "出了点问题" in replies[0].text
    assert "secret" not in replies[0].text
    assert "RuntimeError" not in replies[0].text
    async with linli.sessions() as session:
        street = (await session.exec(select(Street))).one()
        identities = (await session.exec(select(ChannelIdentity))).all()
    assert street.name_zh == "柳城街道"
    assert identities == []  # even the first-contact identity was rolled back
    assert await count(linli, OutboxMessage) == 0
    assert await count(linli, InboundMessage) == 0
    await linli.close()


async def test_polite_error_in_english_for_english_users(
    settings: Settings, clock: ManualClock
) -> None:
    linli = make_linli(settings, clock, failing_router())
    replies = await linli.pipeline.handle(Inbound("web", "fail-user-02", text="boom", lang="en"))
    assert replies[0].text.startswith("Sorry, something went wrong")
    await linli.close()


async def test_unfinished_flow_resets_after_the_timeout(
    chat: Chat, clock: ManualClock, linli: Linli
) -> None:
    await chat.send("我的")
    question = (await chat.press("account:community"))[0]
    assert len(question.buttons) == 19
    clock.advance(timedelta(minutes=settings_timeout(linli) + 1))
    replies = await chat.send("2")  # meant as "the second community", but the flow is gone
    assert "已超过 30 分钟未完成" in replies[0].text
    assert payloads(replies[0])[0] == "book"  # back at the main menu
    async with linli.sessions() as session:
        state = (await session.exec(select(ConversationState))).one()
    assert state.name == ""


async def test_flow_within_the_timeout_continues(
    chat: Chat, clock: ManualClock, linli: Linli
) -> None:
    await chat.press("account:community")
    clock.advance(timedelta(minutes=settings_timeout(linli) - 1))
    replies = await chat.send("2")
    assert "请选择您所在的网格" in replies[0].text


def settings_timeout(linli: Linli) -> int:
    return linli.settings.state_timeout_minutes


async def test_typed_numbers_pick_the_options_just_shown(chat: Chat) -> None:
    menu = (await chat.send("菜单"))[0]
    assert payloads(menu)[6] == "hours"
    assert "09:00–12:00" in (await chat.send("７"))[0].text  # full-width digit
    assert "没有听懂" in (await chat.send("99"))[0].text


async def test_message_without_id_is_handled_every_time(
    settings: Settings, clock: ManualClock
) -> None:
    linli = make_linli(settings, clock, counting_router())
    for _ in range(2):
        await linli.pipeline.handle(Inbound("web", "noid-user-1", text="same"))
    assert await count(linli, OutboxMessage) == 2
    await linli.close()


async def test_menu_options_outlive_the_flow_timeout(chat: Chat, clock: ManualClock) -> None:
    await chat.send("菜单")
    clock.advance(timedelta(hours=3))
    assert "08:00–18:00" in (await chat.send("7"))[0].text
