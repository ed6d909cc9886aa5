"""The account reads in the language its person writes in: web chat, WeChat and Telegram, replies
and later pushes alike; what a page or client announces counts only for a new account."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import select

from bot.app import Linli
from bot.i18n import t
from bot.language import written_language
from models.people import ChannelIdentity
from tests.telegram_fixtures import TelegramRig, telegram, telegram_platform
from tests.test_notices import grid_of, resident, sending_notice
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig", "telegram", "telegram_platform"]

Client = TestClient[web.Request, web.Application]
GREETING_EN = "Hello! This is the"
GREETING_ZH = "您好！这里是"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("你好", "zh-CN"),
        ("我想预约办社保卡", "zh-CN"),
        ("我要book一个appointment", "zh-CN"),  # mostly Chinese, a few English words
        ("帮我查一下 LC 的 case status", "zh-CN"),  # a tie goes to Chinese
        ("I live in 南街社区, is the office open?", "en"),  # English with a Chinese place name
        ("My name is Li Si，想学太极拳", "zh-CN"),  # as many words as characters: Chinese
        ("Room 1202, Building 5 要健身器材", "zh-CN"),
        ("hi", "en"),
        ("Menu", "en"),
        ("help!", "en"),
        ("book", "en"),
        ("book 3", "en"),
        ("ｍｅｎｕ", "en"),  # full-width letters
        ("check-in", "en"),
        ("English", "en"),
        ("chinese", "en"),  # English, asking for Chinese: the command then switches
        ("I want to book a slot", "en"),
        ("I wnat to book", "en"),  # typos still read as English with two words or more
        ("hlep me", "en"),
        ("hlep", "en"),  # a slip for a chat word (misspelt_command) is as good as the word
        ("meun", "en"),
        ("xqzt", None),  # one unknown word is no evidence
        # Pinyin typed with the Chinese input off is no English (an outside walkthrough: it
        # switched a Chinese resident's replies to English), syllables that are English words
        # too ("de", "you", "a") included; English words that split into pinyin still count.
        ("wo yao ban shebaoka", None),
        ("wo xiang yu yue", None),
        ("hao de", None),
        ("mei you", None),
        ("ni hao a", None),
        ("ok la", None),  # one word no pinyin among pinyin: no English (a review)
        ("app bu neng yong", None),
        ("wo zai xi'an", None),
        ("lv se", None),  # ü typed as v
        ("wǒ yào bàn shèbǎokǎ", None),  # with tone marks
        ("my grandma broke her leg", "en"),  # English words the catalogue does not hold
        ("garbage smell downstairs", "en"),
        ("streetlight broken", "en"),
        ("open time", "en"),  # o-pen ti-me, but English words of the catalogue
        ("ok", None),
        ("OK!", None),
        ("start", None),  # Telegram's, and listed among the Chinese chat words
        ("/start", None),  # a bot command is no language
        ("/bind ABCD-2345", None),
        ("2", None),
        ("２", None),
        ("LC-20261128-0042", None),
        ("LCY-20261128-0007 3B", None),
        ("13812345678", None),
        ("👍🙏", None),
        ("https://example.com/a/b", None),
        ("zhang.san@example.com", None),
        ('<img src=x onerror="window.__xss=1">', None),  # markup is no language
        ("", None),
        ("   ", None),
    ],
)
def test_written_language(text: str, lang: str | None) -> None:
    assert written_language(text) == lang


async def say(client: Client, user: str, text: str, page: str) -> list[dict[str, Any]]:
    """What chat.js sends: the text and the page's language, with every message."""
    response = await client.post("/api/chat", json={"user": user, "text": text, "lang": page})
    assert response.status == 200
    replies: list[dict[str, Any]] = (await response.json())["replies"]
    return replies


async def press(client: Client, user: str, payload: str, page: str) -> list[dict[str, Any]]:
    """A button on the web page."""
    body = {"user": user, "payload": payload, "lang": page}
    response = await client.post("/api/chat", json=body)
    assert response.status == 200
    replies: list[dict[str, Any]] = (await response.json())["replies"]
    return replies


def has_han(text: str) -> bool:
    """Whether a text has any Chinese character."""
    return written_language(text) == "zh-CN" or any("\u4e00" <= ch <= "\u9fff" for ch in text)


async def saved_lang(linli: Linli, channel: str, user: str) -> str:
    """The language saved with the account (what later pushes use)."""
    async with linli.sessions() as session:
        identity = (
            await session.exec(
                select(ChannelIdentity).where(
                    ChannelIdentity.channel == channel, ChannelIdentity.external_id == user
                )
            )
        ).one()
    return identity.lang


