"""Issue 18, matching fixes: one reader of days and times (a move says "改到5点半" as well as
"改到下周六"), the matching words in data/intents.toml (a word added there takes effect), the
database's active services as what is offered, "都不是" at the booking step, and a paused flow
still offered after a second question."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import build_linli
from bot.clock import ManualClock
from bot.config import Settings
from bot.i18n import t
from models.base import SHANGHAI
from models.booking import Appointment
from models.intents import Intent, load_lexicon, understand
from models.knowledge import load_knowledge
from models.service_match import load_service_catalogue
from models.services import Service
from tests.conftest import DATA, Chat
from tests.talk import Talk, open_rig, platform, talk
from tests.test_records_in_flow import book

__all__ = ["open_rig", "platform", "talk"]  # fixtures used by name

MOVES = ("改到5点半", "改到下周六", "改到明天下午", "改到下午", "帮我改到10:30")


def _intent(text: str, data: Path = DATA) -> Intent:
    return understand(
        text, load_lexicon(data), load_knowledge(data), load_service_catalogue(data)
    ).intent


@pytest.mark.parametrize("text", MOVES)
def test_a_move_names_its_day_or_time_as_booking_reads_it(text: str) -> None:
    assert _intent(text) is Intent.MOVE_BOOKING


def test_move_words_without_a_day_or_time_are_no_move() -> None:
    assert _intent("改到那个地方") is not Intent.MOVE_BOOKING


@pytest.mark.parametrize(
    ("text", "shown_day"),
    [("改到5点半", "17:30"), ("改到下周六", "12月5日（周六）"), ("改到明天下午", "11月28日")],
)
async def test_a_move_typed_moves_the_appointment(talk: Talk, text: str, shown_day: str) -> None:
    ref = await book(talk, "预约社保卡补办")  # on Friday 27 November
    shown = await talk.say(text)
    assert shown_day in shown and t("zh-CN", "booking.choose_category") not in shown, shown
    if text == "改到5点半":  # the time alone: that day, straight to the confirm question
        assert t("zh-CN", "booking.confirm_move", service="社保卡补办", when="")[:6] in shown
        done = await talk.say(t("zh-CN", "booking.yes"))
        assert ref in done and "改约成功" in done, done
        async with talk.linli.sessions() as session:
            moved = (await session.exec(select(Appointment))).one()  # moved, not booked twice
        assert moved.starts_at.astimezone(SHANGHAI).strftime("%H:%M") == "17:30"


async def _deactivate(talk: Talk, *codes: str) -> None:
    async with talk.linli.sessions() as session:
        for service in (
            await session.exec(select(Service).where(col(Service.code).in_(codes)))
        ).all():
            service.active = False
            session.add(service)
        await session.commit()


async def test_a_service_deactivated_in_the_database_is_never_offered(talk: Talk) -> None:
    before = await talk.say("社保卡补办要带什么")
    assert t("zh-CN", "ask.book_this") in before
    await talk.say("菜单")
    await _deactivate(talk, "ss-card-reissue", "fl-residence-permit-apply")
    shown = await talk.say("预约社保卡补办")
    assert t("zh-CN", "booking.choose_category") in shown  # the categories, not its days
    assert await talk.state() == "booking.service"
    answer = await talk.say("社保卡补办要带什么")
    assert "本人身份证原件" in answer  # still answered …
    assert t("zh-CN", "ask.book_this") not in answer  # … but not offered to book
    several = await talk.say("我想预约居住证")
    assert "居住证签注" in several and "居住证办理" not in several, several
    await talk.say("菜单")
    await talk.say("预约")
    typed = await talk.say("居住证")
    assert "居住证办理" not in typed and "居住证签注" in typed, typed


async def test_several_services_at_the_booking_step_offer_none_of_these(talk: Talk) -> None:
    await talk.say("预约")
    several = await talk.say("居住证")
    assert "居住证办理" in several and "居住证签注" in several
    assert t("zh-CN", "match.none_of_these") in several
    categories = await talk.say(t("zh-CN", "match.none_of_these"))
    assert t("zh-CN", "booking.choose_category") in categories


async def test_a_second_question_still_offers_the_paused_booking(talk: Talk) -> None:
    await talk.say("预约社保卡补办")
    slots = await talk.say("1")
    assert "10:30" in slots
    first = await talk.say("社保卡补办要带什么")
    assert t("zh-CN", "flow.resume_booking") in first
    second = await talk.say("社保卡补办要多久")
    assert t("zh-CN", "flow.resume_booking") in second, second
    third = await talk.say("周末能办什么")  # the weekend question keeps it too
    assert t("zh-CN", "flow.resume_booking") in third, third
    resumed = await talk.say(t("zh-CN", "flow.resume_booking"))
    assert t("zh-CN", "flow.resumed") in resumed
    assert await talk.state() == "booking.day"
    confirm = await talk.say("1")
    assert t("zh-CN", "booking.yes") in confirm


def _with_word(tmp_path: Path, kind: str, word: str) -> Path:
    """A copy of data/ with one more word in a list of intents.toml."""
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    path = data / "intents.toml"
    text = path.read_text(encoding="utf-8")
    assert f"\n{kind} = [" in text
    path.write_text(text.replace(f"\n{kind} = [", f'\n{kind} = ["{word}", ', 1), encoding="utf-8")
    return data


async def test_a_weekend_word_added_to_the_data_takes_effect(
    db_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    question = "休息日能办什么"
    for data, weekend in ((DATA, False), (_with_word(tmp_path, "weekend", "休息日"), True)):
        linli = build_linli(
            Settings(database_url=db_url, data_dir=data, secret_key="test-secret"), clock=clock
        )
        try:
            replies = await Chat(linli).send(question)
        finally:
            await linli.close()
        shown = "\n".join(r.text for r in replies)
        assert (t("zh-CN", "weekend.intro", count=0, holiday_hours="")[:8] in shown) is weekend


def test_matching_words_added_to_the_data_take_effect(tmp_path: Path) -> None:
    data = _with_word(tmp_path, "move_booking", "调到")
    assert _intent("调到下周六") is not Intent.MOVE_BOOKING
    assert _intent("调到下周六", data) is Intent.MOVE_BOOKING
    # A word that names no service: with 社保 as filler, "社保" alone names nothing.
    filler = _with_word(tmp_path / "f", "filler", "社")
    assert load_service_catalogue(DATA).rank("社保") != []
    assert load_service_catalogue(filler).rank("社保") == []


async def test_a_time_alone_moves_within_the_appointments_own_day(talk: Talk) -> None:
    await talk.say("预约社保卡补办")  # on Friday 27 November
    await talk.say("4")  # Monday 30 November
    await talk.say("1")
    done = await talk.say(t("zh-CN", "booking.yes"))
    assert "11月30日" in done, done
    shown = await talk.say("改到5点半")
    assert "11月30日（周一）17:30" in shown, shown  # not today's 17:30
