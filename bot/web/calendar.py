"""Calendar files (RFC 5545) in Asia/Shanghai time, and GET /ics/<ref>.ics.

One home for what every calendar Linli serves is made of: the calendar itself (with the
Asia/Shanghai VTIMEZONE, so a calendar app shows the hall's wall-clock time wherever the phone
is), its events and alarms, and the HTTP answer. Used by a booking's .ics (here) and a staff
member's private feed (bot/web/staff_feed.py).

A booking's .ics is behind a signed link (bot/signing.py). It answers for as long as the
appointment exists: booked, served or missed as a CONFIRMED event with a DISPLAY alarm
``reminder_before`` ahead (none once it is over or cancelled), cancelled as a CANCELLED event
with the same UID and a higher SEQUENCE, so that a calendar app that subscribed to the link, or
a person who opens it again, sees the appointment called off instead of a stale one. A moved
appointment keeps its reference and UID: the event moves with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from urllib.parse import quote

from aiohttp import web
from icalendar import Alarm, Calendar, Event, Timezone
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import Linli
from bot.i18n import normalize_lang, t
from bot.signing import signature_ok
from models.appointments import find_appointment
from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus
from models.org import Street, get_street
from models.people import ChannelIdentity
from models.services import Service

REF_LIMIT = 32
PRODID = "-//Linli//Linli street office//ZH"
UID_DOMAIN = "linli"
# Shanghai has kept +08:00 without daylight saving since 1991: one STANDARD rule from here on.
ZONE_FROM = date(2000, 1, 1)
CONFIRMED, CANCELLED = "CONFIRMED", "CANCELLED"
# Calendar apps may keep a copy; a proxy between them and us must not.
CACHE_CONTROL = "private, no-cache"


@cache
def _zone_ical() -> bytes:
    """The Asia/Shanghai VTIMEZONE, made once (icalendar derives it from the tz database)."""
    return bytes(Timezone.from_tzinfo(SHANGHAI, "Asia/Shanghai", first_date=ZONE_FROM).to_ical())


def new_calendar(name: str | None = None, description: str | None = None) -> Calendar:
    """An empty calendar with our PRODID and the Asia/Shanghai time zone component."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-timezone", "Asia/Shanghai")
    if name:
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
    if description:
        calendar.add("x-wr-caldesc", description)
    calendar.add_component(Timezone.from_ical(_zone_ical()))
    return calendar


@dataclass(frozen=True)
class EventText:
    """What a person reads of an event, in their language."""

    summary: str
    description: str = ""
    location: str = ""


def new_event(
    uid: str,
    start: datetime,
    end: datetime,
    text: EventText,
    *,
    stamp: datetime,
    status: str = CONFIRMED,
    sequence: int = 0,
    modified: datetime | None = None,
) -> Event:
    """An event at Shanghai wall-clock times (DTSTART;TZID=Asia/Shanghai), stamped in UTC."""
    event = Event()
    event.add("uid", f"{uid}@{UID_DOMAIN}")
    event.add("dtstamp", stamp)
    event.add("dtstart", start.astimezone(SHANGHAI))
    event.add("dtend", end.astimezone(SHANGHAI))
    event.add("summary", text.summary)
    if text.description:
        event.add("description", text.description)
    if text.location:
        event.add("location", text.location)
    event.add("status", status)
    event.add("sequence", sequence)
    if modified is not None:
        event.add("last-modified", modified)
    return event


def display_alarm(before: timedelta, description: str) -> Alarm:
    """A DISPLAY alarm `before` ahead of the event's start."""
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", description)
    alarm.add("trigger", -before)
    return alarm


def revision(created_at: datetime, updated_at: datetime) -> int:
    """The SEQUENCE of an event whose record changes with updated_at: whole seconds since it was
    made, so every later change (a move, a cancellation) gives a higher number."""
    return max(0, int((updated_at - created_at).total_seconds()))


