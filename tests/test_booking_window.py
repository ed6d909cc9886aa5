"""The window: today's list, check-in, completion with a rating request, no-shows, ratings."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from bot.app import Linli
from bot.clock import ManualClock
from bot.outgoing import payload_replies
from models.booking import Appointment
from models.cases import Rating
from models.messaging import OutboxMessage
from tests.conftest import Chat, payloads
from tests.test_binding import staff_code

REF = re.compile(r"LCY-\d{8}-\d{4}")


async def book_today(chat: Chat) -> str:
    """Today's first free slot of 社保卡补办 (it is 10:00 on a Friday)."""
    days = await chat.press("book:svc:ss-card-reissue")
    assert payloads(days[0])[0].endswith(":20261127")
    slots = await chat.press(payloads(days[0])[0])
    confirm = await chat.press(payloads(slots[0])[0])
    done = await chat.press(payloads(confirm[0])[0])
    found = REF.search(done[0].text)
    assert found is not None
    return found.group()


async def clerk(linli: Linli) -> Chat:
    person = Chat(linli, user="clerk-s001")
    await person.send(f"绑定 {await staff_code(linli, 'S001')}")
    return person


async def test_check_in_complete_and_rate(linli: Linli, chat: Chat) -> None:
    ref = await book_today(chat)
    window = await clerk(linli)
    listing = await window.send("今日预约")
    assert ref in listing[0].text and "待办理" in listing[0].text
    typed = ref.lower().replace("-", "", 1)  # as a clerk types it: "lcy20261127-0001"
    assert "已签到" in (await window.send(f"签到 {typed}"))[0].text
    spaced = ref.replace("-", " ")  # or "LCY 20261127 0001"
    assert "已办结" in (await window.send(f"办结 {spaced}"))[0].text
    async with linli.sessions() as session:
        request = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "rating"))
        ).one()
        appointment = (await session.exec(select(Appointment))).one()
    buttons = payload_replies(request.payload, "zh-CN")[0]["buttons"]
    assert [b["label"] for b in buttons] == ["很满意", "满意", "一般", "时间长", "态度差", "业务差"]
    stranger = Chat(linli, user="someone-else")
    await stranger.send("我的")
    assert "没有记录" in (await stranger.press(buttons[5]["payload"]))[0].text
    thanks = await chat.press(buttons[0]["payload"])
    assert "感谢您的评价：很满意" in thanks[0].text
    assert "已经评价过" in (await chat.press(buttons[1]["payload"]))[0].text  # once only
    async with linli.sessions() as session:
        [rating] = (await session.exec(select(Rating))).all()
    assert rating.staff_id == appointment.served_by_staff_id is not None


async def test_no_show_only_after_the_time_and_it_limits_booking(
    linli: Linli, chat: Chat, clock: ManualClock
) -> None:
    ref = await book_today(chat)
    window = await clerk(linli)
    assert "不能进行这个操作" in (await window.send(f"未到 {ref}"))[0].text
    clock.advance(timedelta(hours=1))
    assert "已记为未到" in (await window.send(f"未到 {ref}"))[0].text
    second = await book_today(chat)
    clock.advance(timedelta(hours=1))
    await window.send(f"未到 {second}")
    days = await chat.press("book:svc:ss-flexible-enrol")
    slots = await chat.press(payloads(days[0])[0])
    confirm = await chat.press(payloads(slots[0])[0])
    refused = await chat.press(payloads(confirm[0])[0])
    assert "多次预约未到" in refused[0].text


async def test_residents_cannot_use_window_commands(linli: Linli, chat: Chat) -> None:
    ref = await book_today(chat)
    for typed in ("今日预约", f"签到 {ref}", f"办结 {ref}", f"未到 {ref}"):
        assert "没有听懂" in (await chat.send(typed))[0].text, typed
    async with linli.sessions() as session:
        appointment = (await session.exec(select(Appointment))).one()
    assert appointment.status == "booked"


async def test_unknown_reference_is_explained(linli: Linli) -> None:
    window = await clerk(linli)
    assert "没有找到预约号" in (await window.send("签到 LCY-20990101-0001"))[0].text
