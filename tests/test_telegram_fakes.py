"""The fake Telegram Bot API against the real python-telegram-bot client: answers and failures."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import filters
from telegram.request import HTTPXRequest

from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    callback_update,
    location_update,
    photo_update,
    same_id,
    text_update,
)
from tests.telegram_fixtures import telegram_platform

__all__ = ["telegram_platform"]

CHAT = 4242
SHORT = 0.5
KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("办事指南", callback_data="guide"),
            InlineKeyboardButton("预约", callback_data="book"),
        ]
    ]
)


def bot_for(fake: FakeTelegramAPI, *, token: str | None = None, short: bool = False) -> Bot:
    """A real Bot talking to the fake; `short` gives every request a half-second timeout."""
    request = (
        HTTPXRequest(
            read_timeout=SHORT, connect_timeout=SHORT, write_timeout=SHORT, pool_timeout=SHORT
        )
        if short
        else None
    )
    return Bot(token or fake.token, base_url=f"{fake.base_url}/bot", request=request)


async def raw_post(fake: FakeTelegramAPI, path: str, **kwargs: Any) -> tuple[int, Any]:
    """POST to the fake with aiohttp, returning the HTTP status and the decoded JSON answer."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.base_url + path, **kwargs) as r,
    ):
        return r.status, await r.json()


async def test_initialize_reads_the_bot_from_get_me(telegram_platform: FakeTelegramAPI) -> None:
    async with bot_for(telegram_platform) as bot:
        assert bot.id == 123456
        assert bot.username == "linli_test_bot"
        assert bot.first_name == "Linli Test"
    assert [call.method for call in telegram_platform.calls] == ["getMe"]


async def test_send_message_records_text_and_inline_keyboard(
    telegram_platform: FakeTelegramAPI,
) -> None:
    async with bot_for(telegram_platform) as bot:
        first = await bot.send_message(CHAT, "你好", reply_markup=KEYBOARD)
        second = await bot.send_message(-100, "群通知")
    assert first.text == "你好"
    assert first.chat.type == "private"
    assert first.reply_markup == KEYBOARD
    assert second.message_id > first.message_id
    assert second.chat.type == "group"
    sent = telegram_platform.sent_messages
    assert [(s.chat_id, s.text) for s in sent] == [(CHAT, "你好"), (-100, "群通知")]
    assert sent[0].reply_markup == KEYBOARD.to_dict()
    assert sent[1].reply_markup is None
    call = telegram_platform.calls_of("sendMessage")[0]
    assert same_id(call.params["chat_id"], CHAT)
    assert call.int_param("chat_id") == CHAT
    assert len(telegram_platform.send_times(CHAT)) == 1


async def test_text_limit_is_4096_characters(telegram_platform: FakeTelegramAPI) -> None:
    async with bot_for(telegram_platform) as bot:
        await bot.send_message(CHAT, "邻" * 4096)
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(CHAT, "邻" * 4097)
        with pytest.raises(BadRequest, match="text is empty"):
            await bot.send_message(CHAT, " ")
    assert len(telegram_platform.sent_messages) == 1


async def test_429_raises_retry_after_and_delivers_nothing(
    telegram_platform: FakeTelegramAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta
    telegram_platform.fail("sendMessage", "429", retry_after=7)
    async with bot_for(telegram_platform) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(CHAT, "too fast")
        assert telegram_platform.sent_messages == []
        await bot.send_message(CHAT, "again")
    assert caught.value.retry_after == timedelta(seconds=7)
    assert [s.text for s in telegram_platform.sent_messages] == ["again"]
    assert len(telegram_platform.calls_of("sendMessage")) == 2


async def test_403_raises_forbidden(telegram_platform: FakeTelegramAPI) -> None:
    telegram_platform.fail("sendMessage", "403")
    async with bot_for(telegram_platform) as bot:
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(CHAT, "hello")
    assert telegram_platform.sent_messages == []


async def test_5xx_raises_plain_network_error(telegram_platform: FakeTelegramAPI) -> None:
    telegram_platform.fail("sendMessage", "5xx", times=2)
    async with bot_for(telegram_platform) as bot:
        for _ in range(2):
            with pytest.raises(NetworkError, match="Bad Gateway") as caught:
                await bot.send_message(CHAT, "hello")
            # BadRequest and TimedOut are NetworkErrors too; a 502 is neither.
            assert type(caught.value) is NetworkError
        await bot.send_message(CHAT, "hello")
    assert len(telegram_platform.sent_messages) == 1


async def test_400_raises_bad_request(telegram_platform: FakeTelegramAPI) -> None:
    telegram_platform.fail("sendMessage", "400")
    async with bot_for(telegram_platform) as bot:
        with pytest.raises(BadRequest, match="not found"):
            await bot.send_message(CHAT, "hello")
    assert telegram_platform.sent_messages == []


async def test_timeout_raises_timed_out_and_delivers_nothing(
    telegram_platform: FakeTelegramAPI,
) -> None:
    telegram_platform.fail("sendMessage", "timeout")
    async with bot_for(telegram_platform, short=True) as bot:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "lost")
        assert time.monotonic() - started < 2
    assert telegram_platform.sent_messages == []
    assert len(telegram_platform.calls_of("sendMessage")) == 1


