"""A resident withdraws a case still being handled: from its card or in words, asked first;
whoever handles it is told, and nothing else is touched (a walkthrough: "撤销这个事项" got
"您目前没有待办的预约", and a case once filed could not be taken back)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import Linli
from bot.i18n import t
from models.cases import Case, CaseEvent, CaseStatus
from tests.conftest import Chat, payloads
from tests.talk import Talk, open_rig, platform, talk
from tests.test_binding import staff_code
from tests.test_cases import REF, open_proxy
from tests.wechat_fixtures import OpenRig

__all__ = ["open_rig", "platform", "talk"]  # fixtures this module uses

ASKED = t("zh-CN", "cases.withdraw_confirm", ref="", category="")[:6]


async def _file_proxy(talk: Talk) -> str:
    """A proxy request filed in words, its number returned."""
    await talk.say("代办")
    await talk.say("帮我母亲办高龄补贴，她腿脚不便")
    await talk.say("好的")
    await talk.say("幸福小区3号楼201")
    await talk.say("工作日上午")
    await talk.say("不同意")
    shown = await talk.say("不同意")
    found = REF.search(shown)
    assert found is not None, shown
    return found.group()


async def _case(linli: Linli, ref: str) -> Case:
    async with linli.sessions() as session:
        return (await session.exec(select(Case).where(Case.ref == ref))).one()


async def test_withdrawn_in_words_after_a_question(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    shown = await talk.say("撤销这个事项")
    assert ASKED in shown and ref in shown and "高龄补贴申领" in shown
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED  # not yet
    shown = await talk.say("确定")
    assert t("zh-CN", "cases.withdrawn", ref=ref) in shown
    assert (await _case(talk.linli, ref)).status == CaseStatus.CANCELLED
    shown = await talk.say("进度")
    assert ref in shown and "已取消" in shown


async def test_no_at_the_question_keeps_the_case(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    await talk.say("代办不需要了")
    shown = await talk.say("不用了")
    assert t("zh-CN", "cases.withdraw_kept", ref=ref) in shown
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED


async def test_other_words_at_the_question_ask_it_again(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    await talk.say("取消 " + ref)
    shown = await talk.say("今天天气怎么样")
    assert ASKED in shown
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED


async def test_an_appointment_or_a_question_about_a_withdrawal_is_not_one(talk: Talk) -> None:
    await _file_proxy(talk)
    for words in ("取消预约", "为什么我的代办被取消了", "不要撤销事项"):
        shown = await talk.say(words)
        assert ASKED not in shown, words
        await talk.say("菜单")


async def test_with_nothing_open_the_resident_is_told_so(talk: Talk) -> None:
    shown = await talk.say("我要撤回我的代办事项")
    assert t("zh-CN", "cases.withdraw_none") in shown


async def test_english(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    await talk.say("english")
    shown = await talk.say("please withdraw my request")
    assert "Withdraw case" in shown and ref in shown
    shown = await talk.say("yes")
    assert f"Case {ref} is withdrawn" in shown


async def test_the_card_button_and_the_clerk_on_wechat_is_told(open_rig: OpenRig) -> None:
    rig = await open_rig()
    code = await staff_code(rig.linli, "S021")  # 民政科, on WeChat (staff get no web pushes)
    assert "绑定成功" in (await rig.post(rig.server.text(f"绑定 {code}"))).get("Content", "")
    resident = Chat(rig.linli, user="resident-withdraw-01")
    ref = await open_proxy(resident)
    card = await resident.send(ref)
    case = await _case(rig.linli, ref)
    assert f"case:withdraw:{case.id}" in payloads(card[-1])
    asked = await resident.press(f"case:withdraw:{case.id}")
    assert f"case:withdraw_yes:{case.id}" in payloads(asked[-1])
    before = len(rig.platform.sent)
    await resident.press(f"case:withdraw_yes:{case.id}")
    case = await _case(rig.linli, ref)
    assert case.status == CaseStatus.CANCELLED and case.closed_at is not None
    while await rig.linli.worker.deliver_due():
        pass
    told = [m.text or "" for m in rig.platform.sent[before:]]
    assert any(f"事项 {ref}" in text and "已由群众撤回" in text for text in told), told
    async with rig.linli.sessions() as session:
        stmt = select(CaseEvent.kind).where(CaseEvent.case_id == case.id)
        assert "withdrawn" in (await session.exec(stmt)).all()
    # An ended case has no 撤回 button, and its old button does nothing.
    again = await resident.press(f"case:withdraw_yes:{case.id}")
    assert t("zh-CN", "cases.not_now") in again[-1].text
    card = await resident.send(ref)
    assert f"case:withdraw:{case.id}" not in payloads(card[-1])
    assert "群众撤回了这个事项" in card[-1].text


async def test_another_residents_case_cannot_be_withdrawn(linli: Linli) -> None:
    owner = Chat(linli, user="resident-withdraw-02")
    ref = await open_proxy(owner)
    case = await _case(linli, ref)
    stranger = Chat(linli, user="resident-withdraw-03")
    await stranger.send("菜单")
    await stranger.press(f"case:withdraw_yes:{case.id}")
    shown = await stranger.send(f"撤回 {ref}")
    assert ASKED not in shown[-1].text
    assert (await _case(linli, ref)).status == CaseStatus.ASSIGNED


# A review of the first version.
QUESTIONS = [
    "我要咨询撤销户口怎么办",
    "调解协议可以撤销吗",
    "报修后能撤回吗",
    "工作人员说我的代办要取消，是真的吗",
    "代办要收费吗，不要了吧",
    "how do I withdraw a case",
    "I want to withdraw money from pension, request form?",
]


@pytest.mark.parametrize("words", QUESTIONS)
async def test_a_question_is_not_asked_to_withdraw(talk: Talk, words: str) -> None:
    await _file_proxy(talk)
    shown = await talk.say(words)
    assert ASKED not in shown and "Withdraw case" not in shown


async def test_another_case_named_at_the_question_withdraws_nothing(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    await talk.say("撤销这个事项")
    shown = await talk.say("我要撤销我的投诉")
    assert ASKED in shown  # asked again, nothing withdrawn
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED


@pytest.mark.parametrize(
    "answer", ["撤回吧", "还是撤回吧", "不要了", "对，不需要了", "嗯嗯 撤了吧"]
)
async def test_withdrawing_words_at_the_question_withdraw(talk: Talk, answer: str) -> None:
    ref = await _file_proxy(talk)
    await talk.say("撤销这个事项")
    await talk.say(answer)
    assert (await _case(talk.linli, ref)).status == CaseStatus.CANCELLED


@pytest.mark.parametrize("answer", ["不用了", "算了", "不", "取消", "我再想想", "不要撤回"])
async def test_declining_or_unsure_words_keep_the_case(talk: Talk, answer: str) -> None:
    ref = await _file_proxy(talk)
    await talk.say("撤销这个事项")
    await talk.say(answer)
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED


async def test_the_kind_named_picks_the_case(talk: Talk) -> None:
    await _file_proxy(talk)
    shown = await talk.say("我要撤销我的投诉")  # no complaint is open: the open ones listed
    assert t("zh-CN", "cases.withdraw_none_of_kind") in shown and ASKED not in shown


async def test_an_old_keep_button_after_withdrawal_says_nothing_false(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    await talk.say("撤销这个事项")
    await talk.say("确定")
    case = await _case(talk.linli, ref)
    if talk.chat is not None:
        replies = await talk.chat.press(f"case:withdraw_no:{case.id}")
        assert t("zh-CN", "cases.not_now") in replies[-1].text


async def test_a_denied_withdrawal_asks_nothing(talk: Talk) -> None:
    """A walkthrough: "不要撤回我的投诉" asked to confirm, and "对" withdrew the case."""
    ref = await _file_proxy(talk)
    shown = await talk.say("不要撤回我的代办")
    assert ASKED not in shown
    await talk.say("对")
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED


@pytest.mark.parametrize("words", ["上门时间取消了，改到周五下午", "明天师傅不用来了，改后天"])
async def test_moving_a_visit_is_no_withdrawal(talk: Talk, words: str) -> None:
    await _file_proxy(talk)
    assert ASKED not in await talk.say(words)


@pytest.mark.parametrize("words", ["我要撤回", "撤消", "我的申请不用办了", "I want to withdraw"])
async def test_more_ways_of_asking_to_withdraw(talk: Talk, words: str) -> None:
    ref = await _file_proxy(talk)
    shown = await talk.say(words)
    assert (ASKED in shown or "Withdraw case" in shown) and ref in shown


async def test_taking_a_complaint_back_at_its_words_step_files_nothing(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    await talk.say("我不想投诉了")  # withdraw words and 投诉: the one open case is asked about
    await talk.say("菜单")
    await talk.say("投诉")
    shown = await talk.say("不是，我是说刚才那个代办撤回")
    assert ASKED in shown and ref in shown
    async with talk.linli.sessions() as session:
        assert len((await session.exec(select(Case))).all()) == 1  # no complaint filed


async def test_words_answer_the_report_or_need_offer(talk: Talk) -> None:
    await talk.say("小区门口的路灯坏了")
    await talk.say("上报吧")
    assert (await talk.state_data()).get("words") == "小区门口的路灯坏了"


# A review of the walkthrough's fixes.
async def test_a_complaint_about_something_revoked_is_filed(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    await talk.say("我要投诉")
    shown = await talk.say("居委会把我家的低保撤销了，没有任何通知")
    assert ASKED not in shown
    async with talk.linli.sessions() as session:
        kinds = [c.kind for c in (await session.exec(select(Case))).all()]
    assert sorted(kinds) == ["complaint", "proxy"]
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED


@pytest.mark.parametrize(
    "words",
    ["小区门口的垃圾桶撤了，想上报一下", "我想申请取消低保", "网格员说那个事不用了，他们直接修"],
)
async def test_reports_and_requests_are_no_withdrawal(talk: Talk, words: str) -> None:
    await _file_proxy(talk)
    shown = await talk.say(words)
    assert ASKED not in shown and t("zh-CN", "cases.withdraw_none_of_kind") not in shown


async def test_thanks_at_the_question_withdraws_nothing(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    await talk.say("撤回")
    await talk.say("谢谢")
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED


@pytest.mark.parametrize("words", ["谢谢", "好", "哈哈"])
async def test_filler_alone_does_not_answer_the_offer(talk: Talk, words: str) -> None:
    await talk.say("希望小区能增加一个老年食堂")
    await talk.say(words)
    assert await talk.state() not in ("grid.category", "grid.words")


# A last review: ordinary complaints and reports about something cancelled by others.
NOT_ONES_OWN = [
    "社区取消了上门送餐服务，老人没饭吃",
    "物业取消了上门维修服务",
    "我申请的低保取消了",
    "家里旧沙发不要了，想找人上门回收",
    "维修师傅说不用了，已经修好了",
    "师傅，不用了，谢谢",
    "物业取消了我家的车位，我要投诉",
    "我想投诉，物业把门禁卡作废了",
    "The bus route was cancelled, I want to make a complaint",
]


@pytest.mark.parametrize("words", NOT_ONES_OWN)
async def test_what_others_cancelled_is_no_withdrawal(talk: Talk, words: str) -> None:
    ref = await _file_proxy(talk)
    shown = await talk.say(words)
    assert ASKED not in shown and "Withdraw case" not in shown
    assert t("zh-CN", "cases.withdraw_none_of_kind") not in shown
    await talk.say("对")
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED


@pytest.mark.parametrize(
    "words",
    [
        "师傅不用来了，我自己修好了",
        "明天不用上门了，我女儿回来了",
        "I don't need the home visit anymore",
    ],
)
async def test_a_visit_no_longer_needed_asks(talk: Talk, words: str) -> None:
    ref = await _file_proxy(talk)
    shown = await talk.say(words)
    assert (ASKED in shown or "Withdraw case" in shown) and ref in shown
