"""Issue 19: what an outside walkthrough of free text found, on the web chat and on WeChat —
a greeting in front of a request, danger to people, thanks, a reply with nothing to offer,
and another matter typed in the middle of a booking."""

from __future__ import annotations

import pytest

from bot.app import Linli
from tests.conftest import Chat
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name


@pytest.mark.parametrize(
    ("words", "about"),
    [("你好，我家楼下路灯坏了", "网格员"), ("您好，社保卡丢了怎么补办？", "4号窗口")],
)
async def test_a_greeting_in_front_of_a_request_keeps_the_request(
    linli: Linli, words: str, about: str
) -> None:
    replies = await Chat(linli, user="greets-0001").send(words)
    said = " ".join([r.text for r in replies] + [b.label for r in replies for b in r.buttons])
    assert "请选择要办理的事项" not in said, said  # not the bare menu: the request is read
    assert about in said or "不太确定" in said, said


async def test_danger_gets_the_emergency_numbers_first(linli: Linli) -> None:
    said = (await Chat(linli, user="danger-0001").send("楼下着火了"))[0].text
    assert said.startswith("⚠") and "119" in said, said


async def test_danger_on_wechat_too(rig: WeChatRig) -> None:
    said = str(await rig.post(rig.server.text("电梯困了人，快来")))
    assert "119" in said and "110" in said, said


async def test_thanks_is_answered_as_thanks(linli: Linli) -> None:
    said = (await Chat(linli, user="thanks-0001").send("谢谢哈"))[0].text
    assert "不客气" in said, said


async def test_nothing_to_offer_still_gives_the_phone(linli: Linli) -> None:
    said = (await Chat(linli, user="vague-0001").send("帮帮忙嘛"))[0].text
    assert "028-0000-0000" in said or "不太确定" in said, said


async def test_a_complaint_typed_in_a_booking_leaves_the_booking(linli: Linli) -> None:
    chat = Chat(linli, user="books-then-complains")
    await chat.send("我想预约社保卡补办")
    said = (await chat.send("我要投诉你们4号窗口的工作人员，态度太差了"))[0].text
    assert "没看懂" not in said and "投诉" in said, said


async def test_danger_typed_inside_a_flow_gets_the_numbers_too(linli: Linli) -> None:
    chat = Chat(linli, user="danger-0002")
    await chat.send("上报")
    said = (await chat.send("3楼着火了有人被困"))[0].text
    assert said.startswith("⚠") and "119" in said, said


async def test_a_fire_drill_question_gets_no_warning(linli: Linli) -> None:
    said = (await Chat(linli, user="calm-0001").send("消防演练是什么时候"))[0].text
    assert "119（火警）" not in said, said  # no danger named


async def test_a_day_typed_before_the_service_keeps_the_categories(linli: Linli) -> None:
    chat = Chat(linli, user="order-0001")
    first = await chat.send("我想预约")
    categories = {b.payload for r in first for b in r.buttons if b.payload.startswith("book:cat:")}
    replies = await chat.send("周六上午可以吗")  # a day before any service: not the end of it
    said = " ".join(r.text for r in replies)
    assert "请先选择要办的业务" in said, said  # and the day is kept for it
    assert categories and categories <= {b.payload for r in replies for b in r.buttons}


@pytest.mark.parametrize("objection", ["不对", "不是这个", "你答错了吧"])
async def test_not_this_answer_offers_the_others(linli: Linli, objection: str) -> None:
    chat = Chat(linli, user="objects-0001")
    first = (await chat.send("社保卡丢了怎么补办？"))[0]
    assert "4号窗口" in first.text, first.text  # answered outright …
    again = (await chat.send(objection))[0]
    assert "刚才的回答不对" in again.text, again.text  # … and the resident says it is wrong
    shown = [b.payload for b in again.buttons if b.payload.startswith("ask:show:")]
    assert shown and "ask:show:faq:ss-card-lost" not in shown, shown
    assert "human" in [b.payload for b in again.buttons]


async def test_an_objection_with_a_new_question_is_that_question(linli: Linli) -> None:
    chat = Chat(linli, user="objects-0002")
    await chat.send("社保卡丢了怎么补办？")
    said = (await chat.send("不对，我是问高龄补贴怎么申请"))[0].text
    assert "刚才的回答不对" not in said, said


async def test_not_this_answer_on_wechat(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("社保卡丢了怎么补办？"))
    said = str(await rig.post(rig.server.text("不对")))
    assert "刚才的回答不对" in said and "1" in said, said


@pytest.mark.parametrize("objection", ["wrong", "that's wrong", "not this one"])
async def test_not_this_answer_in_english(linli: Linli, objection: str) -> None:
    chat = Chat(linli, user="objects-en-0001")
    first = (await chat.send("I lost my social security card", lang="en"))[0]
    assert "12333" in first.text, first.text
    again = (await chat.send(objection, lang="en"))[0]
    assert "wrong answer" in again.text, again.text
    assert any(b.payload.startswith("ask:show:") for b in again.buttons), again.buttons


async def test_not_this_answer_after_a_picked_one(linli: Linli) -> None:
    chat = Chat(linli, user="objects-0003")
    listed = (await chat.send("补贴"))[0]
    offered = [b.payload for b in listed.buttons if b.payload.startswith("ask:show:")]
    assert len(offered) >= 2, listed.buttons
    await chat.press(offered[0])
    again = (await chat.send("不对"))[0]
    assert "刚才的回答不对" in again.text, again.text
    assert offered[0] not in [b.payload for b in again.buttons]


@pytest.mark.parametrize("typed", ["opening hours", "Opening hours", "office hours"])
async def test_opening_hours_typed_in_english(linli: Linli, typed: str) -> None:
    said = (await Chat(linli, user="hours-en-0001").send(typed, lang="en"))[0].text
    assert "cannot answer" not in said and "09:00" in said, said
