"""A staff member's private calendar feed: their shifts and the appointments they serve, in
Asia/Shanghai time, no resident's data, and an address that stops when revoked or they leave."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from icalendar import Calendar, Event
from sqlmodel import select

from bot.app import Linli
from bot.cli_staff import staff_feed_address
from bot.clock import local_today
from bot.web.staff_feed import feed_path
from models.appointments import Step, find_appointment, window_step
from models.base import SHANGHAI
from models.binding import deactivate_staff
from models.booking import Appointment, RosterShift
from models.org import Staff
from models.people import Resident, set_phone
from tests.conftest import Chat, payloads

Client = TestClient[web.Request, web.Application]
PHONE = "13812345678"
NAME = "张小花"


async def staff(linli: Linli, code: str) -> Staff:
    async with linli.sessions() as session:
        found = (await session.exec(select(Staff).where(Staff.code == code))).one()
    return found


async def book_with_personal_data(linli: Linli, chat: Chat) -> Appointment:
    """Book 社保卡补办 at today's first free time for a resident with a name and a phone."""
    days = await chat.press("book:svc:ss-card-reissue")
    slots = await chat.press(payloads(days[0])[0])
    confirm = await chat.press(payloads(slots[0])[0])
    done = await chat.press(payloads(confirm[0])[0])
    assert done[0].link is not None
    ref = done[0].link.url.split("/ics/")[1].split(".ics")[0]
    async with linli.sessions() as session, session.begin():
        appointment = await find_appointment(session, ref)
        assert appointment is not None
        resident = await session.get(Resident, appointment.resident_id)
        assert resident is not None
        resident.name = NAME
        set_phone(resident, PHONE)
        session.add(resident)
    return appointment


async def feed(client: Client, linli: Linli, code: str, lang: str = "") -> tuple[str, Calendar]:
    path = feed_path(linli.settings.secret_key_value, await staff(linli, code))
    response = await client.get(path + (f"&lang={lang}" if lang else ""))
    assert response.status == 200, await response.text()
    assert response.content_type == "text/calendar"
    body = await response.text()
    return body, Calendar.from_ical(body)


def by_uid(calendar: Calendar) -> dict[str, Event]:
    return {str(event["UID"]): event for event in calendar.events}


def local(event: Event, name: str) -> datetime:
    moment = event.decoded(name)
    assert moment.tzinfo == ZoneInfo("Asia/Shanghai")
    assert isinstance(moment, datetime)
    return moment


