"""Moving or cancelling an appointment in everyday words: where 我的预约, an appointment's card
or a booking just made offer 改约 and 取消, "改期", "换个时间", "推迟", "reschedule", "move it" …
choose 改约, and "不去了", "退掉", "cancel it", "cancle" … choose 取消, as pressing them would;
with several appointments the resident is asked which, with none told so."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from bot.app import Linli
from bot.i18n import t
from models.base import SHANGHAI
from models.booking import Appointment
from tests.talk import Talk, on_web, open_rig, platform, talk
from tests.test_records_in_flow import book

__all__ = ["open_rig", "platform", "talk"]  # fixtures used by name

MOVE_WORDS = ["改期", "改时间", "换个时间", "换时间", "改一下时间", "推迟", "延期", "调整时间"]
MOVE_WORDS_EN = ["reschedule", "change the time", "move it", "Reschedule!", "reshedule"]
CANCEL_WORDS = ["取消预约", "不去了", "退掉", "取销预约", "cancel it", "cancle", "Cancel it!"]


async def _appointment(talk: Talk, ref: str) -> Appointment:
    async with talk.linli.sessions() as session:
        return (await session.exec(select(Appointment).where(Appointment.ref == ref))).one()


async def _appointments(talk: Talk) -> int:
    async with talk.linli.sessions() as session:
        return (await session.exec(select(func.count()).select_from(Appointment))).one()


async def _moving(talk: Talk) -> object:
    """The appointment the account's flow is moving (None when it moves none)."""
    return (await talk.state_data()).get("move")


def _days_of_move(shown: str, lang: str = "zh-CN") -> bool:
    """Whether the text is the move's first step: the service's days to choose from."""
    return t(lang, "booking.choose_day")[:6] in shown


async def test_gaiqi_in_my_appointments_moves_the_one_booking(talk: Talk) -> None:
    ref = await book(talk, "预约社保卡补办")
    before = (await _appointment(talk, ref)).starts_at
    await talk.say("我的预约")
    days = await talk.say("改期")
    assert _days_of_move(days) and "没看懂" not in days, days
    assert await _moving(talk) == ref
    await talk.say("2")  # another day
    confirm = await talk.say("1")  # its first time
    assert t("zh-CN", "booking.confirm_move", service="社保卡补办", when="")[:10] in confirm
    done = await talk.say(t("zh-CN", "booking.yes"))
    assert ref in done and "改约成功" in done, done
    moved = await _appointment(talk, ref)
    assert moved.starts_at.astimezone(SHANGHAI).date() > before.astimezone(SHANGHAI).date()
    assert await _appointments(talk) == 1  # moved, not booked twice


@pytest.mark.parametrize(
    ("word", "langs"),
    [(word, ("zh-CN",)) for word in MOVE_WORDS]
    # An English word may switch the answer to English: either language's first step will do.
    + [(word, ("en", "zh-CN")) for word in MOVE_WORDS_EN],
)
async def test_every_move_word_in_my_appointments_chooses_gaiyue(
    linli: Linli, word: str, langs: tuple[str, ...]
) -> None:
    talk = on_web(linli, "move-words-0001")
    ref = await book(talk, "预约社保卡补办")
    await talk.say("我的预约")
    days = await talk.say(word)
    assert any(_days_of_move(days, lang) for lang in langs) and "没看懂" not in days, (word, days)
    assert await _moving(talk) == ref


async def test_reschedule_on_an_appointments_card_moves_that_one(talk: Talk) -> None:
    first = await book(talk, "预约社保卡补办")
    await book(talk, "预约居住登记")
    card = await talk.say(first.lower().replace("-", ""))  # typed as people type it
    assert first in card
    days = await talk.say("reschedule")
    assert "社保卡补办" in days and "居住登记" not in days, days
    assert await _moving(talk) == first


async def test_gaiqi_right_after_booking_moves_the_booking_just_made(talk: Talk) -> None:
    ref = await book(talk, "预约社保卡补办")
    days = await talk.say("改期")
    assert _days_of_move(days) and "社保卡补办" in days, days
    assert await _moving(talk) == ref


async def test_with_two_bookings_the_resident_is_asked_which_to_move(talk: Talk) -> None:
    await book(talk, "预约社保卡补办")
    second = await book(talk, "预约居住登记")
    await talk.say("我的预约")
    which = await talk.say("改期")
    assert t("zh-CN", "records.which_to_move") in which, which
    assert "社保卡补办" in which and "居住登记" in which
    assert await _moving(talk) is None  # nothing is moved before the resident says which
    days = await talk.say("2")
    assert "居住登记" in days and _days_of_move(days), days
    assert await _moving(talk) == second


async def test_with_two_bookings_reschedule_asks_which_too(linli: Linli) -> None:
    talk = on_web(linli, "move-words-0003")
    await book(talk, "预约社保卡补办")
    await book(talk, "预约居住登记")
    await talk.say("我的预约")
    which = await talk.say("reschedule")
    asked = {t(lang, "records.which_to_move") for lang in ("zh-CN", "en")}
    assert any(question in which for question in asked), which


@pytest.mark.parametrize("word", ["改期", "reschedule", "换个时间"])
async def test_with_no_booking_moving_says_there_is_none(linli: Linli, word: str) -> None:
    talk = on_web(linli, "move-words-0004")
    await talk.say("我的预约")
    answer = await talk.say(word)
    assert t("zh-CN", "records.nothing_to_move") in answer, answer
    assert "没看懂" not in answer
    assert await talk.state() == ""


@pytest.mark.parametrize("word", CANCEL_WORDS)
async def test_cancel_words_in_my_appointments_cancel(linli: Linli, word: str) -> None:
    talk = on_web(linli, "cancel-words-0001")
    ref = await book(talk, "预约社保卡补办")
    await talk.say("我的预约")
    question = await talk.say(word)
    assert ref in question, (word, question)
    yes = [
        label
        for label in talk.options
        if label in (t("zh-CN", "booking.cancel_yes"), t("en", "booking.cancel_yes"))
    ]
    assert yes, talk.options
    done = await talk.say(yes[0])
    assert ref in done
    assert (await _appointment(talk, ref)).status == "cancelled"


async def test_a_typo_of_cancel_on_a_card_cancels_that_one(talk: Talk) -> None:
    first = await book(talk, "预约社保卡补办")
    second = await book(talk, "预约居住登记")
    await talk.say(second.lower().replace("-", ""))
    question = await talk.say("取销预约")
    assert second in question and first not in question, question
    await talk.say(t("zh-CN", "booking.cancel_yes"))
    assert (await _appointment(talk, second)).status == "cancelled"
    assert (await _appointment(talk, first)).status != "cancelled"


async def test_words_that_say_more_are_not_taken_for_the_option(linli: Linli) -> None:
    talk = on_web(linli, "move-words-0005")
    await book(talk, "预约社保卡补办")
    await talk.say("我的预约")
    answer = await talk.say("居住证延期")  # about a permit, not this appointment
    assert not _days_of_move(answer), answer
    assert await _moving(talk) is None
    await talk.say("我的预约")
    answer = await talk.say("改约有次数限制吗")  # a question is answered, not acted on
    assert await _moving(talk) is None, answer
