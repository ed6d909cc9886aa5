"""Taking back what one said in one's own words (a walkthrough): "刚才那个投诉我想收回" filed a
second complaint, "撤回投诉" after a question started a new one, "不好意思我弄错人了，帮我撤销"
was filed as the complaint's words, "我要撤回代办申请" started a new proxy request, and the
Chengdu "要得" / "对头" agreed to nothing."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import Linli
from bot.i18n import t
from models.booking import Appointment, AppointmentStatus
from models.cases import Case, CaseKind, CaseStatus
from models.intents import fold, tells_solved
from tests.talk import Talk, open_rig, platform, talk
from tests.test_case_withdrawal import ASKED, _case, _file_proxy

__all__ = ["open_rig", "platform", "talk"]  # fixtures this module uses

COMPLAINT = "我要投诉！今天上午在便民服务中心二号窗口那个女娃娃态度差得很"


async def _complaints(linli: Linli) -> list[Case]:
    async with linli.sessions() as session:
        rows = await session.exec(select(Case).where(Case.kind == CaseKind.COMPLAINT))
        return list(rows.all())


async def test_taking_a_complaint_back_files_no_second_one(talk: Talk) -> None:
    await talk.say(COMPLAINT)
    [filed] = await _complaints(talk.linli)
    shown = await talk.say("哎呀不好意思 我搞错了…刚才那个投诉我想收回")
    assert ASKED in shown and filed.ref in shown
    assert len(await _complaints(talk.linli)) == 1
    await talk.say("要得")  # Chengdu's 好的
    assert (await _case(talk.linli, filed.ref)).status == CaseStatus.CANCELLED


async def test_after_a_question_withdrawal_words_are_still_read(talk: Talk) -> None:
    await talk.say(COMPLAINT)
    await talk.say("便民服务中心几点上班")  # a question: the next words are read as one too
    assert await talk.state() == "ask.recent"
    shown = await talk.say("撤回投诉")
    assert ASKED in shown
    assert len(await _complaints(talk.linli)) == 1


@pytest.mark.parametrize(
    "words", ["不好意思我弄错人了，帮我撤销", "搞错了，不投诉了", "我不投诉了", "never mind"]
)
async def test_a_complaint_retracted_before_it_is_told_is_not_filed(talk: Talk, words: str) -> None:
    await talk.say("投诉一下")
    assert await talk.state() == "case.simple"
    shown = await talk.say(words)
    assert await _complaints(talk.linli) == []
    assert await talk.state() == ""
    assert "没有提交" in shown or "not filed" in shown


async def test_a_complaint_about_something_revoked_is_still_filed(talk: Talk) -> None:
    await talk.say("投诉一下")
    await talk.say("社区工作人员把我的低保撤销了，也不说原因")
    assert len(await _complaints(talk.linli)) == 1


async def test_withdrawing_a_proxy_request_in_words_starts_no_new_one(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    shown = await talk.say("我要撤回代办申请")
    assert ASKED in shown and ref in shown
    await talk.say("对头")
    assert (await _case(talk.linli, ref)).status == CaseStatus.CANCELLED


async def test_a_proxy_others_cancelled_shows_ones_cases(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    shown = await talk.say("他们把我母亲的高龄补贴代办取消了")
    assert ref in shown and ASKED not in shown
    assert await talk.state() != "case.category"
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED


async def test_yaode_chooses_the_one_category_suggested(talk: Talk) -> None:
    await talk.say("代办")
    await talk.say("帮我母亲办高龄补贴，她腿脚不便")
    shown = await talk.say("要得")
    assert t("zh-CN", "cases.ask_address")[:8] in shown or await talk.state() == "case.question"


# A review of the first version of these fixes.
@pytest.mark.parametrize(
    "words",
    [
        "工作人员弄错了我的材料，还把我的申请取消了",
        "他们把我的低保搞错了，然后又撤销了",
        "不好意思打扰了，办事员把我的材料弄丢了还取消了我的登记",
        "算了不说别的，物业擅自取消了我家的车位",
    ],
)
async def test_a_complaint_holding_mistake_and_cancel_words_is_filed(
    talk: Talk, words: str
) -> None:
    await talk.say("投诉一下")
    await talk.say(words)
    assert len(await _complaints(talk.linli)) == 1


@pytest.mark.parametrize(
    "words",
    ["我要投诉收回我家公租房的工作人员，态度很差", "我要投诉撤销我低保的社区干部，没有任何通知"],
)
async def test_a_complaint_about_taking_back_is_filed_not_withdrawn(talk: Talk, words: str) -> None:
    await talk.say(COMPLAINT)
    shown = await talk.say(words)
    assert ASKED not in shown and t("zh-CN", "cases.withdraw_none") not in shown
    # filed at once, or (naming staff) asked what happened first: a complaint either way
    assert len(await _complaints(talk.linli)) == 2 or await talk.state() == "case.simple"


@pytest.mark.parametrize(
    "words",
    [
        "请网格员帮我代办作废旧社保卡，重新补办",
        "我母亲行动不便，想请工作人员上门代办取消独生子女奖励扶助的手续",
    ],
)
async def test_a_proxy_request_naming_a_cancel_is_started(talk: Talk, words: str) -> None:
    shown = await talk.say(words)
    assert await talk.state() in ("case.category", "case.question", "case.words"), shown


@pytest.mark.parametrize(
    "words", ["街道收回了我家的公租房，我的申请白交了", "垃圾桶撤掉了，反映的问题还是没解决"]
)
async def test_after_a_question_what_others_took_back_asks_no_withdrawal(
    talk: Talk, words: str
) -> None:
    await talk.say(COMPLAINT)
    await talk.say("社保卡补办要带什么材料")
    shown = await talk.say(words)
    assert ASKED not in shown and await talk.state() != "case.withdraw"


@pytest.mark.parametrize(
    "words",
    [
        "根本没有解决了",
        "假装修好了",
        "我以为已经解决了",
        "楼道灯表面上修好了",
        "系统显示已经办好了",
        "说是修好了",
        "it was supposed to be fixed",
        "the street light should have been fixed",
        "they claim it has been resolved",
    ],
)
def test_doubting_a_fix_is_not_only_solved(words: str) -> None:
    assert not tells_solved(fold(words))


# A second review: a complaint about a cancellation, typed at the complaint's words step,
# asked to cancel the resident's own appointment ("是的" cancelled it) or to withdraw a case.
async def test_a_complaint_about_a_cancelled_appointment_cancels_nothing(talk: Talk) -> None:
    await _book(talk)
    await talk.say("投诉一下")
    shown = await talk.say("取消预约不通知，太过分了")
    assert "确定取消" not in shown
    assert len(await _complaints(talk.linli)) == 1
    assert await _booked(talk.linli) == 1


async def test_cancel_words_alone_at_the_complaint_step_still_cancel(talk: Talk) -> None:
    await _book(talk)
    await talk.say("投诉一下")
    shown = await talk.say("取消预约")
    assert "确定取消" in shown
    assert await _complaints(talk.linli) == []


async def test_a_complaint_that_others_withdrew_a_case_is_filed(talk: Talk) -> None:
    ref = await _file_proxy(talk)
    await talk.say("投诉一下")
    shown = await talk.say("社区把我的代办撤销了，我要投诉")
    assert ASKED not in shown
    assert len(await _complaints(talk.linli)) == 1
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED


@pytest.mark.parametrize(
    "words", ["谁取消了我的代办申请？", "是谁撤回了我的申请", "谁撤销了我的代办"]
)
async def test_asking_who_withdrew_asks_no_withdrawal(talk: Talk, words: str) -> None:
    ref = await _file_proxy(talk)
    shown = await talk.say(words)
    assert ASKED not in shown
    await talk.say("对")
    assert (await _case(talk.linli, ref)).status == CaseStatus.ASSIGNED


@pytest.mark.parametrize(
    "words",
    ["不好意思，弄错了", "搞错了不好意思", "取消投诉", "不用投诉了", "没事了，不用了", "算了吧"],
)
async def test_more_retractions_at_the_words_step_file_nothing(talk: Talk, words: str) -> None:
    await talk.say("投诉一下")
    await talk.say(words)
    assert await _complaints(talk.linli) == []


async def _book(talk: Talk) -> None:
    """A 社保卡补办 appointment booked by typing."""
    for words in ("预约办事", "社会保障科", "社保卡补办", "1", "1", "确认"):
        await talk.say(words)
    assert await _booked(talk.linli) == 1


async def _booked(linli: Linli) -> int:
    async with linli.sessions() as session:
        rows = await session.exec(
            select(Appointment).where(Appointment.status == AppointmentStatus.BOOKED)
        )
        return len(rows.all())
