"""Issue 19, item 4: staff add an FAQ entry or a word in data/ and it answers from the next
message on, without code changes or a restart."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import models.data_files
from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.config import Settings
from tests.conftest import DATA, Chat
from tests.test_typed_labels import _confirm_step

NEW_FAQ = """

[[faq]]
code = "gen-shared-bikes"
department = "masswork"
question_zh = "共享单车乱停放找谁？"
answer_zh = "共享单车乱停放可以告诉网格员，或拨打街道电话，城管中队会通知运营企业清运。"
question_en = "Who deals with badly parked shared bikes?"
answer_en = "Tell your grid worker or call the office; the city team has the operator move them."
keywords = ["共享单车", "单车乱停"]
"""


@pytest.fixture
async def editable(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> AsyncIterator[Linli]:
    """Linli on a copy of data/ that the test may edit, noticing edits at once."""
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    monkeypatch.setattr(models.data_files, "CHECK_SECONDS", 0.0)
    settings = Settings(database_url=db_url, data_dir=data, secret_key="test-secret")
    linli = build_linli(settings, clock=clock)
    yield linli
    await linli.close()


async def test_a_new_faq_entry_answers_at_once(editable: Linli) -> None:
    chat = Chat(editable, user="asks-about-bikes")
    before = (await chat.send("小区门口共享单车乱停放找谁管？"))[0].text
    assert "城管中队" not in before
    faq = Path(editable.settings.data_dir) / "faq.toml"
    faq.write_text(faq.read_text(encoding="utf-8") + NEW_FAQ, encoding="utf-8")
    after = (await chat.send("小区门口共享单车乱停放找谁管？"))[0].text
    assert "城管中队" in after, after


async def test_an_english_phrasing_of_an_entry_answers_at_once(editable: Linli) -> None:
    chat = Chat(editable, user="asks-in-english")
    asked = "rental scooters dumped by my gate, who clears them"
    faq = Path(editable.settings.data_dir) / "faq.toml"
    english = 'alt_questions_en = ["rental scooters dumped by my gate who clears them"]\n'
    faq.write_text(faq.read_text(encoding="utf-8") + NEW_FAQ + english, encoding="utf-8")
    replies = await chat.send(asked, lang="en")
    said = " ".join([r.text for r in replies] + [b.label for r in replies for b in r.buttons])
    assert "shared bikes" in said or "共享单车" in said, said


async def test_a_new_word_counts_at_once(editable: Linli) -> None:
    chat = Chat(editable, user="asks-for-a-person")
    assert "转接" not in (await chat.send("摇个人来"))[0].text
    intents = Path(editable.settings.data_dir) / "intents.toml"
    text = intents.read_text(encoding="utf-8").replace('"转人工",', '"转人工", "摇个人来",', 1)
    intents.write_text(text, encoding="utf-8")
    handed = (await chat.send("摇个人来"))[0].text
    assert "LC-" in handed, handed  # a person was asked for, and the question kept as a case


async def test_a_new_agreeing_word_confirms_at_once(editable: Linli) -> None:
    chat = Chat(editable, user="says-zhong")
    shown = await _confirm_step(chat)
    assert shown[0] == "确认"
    assert "还没有预约成功" in (await chat.send("中嘞"))[0].text  # not an agreeing word yet
    intents = Path(editable.settings.data_dir) / "intents.toml"
    text = intents.read_text(encoding="utf-8").replace(
        '"确认", "确定",', '"确认", "中嘞", "确定",', 1
    )
    intents.write_text(text, encoding="utf-8")
    assert (await chat.send("中嘞"))[0].text.startswith("预约成功")
