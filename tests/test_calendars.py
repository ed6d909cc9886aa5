"""A booking's .ics as calendar apps read it: parsed with icalendar, in Asia/Shanghai time with
its VTIMEZONE, a stable UID, the alarm, the resident's language, and a cancellation that tells."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient
from icalendar import Calendar, Event

from bot.app import Linli
from bot.clock import ManualClock
from bot.web.calendar import EventText, new_calendar, new_event
from models.appointments import find_appointment
from models.base import SHANGHAI
from models.booking import Appointment
from tests.conftest import START, Chat, payloads

Client = TestClient[web.Request, web.Application]


async def book(chat: Chat) -> str:
    """Book the first free time of 社保卡补办 today; the signed .ics link's path and query."""
    days = await chat.press("book:svc:ss-card-reissue")
    slots = await chat.press(payloads(days[0])[0])
    confirm = await chat.press(payloads(slots[0])[0])
    done = await chat.press(payloads(confirm[0])[0])
    assert done[0].link is not None
    return done[0].link.url.split("127.0.0.1:8080", 1)[1]


async def appointment_of(linli: Linli, link: str) -> Appointment:
    ref = link.split("/ics/")[1].split(".ics")[0]
    async with linli.sessions() as session:
        appointment = await find_appointment(session, ref)
    assert appointment is not None
    return appointment


async def fetch(client: Client, link: str) -> tuple[Calendar, Event]:
    response = await client.get(link)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/calendar"
    assert response.charset == "utf-8"
    calendar = Calendar.from_ical(await response.read())
    events = calendar.events
    assert len(events) == 1
    return calendar, events[0]


async def test_the_event_is_at_the_booked_shanghai_time_with_its_zone_and_alarm(
    linli: Linli, chat: Chat, client: Client
) -> None:
    link = await book(chat)
    appointment = await appointment_of(linli, link)
    calendar, event = await fetch(client, link)

    start = event.decoded("dtstart")
    assert start.tzinfo == ZoneInfo("Asia/Shanghai")
    booked = appointment.starts_at.astimezone(SHANGHAI)
    assert start.replace(tzinfo=None) == booked.replace(tzinfo=None)  # the wall-clock time
    assert start == appointment.starts_at
    assert event.decoded("dtend") - start == timedelta(minutes=15)  # the service's duration
    assert "TZID=Asia/Shanghai" in event.to_ical().decode()

    zones = calendar.walk("VTIMEZONE")
    assert [str(zone["TZID"]) for zone in zones] == ["Asia/Shanghai"]
    assert calendar.get_missing_tzids() == set()
    standard = zones[0].walk("STANDARD")[0]
    assert standard.decoded("tzoffsetto") == timedelta(hours=8)

    assert str(event["UID"]) == f"{appointment.ref}@linli"
    assert event.decoded("dtstamp").utcoffset() == timedelta(0)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == f"预约：社保卡补办（{appointment.ref}）"
    assert "街道便民服务中心" in str(event["LOCATION"])
    assert "本人身份证原件" in str(event["DESCRIPTION"])

    alarms = event.walk("VALARM")
    assert len(alarms) == 1
    assert str(alarms[0]["ACTION"]) == "DISPLAY"
    assert alarms[0].decoded("trigger") == -linli.settings.reminder_before
    assert alarms[0].decoded("trigger") == -timedelta(minutes=60)
    assert "社保卡补办" in str(alarms[0]["DESCRIPTION"])

    _, same = await fetch(client, link)
    assert str(same["UID"]) == str(event["UID"])  # stable: a second download updates the first


async def test_an_english_speaker_gets_english_words(linli: Linli, client: Client) -> None:
    chat = Chat(linli, user="english-speaker")
    await chat.send("english")
    link = await book(chat)
    _, event = await fetch(client, link)
    assert str(event["SUMMARY"]).startswith("Appointment: Social security card replacement (")
    assert "Original ID card" in str(event["DESCRIPTION"])
    assert "Public Service Centre" in str(event["LOCATION"])


async def test_a_wrong_or_missing_signature_answers_404(chat: Chat, client: Client) -> None:
    link = await book(chat)
    path, signature = link.split("?sig=")
    forged = "0" * len(signature) if signature != "0" * len(signature) else "1" * len(signature)
    assert (await client.get(f"{path}?sig={forged}")).status == 404
    assert (await client.get(path)).status == 404
    assert (await client.get(f"{path}?sig=签名")).status == 404  # non-ASCII does not raise
    other = path.replace(path.split("/ics/")[1][:-4], "LCY-20261127-9999")
    assert (await client.get(f"{other}?sig={signature}")).status == 404  # another reference


async def test_a_cancelled_appointment_answers_a_cancelled_event_without_an_alarm(
    chat: Chat, client: Client, clock: ManualClock
) -> None:
    link = await book(chat)
    _, booked = await fetch(client, link)
    ref = str(booked["UID"]).split("@")[0]
    clock.advance(timedelta(minutes=5))
    asked = await chat.press(f"book:cancel:{ref}")
    await chat.press(payloads(asked[0])[0])

    _, cancelled = await fetch(client, link)
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert str(cancelled["UID"]) == str(booked["UID"])
    assert cancelled.decoded("sequence") > booked.decoded("sequence")
    assert cancelled.decoded("dtstart") == booked.decoded("dtstart")
    assert str(cancelled["SUMMARY"]).startswith("已取消：")
    assert cancelled.walk("VALARM") == []


async def test_a_past_appointment_keeps_its_event_but_rings_no_more(
    linli: Linli, chat: Chat, client: Client, clock: ManualClock
) -> None:
    link = await book(chat)
    appointment = await appointment_of(linli, link)
    clock.set(appointment.starts_at + timedelta(minutes=1))
    _, event = await fetch(client, link)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event.walk("VALARM") == []


def test_the_shared_builders_make_a_calendar_apps_can_read() -> None:
    start = START + timedelta(days=1)
    event = new_event(
        "x-1", start, start + timedelta(hours=1), EventText("值班"), stamp=START, sequence=3
    )
    calendar = new_calendar("邻里")
    calendar.add_component(event)
    parsed = Calendar.from_ical(calendar.to_ical())
    assert str(parsed["X-WR-CALNAME"]) == "邻里"
    assert str(parsed["METHOD"]) == "PUBLISH"
    read = parsed.walk("VEVENT")[0]
    assert read.decoded("dtstart").tzinfo == ZoneInfo("Asia/Shanghai")
    assert read.decoded("dtstart").hour == 10
    assert str(read["UID"]) == "x-1@linli"
    assert read.decoded("sequence") == 3
