"""'cancel my appointment' (and '取消 预约') cancels an appointment after asking, on the web chat
and on WeChat; a bare 'cancel' still only leaves the flow."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.app import Linli
from bot.clock import ManualClock
from bot.i18n import t
from handlers.booking import RECENT_BOOKING
from models.booking import Appointment, AppointmentStatus
from tests.conftest import Chat, payloads
from tests.test_typed_labels import _confirm_step
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name


async def statuses(linli: Linli) -> list[AppointmentStatus]:
    async with linli.sessions() as session:
        return [a.status for a in (await session.exec(select(Appointment))).all()]


@pytest.mark.parametrize("words", ["cancel my appointment", "cancel booking", "取消 预约"])
async def test_cancel_with_a_booking_word_asks_and_cancels(linli: Linli, words: str) -> None:
    chat = Chat(linli, user=f"canceller-{len(words)}")
    shown = await _confirm_step(chat)
    await chat.send(shown[0])
    asked = await chat.send(words)
    assert any(p.startswith("book:cancelled:") for p in payloads(asked[0])), asked[0].text
    assert await statuses(linli) == [AppointmentStatus.BOOKED]  # nothing yet: it asks first
    await chat.press(payloads(asked[0])[0])
    assert await statuses(linli) == [AppointmentStatus.CANCELLED]


async def test_a_bare_cancel_only_leaves_the_flow(linli: Linli) -> None:
    chat = Chat(linli, user="leaver-0001")
    await chat.send("预约")
    assert (await chat.send("取消"))[0].text.startswith("已取消")


async def test_on_wechat_cancel_my_appointment_asks_first(rig: WeChatRig) -> None:
    for words in ("预约办事", "社会保障科", "社保卡补办", "1", "1", "确认"):
        await rig.post(rig.server.text(words))
    assert await statuses(rig.linli) == [AppointmentStatus.BOOKED]
    asked = (await rig.post(rig.server.text("cancel my appointment")))["Content"]
    assert "LCY-" in asked and "1. " in asked, asked
    await rig.post(rig.server.text("1"))
    assert await statuses(rig.linli) == [AppointmentStatus.CANCELLED]


@pytest.mark.parametrize("answer", ["好的", "确定", "是的", "yes"])
async def test_agreeing_at_the_cancel_question_cancels(linli: Linli, answer: str) -> None:
    chat = Chat(linli, user=f"cancel-agree-{len(answer)}")
    shown = await _confirm_step(chat)
    await chat.send(shown[0])
    await chat.send("取消我的预约")
    await chat.send(answer)
    assert await statuses(linli) == [AppointmentStatus.CANCELLED]


async def test_cancel_with_nothing_under_way_says_how_to_cancel_an_appointment(
    linli: Linli,
) -> None:
    told = (await Chat(linli, user="idle-canceller").send("取消"))[0].text
    assert "没有正在办理的事项" in told and "取消预约" in told


@pytest.mark.parametrize("words", ["cancel it", "Cancel that!", "取消这个"])
async def test_cancel_it_with_nothing_under_way_asks_about_the_booking(
    linli: Linli, words: str
) -> None:
    chat = Chat(linli, user=f"pointer-{len(words):04d}")
    shown = await _confirm_step(chat)
    await chat.send(shown[0])
    await chat.send("菜单")  # the booking is done and nothing is under way
    asked = await chat.send(words)
    assert any(p.startswith("book:cancelled:") for p in payloads(asked[0])), asked[0].text
    assert await statuses(linli) == [AppointmentStatus.BOOKED]  # it asks first


async def test_cancel_it_without_a_booking_says_there_is_none(linli: Linli) -> None:
    told = (await Chat(linli, user="pointer-none").send("cancel it"))[0].text
    assert "no upcoming appointments" in told


async def test_a_bare_cancel_right_after_booking_asks_about_that_booking(linli: Linli) -> None:
    chat = Chat(linli, user="cancel-just-booked")
    shown = await _confirm_step(chat)
    await chat.send(shown[0])  # booked; nothing is under way now
    asked = await chat.send("取消")
    assert any(p.startswith("book:cancelled:") for p in payloads(asked[0])), asked[0].text
    assert await statuses(linli) == [AppointmentStatus.BOOKED]  # a question, nothing done
    await chat.press(payloads(asked[0])[0])
    assert await statuses(linli) == [AppointmentStatus.CANCELLED]


async def test_a_bare_cancel_long_after_booking_says_nothing_is_under_way(
    linli: Linli, clock: ManualClock
) -> None:
    chat = Chat(linli, user="cancel-long-after")
    shown = await _confirm_step(chat)
    await chat.send(shown[0])
    clock.advance(RECENT_BOOKING + timedelta(minutes=1))
    replies = await chat.send("取消")
    assert replies[0].text == t("zh-CN", "menu.nothing_to_cancel")
    assert await statuses(linli) == [AppointmentStatus.BOOKED]
