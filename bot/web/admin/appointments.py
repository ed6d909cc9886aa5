"""Today's appointments at /admin/appointments: the services this staff member is trained for,
with check-in, completion (the resident is then asked for a rating) and no-show, each allowed
by models.policy.may_serve_appointment (trained for the service and on the roster that day)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from aiohttp import web

from bot.outgoing.tell import ask_for_rating
from bot.web.admin.auth import DeskRequest, see_other, staff_page
from bot.web.admin.layout import NavEntry, localized
from models.appointments import Step, serve_appointment, todays_appointments
from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus
from models.policy import DeskPage, may_serve_appointment
from models.services import Service

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.APPOINTMENTS, "/admin/appointments", "desk.nav_appointments"),)
LIST_LIMIT = 200
HERE = "/admin/appointments"


@dataclass(frozen=True)
class Row:
    """An appointment of the day, and the window steps offered for it."""

    appointment: Appointment
    service: str
    steps: tuple[Step, ...]


def offered_steps(appointment: Appointment, now: datetime) -> tuple[Step, ...]:
    """The steps worth a button now (models.appointments.window_step has the last word)."""
    if appointment.status == AppointmentStatus.CHECKED_IN:
        return (Step.COMPLETE,)
    if appointment.status != AppointmentStatus.BOOKED:
        return ()
    late = (Step.NO_SHOW,) if appointment.starts_at <= now else ()
    return (Step.CHECK_IN, Step.COMPLETE, *late)


def today(now: datetime) -> tuple[datetime, datetime]:
    """Today in Beijing time, midnight to midnight."""
    start = datetime.combine(now.astimezone(SHANGHAI).date(), time(0), tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


@routes.get("/appointments")
@staff_page(DeskPage.APPOINTMENTS)
async def appointments_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/appointments: today's appointments for my services."""
    start, end = today(desk.now)
    found = await todays_appointments(desk.session, desk.staff.id or 0, start, end)
    rows: list[Row] = []
    for appointment in found[:LIST_LIMIT]:
        service = await desk.session.get(Service, appointment.service_id)
        name = localized(desk.lang, service.name_zh, service.name_en) if service else ""
        allowed = await may_serve_appointment(desk.session, desk.staff, appointment)
        rows.append(Row(appointment, name, offered_steps(appointment, desk.now) if allowed else ()))
    return desk.render("appointments.html", rows=rows, day=start)


@routes.post(r"/appointments/{number:\d{1,9}}/{step:[a-z_]{1,20}}")
@staff_page(DeskPage.APPOINTMENTS)
async def serve(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/appointments/{id}/{step}: check in, complete or mark a no-show."""
    appointment = await desk.session.get(Appointment, int(desk.request.match_info["number"]))
    chosen = desk.request.match_info["step"]
    if appointment is None or chosen not in Step._value2member_map_:
        return desk.refuse(404, "desk.not_found")
    if not await may_serve_appointment(desk.session, desk.staff, appointment):
        return desk.refuse(404, "desk.not_found")  # as the chat: not yours reads as not found
    step = Step(chosen)
    outcome = await serve_appointment(desk.session, appointment, step, desk.staff, desk.now)
    if outcome == "not_yours":
        return desk.refuse(404, "desk.not_found")
    if outcome == "not_now":
        return desk.refuse(409, "desk.appointment_not_now", back=HERE, ref=appointment.ref)
    if step is Step.COMPLETE:
        await ask_for_rating(desk.session, appointment, desk.now)
    desk.flash(f"desk.done_{step}", ref=appointment.ref)
    return see_other(HERE)
