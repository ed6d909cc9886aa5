"""What residents type at steps that show options, found by an outside walkthrough: a proxy
category in words, a past day typed as a date, an English "last monday"."""

from __future__ import annotations

from bot.i18n import t
from tests.talk import Talk, open_rig, platform, talk

__all__ = ["open_rig", "platform", "talk"]  # fixtures this module uses


async def test_a_proxy_category_typed_at_the_list_is_offered(talk: Talk) -> None:
    shown = await talk.say("帮我代办")
    assert "最低生活保障申请" in shown and "入学材料代办" in shown  # every category
    shown = await talk.say("我妈妈腿脚不便，需要办理高龄补贴")  # used to be "not sure"
    assert t("zh-CN", "cases.proxy_choose_category") in shown
    assert "高龄补贴申领" in shown and "残疾证办理" not in shown
    shown = await talk.say("好的")  # the one fitting category, agreed to
    assert t("zh-CN", "cases.question_address") in shown


async def test_a_whole_category_name_typed_is_chosen(talk: Talk) -> None:
    await talk.say("帮我代办")
    shown = await talk.say("残疾证办理吧")
    assert t("zh-CN", "cases.question_address") in shown


async def test_a_general_word_is_not_taken_for_the_one_label_it_begins(talk: Talk) -> None:
    await talk.say("帮我代办")
    shown = await talk.say("养老")  # 养老保险参保 and 居家养老服务申请 both fit
    assert t("zh-CN", "cases.question_address") not in shown
    assert "居家养老服务申请" in shown


async def test_dibao_finds_the_minimum_living_allowance(talk: Talk) -> None:
    """低保 is the service's name (低保申请), not the category's (最低生活保障申请)."""
    await talk.say("代办")
    shown = await talk.say("我奶奶要办低保，她瘫痪在床")
    assert "最低生活保障申请" in shown and "社保待遇认证" not in shown


async def test_a_past_date_is_said_to_be_past(talk: Talk) -> None:
    """ "11月20日" a week ago was read as next year's and answered "only 30 days ahead"."""
    await talk.say("预约居住证办理")
    shown = await talk.say("11月20日")
    assert "已经过去" in shown and "30 天" not in shown


async def test_last_monday_in_english_is_past(talk: Talk) -> None:
    await talk.say("english")
    shown = await talk.say("book residence permit last monday")
    assert "23 Nov" in shown and "30 Nov" not in shown


async def test_yes_to_collecting_it_as_a_need_and_not_sure_of_its_category(talk: Talk) -> None:
    """ "是的" at "要把它作为一条需求提交吗？" was not understood, and words typed at the
    categories left the need without an item, unseen in 进度."""
    shown = await talk.say("小区门口想要一个快递柜")
    assert t("zh-CN", "ask.offer_need") in shown
    shown = await talk.say("是的")
    assert t("zh-CN", "needs.choose_category") in shown
    shown = await talk.say("周末能办社保吗")  # a question: answered, the step kept
    assert "继续刚才的办理" in shown
    shown = await talk.say("继续")
    assert t("zh-CN", "needs.choose_category") in shown
    shown = await talk.say("让我想想")  # not a category: the categories again
    assert t("zh-CN", "needs.category_again") in shown
    shown = await talk.say("不知道选哪个")  # the suggested one, shown first
    assert "已记录您的需求「" in shown and "快递柜" in shown
    tracked = await talk.say("进度")
    assert "快递柜" in tracked


async def test_yes_please_confirms_a_booking(talk: Talk) -> None:
    await talk.say("english")
    await talk.say("book residence permit application")
    await talk.say("tomorrow")
    shown = await talk.say("10am")
    assert "Please confirm" in shown
    assert "LCY-" in await talk.say("yes please")


async def test_words_added_at_the_proxy_categories_are_kept_and_a_denial_chooses_nothing(
    talk: Talk,
) -> None:
    """A review: "帮我代办" then the detail typed at the list opened a case whose words were only
    "帮我代办"; "不是残疾证办理，是高龄补贴" chose 残疾证办理."""
    await talk.say("帮我代办")
    shown = await talk.say("不是残疾证办理，是高龄补贴")
    assert t("zh-CN", "cases.question_address") not in shown
    await talk.say("帮我代办")
    await talk.say("我妈妈腿脚不便，需要办理高龄补贴")
    await talk.say("好的")
    assert "腿脚不便" in str((await talk.state_data()).get("words"))
