"""The menu: greeting, help, opening hours by kind of day, not-yet features, cancel and back."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.clock import ManualClock
from models.base import SHANGHAI
from tests.conftest import Chat, labels, payloads


async def test_greeting_shows_the_main_menu(chat: Chat) -> None:
    replies = await chat.send("你好")
    assert replies[0].text.startswith("您好！这里是柳城街道便民服务中心")
    assert labels(replies[0]) == [
        "预约办事",
        "提需求",
        "找代办",
        "查进度",
        "评价",
        "咨询",
        "办公时间",
        "我的",
    ]
    assert "菜单、预约、需求" in replies[1].text  # help follows a typed greeting


@pytest.mark.parametrize("word", ["菜单", "MENU", "/menu", "ｍｅｎｕ", "帮助。", " help "])
async def test_menu_words_in_every_form(chat: Chat, word: str) -> None:
    replies = await chat.send(word)
    assert payloads(replies[0])[0] == "book"


async def test_english_menu(chat: Chat) -> None:
    replies = await chat.send("menu", lang="en")
    assert labels(replies[0])[0] == "Book a service"


@pytest.mark.parametrize(
    ("moment", "today", "upcoming"),
    [
        # Friday: a working day, the weekend ahead.
        ((2026, 11, 27), "今天 11月27日（周五）：08:00–18:00 办公", "11月28日（周六）09:00–12:00"),
        # Saturday: weekend hours, 28 services.
        (
            (2026, 11, 28),
            "今天 11月28日（周六）：09:00–12:00 值班，可办理 28 项服务",
            "11月29日（周日）",
        ),
        # National Day: a statutory holiday, named.
        (
            (2026, 10, 1),
            "今天 10月1日（周四，国庆节）：09:00–12:00 值班",
            "10月2日（周五，国庆节）",
        ),
        # A make-up working Saturday (调休) behaves as a weekday.
        ((2026, 10, 10), "今天 10月10日（周六，调休上班）：08:00–18:00 办公", "10月11日（周日）"),
        # The operator's override in data/opening.toml opens a Saturday.
        (
            (2026, 12, 26),
            "今天 12月26日（周六，年终集中办理日（演示））：08:00–18:00 办公",
            "12月27日（周日）",
        ),
    ],
)
async def test_opening_hours_follow_the_calendar(
    chat: Chat, clock: ManualClock, moment: tuple[int, int, int], today: str, upcoming: str
) -> None:
    clock.set(datetime(*moment, 10, 0, tzinfo=SHANGHAI))
    text = (await chat.press("hours"))[0].text
    assert today in text
    assert upcoming in text
    assert "柳城街道办事处" in text


@pytest.mark.parametrize(
    ("moment", "said"),
    [
        ((2026, 11, 27, 7, 30), "现在还没到办公时间，今天 08:00 开始办公。"),
        ((2026, 11, 27, 10, 0), "现在正在办公，今天 18:00 结束。"),
        ((2026, 11, 27, 23, 0), "现在已过办公时间。下次办公：11月28日（周六）09:00 开始。"),
        ((2026, 11, 28, 12, 30), "现在已过办公时间。下次办公：11月29日（周日）09:00 开始。"),
        ((2026, 11, 29, 20, 0), "现在已过办公时间。下次办公：11月30日（周一）08:00 开始。"),
    ],
)
async def test_hours_say_whether_the_hall_is_open_now(
    chat: Chat, clock: ManualClock, moment: tuple[int, int, int, int, int], said: str
) -> None:
    """A walkthrough: at 23:00 办公时间 gave today's hours and did not say it had closed."""
    clock.set(datetime(*moment, tzinfo=SHANGHAI))
    text = (await chat.press("hours"))[0].text
    assert text.startswith(said), text


async def test_hours_say_when_a_year_is_not_published(chat: Chat, clock: ManualClock) -> None:
    clock.set(datetime(2026, 12, 31, 10, 0, tzinfo=SHANGHAI))
    text = (await chat.press("hours"))[0].text
    assert "2027 年法定节假日安排尚未发布" in text


async def test_rate_is_built_no_longer_a_stub(chat: Chat) -> None:
    reply = (await chat.press("rate"))[0]
    assert "暂未开放" not in reply.text
    assert payloads(reply) == ["rate:dept", "menu"]  # nothing to rate yet but a window visit


async def test_cancel_anywhere_leaves_the_flow(chat: Chat) -> None:
    await chat.press("account:community")
    reply = (await chat.send("取消"))[0]
    assert reply.text.startswith("已取消")
    # "桂园" would have chosen a community inside the flow; now it is just free text.
    answer = (await chat.send("桂园"))[0].text
    assert "没有听懂" in answer or "回答不了" in answer, answer


async def test_back_goes_one_step_back(chat: Chat) -> None:
    await chat.press("account:community")
    grid_question = (await chat.send("永宁路"))[0]
    assert "永宁路社区：请选择您所在的网格" in grid_question.text
    assert "请选择您所在的社区" in (await chat.send("返回"))[0].text
    assert (await chat.send("返回"))[0].text.startswith("我的信息")
    assert (await chat.send("返回"))[0].text.startswith("主菜单")


async def test_stale_or_forged_buttons_are_refused_politely(chat: Chat) -> None:
    for payload in ("no-such-thing", "account:grid:abc", "account:grid:1", "x" * 150):
        reply = (await chat.press(payload))[0]
        assert "失效" in reply.text, payload
        assert reply.buttons


async def test_empty_and_unknown_text(chat: Chat) -> None:
    assert "请输入文字" in (await chat.send("   "))[0].text
    assert "没有听懂" in (await chat.send("asdfgh"))[0].text


@pytest.mark.parametrize("typed", ["现在开门吗？", "几点下班", "are you open now?", "我想评价一下"])
async def test_everyday_ways_of_asking_the_hours_or_to_rate(chat: Chat, typed: str) -> None:
    """A walkthrough: "现在开门吗" got a holiday FAQ, "are you open now" was not understood,
    and "我想评价一下" got an FAQ."""
    reply = (await chat.send(typed))[0]
    if "评价" in typed:
        assert "rate:dept" in payloads(reply), reply.text
    else:
        assert "现在正在办公" in reply.text or "Open now" in reply.text, reply.text