async def test_an_english_writer_on_a_chinese_page_is_answered_in_english(
    client: Client, linli: Linli
) -> None:
    page = await client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert 'lang="zh' in await page.text()  # the page (and so chat.js) announces Chinese
    user = "web-english-0001"
    first = await say(client, user, "hi", "zh")
    assert first[0]["text"].startswith(GREETING_EN)
    assert first[0]["buttons"][0]["label"] == t("en", "menu.book")
    # The page keeps announcing Chinese with every message; the writer stays in English.
    hours = await say(client, user, "7", "zh")
    assert "08:00–18:00" in hours[0]["text"] and not has_han(hours[0]["text"])
    assert await saved_lang(linli, "web", user) == "en"
    switched = await say(client, user, "中文", "zh")
    assert switched[0]["text"].startswith(t("zh-CN", "account.language_set"))
    again = await press(client, user, "menu", "en")  # a button on an English page: no change
    assert again[0]["text"].startswith(GREETING_ZH)
    assert await saved_lang(linli, "web", user) == "zh-CN"


async def test_a_sentence_in_english_switches_even_inside_a_flow(client: Client) -> None:
    user = "web-english-0002"
    prompt = await press(client, user, "ask", "zh")  # a button: the page's language, Chinese
    assert prompt[0]["text"] == t("zh-CN", "ask.prompt")
    answer = await say(client, user, "When is the service centre open on Saturday?", "zh")
    assert answer[0]["text"] and not has_han(answer[0]["text"])
    assert all(not has_han(button["label"]) for button in answer[0]["buttons"])


async def test_a_chinese_writer_on_an_english_page_is_answered_in_chinese(client: Client) -> None:
    user = "web-chinese-0001"
    assert (await press(client, user, "menu", "en"))[0]["text"].startswith(GREETING_EN)
    reply = await say(client, user, "你好", "en")
    assert reply[0]["text"].startswith(GREETING_ZH)
    # Numbers, references and buttons say nothing about the language: it stays Chinese.
    await say(client, user, "7", "en")
    await say(client, user, "LC-20261128-0042", "en")
    await press(client, user, "menu", "en")
    assert has_han((await say(client, user, "ok", "en"))[0]["text"])
    assert (await say(client, user, "English", "en"))[0]["text"].startswith("Switched to English")
    assert (await say(client, user, "chinese", "en"))[0]["text"].startswith("已切换为中文")


async def test_wechat_hi_is_answered_in_english_and_so_is_the_next_push(rig: WeChatRig) -> None:
    grid = await grid_of(rig.linli, "S027")
    await resident(rig.linli, grid, rig.server.openid, channel="wechat")  # WeChat says zh-CN
    reply = await rig.post(rig.server.text("hi"))
    assert reply["Content"].startswith(GREETING_EN)
    assert "\n1. " + t("en", "menu.book") in reply["Content"]
    await sending_notice(rig.linli, grid, "明天上午停水，请提前储水。")
    while await rig.linli.worker.deliver_due():
        pass
    [push] = [m for m in rig.platform.sent if m.touser == rig.server.openid]
    assert push.text is not None
    assert push.text.startswith(t("en", "notices.heading"))
    assert t("en", "notices.opt_out_hint") in push.text
    assert "明天上午停水" in push.text  # the author's words, as written


async def test_wechat_language_words(rig: WeChatRig) -> None:
    for text, start in [
        ("English", "Switched to English"),
        ("中文", "已切换为中文"),
        ("英语", "Switched to English"),
        ("chinese", "已切换为中文"),
        ("ENGLISH", "Switched to English"),
        ("汉语", "已切换为中文"),
    ]:
        assert (await rig.post(rig.server.text(text)))["Content"].startswith(start), text


async def test_telegram_follows_the_writer_not_the_client(telegram: TelegramRig) -> None:
    chat_id = 4711
    first = await telegram.say(chat_id, "/start", language_code="zh-hans")
    assert first[0].text.startswith(GREETING_ZH)  # a new account: the client's language
    assert (await telegram.say(chat_id, "hello"))[0].text.startswith(GREETING_EN)
    assert (await telegram.say(chat_id, "/start"))[0].text.startswith(GREETING_EN)
    assert (await telegram.say(chat_id, "中文"))[0].text.startswith("已切换为中文")
    assert (await telegram.say(chat_id, "English"))[0].text.startswith("Switched to English")


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("永宁路社区", None),  # a name given as an answer
        ("Wang Wei", None),
        ("I live near the east lake", "en"),
        ("我想改到下周六上午", "zh-CN"),  # nine characters: a sentence
        ("menu", "en"),
        ("菜单", None),  # a chat word in Chinese is still short: handled by the command itself
    ],
)
def test_an_answer_inside_a_flow_needs_a_sentence_to_switch(text: str, lang: str | None) -> None:
    assert written_language(text, answering=True) == lang
