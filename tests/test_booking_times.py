"""Issue 18, item 1: a typed time works at every step of booking, after work and at weekends
too, and in one sentence with the service and the day ("我想明天下午5点去办社保卡补办").

The clock stands at Friday 27 November 2026, 10:00: tomorrow is a Saturday (09:00–12:00),
next Monday (30 November) a working day (08:00–18:00)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import select

from bot.app import Linli
from bot.dates import without_when
from bot.i18n import t
from models.base import SHANGHAI
from models.booking import BookingSlot
from models.services import Service
from tests.conftest import Chat, labels, payloads
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

CHANNELS = pytest.mark.parametrize("channel", ["web", "wechat"])
MONDAY = "book:day:ss-card-reissue:20261130"


async def _monday_chosen(linli: Linli, user: str, channel: str) -> Chat:
    chat = Chat(linli, user=user, channel=channel)
    await chat.press("book:svc:ss-card-reissue")
    slots = await chat.press(MONDAY)
    assert "11月30日" in slots[0].text
    return chat


async def _confirmed_at(chat: Chat, text: str) -> str:
    """The confirm question a typed text leads to, with its confirm button's slot checked."""
    reply = await chat.send(text)
    assert payloads(reply[0])[0].startswith("book:ok:"), reply[0].text
    return reply[0].text


@CHANNELS
@pytest.mark.parametrize("typed", ["下午5点半", "5点半", "17:30", "下班后5点半", "5:30 pm"])
async def test_a_typed_time_after_choosing_the_day_asks_to_confirm_that_slot(
    linli: Linli, channel: str, typed: str
) -> None:
    chat = await _monday_chosen(linli, f"typed-{channel}-{typed}", channel)
    text = await _confirmed_at(chat, typed)
    assert "11月30日（周一）17:30" in text, text


@CHANNELS
async def test_after_work_lists_the_last_hour_of_the_chosen_day(linli: Linli, channel: str) -> None:
    chat = await _monday_chosen(linli, f"evening-{channel}", channel)
    evening = await chat.send("傍晚")
    times = [label[:5] for label in labels(evening[0])]
    assert times == ["17:00", "17:30"], evening[0].text


@CHANNELS
async def test_another_day_and_part_typed_in_the_day_step(linli: Linli, channel: str) -> None:
    chat = await _monday_chosen(linli, f"tomorrow-evening-{channel}", channel)
    saturday = await chat.send("明天傍晚")  # Saturday: open 09:00–12:00 only
    assert "11月28日（周六）" in saturday[0].text and "09:00–12:00" in saturday[0].text
    offered = [label[:5] for label in labels(saturday[0]) if label[:2].isdigit()]
    assert offered == ["10:30", "11:00", "11:30"]  # the nearest to the evening, in order


@CHANNELS
async def test_a_time_outside_the_hours_is_answered_with_the_hours(
    linli: Linli, channel: str
) -> None:
    chat = await _monday_chosen(linli, f"outside-{channel}", channel)
    late = await chat.send("晚上8点")
    assert late[0].text.startswith(
        t("zh-CN", "booking.time_outside", date="11月30日", weekday="周一", hours="", time="")[:7]
    )
    assert "08:00–18:00" in late[0].text and "20:00" in late[0].text, late[0].text
    assert "17:30" in " ".join(labels(late[0]))  # the nearest times still on offer


@CHANNELS
async def test_a_time_typed_at_the_service_step_finds_its_day(linli: Linli, channel: str) -> None:
    chat = Chat(linli, user=f"service-step-{channel}", channel=channel)
    await chat.press("book:svc:ss-card-reissue")
    text = await _confirmed_at(chat, "下午5点半")
    assert "11月27日（周五）17:30" in text, text  # today still has its after-work slots


@CHANNELS
@pytest.mark.parametrize(
    ("sentence", "when"),
    [
        ("我想下周一下午5点去办社保卡补办", "11月30日（周一）17:00"),
        ("下周一5点半办社保卡补办", "11月30日（周一）17:30"),
        ("周六上午9点办社保卡补办", "11月28日（周六）09:00"),
    ],
)
async def test_service_day_and_time_in_one_sentence_go_straight_to_confirm(
    linli: Linli, channel: str, sentence: str, when: str
) -> None:
    chat = Chat(linli, user=f"sentence-{channel}-{when}", channel=channel)
    text = await _confirmed_at(chat, sentence)
    assert "社保卡补办" in text and when in text, text
    done = await chat.send(t("zh-CN", "booking.yes"))
    assert "预约成功" in done[0].text and when in done[0].text