def ics_response(body: bytes, filename: str, *, download: bool) -> web.Response:
    """A calendar's bytes as text/calendar; `download` asks a browser to save it, not show it."""
    disposition = "attachment" if download else "inline"
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={
            "Content-Disposition": f'{disposition}; filename="{quote(filename)}"',
            "Cache-Control": CACHE_CONTROL,
            "X-Robots-Tag": "noindex",
        },
    )


def with_events(calendar: Calendar, events: Iterable[Event]) -> Calendar:
    """The calendar with the events added (after the time zone)."""
    for event in events:
        calendar.add_component(event)
    return calendar


def place(lang: str, street: Street | None) -> str:
    """Where the service hall is, in the language."""
    if street is None:
        return ""
    en = lang == "en"
    hall = street.service_hall_en if en and street.service_hall_en else street.service_hall_zh
    address = street.address_en if en and street.address_en else street.address_zh
    return t(lang, "calendars.place", hall=hall, address=address).strip("，, ")


def service_name(lang: str, service: Service | None) -> str:
    """A service's name in the language."""
    if service is None:
        return ""
    return service.name_en if lang == "en" and service.name_en else service.name_zh


# ───────────────────────────── a booking's .ics ─────────────────────────────


async def appointment_ics(request: web.Request, linli: Linli) -> web.Response:
    """The .ics of one appointment; 404 for a wrong signature or an unknown reference."""
    ref = request.match_info["ref"][:REF_LIMIT]
    if not signature_ok(linli.settings.secret_key_value, "ics", ref, request.query.get("sig", "")):
        raise web.HTTPNotFound  # the same answer as an unknown reference: nothing to probe
    async with linli.sessions() as session:
        appointment = await find_appointment(session, ref)
        if appointment is None:
            raise web.HTTPNotFound
        service = await session.get(Service, appointment.service_id)
        street = await get_street(session)
        lang = await resident_lang(session, appointment)
    now = linli.clock.now()
    event = appointment_event(lang, appointment, service, street, stamp=now)
    if appointment.status == AppointmentStatus.BOOKED and appointment.starts_at > now:
        when = appointment.starts_at.astimezone(SHANGHAI).strftime("%H:%M")
        words = t(lang, "calendars.alarm", service=service_name(lang, service), time=when)
        event.add_component(display_alarm(linli.settings.reminder_before, words))
    name = t(lang, "calendars.booking_calendar")
    calendar = with_events(new_calendar(name), [event])
    return ics_response(calendar.to_ical(), f"{appointment.ref}.ics", download=True)


async def resident_lang(session: AsyncSession, appointment: Appointment) -> str:
    """The language of the chat account the appointment was booked from (zh-CN when unknown)."""
    if appointment.identity_id is None:
        return "zh-CN"
    identity = await session.get(ChannelIdentity, appointment.identity_id)
    return normalize_lang(identity.lang if identity else None) or "zh-CN"


def appointment_event(
    lang: str,
    appointment: Appointment,
    service: Service | None,
    street: Street | None,
    *,
    stamp: datetime,
) -> Event:
    """The resident's event for an appointment: the service, the reference, what to bring."""
    name = service_name(lang, service)
    documents: list[str] = []
    if service is not None:
        en = lang == "en" and service.documents_en
        documents = service.documents_en if en else service.documents_zh
    lines = [t(lang, "calendars.reference", ref=appointment.ref)]
    if documents:
        lines.append(
            t(
                lang,
                "calendars.bring",
                documents=t(lang, "calendars.list_separator").join(documents),
            )
        )
    cancelled = appointment.status == AppointmentStatus.CANCELLED
    if cancelled:
        lines.insert(0, t(lang, "calendars.cancelled_note"))
    key = "calendars.booking_cancelled" if cancelled else "calendars.booking_summary"
    text = EventText(
        t(lang, key, service=name, ref=appointment.ref), "\n".join(lines), place(lang, street)
    )
    return new_event(
        appointment.ref,
        appointment.starts_at,
        appointment.starts_at + timedelta(minutes=service.duration_minutes if service else 30),
        text,
        stamp=stamp,
        status=CANCELLED if cancelled else CONFIRMED,
        sequence=revision(appointment.created_at, appointment.updated_at),
        modified=appointment.updated_at,
    )