async def test_the_feed_holds_shifts_and_the_appointments_of_the_slots_they_staff(
    linli: Linli, chat: Chat, client: Client
) -> None:
    appointment = await book_with_personal_data(linli, chat)
    body, calendar = await feed(client, linli, "S001")

    assert [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert calendar.get_missing_tzids() == set()
    assert "S001" in str(calendar["X-WR-CALNAME"])
    assert "X-PUBLISHED-TTL:PT1H" in body and "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in body
    events = by_uid(calendar)
    today = local_today(linli.clock)
    shift = events[f"shift-S001-{today:%Y%m%d}T000000Z@linli"]  # 08:00 Shanghai is 00:00 UTC
    assert local(shift, "dtstart").replace(tzinfo=None) == datetime.combine(today, time(8))
    assert local(shift, "dtend").replace(tzinfo=None) == datetime.combine(today, time(18))
    assert str(shift["SUMMARY"]) == "值班 · 4 号窗口"
    assert "1 个" in str(shift["DESCRIPTION"])
    assert str(shift["STATUS"]) == "CONFIRMED"
    assert "DTSTAMP" in shift

    event = events[f"appointment-{appointment.ref}-S001@linli"]
    start = local(event, "dtstart")
    assert start == appointment.starts_at
    wall = appointment.starts_at.astimezone(SHANGHAI).replace(tzinfo=None)
    assert start.replace(tzinfo=None) == wall
    assert local(event, "dtend") - start == timedelta(minutes=15)
    assert str(event["SUMMARY"]) == f"预约：社保卡补办（{appointment.ref}）"
    assert "待办理" in str(event["DESCRIPTION"])
    assert str(event["LOCATION"]) == "4 号窗口"

    # Nothing of the resident: a calendar app copies the feed to servers outside the office.
    for secret in (PHONE, PHONE[-4:], NAME, "resident"):
        assert secret not in body

    # On duty but not trained for the service: not theirs.
    other, _ = await feed(client, linli, "S013")
    assert appointment.ref not in other
    assert f"shift-S013-{today:%Y%m%d}" in other


async def test_a_trained_member_whose_shift_does_not_span_the_slot_does_not_get_it(
    linli: Linli, chat: Chat, client: Client
) -> None:
    appointment = await book_with_personal_data(linli, chat)
    member = await staff(linli, "S001")
    today = local_today(linli.clock)
    async with linli.sessions() as session, session.begin():
        shift = (
            await session.exec(
                select(RosterShift).where(
                    RosterShift.staff_id == member.id, RosterShift.day == today
                )
            )
        ).one()
        shift.ends_at = appointment.starts_at  # gone home before the slot began
        session.add(shift)
    without, _ = await feed(client, linli, "S001")
    assert appointment.ref not in without
    with_it, _ = await feed(client, linli, "S002")
    assert appointment.ref in with_it


async def test_in_english_when_asked(linli: Linli, chat: Chat, client: Client) -> None:
    appointment = await book_with_personal_data(linli, chat)
    _, calendar = await feed(client, linli, "S001", lang="en")
    event = by_uid(calendar)[f"appointment-{appointment.ref}-S001@linli"]
    assert str(event["SUMMARY"]).startswith("Appointment: Social security card replacement")
    assert any(str(e["SUMMARY"]) == "On duty · window 4" for e in calendar.events)


async def test_once_served_an_appointment_is_in_the_server_s_feed_only(
    linli: Linli, chat: Chat, client: Client
) -> None:
    appointment = await book_with_personal_data(linli, chat)
    server = await staff(linli, "S002")
    async with linli.sessions() as session, session.begin():
        held = await find_appointment(session, appointment.ref)
        assert held is not None
        assert window_step(held, Step.CHECK_IN, server.id or 0, linli.clock.now())
        session.add(held)
    served, _ = await feed(client, linli, "S002")
    assert f"appointment-{appointment.ref}-S002@linli" in served
    assert "已签到" in served
    not_served, _ = await feed(client, linli, "S001")
    assert appointment.ref not in not_served


async def test_the_feed_covers_two_weeks_back_to_sixty_days_ahead(
    linli: Linli, client: Client
) -> None:
    member = await staff(linli, "S001")
    today = local_today(linli.clock)
    days = {offset: today + timedelta(days=offset) for offset in (-20, -14, -10, 60, 61)}
    async with linli.sessions() as session, session.begin():
        for day in days.values():
            start = datetime.combine(day, time(7), tzinfo=SHANGHAI)  # apart from seeded shifts
            session.add(
                RosterShift(
                    staff_id=member.id or 0,
                    day=day,
                    starts_at=start,
                    ends_at=start + timedelta(hours=1),
                    window=4,
                )
            )
    body, _ = await feed(client, linli, "S001")
    uid = "shift-S001-{:%Y%m%d}T230000Z@linli"  # 07:00 Shanghai is 23:00 UTC the day before
    for offset, day in days.items():
        held = uid.format(day - timedelta(days=1)) in body
        assert held == (-14 <= offset <= 60), offset


@pytest.mark.parametrize("wrong", ["", "0" * 32, "签名", "zz"])
async def test_a_wrong_key_or_an_unknown_code_answers_404(
    linli: Linli, client: Client, wrong: str
) -> None:
    assert (await client.get(f"/feeds/staff/S001.ics?key={wrong}")).status == 404
    right = feed_path(linli.settings.secret_key_value, await staff(linli, "S001")).split("key=")[1]
    assert (await client.get(f"/feeds/staff/S002.ics?key={right}")).status == 404  # another's
    assert (await client.get(f"/feeds/staff/NOBODY.ics?key={right}")).status == 404
    assert (await client.get(f"/feeds/staff/{'S' * 300}.ics?key={right}")).status == 404


async def test_revoking_ends_the_old_address_and_the_cli_prints_the_new_one(
    linli: Linli, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    await staff_feed_address(linli, "S001")
    printed = capsys.readouterr()
    old = printed.out.strip()
    assert old.startswith("http://127.0.0.1:8080/feeds/staff/S001.ics?key=")
    assert "LINLI_PUBLIC_URL" in printed.err  # the default address is only good on this machine
    old_path = old.split("127.0.0.1:8080", 1)[1]
    assert (await client.get(old_path)).status == 200

    await staff_feed_address(linli, "S001", revoke=True)
    new = capsys.readouterr().out.strip()
    assert new != old
    assert (await client.get(old_path)).status == 404  # the same as an unknown address
    assert (await client.get(new.split("127.0.0.1:8080", 1)[1])).status == 200
    assert (await staff(linli, "S001")).feed_epoch == 1


async def test_an_inactive_staff_member_s_feed_stops(linli: Linli, client: Client) -> None:
    member = await staff(linli, "S001")
    path = feed_path(linli.settings.secret_key_value, member)
    assert (await client.get(path)).status == 200
    async with linli.sessions() as session, session.begin():
        member.active = False
        session.add(member)
    assert (await client.get(path)).status == 404


async def test_a_reactivated_staff_member_needs_a_new_feed_address(
    linli: Linli, client: Client
) -> None:
    member = await staff(linli, "S001")
    path = feed_path(linli.settings.secret_key_value, member)
    async with linli.sessions() as session, session.begin():
        row = await session.get(Staff, member.id)
        assert row is not None
        await deactivate_staff(session, row, linli.clock.now())
        row.active = True  # back from leave
        session.add(row)
    assert (await client.get(path)).status == 404
    again = await staff(linli, "S001")
    assert (await client.get(feed_path(linli.settings.secret_key_value, again))).status == 200