@CHANNELS
async def test_one_sentence_at_a_time_the_day_has_not_offers_that_days_nearest(
    linli: Linli, channel: str
) -> None:
    chat = Chat(linli, user=f"sentence-saturday-{channel}", channel=channel)
    reply = await chat.send("我想明天下午5点去办社保卡补办")
    assert "11月28日（周六）" in reply[0].text and "09:00–12:00" in reply[0].text
    assert "17:00" in reply[0].text, reply[0].text  # says which time is not on offer
    assert [label[:5] for label in labels(reply[0]) if label[:2].isdigit()] == [
        "10:30",
        "11:00",
        "11:30",
    ]


async def test_in_english_too(linli: Linli) -> None:
    chat = Chat(linli, user="sentence-en-0001")
    text = await _confirmed_at(chat, "social security card replacement next Monday 5pm")
    assert "Mon 30 Nov" in text and "17:00" in text, text
    await chat.press(MONDAY)
    text = await _confirmed_at(chat, "5:30 pm")
    assert "17:30" in text
    await chat.press(MONDAY)
    evening = await chat.send("after work")
    assert [label[:5] for label in labels(evening[0])] == ["17:00", "17:30"], evening[0].text
    assert "after work" in evening[0].text  # the page says a time can be typed
    saturday = await chat.send("tomorrow 5pm")
    assert "09:00–12:00" in saturday[0].text and "Sat 28 Nov" in saturday[0].text


async def _fill(linli: Linli, day: date, hour: int, minute: int) -> int:
    """Every place of the ss-card-reissue slot at that time taken; its id."""
    starts = datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)
    async with linli.sessions() as session:
        service = (
            await session.exec(select(Service).where(Service.code == "ss-card-reissue"))
        ).one()
        slot = (
            await session.exec(
                select(BookingSlot).where(
                    BookingSlot.service_id == service.id, BookingSlot.starts_at == starts
                )
            )
        ).one()
        slot.booked = slot.capacity
        session.add(slot)
        await session.commit()
        return slot.id or 0


@CHANNELS
async def test_a_typed_time_that_is_fully_booked_offers_the_waitlist(
    linli: Linli, channel: str
) -> None:
    chat = await _monday_chosen(linli, f"full-{channel}", channel)  # the day's slots are made
    slot_id = await _fill(linli, date(2026, 11, 30), 17, 30)
    reply = await chat.send("下午5点半")
    assert reply[0].text.startswith("11月30日（周一）您要的时间已经约满了"), reply[0].text
    assert payloads(reply[0])[0] == f"book:wait:{slot_id}"
    nearest = [label[:5] for label in labels(reply[0])[1:4]]
    assert nearest == ["16:00", "16:30", "17:00"], nearest
    waiting = await chat.send(t("zh-CN", "booking.wait"))  # typed, as on WeChat
    assert waiting[0].text.startswith("已为您排队候补"), waiting[0].text
    assert "17:30" in waiting[0].text


async def test_the_whole_after_work_booking_on_wechat(rig: WeChatRig) -> None:
    shown = await rig.post(rig.server.text("我想下周一下午5点半去办社保卡补办"))
    assert "11月30日（周一）17:30" in shown["Content"], shown["Content"]
    done = await rig.post(rig.server.text("1"))
    assert "预约成功" in done["Content"] and "17:30" in done["Content"], done["Content"]


async def test_a_time_after_a_pressed_day_on_wechat(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("预约社保卡补办"))
    await rig.post(rig.server.text("下周一"))
    confirm = await rig.post(rig.server.text("傍晚5点半"))
    assert "11月30日（周一）17:30" in confirm["Content"], confirm["Content"]


def test_the_when_words_are_left_out_of_what_is_named() -> None:
    assert without_when("我想明天下午5点去办社保卡补办") == "我想去办社保卡补办"
    assert without_when("social security card replacement next Monday 5pm") == (
        "social security card replacement"
    )
    assert without_when("下周二傍晚") == ""


@CHANNELS
async def test_a_part_of_the_name_in_one_sentence_is_enough(linli: Linli, channel: str) -> None:
    chat = Chat(linli, user=f"sentence-partial-{channel}", channel=channel)
    text = await _confirmed_at(chat, "我想下周一下午5点去办社保卡")
    assert "社保卡补办" in text and "11月30日（周一）17:00" in text, text


async def test_a_sentence_in_another_flow_of_own_words_is_left_to_it(linli: Linli) -> None:
    chat = Chat(linli, user="sentence-in-need-0001")
    await chat.send("需求")
    reply = await chat.send("我想明天下午5点去办社保卡补办")
    assert not any(p.startswith(("book:ok:", "book:slot:")) for p in payloads(reply[0]))


@CHANNELS
async def test_traditional_characters_too(linli: Linli, channel: str) -> None:
    chat = Chat(linli, user=f"sentence-traditional-{channel}", channel=channel)
    text = await _confirmed_at(chat, "我想下週一下午5點半去辦社保卡補辦")
    assert "11月30日（周一）17:30" in text, text
