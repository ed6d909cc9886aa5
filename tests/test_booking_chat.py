"""The booking conversation through the pipeline: choose, confirm, closed times, manage."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from bot.outgoing import payload_replies
from models.booking import Appointment, BookingSlot
from models.messaging import OutboxMessage
from scheduler.context import JobContext
from scheduler.waitlist import pass_on_expired_offers
from tests.conftest import Chat, labels, payloads

REF = re.compile(r"LCY-20261127-\d{4}")


async def book_first_slot(chat: Chat, service: str = "ss-card-reissue") -> str:
    days = await chat.press(f"book:svc:{service}")
    slots = await chat.press(payloads(days[0])[0])
    confirm = await chat.press(payloads(slots[0])[0])
    done = await chat.press(payloads(confirm[0])[0])
    found = REF.search(done[0].text)
    assert found is not None, done[0].text
    return found.group()


async def test_book_by_category_and_confirm(chat: Chat) -> None:
    start = await chat.send("预约")
    assert "book:cat:social_security" in payloads(start[0])
    services = await chat.press("book:cat:social_security")
    assert "book:svc:ss-card-reissue" in payloads(services[0])
    days = await chat.press("book:svc:ss-card-reissue")
    assert "本人身份证原件" in days[0].text
    assert payloads(days[0])[0] == "book:day:ss-card-reissue:20261127"  # today still has places
    slots = await chat.press("book:day:ss-card-reissue:20261128")  # Saturday morning service
    assert labels(slots[0])[0].startswith("09:00")
    assert all(label < "12" for label in labels(slots[0]))
    confirm = await chat.press(payloads(slots[0])[0])
    assert "11月28日（周六）09:00" in confirm[0].text
    done = await chat.press(payloads(confirm[0])[0])
    assert REF.search(done[0].text) and "请携带" in done[0].text
    assert done[0].link is not None and "/ics/LCY-20261127-" in done[0].link.url


async def test_a_typed_partial_name_finds_the_service(chat: Chat) -> None:
    await chat.send("预约")
    found = await chat.send("社保")  # the only service with 社保 in its name: straight to it
    assert "社保卡补办" in found[0].text
    assert payloads(found[0])[0].startswith("book:day:ss-card-reissue:")
    await chat.send("预约")
    several = await chat.send("居住证")
    assert "book:svc:fl-residence-permit-apply" in payloads(several[0])
    assert len(payloads(several[0])) > 1


async def test_a_service_and_a_day_in_one_sentence(chat: Chat) -> None:
    await chat.send("预约")
    slots = await chat.send("我想约周六上午办社保卡补办")
    assert "11月28日（周六）" in slots[0].text
    assert all(p.startswith("book:slot:") for p in payloads(slots[0]))


async def test_a_closed_time_gets_the_reason_and_alternatives(chat: Chat) -> None:
    await chat.press("book:svc:ss-card-reissue")
    answer = await chat.send("周日下午2点")
    assert "14:00 不在办理时间内" in answer[0].text and "09:00–12:00" in answer[0].text
    assert any("11:30" in label for label in labels(answer[0]))  # the nearest to 14:00


async def test_a_weekday_service_on_a_weekend_is_explained(chat: Chat) -> None:
    await chat.press("book:svc:ca-dibao")
    answer = await chat.send("周六")
    assert "只在工作日办理" in answer[0].text
    assert all(p.startswith("book:slot:") for p in payloads(answer[0])[:-1])


async def test_my_appointments_cancel_and_nobody_elses(linli: Linli, chat: Chat) -> None:
    ref = await book_first_slot(chat)
    mine = await chat.send("我的预约")
    assert ref in mine[0].text and f"book:cancel:{ref}" in payloads(mine[0])
    stranger = Chat(linli, user="stranger")
    assert "没有找到" in (await stranger.press(f"book:cancelled:{ref}"))[0].text
    asked = await chat.press(f"book:cancel:{ref}")
    done = await chat.press(payloads(asked[0])[0])
    assert "已取消" in done[0].text
    async with linli.sessions() as session:
        appointment = (await session.exec(select(Appointment))).one()
        slot = await session.get(BookingSlot, appointment.slot_id)
    assert appointment.status == "cancelled" and slot is not None and slot.booked == 0


async def test_one_booking_per_service(chat: Chat) -> None:
    """Said when the service is chosen again, with the booking's move and cancel (an outside
    walkthrough: it used to be said only after a day and a time had been chosen)."""
    ref = await book_first_slot(chat)
    again = await chat.press("book:svc:ss-card-reissue")
    assert "每项服务同时只能有一个预约" in again[0].text and ref in again[0].text
    assert payloads(again[0])[:2] == [f"book:move:{ref}", f"book:cancel:{ref}"]


async def test_one_booking_per_service_holds_at_the_last_step_too(chat: Chat) -> None:
    days = await chat.press("book:svc:ss-card-reissue")
    slots = await chat.press(payloads(days[0])[1])
    confirm = await chat.press(payloads(slots[0])[0])  # left on screen meanwhile
    await book_first_slot(chat)
    refused = await chat.press(payloads(confirm[0])[0])
    assert "每项服务同时只能有一个预约" in refused[0].text


async def test_reschedule_moves_the_place(linli: Linli, chat: Chat) -> None:
    ref = await book_first_slot(chat)
    days = await chat.press(f"book:move:{ref}")
    slots = await chat.press(payloads(days[0])[1])
    confirm = await chat.press(payloads(slots[0])[0])
    assert "改约" in confirm[0].text
    moved = await chat.press(payloads(confirm[0])[0])
    assert "改约成功" in moved[0].text and ref in moved[0].text
    async with linli.sessions() as session:
        booked = sorted(
            s.booked for s in (await session.exec(select(BookingSlot))).all() if s.booked
        )
    assert booked == [1]


async def test_a_move_into_a_slot_just_taken_goes_on_with_the_times_offered(
    linli: Linli, chat: Chat
) -> None:
    """ "约满了" during a move offers times that move the same appointment, not a new booking."""
    ref = await book_first_slot(chat)
    days = await chat.press(f"book:move:{ref}")
    slots = await chat.press(payloads(days[0])[1])
    confirm = await chat.press(payloads(slots[0])[0])
    taken_id = int(payloads(confirm[0])[0].rsplit(":", 1)[1])
    async with linli.sessions() as session, session.begin():
        taken = await session.get(BookingSlot, taken_id)
        assert taken is not None
        taken.booked = taken.capacity  # others took the last places meanwhile
    full = await chat.press(payloads(confirm[0])[0])
    assert "约满" in full[0].text
    other = next(p for p in payloads(full[0]) if p.startswith("book:slot:"))
    again = await chat.press(other)
    assert "改约" in again[0].text
    moved = await chat.press(payloads(again[0])[0])
    assert "改约成功" in moved[0].text and ref in moved[0].text


async def test_english_booking(linli: Linli) -> None:
    chat = Chat(linli, user="english-speaker")
    await chat.send("english")
    days = await chat.press("book:svc:ss-card-reissue")
    assert "Please bring" in days[0].text
    slots = await chat.press(payloads(days[0])[0])
    assert "free times" in slots[0].text


async def test_the_calendar_link_is_signed_and_gives_an_ics(
    chat: Chat, client: TestClient[web.Request, web.Application]
) -> None:
    days = await chat.press("book:svc:ss-card-reissue")
    slots = await chat.press(payloads(days[0])[0])
    confirm = await chat.press(payloads(slots[0])[0])
    done = await chat.press(payloads(confirm[0])[0])
    assert done[0].link is not None
    link = done[0].link.url.split("127.0.0.1:8080", 1)[1]
    ref = link.split("/ics/")[1].split(".ics")[0]
    response = await client.get(link)
    assert response.status == 200
    assert response.content_type == "text/calendar"
    body = await response.text()
    assert "BEGIN:VEVENT" in body and ref in body and "DTSTART" in body
    assert (await client.get(link[:-4] + "0000")).status == 404  # a forged signature
    assert (await client.get(link.split("?")[0])).status == 404  # none at all
    asked = await chat.press(f"book:cancel:{ref}")
    await chat.press(payloads(asked[0])[0])
    cancelled = await client.get(link)  # a calendar app that asks again learns it is off
    assert cancelled.status == 200 and "STATUS:CANCELLED" in await cancelled.text()


async def test_waitlist_offer_by_message_then_accept_and_expiry_passes_on(
    linli: Linli, clock: ManualClock
) -> None:
    first = Chat(linli, user="holder")
    days = await first.press("book:svc:ss-card-reissue")
    slots = await first.press(payloads(days[0])[1])  # tomorrow: the offers have time to run
    slot_payload = payloads(slots[0])[0]
    slot_id = int(slot_payload.rsplit(":", 1)[1])
    async with linli.sessions() as session:
        slot = await session.get(BookingSlot, slot_id)
        assert slot is not None
    for n in range(slot.capacity - 1):  # everybody else fills the slot from the roster
        assert (
            "预约成功"
            in (await Chat(linli, user=f"filler-{n}").press(f"book:ok:{slot_id}"))[0].text
        )
    holder_ref = REF.search((await first.press(f"book:ok:{slot_id}"))[0].text)
    assert holder_ref is not None
    waiters = [Chat(linli, user=f"waiter-{n}") for n in range(2)]
    for waiter in waiters:
        full = await waiter.press(f"book:ok:{slot_id}")
        assert payloads(full[0])[0] == f"book:wait:{slot_id}", full[0].text
        assert "排队候补" in (await waiter.press(f"book:wait:{slot_id}"))[0].text
        clock.advance(timedelta(seconds=1))
    asked = await first.press(f"book:cancel:{holder_ref.group()}")
    await first.press(payloads(asked[0])[0])
    offers = await _offers(linli)
    assert len(offers) == 1
    accept = payload_replies(offers[0].payload, "zh-CN")[0]["buttons"][0]["payload"]
    clock.advance(timedelta(minutes=31))  # too late: the job passes the place on
    ctx = JobContext(linli.engine, linli.sessions, clock, linli.settings)
    assert await pass_on_expired_offers(ctx) == 1
    assert "失效" in (await waiters[0].press(accept))[0].text
    second_offer = (await _offers(linli))[1]
    second_accept = payload_replies(second_offer.payload, "zh-CN")[0]["buttons"][0]["payload"]
    assert "失效" in (await waiters[0].press(second_accept))[0].text  # not theirs
    assert "预约成功" in (await waiters[1].press(second_accept))[0].text


async def _offers(linli: Linli) -> list[OutboxMessage]:
    async with linli.sessions() as session:
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.kind == "offer")
            .order_by(col(OutboxMessage.id))
        )
        return list((await session.exec(stmt)).all())