async def test_lost_answer_raises_timed_out_but_delivers(
    telegram_platform: FakeTelegramAPI,
) -> None:
    telegram_platform.fail_after_delivery("sendMessage")
    async with bot_for(telegram_platform, short=True) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "delivered, answer lost")
    assert [s.text for s in telegram_platform.sent_messages] == ["delivered, answer lost"]


async def test_close_releases_a_stalled_answer_promptly() -> None:
    fake = FakeTelegramAPI()
    await fake.start()
    fake.fail("getMe", "timeout")
    stalled = asyncio.create_task(raw_post(fake, f"/bot{fake.token}/getMe"))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await fake.close()
    status, body = await asyncio.wait_for(stalled, 2)
    assert time.monotonic() - started < 2
    assert (status, body["error_code"]) == (502, 502)


async def test_wrong_token_raises_invalid_token(telegram_platform: FakeTelegramAPI) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with bot_for(telegram_platform, token="123456:wrong"):
            pass
    assert telegram_platform.calls == []
    status, body = await raw_post(telegram_platform, "/bot123456:wrong/getMe")
    assert (status, body) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )


async def test_unknown_method_is_404(telegram_platform: FakeTelegramAPI) -> None:
    status, body = await raw_post(telegram_platform, f"/bot{telegram_platform.token}/sendTelegram")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    with pytest.raises(ValueError, match="does not serve"):
        telegram_platform.fail("sendTelegram", "429")


async def test_json_body_and_query_string_are_accepted(telegram_platform: FakeTelegramAPI) -> None:
    path = f"/bot{telegram_platform.token}/sendMessage"
    markup = KEYBOARD.to_dict()
    status, body = await raw_post(
        telegram_platform, path, json={"chat_id": CHAT, "text": "json", "reply_markup": markup}
    )
    assert status == 200
    assert body["result"]["reply_markup"] == markup
    status, body = await raw_post(telegram_platform, path, params={"chat_id": "-5", "text": "qs"})
    assert status == 200
    assert body["result"]["chat"] == {"id": -5, "type": "group", "title": "Linli test group"}
    sent = telegram_platform.sent_messages
    assert [(s.chat_id, s.text, s.reply_markup) for s in sent] == [
        (CHAT, "json", markup),
        (-5, "qs", None),
    ]


async def test_edit_message_text_and_not_modified(telegram_platform: FakeTelegramAPI) -> None:
    async with bot_for(telegram_platform) as bot:
        sent = await bot.send_message(CHAT, "请选择", reply_markup=KEYBOARD)
        edited = await bot.edit_message_text("已选择：办事指南", CHAT, sent.message_id)
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("已选择：办事指南", CHAT, sent.message_id)
        assert await bot.answer_callback_query("7000000001", text="好的")
    assert isinstance(edited, Message)
    assert edited.text == "已选择：办事指南"
    assert edited.reply_markup is None
    assert edited.edit_date is not None
    assert telegram_platform.message(CHAT, sent.message_id) is not None
    assert [e.text for e in telegram_platform.edits] == ["已选择：办事指南"]


