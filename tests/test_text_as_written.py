"""Issue 18, item 7: text in traditional characters is understood (read through OpenCC for
matching; replies in simplified), and Chinese punctuation is kept as typed wherever text is
stored or echoed (only the matching copy is folded)."""

from __future__ import annotations

from sqlmodel import select

from bot.i18n import normalize_words, t
from models.cases import Case
from models.matching_text import matching_copy, simplified
from tests.talk import Talk, open_rig, platform, talk

__all__ = ["open_rig", "platform", "talk"]  # fixtures used by name


def test_the_matching_copy_is_simplified_and_folded_the_text_is_not() -> None:
    typed = "社保卡補辦要帶什麼證件？"
    assert simplified(typed) == "社保卡补办要带什么证件？"  # punctuation untouched
    assert matching_copy("ＡＢ  預約，謝謝") == "ab 预约,谢谢"
    assert typed == "社保卡補辦要帶什麼證件？"  # nothing changed what was typed
    assert normalize_words("菜單") == "菜单" and normalize_words("預約") == "预约"
    assert simplified("book a slot") == "book a slot"


async def test_traditional_characters_book_ask_and_command(talk: Talk) -> None:
    booking = await talk.say("我想預約辦社保卡")
    assert "社保卡补办" in booking and "補" not in booking
    answer = await talk.say("社保卡補辦要帶什麼？")
    assert "本人身份证原件" in answer  # answered, in simplified characters
    menu = await talk.say("預約")
    assert t("zh-CN", "booking.choose_category") in menu
    left = await talk.say("退出")
    assert t("zh-CN", "menu.cancelled") in left
    mine = await talk.say("取消我的預約")
    assert t("zh-CN", "booking.none") in mine


async def test_chinese_punctuation_is_kept_in_stored_and_echoed_text(talk: Talk) -> None:
    offer = await talk.say("小区路灯坏了，晚上很黑！")
    assert t("zh-CN", "ask.as_report") in offer
    await talk.say(t("zh-CN", "ask.as_report"))
    await talk.say("1")  # its category
    await talk.say("柳城花园3栋，东门口")  # its place
    async with talk.linli.sessions() as session:
        case = (await session.exec(select(Case))).one()
    assert case.summary == "小区路灯坏了，晚上很黑！"
    await talk.say("预约")
    echoed = await talk.say("火箭，发射")  # nothing by that name: the words are said back
    assert "火箭，发射" in echoed


async def test_a_move_typed_in_traditional_characters(talk: Talk) -> None:
    await talk.say("預約社保卡補辦")
    await talk.say("1")
    await talk.say("1")
    booked = await talk.say(t("zh-CN", "booking.yes"))
    assert "预约成功" in booked
    slots = await talk.say("改到週六")  # 週 is 周: the day is read, the reply is simplified
    assert "周六" in slots and "週" not in slots, slots
