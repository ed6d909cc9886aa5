"""An outside walkthrough (issue 22's session): "看看我的预约" got "确定取消预约…吗？" and the
resident's "好的" cancelled it; "我约了什么" started a new booking; a 确定取消 left on screen
cancelled the booking after it had been moved. Asking to see one's appointments in one's own
words lists them, each with its options; only words that say to cancel ask to cancel; a cancel
answer for a time that has since changed asks again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import Linli
from bot.clock import ManualClock
from bot.config import Settings
from models.booking import Appointment, AppointmentStatus
from models.intents import asks_for_appointments, fold, load_lexicon
from tests.conftest import Chat, payloads
from tests.test_booking_chat import REF
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

ASKING_TO_SEE = [
    "我的预约有哪些",
    "看看我的预约",
    "我约了什么",
    "查一下我的预约",
    "我约了哪天来着",
    "what did I book?",
    "show my bookings",
    "我的预约是几点",
    "我的预约什么时候",
    "what time is my appointment",
]


async def book_next_day(chat: Chat) -> str:
    """An appointment on the second day offered, so that an hour later it is still to come."""
    days = await chat.press("book:svc:ss-card-reissue")
    slots = await chat.press(payloads(days[0])[1])
    confirm = await chat.press(payloads(slots[0])[0])
    found = REF.search((await chat.press(payloads(confirm[0])[0]))[0].text)
    assert found is not None
    return found.group()


async def appointments(linli: Linli) -> list[Appointment]:
    async with linli.sessions() as session:
        return list((await session.exec(select(Appointment))).all())


async def test_asking_to_see_ones_appointments_lists_them_and_cancels_nothing(
    linli: Linli, clock: ManualClock
) -> None:
    chat = Chat(linli, user="seeing-0001")
    ref = await book_next_day(chat)
    clock.advance(timedelta(hours=1))  # no longer "just booked"
    for words in ASKING_TO_SEE:
        shown = await chat.send(words)
        every = [p for reply in shown for p in payloads(reply)]
        text = "\n".join(reply.text for reply in shown)
        assert ref in text, (words, text)
        assert f"book:cancel:{ref}" in every and f"book:move:{ref}" in every, words
        assert not any(p.startswith("book:cancelled:") for p in every), words
        await chat.send("好的")  # a reflexive yes under the list cancels nothing
        assert [a.status for a in await appointments(linli)] == [AppointmentStatus.BOOKED]


@pytest.mark.parametrize("words", ["取消我的预约", "不去了", "cancel my booking"])
async def test_words_that_say_cancel_still_ask_to_cancel(
    linli: Linli, clock: ManualClock, words: str
) -> None:
    chat = Chat(linli, user=f"cancelling-{len(words):04d}")
    ref = await book_next_day(chat)
    clock.advance(timedelta(hours=1))
    asked = await chat.send(words)
    assert any(p.startswith(f"book:cancelled:{ref}:") for p in payloads(asked[0])), asked[0].text


async def test_a_cancel_answer_for_a_time_since_moved_asks_again(linli: Linli) -> None:
    chat = Chat(linli, user="moved-then-0001")
    ref = await book_next_day(chat)
    asked = await chat.press(f"book:cancel:{ref}")
    stale = payloads(asked[0])[0]
    days = await chat.press(f"book:move:{ref}")
    slots = await chat.press(payloads(days[0])[2])  # another day
    confirm = await chat.press(payloads(slots[0])[0])
    assert "改约成功" in (await chat.press(payloads(confirm[0])[0]))[0].text
    again = await chat.press(stale)
    assert "时间已经改过了" in again[0].text and "确定取消" in again[0].text
    [appointment] = await appointments(linli)
    assert appointment.status == AppointmentStatus.BOOKED
    await chat.press(payloads(again[0])[0])  # the question for the time as it is now
    [appointment] = await appointments(linli)
    assert appointment.status == AppointmentStatus.CANCELLED


async def test_on_wechat_typed_words_list_the_appointments(rig: WeChatRig) -> None:
    for words in ("预约办事", "社会保障科", "社保卡补办", "2", "1", "确认"):  # the second day
        await rig.post(rig.server.text(words))
    [appointment] = await appointments(rig.linli)
    rig.linli.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    shown = (await rig.post(rig.server.text("看看我的预约")))["Content"]
    assert appointment.ref in shown and "确定取消" not in shown, shown
    await rig.post(rig.server.text("好的"))
    [appointment] = await appointments(rig.linli)
    assert appointment.status == AppointmentStatus.BOOKED


@pytest.mark.parametrize(
    "words",
    [
        "book my appointment for residence permit",
        "I'd like to book my appointment",
        "看看预约居住证",
        "查一下预约社保卡补办还有没有号",
        "我的预约迟到了怎么办",
        "Is there parking for my appointment?",
    ],
)
def test_words_with_more_besides_ask_something_else(settings: Settings, words: str) -> None:
    """A review: with these, the listing words took over a booking or a question."""
    assert not asks_for_appointments(fold(words), load_lexicon(Path(settings.data_dir)))


async def test_the_appointment_whose_cancel_question_is_on_screen_is_the_one_meant(
    linli: Linli, clock: ManualClock
) -> None:
    """A review: the cancel answer's payload carries a minute, and "the appointment in view"
    read it as part of the reference, so "取消这个预约" asked which of two again."""
    chat = Chat(linli, user="two-booked-0001")
    first = await book_next_day(chat)
    days = await chat.press("book:svc:fl-residence-permit-apply")
    slots = await chat.press(payloads(days[0])[1])
    confirm = await chat.press(payloads(slots[0])[0])
    await chat.press(payloads(confirm[0])[0])
    clock.advance(timedelta(hours=1))
    await chat.press(f"book:cancel:{first}")
    asked = await chat.send("取消这个预约")
    assert any(p.startswith(f"book:cancelled:{first}:") for p in payloads(asked[0])), asked[0].text
