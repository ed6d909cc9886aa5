"""The Telegram channel through python-telegram-bot's real code paths against the fake Bot API."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.app import build_linli
from bot.channels.telegram import TEXT_LIMIT, render
from bot.channels.telegram_api import ChatLimits, TelegramSender
from bot.clock import ManualClock
from bot.context import Context
from bot.messages import Button, Reply
from bot.outbound import Recipient, SendStatus
from bot.router import HandlerResult, Router
from bot.web.app import create_web_app
from models.messaging import InboundMessage, OutboxMessage, OutboxStatus
from models.people import ChannelIdentity, Resident
from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    location_update,
    photo_update,
    text_update,
)
from tests.telegram_fixtures import (
    TelegramRig,
    button_data,
    telegram,
    telegram_platform,
    telegram_settings,
    warm_up,
)

__all__ = ["telegram", "telegram_platform"]

ALICE = 700_001
BOB = 700_002


async def outbox_rows(rig: TelegramRig) -> list[OutboxMessage]:
    async with rig.linli.sessions() as session:
        return list(
            (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
        )


async def identity(rig: TelegramRig, chat_id: int) -> ChannelIdentity:
    async with rig.linli.sessions() as session:
        stmt = select(ChannelIdentity).where(
            ChannelIdentity.channel == "telegram", ChannelIdentity.external_id == str(chat_id)
        )
        found = (await session.exec(stmt)).first()
    assert found is not None
    return found


async def test_start_shows_the_main_menu_as_an_inline_keyboard(telegram: TelegramRig) -> None:
    sent = await telegram.say(ALICE, "/start")
    assert [m.chat_id for m in sent] == [ALICE, ALICE]
    assert "便民服务中心" in sent[0].text
    assert "hours" in button_data(sent[0]) and "book" in button_data(sent[0])
    assert "菜单" in sent[1].text  # the help text follows


async def test_english_language_code_gets_english(telegram: TelegramRig) -> None:
    sent = await telegram.say(BOB, "/menu@linli_test_bot", language_code="en")
    assert "service centre" in sent[0].text


async def test_a_button_press_is_answered_and_handled(telegram: TelegramRig) -> None:
    await telegram.say(ALICE, "/start")
    sent = await telegram.press(ALICE, "hours")
    assert len(telegram.platform.calls_of("answerCallbackQuery")) == 1
    assert "今天" in sent[0].text


async def test_forged_or_missing_secret_is_refused_and_nothing_happens(
    telegram: TelegramRig,
) -> None:
    update = text_update(ALICE, "/start")
    assert await telegram.post(update, secret="wrong") == 403
    assert await telegram.post(update, secret=None) == 403
    assert await telegram.post(update, secret="linli-test-telegram-secre") == 403
    assert await telegram.post(update, secret="linli-test-telegram-secretX") == 403
    assert await telegram.deliver() == []
    async with telegram.linli.sessions() as session:
        handled = (await session.exec(select(sa.func.count()).select_from(InboundMessage))).one()
    assert handled == 0


async def test_bad_bodies_are_refused_politely(telegram: TelegramRig) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": "linli-test-telegram-secret"}
    for body in (b"not json", b"[1, 2]", b'{"update_id": "7"}', b"{" * 100_000):
        response = await telegram.client.post("/telegram", data=body, headers=headers)
        assert response.status in (400, 413)
    assert await telegram.say(ALICE, "/start")  # still answering


async def test_a_repeated_update_id_does_nothing_twice(telegram: TelegramRig) -> None:
    update = text_update(ALICE, "/start")
    assert await telegram.post(update) == 200
    first = await telegram.deliver()
    assert await telegram.post(update) == 200
    assert list(await asyncio.gather(telegram.post(update), telegram.post(update))) == [200, 200]
    assert await telegram.deliver() == []
    assert len(first) == 2
    assert len(await outbox_rows(telegram)) == 1


async def test_group_messages_and_edits_are_acknowledged_and_ignored(
    telegram: TelegramRig,
) -> None:
    group = text_update(ALICE, "/start")
    group["message"]["chat"] = {"id": -100_123, "type": "supergroup", "title": "网格群"}
    edit = text_update(ALICE, "菜单")
    edit["edited_message"] = edit.pop("message")
    assert await telegram.post(group) == 200
    assert await telegram.post(edit) == 200
    assert await telegram.deliver() == []


async def test_photo_and_location_reach_the_handlers(telegram: TelegramRig) -> None:
    assert await telegram.post(photo_update(ALICE)) == 200
    assert await telegram.post(location_update(ALICE, 30.27, 120.15)) == 200
    sent = await telegram.deliver()
    assert len(sent) == 2
    assert all("图片和位置" in message.text for message in sent)


async def test_the_same_conversation_reaches_the_same_state_as_the_web_chat(
    telegram: TelegramRig,
) -> None:
    await telegram.say(ALICE, "我的")
    asked = await telegram.press(ALICE, "account:community")
    assert "请选择您所在的社区" in asked[0].text
    grids = await telegram.say(ALICE, "2")  # a typed option number, as on every channel
    grid_payload = button_data(grids[0])[0]
    await telegram.press(ALICE, grid_payload)
    account = await identity(telegram, ALICE)
    async with telegram.linli.sessions() as session:
        resident = await session.get(Resident, account.resident_id)
    assert resident is not None and resident.grid_id == int(grid_payload.rsplit(":", 1)[1])

    web = {"user": "web-alice"}
    client = telegram.client
    await client.post("/api/chat", json={**web, "text": "我的"})
    await client.post("/api/chat", json={**web, "payload": "account:community"})
    answer = await (await client.post("/api/chat", json={**web, "text": "2"})).json()
    web_payload = answer["replies"][0]["buttons"][0]["payload"]
    assert web_payload == grid_payload


def test_long_text_is_split_at_the_limit_with_buttons_on_the_last_part() -> None:
    reply = Reply("长" * (TEXT_LIMIT * 2 + 10), (Button("返回主菜单", "menu"),))
    parts = render([reply])
    assert [len(part.text) for part in parts] == [TEXT_LIMIT, TEXT_LIMIT, 10]
    assert parts[0].keyboard is None and parts[-1].keyboard is not None


def test_a_reply_with_only_buttons_still_has_text() -> None:
    [part] = render([Reply(" ", (Button("返回主菜单", "menu"),))])
    assert part.text.strip() and part.keyboard is not None


def test_a_payload_too_long_for_callback_data_becomes_a_numbered_option() -> None:
    reply = Reply("选一个", (Button("短", "menu"), Button("长", "x" * 65)))
    [part] = render([reply])
    assert "2. 长" in part.text
    assert part.keyboard is not None
    assert [b.callback_data for row in part.keyboard.inline_keyboard for b in row] == ["menu"]


async def test_429_waits_for_retry_after_then_delivers_exactly_once(
    telegram: TelegramRig, clock: ManualClock
) -> None:
    telegram.platform.fail("sendMessage", "429", retry_after=30)
    assert await telegram.post(text_update(ALICE, "办公时间")) == 200
    assert await telegram.deliver() == []
    [row] = await outbox_rows(telegram)
    assert row.status == OutboxStatus.PENDING
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=30)
    clock.advance(timedelta(seconds=10))
    assert await telegram.deliver() == []  # not yet due
    clock.advance(timedelta(seconds=25))
    sent = await telegram.deliver()
    assert len(sent) == 1 and "今天" in sent[0].text
    assert len(telegram.platform.calls_of("sendMessage")) == 2  # the refused try and the send
    assert (await outbox_rows(telegram))[0].status == OutboxStatus.SENT


async def test_a_user_who_blocked_the_bot_is_marked_unreachable(telegram: TelegramRig) -> None:
    telegram.platform.fail("sendMessage", "403")
    await telegram.say(ALICE, "办公时间")
    assert (await identity(telegram, ALICE)).unreachable
    assert (await outbox_rows(telegram))[0].status == OutboxStatus.DEAD
    await telegram.say(ALICE, "菜单")  # they unblocked us and wrote again
    assert not (await identity(telegram, ALICE)).unreachable


async def test_outages_and_timeouts_are_retried_not_lost(
    telegram: TelegramRig, clock: ManualClock
) -> None:
    telegram.platform.fail("sendMessage", "5xx")
    await telegram.say(ALICE, "办公时间")
    telegram.platform.fail("sendMessage", "timeout")
    for _ in range(2):
        clock.advance(timedelta(minutes=1))
        await telegram.deliver()
    [row] = await outbox_rows(telegram)
    assert row.status == OutboxStatus.SENT and row.attempts == 3
    assert len(telegram.platform.sent_messages) == 1


def recipient(chat_id: int, clock: ManualClock) -> Recipient:
    return Recipient(str(chat_id), "zh-CN", clock.now())


def two_part_payload() -> dict[str, Any]:
    return {"replies": [Reply("一" * TEXT_LIMIT + "二").to_dict()]}


async def test_parts_already_accepted_are_not_sent_again(
    telegram: TelegramRig, clock: ManualClock
) -> None:
    sender = telegram.linli.worker.senders["telegram"]
    assert isinstance(sender, TelegramSender)
    telegram.platform.fail("sendMessage", "429", retry_after=1)
    first = await sender.send(recipient(ALICE, clock), two_part_payload(), 0)
    assert first.status is SendStatus.RETRY and first.parts_sent == 0
    clock.advance(timedelta(seconds=2))
    rest = await sender.send(recipient(ALICE, clock), two_part_payload(), 1)
    assert rest.status is SendStatus.SENT and rest.parts_sent == 2
    assert [m.text for m in telegram.platform.sent_messages] == ["二"]


async def test_one_chat_gets_about_one_message_a_second(
    telegram: TelegramRig, clock: ManualClock
) -> None:
    sender = telegram.linli.worker.senders["telegram"]
    payload = {"replies": [Reply(f"第{n}条").to_dict() for n in range(6)]}
    other = {"replies": [Reply("别的聊天").to_dict()]}
    result, _ = await asyncio.gather(
        sender.send(recipient(ALICE, clock), payload, 0),
        sender.send(recipient(BOB, clock), other, 0),
    )
    assert result.status is SendStatus.SENT
    times = telegram.platform.send_times(ALICE)
    assert len(times) == 6
    assert times[-1] - times[0] >= 2.5  # a burst of three, then one a second
    bob = telegram.platform.send_times(BOB)
    assert bob[0] - times[0] < 0.5  # another chat is not held up


async def test_commands_are_registered_in_chinese_and_english(telegram: TelegramRig) -> None:
    assert telegram.linli.telegram is not None
    await telegram.linli.telegram.register_commands()
    chinese = telegram.platform.commands()
    english = telegram.platform.commands(language_code="en")
    names = [c["command"] for c in chinese]
    for name in ("start", "menu", "book", "need", "track", "rate", "help", "cancel"):
        assert name in names
    assert names == [c["command"] for c in english]
    assert chinese[0]["description"] != english[0]["description"]


def test_groups_get_twenty_a_minute_and_chats_are_forgotten_beyond_a_bound() -> None:
    limits = ChatLimits()
    group, private = limits.of(-100_200), limits.of(ALICE)
    assert (group.max_rate, group.time_period) == (20, 60.0)
    assert private.max_rate / private.time_period == 1.0
    assert limits.of(ALICE) is private


async def test_a_failing_handler_still_gets_the_person_an_apology(
    db_url: str, telegram_platform: FakeTelegramAPI, clock: ManualClock
) -> None:
    router = Router("broken")

    @router.fallback()
    async def explode(_ctx: Context) -> HandlerResult:
        raise RuntimeError("boom")

    linli = build_linli(telegram_settings(db_url, telegram_platform), clock=clock, router=router)
    async with TestClient(TestServer(create_web_app(linli), host="127.0.0.1")) as client:
        await warm_up(linli)
        rig = TelegramRig(linli, client, telegram_platform)
        sent = await rig.say(ALICE, "你好")
    assert len(sent) == 1 and "出了点问题" in sent[0].text


async def test_a_stopping_worker_finishes_its_batch_so_nothing_is_sent_twice(
    telegram: TelegramRig,
) -> None:
    for n in range(5):  # one chat: the per-chat limit stretches the batch over seconds
        assert await telegram.post(text_update(ALICE, "办公时间", update_id=90_000 + n)) == 200
    worker = telegram.linli.worker
    task = asyncio.create_task(worker.run())
    for _ in range(500):  # until the first message of the batch is out
        if telegram.platform.sent_messages:
            break
        await asyncio.sleep(0.01)
    await worker.stop_and_wait(task)
    assert task.done()
    rows = await outbox_rows(telegram)
    assert [row.status for row in rows] == [OutboxStatus.SENT] * 5
    assert len(telegram.platform.sent_messages) == 5
