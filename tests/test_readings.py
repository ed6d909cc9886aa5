"""Issue 19, item 3: when the trained model is not sure what a message wants, the bot offers its
likeliest readings instead of guessing, and the one chosen (pressed, typed or its number on
WeChat) is acted on with the resident's own words; a sure reading still acts at once.

The data directory is a copy whose examples make one made-up word equally a need and a report,
so the model is unsure of it whatever the real examples say."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.config import Settings
from models.intent_model import Features
from models.intents import SURE_READING, Intent, by_rules, features, load_intent_model
from models.knowledge import load_knowledge
from models.lexicon import load_lexicon
from models.service_match import load_service_catalogue
from tests.conftest import DATA, Chat, labels, payloads
from tests.wechat_fixtures import WeChatRig, open_rig, platform

__all__ = ["open_rig", "platform"]  # fixtures used by name

WORD = "咕噜咕噜咕噜吗"  # 吗: a listed word, so the rules saw something
ENGLISH_WORD = "zorblax zorblax?"
AMBIGUOUS = "".join(
    f'\n[[messages]]\ntext = "{word}{n}"\nkind = "fragment"\nintent = "{intent}"\n'
    for word in (WORD, ENGLISH_WORD)
    for n in range(4)
    for intent in ("need", "report")
)


def ambiguous_data(tmp_path: Path) -> Path:
    """A copy of data/ with examples that leave the made-up word between a need and a report."""
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / "examples" / "zz_ambiguous.toml").write_text(AMBIGUOUS, encoding="utf-8")
    return data


@pytest.fixture
async def unsure(db_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Linli]:
    """Linli whose model cannot tell the made-up word's need from its report."""
    data = ambiguous_data(tmp_path)
    linli = build_linli(Settings(database_url=db_url, data_dir=data, secret_key="s"), clock=clock)
    yield linli
    await linli.close()


async def test_the_model_is_unsure_of_the_word(unsure: Linli) -> None:
    model = load_intent_model(Path(unsure.settings.data_dir))
    assert model is not None
    readings = dict(model.readings(_read(unsure, WORD)))
    assert readings["need"] < SURE_READING and readings["report"] < SURE_READING, readings
    assert abs(sum(readings.values()) - 1.0) < 1e-6


def _read(linli: Linli, text: str) -> Features:
    data = Path(linli.settings.data_dir)
    lexicon = load_lexicon(data)
    knowledge = load_knowledge(data)
    ruled = by_rules(text, lexicon, knowledge, load_service_catalogue(data))
    return features(text, ruled, lexicon, knowledge)


async def test_unsure_offers_the_readings_and_acts_on_the_one_pressed(unsure: Linli) -> None:
    chat = Chat(unsure, user="unsure-web-0001")
    offer = (await chat.send(WORD))[0]
    assert "不太确定" in offer.text, offer.text
    assert {"ask:as:need", "ask:as:report"} <= set(payloads(offer)), payloads(offer)
    assert "转人工" in labels(offer)  # a person is always one of the ways out
    chosen = (await chat.press("ask:as:need"))[0]
    assert "需求" in chosen.text, chosen.text  # the need flow, with the words kept


@pytest.mark.parametrize("typed", [True, False])
async def test_a_chosen_reading_goes_straight_to_its_flow(unsure: Linli, typed: bool) -> None:
    chat = Chat(unsure, user=f"unsure-web-typed-{typed}")
    await chat.send(WORD)
    said = (await (chat.send("上报问题给网格员") if typed else chat.press("ask:as:report")))[0]
    assert "不太确定" not in said.text and "哪一类问题" in said.text, said.text  # its category
    assert "还是作为一条需求" not in said.text  # chosen already: no second question


async def test_in_english_the_readings_are_english(unsure: Linli) -> None:
    chat = Chat(unsure, user="unsure-web-0003")
    offer = (await chat.send(ENGLISH_WORD, lang="en"))[0]
    assert "not sure what you mean" in offer.text, offer.text
    assert "Suggest something the community needs" in labels(offer)


async def test_a_stale_reading_is_answered_politely(unsure: Linli) -> None:
    said = (await Chat(unsure, user="unsure-web-0004").press("ask:as:need"))[0]
    assert "失效" in said.text, said.text


async def test_a_reading_that_is_not_offered_is_refused(unsure: Linli) -> None:
    chat = Chat(unsure, user="unsure-web-0005")
    await chat.send(WORD)
    said = (await chat.press("ask:as:abuse"))[0]  # forged: never offered
    assert "不太确定" not in said.text and "网格" not in said.text, said.text


async def test_a_sure_reading_still_acts_at_once(unsure: Linli) -> None:
    chat = Chat(unsure, user="unsure-web-0006")
    said = (await chat.send("社保卡丢了怎么补办？"))[0]
    assert "不太确定您的意思" not in said.text and "4号窗口" in said.text, said.text


async def test_on_wechat_the_number_chooses(open_rig: object, tmp_path: Path) -> None:
    rig: WeChatRig = await open_rig(data_dir=ambiguous_data(tmp_path))  # type: ignore[operator]
    offer = (await rig.post(rig.server.text(WORD)))["Content"]
    assert "不太确定" in offer and "提一个需求" in offer, offer
    number = next(
        line.split(".")[0].strip()
        for line in offer.splitlines()
        if "提一个需求" in line and "." in line
    )
    chosen = (await rig.post(rig.server.text(number)))["Content"]
    assert "需求" in chosen and "不太确定" not in chosen, chosen


def test_only_requests_are_offered() -> None:
    from handlers.inquiry import OFFERED_READINGS

    assert Intent.ABUSE not in OFFERED_READINGS and Intent.UNKNOWN not in OFFERED_READINGS
    assert Intent.REFERENCE not in OFFERED_READINGS


async def test_a_reading_offered_for_other_words_is_refused(unsure: Linli) -> None:
    chat = Chat(unsure, user="unsure-web-0008")
    await chat.send(WORD)
    said = (await chat.press("ask:as:complaint"))[0]  # a reading, but not one offered here
    assert "失效" in said.text and "投诉" not in said.text, said.text


async def test_the_report_or_need_question_is_not_reachable_by_a_forged_press(
    unsure: Linli,
) -> None:
    chat = Chat(unsure, user="unsure-web-0009")
    await chat.send("社保卡丢了怎么补办？")  # a question answered: nothing offered as a report
    said = (await chat.press("ask:report"))[0]
    assert "失效" in said.text and "哪一类问题" not in said.text, said.text
