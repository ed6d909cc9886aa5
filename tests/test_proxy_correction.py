"""Correcting a proxy request's category at its questions (an outside walkthrough: "不对 是高龄补贴"
after a category pressed by mistake was saved as the visit address, and the case filed under
the wrong category, at the wrong office)."""

from __future__ import annotations

import pytest
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


# A review: places and times with 不对/错了 or a category's name in them were read as categories.
STILL_ADDRESSES = [
    "居住证上的地址不对，现在住南街5栋",
    "社保卡上的地址不对，现在住南街5栋",
    "不对，我家在养老院隔壁",
    "错了，是残疾人托养中心",
    "不对，是法律援助中心楼上",
    "社保卡办理点",
    "残疾证办理大厅",
    "不对，6栋",
    "不对，是3号楼",
]
STILL_TIMES = ["不对，我下午在家", "不对，要等社保卡办理好以后", "不对，下午", "不对，周六"]


@pytest.mark.parametrize("answer", STILL_ADDRESSES)
async def test_an_address_with_correction_words_stays_the_address(talk: Talk, answer: str) -> None:
    await talk.say("我想申请代办")
    await talk.say("5")  # 高龄补贴申领
    shown = await talk.say(answer)
    assert VISIT in shown and "已改为" not in shown
    data = await talk.state_data()
    assert data["category"] == "ca-elderly-allowance" and data["answers"] == {"address": answer}


@pytest.mark.parametrize("answer", STILL_TIMES)
async def test_a_time_with_correction_words_stays_the_time(talk: Talk, answer: str) -> None:
    await talk.say("我想申请代办")
    await talk.say("5")
    await talk.say("南街5栋2单元301")
    shown = await talk.say(answer)
    assert "已改为" not in shown and ADDRESS not in shown
    data = await talk.state_data()
    assert data["category"] == "ca-elderly-allowance"
    assert data["answers"] == {"address": "南街5栋2单元301", "visit_time": answer}


@pytest.mark.parametrize(
    ("said", "category"),
    [
        ("I meant disability card", "ca-disability-card"),
        ("不好意思选错了，应该是残疾证办理", "ca-disability-card"),
        ("应该是残疾证", "ca-disability-card"),
        ("我要办的是法律援助申请", "jd-legal-aid"),
    ],
)
async def test_more_ways_of_correcting(talk: Talk, said: str, category: str) -> None:
    await talk.say("我想申请代办")
    await talk.say("5")
    shown = await talk.say(said)
    assert "已改为" in shown or "changed to" in shown, shown
    assert (await talk.state_data())["category"] == category


async def test_answers_stay_when_several_categories_fit(talk: Talk) -> None:
    await _at_the_address_of_the_wrong_category(talk)
    await talk.say("南街5栋2单元301")
    shown = await talk.say("错了，是居住证")
    assert "居住证办理" in shown and "居住证明开具" in shown
    shown = await talk.say("居住证办理")
    assert VISIT in shown and ADDRESS not in shown
    data = await talk.state_data()
    assert data["category"] == "fl-residence-permit"
    assert data["answers"] == {"address": "南街5栋2单元301"}


async def test_chose_wrong_after_an_answer_offers_the_categories(talk: Talk) -> None:
    await _at_the_address_of_the_wrong_category(talk)
    await talk.say("南街5栋2单元301")
    shown = await talk.say("选错了")
    assert t("zh-CN", "cases.category_again") in shown and "入学材料代办" in shown
    shown = await talk.say("高龄补贴申领")
    assert VISIT in shown  # the address was kept


async def test_an_address_corrected_at_the_time_question(talk: Talk) -> None:
    """A review: "不对，地址是南街6栋" was stored as the visit time."""
    await talk.say("我想申请代办")
    await talk.say("5")
    await talk.say("南街5栋2单元301")
    shown = await talk.say("不对，地址是南街6栋")
    assert "已记下更正" in shown and VISIT in shown
    assert (await talk.state_data())["answers"] == {"address": "南街6栋"}
    shown = await talk.say("地址写错了")
    assert ADDRESS in shown
    await talk.say("南街7栋")
    assert (await talk.state_data())["answers"] == {"address": "南街7栋"}


@pytest.mark.parametrize(
    ("said", "address"),
    [
        ("不对，是南街6栋", "南街6栋"),
        ("上门地址改成南街6栋", "南街6栋"),
        ("不对，地址是南街6栋", "南街6栋"),
    ],
)
async def test_the_new_address_alone_is_kept(talk: Talk, said: str, address: str) -> None:
    """A walkthrough: these were stored as the visit time, or whole as the address."""
    await talk.say("我想申请代办")
    await talk.say("5")
    await talk.say("北街3号401")
    shown = await talk.say(said)
    assert VISIT in shown
    assert (await talk.state_data())["answers"] == {"address": address}


async def test_a_door_number_alone_asks_for_the_whole_address(talk: Talk) -> None:
    await talk.say("我想申请代办")
    await talk.say("5")
    await talk.say("北街3号401")
    shown = await talk.say("门牌号错了，是402")
    assert ADDRESS in shown and (await talk.state_data())["answers"] == {}


async def test_chose_wrong_with_a_number_offers_the_categories(talk: Talk) -> None:
    await talk.say("我想申请代办")
    await talk.say("7")
    shown = await talk.say("选错了，应该是5")
    assert t("zh-CN", "cases.category_again") in shown
    shown = await talk.say("5")
    assert (await talk.state_data())["category"] == "ca-elderly-allowance", shown


async def test_not_right_with_a_door_number_is_no_category_choice(talk: Talk) -> None:
    """A review: "不对，是402" at the time question showed the 22 categories."""
    await talk.say("我想申请代办")
    await talk.say("5")
    await talk.say("北街3号楼")
    shown = await talk.say("不对，是402")
    assert t("zh-CN", "cases.category_again") not in shown


async def test_the_words_after_the_topic_are_the_new_answer(talk: Talk) -> None:
    await talk.say("我想申请代办")
    await talk.say("5")
    await talk.say("北街3号401")
    await talk.say("是我写错了，地址是南街6栋")
    assert (await talk.state_data())["answers"] == {"address": "南街6栋"}


async def test_a_corrected_building_keeps_the_estate(talk: Talk) -> None:
    """A walkthrough: "是5栋2单元501，不是3栋" replaced "光华小区3栋2单元501" whole, estate lost and
    "不是3栋" kept, so staff could not tell which estate."""
    await talk.say("我想申请代办")
    await talk.say("5")
    await talk.say("光华小区3栋2单元501")
    shown = await talk.say("哎呀 地址说错了，是5栋2单元501，不是3栋")
    assert VISIT in shown and "光华小区5栋2单元501" in shown
    assert (await talk.state_data())["answers"] == {"address": "光华小区5栋2单元501"}
