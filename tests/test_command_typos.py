"""A chat word typed with a slip ("cancle", "mneu", "hlep") does what the word does when
nothing is under way, and answers in English; inside a flow it is read as the flow's answer."""

from __future__ import annotations

import pytest

from bot.app import Linli
from bot.i18n import misspelt_command, t
from bot.language import written_language
from tests.conftest import Chat


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("cancle", "cancel"),
        ("hlep", "menu"),
        ("mneu", "menu"),
        ("menue", "menu"),
        ("helo", "menu"),
        ("bookk", "book"),
        ("trak", "track"),
        ("raet", "rate"),
        ("feedbak", "rate"),
        ("apointments", "appointments"),
        ("englsih", "lang_en"),
        ("complant", "complaint"),
        ("humna", "human"),
    ],
)
def test_a_slip_is_read_as_its_command(typed: str, command: str) -> None:
    assert misspelt_command(typed) == command


@pytest.mark.parametrize(
    "typed",
    [
        "look",  # a word of its own, one letter from "book"
        "kind",  # and from "bind", which is never guessed anyway
        "bank",
        "meny",  # four letters: one changed is too far
        "unkind",  # "unbind" changes something at once: never guessed
        "needy",  # as close to "need" as to "needs": no single command
        "book",  # the word itself is no slip
        "tracking-number",
        "好的",
    ],
)
def test_words_that_are_no_slip_stay_unread(typed: str) -> None:
    assert misspelt_command(typed) is None


def test_a_slip_for_a_chat_word_shows_english_but_not_as_a_flow_answer() -> None:
    assert written_language("cancle") == "en"
    assert written_language("Tracy", answering=True) is None  # a name, one letter off "track"


async def test_a_new_resident_typing_cancle_is_answered_in_english(linli: Linli) -> None:
    replies = await Chat(linli, user="slip-cancel-01").send("cancle")
    assert replies[0].text == t("en", "menu.nothing_to_cancel")


@pytest.mark.parametrize("typed", ["mneu", "Hlep", "menue!"])
async def test_a_misspelt_menu_shows_the_menu(linli: Linli, typed: str) -> None:
    replies = await Chat(linli, user=f"slip-menu-{typed[:4]}").send(typed)
    assert replies[0].text.startswith("Hello! This is the Liucheng"), replies[0].text


async def test_inside_a_flow_a_slip_is_the_flows_answer(linli: Linli) -> None:
    chat = Chat(linli, user="slip-inflow-01")
    await chat.send("预约")
    replies = await chat.send("trak")
    assert all(reply.text != t("zh-CN", "cases.none") for reply in replies)
    assert all(reply.text != t("en", "cases.none") for reply in replies)