async def test_commands_round_trip_per_scope_and_language(
    telegram_platform: FakeTelegramAPI,
) -> None:
    zh = [BotCommand("start", "开始"), BotCommand("help", "帮助")]
    en = [BotCommand("start", "Start")]
    private = BotCommandScopeAllPrivateChats()
    async with bot_for(telegram_platform) as bot:
        assert await bot.set_my_commands(zh, scope=private, language_code="zh")
        assert await bot.set_my_commands(en)
        assert await bot.get_my_commands(scope=private, language_code="zh") == tuple(zh)
        assert await bot.get_my_commands() == tuple(en)
        assert await bot.get_my_commands(language_code="zh") == ()
        with pytest.raises(BadRequest):
            await bot.set_my_commands([BotCommand("Start-Now", "bad")])
    assert telegram_platform.commands(private.to_dict(), "zh") == [
        {"command": "start", "description": "开始"},
        {"command": "help", "description": "帮助"},
    ]


async def test_webhook_is_remembered_and_blocks_get_updates(
    telegram_platform: FakeTelegramAPI,
) -> None:
    url = "https://linli.example/telegram"
    async with bot_for(telegram_platform) as bot:
        assert await bot.set_webhook(
            url, secret_token="s3cret-token", allowed_updates=["message", "callback_query"]
        )
        info = await bot.get_webhook_info()
        with pytest.raises(Conflict):
            await bot.get_updates()
        with pytest.raises(BadRequest, match="https url must be provided"):
            await bot.set_webhook("http://linli.example/telegram")
        webhook = telegram_platform.webhook
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
    assert webhook is not None
    assert webhook["url"] == url
    assert webhook["secret_token"] == "s3cret-token"
    assert webhook["allowed_updates"] == ["message", "callback_query"]
    assert info.url == url
    assert info.pending_update_count == 0
    assert telegram_platform.webhook is None


async def test_get_updates_returns_queued_and_offset_confirms(
    telegram_platform: FakeTelegramAPI,
) -> None:
    queued = telegram_platform.queue_update({"message": text_update(CHAT, "你好")["message"]})
    async with bot_for(telegram_platform) as bot:
        updates = await bot.get_updates(timeout=5)
        again = await bot.get_updates(timeout=0)
        confirmed = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert [u.update_id for u in updates] == [queued["update_id"]]
    message = updates[0].message
    assert message is not None
    assert message.text == "你好"
    assert message.from_user is not None
    assert message.from_user.id == CHAT
    assert message.from_user.language_code == "zh-hans"
    assert again == updates
    assert confirmed == ()
    assert telegram_platform.pending_updates == []


async def test_long_poll_wakes_when_an_update_is_queued(
    telegram_platform: FakeTelegramAPI,
) -> None:
    async with bot_for(telegram_platform) as bot:
        started = time.monotonic()
        poll = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.2)
        telegram_platform.queue_update(text_update(CHAT, "/start"))
        updates = await poll
        assert time.monotonic() - started < 1.5
        started = time.monotonic()
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=1) == ()
        assert 0.9 < time.monotonic() - started < 2


async def test_update_factories_parse_as_ptb_updates() -> None:
    bot = Bot(FakeTelegramAPI().token)
    command = Update.de_json(text_update(CHAT, "/start hello"), bot)
    press = Update.de_json(callback_update(CHAT, "guide", message_id=9), bot)
    place = Update.de_json(location_update(CHAT, 31.23, 121.47), bot)
    picture = Update.de_json(photo_update(CHAT, caption="门口"), bot)
    assert filters.COMMAND.check_update(command)
    assert not filters.COMMAND.check_update(Update.de_json(text_update(CHAT, "你好"), bot))
    assert press.callback_query is not None
    assert press.callback_query.data == "guide"
    assert press.callback_query.message is not None
    assert press.callback_query.message.message_id == 9
    assert press.callback_query.from_user.id == CHAT
    assert place.message is not None
    assert place.message.location is not None
    assert place.message.location.latitude == pytest.approx(31.23)
    assert picture.message is not None
    assert [p.width for p in picture.message.photo] == [90, 320, 1280]
    assert picture.message.caption == "门口"
    assert command.update_id < press.update_id < place.update_id < picture.update_id
