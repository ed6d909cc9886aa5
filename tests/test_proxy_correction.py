"""Correcting a proxy request's category at its questions (an outside walkthrough: "不对 是高龄补贴"
after a category pressed by mistake was saved as the visit address, and the case filed under
the wrong category, at the wrong office)."""

from __future__ import annotations

from sqlmodel import select

from bot.i18n import t
from models.cases import Case
from tests.talk import Talk, open_rig, platform, talk

__all__ = ["open_rig", "platform", "talk"]  # fixtures this module uses

ADDRESS = t("zh-CN", "cases.question_address")
VISIT = t("zh-CN", "cases.question_visit_time")


async def _at_the_address_of_the_wrong_category(talk: Talk) -> None:
    await talk.say("我想申请代办")
    await talk.say("2")  # 社保卡办理, the second of every category
    assert (await talk.state_data())["category"] == "ss-card"


async def test_the_category_named_in_a_correction_replaces_the_wrong_one(talk: Talk) -> None:
    await _at_the_address_of_the_wrong_category(talk)
    shown = await talk.say("不对 是高龄补贴")
    assert "已改为“高龄补贴申领”" in shown and ADDRESS in shown
    data = await talk.state_data()
    assert data["category"] == "ca-elderly-allowance" and data["answers"] == {}


async def test_answers_given_stay_when_the_category_changes(talk: Talk) -> None:
    await _at_the_address_of_the_wrong_category(talk)
    await talk.say("南街5栋2单元301")
    shown = await talk.say("选错了，应该是残疾证办理")
    assert "已改为“残疾证办理”" in shown and VISIT in shown
    shown = await talk.say("周末上午")
    data = await talk.state_data()
    assert data["category"] == "ca-disability-card"
    assert data["answers"] == {"address": "南街5栋2单元301", "visit_time": "周末上午"}
    assert "同意" in shown  # the phone number's consent comes next, as before


async def test_a_whole_category_name_alone_at_a_question_is_a_correction(talk: Talk) -> None:
    await _at_the_address_of_the_wrong_category(talk)
    shown = await talk.say("高龄补贴申领")
    assert "已改为“高龄补贴申领”" in shown
    assert (await talk.state_data())["answers"] == {}


async def test_wrong_alone_before_any_answer_offers_the_categories_again(talk: Talk) -> None:
    await _at_the_address_of_the_wrong_category(talk)
    shown = await talk.say("选错了")
    assert t("zh-CN", "cases.category_again") in shown and "入学材料代办" in shown
    assert await talk.state() == "case.category"
    shown = await talk.say("高龄补贴申领")
    assert ADDRESS in shown
    assert (await talk.state_data())["category"] == "ca-elderly-allowance"


async def test_wrong_alone_after_an_answer_asks_that_question_again(talk: Talk) -> None:
    await _at_the_address_of_the_wrong_category(talk)
    await talk.say("南街5栋2单元301")
    shown = await talk.say("不对")
    assert "请重新回答" in shown and ADDRESS in shown
    await talk.say("南街5栋2单元302")
    assert (await talk.state_data())["answers"] == {"address": "南街5栋2单元302"}


async def test_a_correction_with_its_own_words_is_the_answer(talk: Talk) -> None:
    """ "不对，地址是…" names no category: it answers the question, as before."""
    await _at_the_address_of_the_wrong_category(talk)
    await talk.say("南街5栋2单元301")
    await talk.say("不对，是南街5栋2单元302，周末上午来")
    data = await talk.state_data()
    assert data["category"] == "ss-card" and "visit_time" in data["answers"]


async def test_the_category_already_chosen_is_said_to_be_so(talk: Talk) -> None:
    await talk.say("我想申请代办")
    await talk.say("高龄补贴申领")
    shown = await talk.say("不对 是高龄补贴")
    assert "类别已是“高龄补贴申领”" in shown and ADDRESS in shown
    assert (await talk.state_data())["answers"] == {}


async def test_the_case_is_filed_under_the_corrected_category(talk: Talk) -> None:
    await _at_the_address_of_the_wrong_category(talk)
    await talk.say("wrong one, it should be 高龄补贴申领")
    await talk.say("南街5栋2单元301")
    await talk.say("周末上午")
    await talk.say("同意")
    await talk.say("13800138000")
    await talk.say("同意")
    await talk.say("510124195003150020")  # its ID number, which this category needs
    async with talk.linli.sessions() as session:
        cases = (await session.exec(select(Case))).all()
    assert [c.category for c in cases] == ["高龄补贴申领"]  # stored by its name


async def test_english_correction(talk: Talk) -> None:
    await talk.say("english")
    await talk.say("proxy")
    await talk.say("my mother needs help with a form")
    await talk.say("2")
    shown = await talk.say("wrong category, I meant disability certificate")
    data = await talk.state_data()
    assert data["category"] == "ca-disability-card", shown
    assert "changed to" in shown
