"""'好的', '确定', 'OK, confirm' at a question whose one agreeing option is 确认 / Confirm choose
it, on the web chat and on WeChat; they choose nothing where no option agrees."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import Linli
from models.booking import Appointment
from tests.conftest import Chat, labels, payloads
from tests.test_typed_labels import _confirm_step
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name


async def booked(linli: Linli) -> int:
    async with linli.sessions() as session:
        return len((await session.exec(select(Appointment))).all())


@pytest.mark.parametrize(
    "words",
    # written together too (an outside walkthrough: "嗯可以" was told it had not booked)
    ["好的", "确定", "好的，确认", "OK, confirm", "可以", "嗯可以", "嗯嗯好的", "可以的"],
)
async def test_agreeing_at_the_confirm_question_books(linli: Linli, words: str) -> None:
    chat = Chat(linli, user="agreeing-0001")
    await _confirm_step(chat)
    done = await chat.send(words)
    assert await booked(linli) == 1, done[0].text


async def test_agreeing_where_no_option_agrees_chooses_nothing(linli: Linli) -> None:
    chat = Chat(linli, user="agreeing-0002")
    await chat.send("评价")
    levels = await chat.send("评价窗口服务")
    assert "好的" not in labels(levels[0])
    again = await chat.send("好的")  # not a department: the list again, nothing chosen
    assert labels(again[0])[: len(labels(levels[0])) - 1] == labels(levels[0])[:-1]


async def test_on_wechat_ok_books(rig: WeChatRig) -> None:
    for words in ("预约办事", "社会保障科", "社保卡补办", "1", "1"):
        await rig.post(rig.server.text(words))
    done = (await rig.post(rig.server.text("好的")))["Content"]
    assert "预约成功" in done, done
    assert await booked(rig.linli) == 1


@pytest.mark.parametrize(
    "words", ["不可以", "好不好", "可以不", "的", "是吧？", "对吧", "是嘛", "对了"]
)
async def test_a_denial_or_a_question_written_together_books_nothing(
    linli: Linli, words: str
) -> None:
    chat = Chat(linli, user="agreeing-0003")
    await _confirm_step(chat)
    await chat.send(words)
    assert await booked(linli) == 0


async def test_other_words_at_the_confirm_question_keep_it(linli: Linli) -> None:
    chat = Chat(linli, user="agreeing-0003")
    shown = await _confirm_step(chat)
    again = await chat.send("嗯……我再想想")
    assert "还没有预约成功" in again[0].text and labels(again[0]) == shown  # 确认 still there
    assert await booked(linli) == 0
    done = await chat.send("确认")
    assert await booked(linli) == 1, done[0].text


async def test_on_wechat_a_stray_word_keeps_the_numbered_confirm(rig: WeChatRig) -> None:
    for words in ("预约办事", "社会保障科", "社保卡补办", "1", "1"):
        await rig.post(rig.server.text(words))
    again = (await rig.post(rig.server.text("等一下")))["Content"]
    assert "1. 确认" in again, again
    await rig.post(rig.server.text("1"))
    assert await booked(rig.linli) == 1


@pytest.mark.parametrize("words", ["确认预约", "确认预约吧", "预约吧"])
async def test_confirming_with_the_booking_word_books_the_slot_shown(
    linli: Linli, words: str
) -> None:
    chat = Chat(linli, user="agreeing-0004")
    await _confirm_step(chat)
    done = await chat.send(words)  # not a search for a service named with 确认 or 预约
    assert "预约成功" in done[0].text and "社保卡补办" in done[0].text, done[0].text


async def test_after_a_side_question_agreeing_carries_on_with_the_booking(linli: Linli) -> None:
    chat = Chat(linli, user="agreeing-0005")
    await _confirm_step(chat)
    await chat.send("社保卡补办要带什么材料？")
    again = await chat.send("确认")  # carries on: the confirm question again
    assert "请确认预约" in again[0].text and "社保卡补办" in again[0].text, again[0].text
    done = await chat.send("确认")
    assert await booked(linli) == 1, done[0].text


async def test_other_words_at_the_time_step_ask_for_a_time_with_the_times_kept(
    linli: Linli,
) -> None:
    chat = Chat(linli, user="agreeing-0006")
    days = await chat.press("book:svc:ss-card-reissue")
    times = await chat.press([p for p in payloads(days[0]) if p.startswith("book:day:")][1])
    again = await chat.send("嗯……")
    assert "没看懂这个时间" in again[0].text and labels(again[0]) == labels(times[0])


@pytest.mark.parametrize("words", ["确认", "好的", "对"])
async def test_agreeing_at_several_services_asks_again_with_the_day_kept(
    linli: Linli, words: str
) -> None:
    """An outside walkthrough: "确认" at three 居住证 services found 调解协议司法确认指引, and
    "好的" was searched as a service name, the 周六 10:00 said first lost."""
    chat = Chat(linli, user="agreeing-0003")
    offered = await chat.send("周六上午10点办居住证")
    assert len([p for p in payloads(offered[0]) if p.startswith("book:svc:")]) >= 2, offered
    again = await chat.send(words)
    assert again[0].text.startswith("请从上面几项中选一个"), again[0].text
    assert payloads(again[0]) == payloads(offered[0])
    slots = await chat.send("第一个吧")  # typed as people say it
    assert "11月28日" in slots[0].text and "10:00" in slots[0].text, slots[0].text
