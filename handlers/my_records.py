"""Free text about the resident's own records, from anywhere, even in the middle of a flow:
"取消我的预约" offers their appointments to cancel, "改到下周六" moves the appointment they are
looking at (or just booked), "我的代办办到哪了" shows their cases. Each uses the existing flow
(cancel, reschedule, 进度); none starts a new request."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.context import Context
from bot.i18n import format_day
from bot.messages import Button, Reply
from bot.router import HandlerResult
from handlers.booking import CHOOSE_DAY, day_typed, my_appointments
from handlers.cases import cases_of
from handlers.common import back_to_menu, format_time, localized, weekday_name
from models.appointments import active_appointments, find_appointment
from models.base import SHANGHAI
from models.booking import Appointment
from models.cases import CaseKind
from models.intents import fold, load_lexicon
from models.services import Service

MOVE_PAYLOADS = ("book:move:", "book:cancel:", "book:cancelled:")


async def offer_to_cancel(ctx: Context) -> HandlerResult:
    """The resident's upcoming appointments, each with the cancel question of the booking flow."""
    upcoming = await _upcoming(ctx)
    ctx.clear_state()
    if len(upcoming) == 1:
        return await ctx.redirect(ctx, f"book:cancel:{upcoming[0].ref}")
    if not upcoming:
        return await my_appointments(ctx)  # says there are none, with 预约
    buttons = [Button(await _label(ctx, a), f"book:cancel:{a.ref}") for a in upcoming[:_SHOWN]]
    return Reply(ctx.t("records.which_to_cancel"), (*buttons, *back_to_menu(ctx)))


async def move_to_day(ctx: Context) -> HandlerResult:
    """Move the appointment in view (or just booked, or the only one) to the day typed."""
    appointment = await _in_view(ctx) or await _only_or_latest(ctx)
    if appointment is None:
        upcoming = await _upcoming(ctx)
        ctx.clear_state()
        if not upcoming:
            return await my_appointments(ctx)
        buttons = [Button(await _label(ctx, a), f"book:move:{a.ref}") for a in upcoming[:_SHOWN]]
        return Reply(ctx.t("records.which_to_move"), (*buttons, *back_to_menu(ctx)))
    service = await ctx.session.get(Service, appointment.service_id)
    if service is None:
        return await my_appointments(ctx)
    # The reschedule step of the booking flow, with the typed day read as it reads days; a time
    # alone ("改到5点半") keeps the appointment's own day.
    own_day = appointment.starts_at.astimezone(SHANGHAI).date().isoformat()
    ctx.set_state(
        CHOOSE_DAY, service=service.code, move=appointment.ref, back="book:mine", day=own_day
    )
    return await day_typed(ctx)


async def show_my_cases(ctx: Context) -> HandlerResult:
    """进度 for what was asked about: proxy cases when the message says 代办 (data/intents.toml's
    track_proxy words), else all."""
    proxy = load_lexicon(Path(ctx.settings.data_dir)).has("track_proxy", fold(ctx.text))
    kind = CaseKind.PROXY if proxy else None
    return await cases_of(ctx, kind)


async def has_appointments(ctx: Context) -> bool:
    """Whether the resident has an appointment still to come."""
    return bool(await _upcoming(ctx))


_SHOWN = 8
RECENT_BOOKING = timedelta(minutes=30)  # "right after booking": the one just made


async def _upcoming(ctx: Context) -> list[Appointment]:
    if ctx.identity.resident_id is None:
        return []
    return await active_appointments(ctx.session, ctx.identity.resident_id, ctx.now())


async def _in_view(ctx: Context) -> Appointment | None:
    """The appointment the resident is moving or looking at (its buttons are on screen)."""
    data = ctx.state.data
    refs = {data["move"]} if isinstance(data.get("move"), str) else set()
    options = data.get("options")
    if not refs and isinstance(options, list):
        refs = {
            str(o).split(":", 2)[2]
            for o in options
            if isinstance(o, str) and o.startswith(MOVE_PAYLOADS)
        }
    if len(refs) != 1:
        return None
    appointment = await find_appointment(ctx.session, next(iter(refs))[:32])
    mine = appointment is not None and appointment.resident_id == ctx.identity.resident_id
    return appointment if mine and ctx.identity.resident_id is not None else None


async def _only_or_latest(ctx: Context) -> Appointment | None:
    """The only upcoming appointment, or the one booked a moment ago."""
    upcoming = await _upcoming(ctx)
    if len(upcoming) == 1:
        return upcoming[0]
    latest = max(upcoming, key=lambda a: a.created_at, default=None)
    recent = latest is not None and latest.created_at >= ctx.now() - RECENT_BOOKING
    return latest if recent else None


async def _label(ctx: Context, appointment: Appointment) -> str:
    service = await ctx.session.get(Service, appointment.service_id)
    local = appointment.starts_at.astimezone(SHANGHAI)
    when = ctx.t(
        "booking.when",
        date=format_day(ctx.lang, local.date()),
        weekday=weekday_name(ctx, local.date()),
        time=format_time(local.time()),
    )
    name = localized(ctx, service.name_zh, service.name_en) if service else ""
    return ctx.t("records.appointment_label", service=name, when=when)
