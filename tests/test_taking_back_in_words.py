"""Taking back what one said in one's own words (a walkthrough): "刚才那个投诉我想收回" filed a
second complaint, "撤回投诉" after a question started a new one, "不好意思我弄错人了，帮我撤销"
was filed as the complaint's words, "我要撤回代办申请" started a new proxy request, and the
Chengdu "要得" / "对头" agreed to nothing."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import Linli
from bot.i18n import t
from models.cases import Case, CaseKind, CaseStatus
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
