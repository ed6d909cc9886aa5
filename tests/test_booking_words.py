"""Issue 18, item 5 (first part): "预约" inside a sentence books the service the sentence names."""

from __future__ import annotations

import zlib

import pytest

from bot.app import Linli
from bot.i18n import t
from tests.conftest import Chat


@pytest.mark.parametrize("channel", ["web", "wechat"])
@pytest.mark.parametrize(
    "sentence",
    ["我想预约办社保卡", "预约社保卡", "我要约一下社保卡补办", "帮我预约一下补办社保卡"],
)
async def test_the_service_named_is_booked_not_one_with_yuyue_in_its_title(
    linli: Linli, channel: str, sentence: str
) -> None:
    reply = await Chat(
        linli, user=f"yuyue-{zlib.crc32(sentence.encode()):010d}", channel=channel
    ).send(sentence)
    assert "社保卡补办" in reply[0].text, reply[0].text
    assert "体检" not in reply[0].text and "接种" not in reply[0].text


@pytest.mark.parametrize("channel", ["web", "wechat"])
async def test_wanting_to_book_without_a_service_opens_the_booking_menu(
    linli: Linli, channel: str
) -> None:
    reply = await Chat(linli, user="yuyue-menu-0001", channel=channel).send("我要预约")
    assert reply[0].text == t("zh-CN", "booking.choose_category"), reply[0].text


@pytest.mark.parametrize(
    ("typed", "number"),
    [("身份证510123195001011234", "51012319500101123"), ("电话13812345678", "13812345678")],
)
async def test_words_quoted_back_at_the_service_step_hide_personal_numbers(
    linli: Linli, typed: str, number: str
) -> None:
    """ "没有找到与“…”相关的服务" quoted the first 20 characters, an ID card's first 17 digits
    among them: the number is masked before the cut."""
    chat = Chat(linli, user=f"quoted-{number[:6]}")
    await chat.send("预约办事")
    replies = await chat.send(typed)
    assert number[:11] not in replies[0].text, replies[0].text
