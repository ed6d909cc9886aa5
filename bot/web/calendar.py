"""GET /ics/<ref>.ics: an appointment as a calendar file, behind a signed link."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from icalendar import Alarm, Calendar, Event

from bot.app import Linli
from bot.signing import signature_ok
from models.appointments import find_appointment
from models.booking import AppointmentStatus
from models.org import get_street
from models.services import Service

REF_LIMIT = 32


async def appointment_ics(request: web.Request, linli: Linli) -> web.Response:
    """The .ics of one booked appointment; 404 for a wrong signature or an unknown reference."""
    ref = request.match_info["ref"][:REF_LIMIT]
    if not signature_ok(linli.settings.secret_key_value, "ics", ref, request.query.get("sig", "")):
        raise web.HTTPNotFound  # the same answer as an unknown reference: nothing to probe
    async with linli.sessions() as session:
        appointment = await find_appointment(session, ref)
        if appointment is None or appointment.status != AppointmentStatus.BOOKED:
            raise web.HTTPNotFound
        service = await session.get(Service, appointment.service_id)
        street = await get_street(session)
    calendar = Calendar()
    calendar.add("prodid", "-//Linli//appointments//ZH")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"{appointment.ref}@linli")
    event.add("summary", f"{service.name_zh if service else ''}（{appointment.ref}）")
    event.add("dtstart", appointment.starts_at)
    event.add("dtend", appointment.starts_at + _duration(service))
    event.add("dtstamp", appointment.created_at)
    if street is not None:
        event.add("location", f"{street.service_hall_zh}，{street.address_zh}")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", appointment.ref)
    alarm.add("trigger", -linli.settings.reminder_before)
    event.add_component(alarm)
    calendar.add_component(event)
    return web.Response(
        body=calendar.to_ical(),
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{appointment.ref}.ics"'},
    )


def _duration(service: Service | None) -> timedelta:
    return timedelta(minutes=service.duration_minutes if service else 30)
