"""Issue 18, item 5: one service-matching path for booking, free text and proxy handling; a
sentence is matched as a whole, and when several services fit the best three are offered with
"none of these"."""

from __future__ import annotations

from sqlmodel import select

from bot.i18n import t
from models.cases import Case
from models.intents import load_lexicon, services_asked
from models.knowledge import load_knowledge
from models.service_match import load_service_catalogue, named_items, service_catalogue
from tests.conftest import DATA
from tests.talk import Talk, open_rig, platform, talk

__all__ = ["open_rig", "platform", "talk"]  # fixtures used by name


def _asked(text: str) -> list[str]:
    return [m.code for m in services_asked(text, load_lexicon(DATA), load_service_catalogue(DATA))]


def test_the_whole_sentence_finds_the_service_it_names() -> None:
    assert _asked("我想预约办社保卡") == ["ss-card-reissue"]
    assert _asked("帮我预约一下补办社保卡") == ["ss-card-reissue"]
    assert _asked("帮我妈约周六上午的老年人体检") == ["hl-elderly-checkup"]
    assert _asked("预约接种疫苗") == ["hl-vaccination-booking"]
    assert _asked("book social security card replacement") == ["ss-card-reissue"]
    assert _asked("我要预约明天上午") == []  # a day names no service


def test_several_that_fit_are_the_best_three_best_first() -> None:
    fits = _asked("我想预约居住证")
    assert len(fits) == 3
    assert "fl-residence-permit-apply" in fits
    assert all(code.startswith("fl-residence-permit") for code in fits), fits


def test_one_character_or_nothing_names_nothing() -> None:
    matcher = service_catalogue(load_knowledge(DATA), load_lexicon(DATA))
    assert matcher.rank("卡") == [] and matcher.rank("") == []


def test_proxy_categories_use_the_same_matching() -> None:
    categories = named_items(
        [("ca-elderly-allowance", "高龄补贴申领", ""), ("ss-card", "社保卡办理", "")],
        load_lexicon(DATA),
    )
    assert [m.code for m in categories.rank("帮我母亲办高龄补贴，她腿脚不便")] == [
        "ca-elderly-allowance"
    ]


async def test_several_services_are_offered_with_none_of_these(talk: Talk) -> None:
    shown = await talk.say("我想预约居住证")
    assert t("zh-CN", "match.which_service") in shown
    assert "居住证办理" in shown and t("zh-CN", "match.none_of_these") in shown
    assert "体检" not in shown
    menu = await talk.say(t("zh-CN", "match.none_of_these"))  # typed, as a button label
    assert t("zh-CN", "booking.choose_category") in menu


async def test_a_service_typed_in_the_booking_flow_is_matched_the_same_way(talk: Talk) -> None:
    await talk.say("预约")
    several = await talk.say("居住证")
    assert "居住证办理" in several and "居住证签注" in several
    assert "出租房屋" not in several  # at most the best three, not every 居 or 证
    one = await talk.say("约个健康证")
    assert "从业人员健康证办理预约" in one and t("zh-CN", "booking.documents") in one


async def test_proxy_words_suggest_their_category_and_none_of_these_shows_all(talk: Talk) -> None:
    await talk.say("代办")
    suggested = await talk.say("帮我母亲办高龄补贴，她腿脚不便")
    assert "高龄补贴申领" in suggested and t("zh-CN", "match.none_of_these") in suggested
    assert "社保待遇认证" not in suggested
    every = await talk.say(t("zh-CN", "match.none_of_these"))
    assert "社保待遇认证" in every and "高龄补贴申领" in every
    question = await talk.say("高龄补贴申领")  # the words were kept: on to the questions
    assert t("zh-CN", "cases.question_address") in question
    await talk.say("南街社区3栋2单元")
    await talk.say("周六上午")
    await talk.say("不同意")  # no phone number (consent first, issue 21)
    await talk.say("不同意")  # nor the ID number
    async with talk.linli.sessions() as session:
        case = (await session.exec(select(Case))).one()
    assert case.summary == "帮我母亲办高龄补贴，她腿脚不便"  # kept as typed, "，" and all


def test_words_about_something_else_find_no_service() -> None:
    matcher = service_catalogue(load_knowledge(DATA), load_lexicon(DATA))
    assert matcher.rank("这个出去玩") == []  # the search's best hit holds too little of it
    assert matcher.rank("改到") == []  # the best answer (how to reschedule) is about no service


def test_a_homophone_typed_with_pinyin_input_still_finds_the_service() -> None:
    assert _asked("我想预约社宝卡") == ["ss-card-reissue"]  # 宝 for 保
    assert "fl-residence-permit-apply" in _asked("居主证")  # 主 for 住
