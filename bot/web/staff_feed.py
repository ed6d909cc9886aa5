"""GET /feeds/staff/<code>.ics?key=…: a staff member's private calendar feed of shifts and
appointments, for a calendar app to subscribe to.

The key is a keyed signature (the settings' secret key) of the staff member's id, code and
``feed_epoch``: nobody can make one without the secret, and revoking the feed (moving the epoch
on, ``linli staff feed CODE --revoke``) ends every address given before. A wrong or old key, an
unknown code and an inactive staff member all answer the same 404.

The feed holds no resident's data (a calendar app copies it to servers outside the office):
appointment events name the service, the reference, the time and the status, never a name or a
phone number. Which appointments are a staff member's is decided in models/staff_calendar.py.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from urllib.parse import quote

from aiohttp import web
from icalendar import Event, vDuration

from bot.app import Linli
from bot.clock import local_today
from bot.config import Settings
from bot.i18n import normalize_lang, t
from bot.signing import link_signature, signature_ok
from bot.web.calendar import (
    CONFIRMED,
    EventText,
    ics_response,
    new_calendar,
    new_event,
    revision,
    with_events,
)
from models.booking import RosterShift
from models.org import Staff
from models.staff_calendar import (
    FeedAppointment,
    StaffCalendar,
    feed_days,
    feed_staff,
    staff_calendar,
)

PURPOSE = "staff-feed"
CODE_LIMIT = 16  # Staff.code's length
ROUTE = "/feeds/staff/{code}.ics"
REFRESH = timedelta(hours=1)  # how often a subscribed calendar app is asked to fetch again


def feed_key(secret: str, staff: Staff) -> str:
    """The key of the staff member's feed address in its current epoch."""
    return link_signature(secret, PURPOSE, _signed(staff))


def _signed(staff: Staff) -> str:
    return f"{staff.id}:{staff.code}:{staff.feed_epoch}"


def feed_path(secret: str, staff: Staff) -> str:
    """The feed's path and query, e.g. /feeds/staff/S001.ics?key=…"""
    return f"/feeds/staff/{quote(staff.code, safe='')}.ics?key={feed_key(secret, staff)}"


def feed_url(settings: Settings, staff: Staff) -> str:
    """The feed's full address under the public URL (LINLI_PUBLIC_URL)."""
    return settings.public_url.rstrip("/") + feed_path(settings.secret_key_value, staff)


async def staff_feed(request: web.Request, linli: Linli) -> web.Response:
    """The feed of one staff member; 404 for a wrong key, an unknown or inactive member."""
    code = request.match_info["code"][:CODE_LIMIT]
    key = request.query.get("key", "")
    lang = normalize_lang(request.query.get("lang")) or "zh-CN"
    async with linli.sessions() as session:
        staff = await feed_staff(session, code)
        secret = linli.settings.secret_key_value
        if staff is None or not signature_ok(secret, PURPOSE, _signed(staff), key):
            raise web.HTTPNotFound
        first, last = feed_days(local_today(linli.clock))
        calendar = await staff_calendar(session, staff, first, last)
    # Thousands of events take icalendar seconds: made beside the event loop, not on it.
    body = await asyncio.to_thread(feed_ical, lang, calendar, linli.clock.now())
    return ics_response(body, f"linli-{staff.code}.ics", download=False)


def feed_ical(lang: str, calendar: StaffCalendar, stamp: datetime) -> bytes:
    """The feed as calendar bytes: named for the staff member, asked to be fetched hourly."""
    name = t(lang, "calendars.feed_name", code=calendar.staff.code)
    events = feed_events(lang, calendar, stamp)
    feed = with_events(new_calendar(name, t(lang, "calendars.feed_description")), events)
    feed.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    feed.add("x-published-ttl", vDuration(REFRESH))
    return bytes(feed.to_ical())


def feed_events(lang: str, calendar: StaffCalendar, stamp: datetime) -> list[Event]:
    """The shifts, then the appointments, as events."""
    shifts = [shift_event(lang, calendar, shift, stamp) for shift in calendar.shifts]
    return [*shifts, *(appointment_event(lang, calendar, a, stamp) for a in calendar.appointments)]


def shift_event(lang: str, calendar: StaffCalendar, shift: RosterShift, stamp: datetime) -> Event:
    """A roster shift: on duty (at a window), with how many appointments it holds."""
    staff = calendar.staff
    key = "calendars.shift_at_window" if shift.window is not None else "calendars.shift"
    text = EventText(
        t(lang, key, window=shift.window),
        t(lang, "calendars.shift_appointments", count=calendar.in_shift(shift)),
        _window_place(lang, shift.window),
    )
    uid = f"shift-{staff.code}-{shift.starts_at.strftime('%Y%m%dT%H%M%SZ')}"
    return new_event(uid, shift.starts_at, shift.ends_at, text, stamp=stamp, status=CONFIRMED)


def appointment_event(
    lang: str, calendar: StaffCalendar, appointment: FeedAppointment, stamp: datetime
) -> Event:
    """An appointment as the staff member sees it: service, reference, status; nobody's name."""
    en = lang == "en" and appointment.service_en
    service = appointment.service_en if en else appointment.service_zh
    status = t(lang, f"calendars.status.{appointment.status}")
    text = EventText(
        t(lang, "calendars.feed_appointment", service=service, ref=appointment.ref),
        t(lang, "calendars.feed_appointment_note", ref=appointment.ref, status=status),
        _window_place(lang, appointment.window),
    )
    return new_event(
        f"appointment-{appointment.ref}-{calendar.staff.code}",
        appointment.starts_at,
        appointment.ends_at,
        text,
        stamp=stamp,
        sequence=revision(appointment.created_at, appointment.updated_at),
        modified=appointment.updated_at,
    )


def _window_place(lang: str, window: int | None) -> str:
    return t(lang, "calendars.window", window=window) if window is not None else ""
