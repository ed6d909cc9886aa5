"""At the window: today's appointments, check-in by reference, completion with a rating
request (answered in handlers/rating.py), no-shows."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import select

from bot.context import Context
from bot.messages import Reply
from bot.outgoing.tell import ask_for_rating
from bot.router import HandlerResult, Router
from handlers.common import back_to_menu, format_time, localized
from handlers.staff import is_staff
from models.appointments import (
    Step,
    find_appointment,
    serve_appointment,
    todays_appointments,
)
from models.base import SHANGHAI
from models.cases import Case
from models.refs import canonical_reference
from models.services import Service

router = Router("booking_staff")

LIST_LIMIT = 40
STEP_COMMANDS = {"checkin": Step.CHECK_IN, "finish": Step.COMPLETE, "noshow": Step.NO_SHOW}


@router.command("today", filters=(is_staff,))
async def todays_list(ctx: Context) -> HandlerResult:
    """Today's appointments for the services this staff member serves."""
    local = ctx.now().astimezone(SHANGHAI)
    start = datetime.combine(local.date(), time(0), tzinfo=SHANGHAI)
    staff = ctx.staff
    if staff is None:
        return Reply(ctx.t("staff.inactive"), back_to_menu(ctx))
    appointments = await todays_appointments(
        ctx.session, staff.id or 0, start, start + timedelta(days=1)
    )
    if not appointments:
        return Reply(ctx.t("window.none_today"), back_to_menu(ctx))
    lines = [ctx.t("window.today_title", count=len(appointments))]
    for appointment in appointments[:LIST_LIMIT]:
        service = await ctx.session.get(Service, appointment.service_id)
        lines.append(
            ctx.t(
                "window.line",
                time=format_time(appointment.starts_at.astimezone(SHANGHAI).time()),
                ref=appointment.ref,
                service=localized(ctx, service.name_zh, service.name_en) if service else "",
                status=ctx.t(f"window.status_{appointment.status}"),
            )
        )
    lines.append(ctx.t("window.hint"))
    return Reply("\n".join(lines), back_to_menu(ctx))


def _typed_reference(words: str) -> str:
    """The appointment reference after 签到/办结/未到, as staff type it ("lcy20261208 0004")."""
    first = words.split()[0] if words.split() else ""
    return canonical_reference(words) or canonical_reference(first) or first


async def _step(ctx: Context, step: Step) -> HandlerResult:
    ref = _typed_reference(ctx.command_args)
    appointment = await find_appointment(ctx.session, ref[:32]) if ref else None
    if appointment is None and ref and await _is_a_case(ctx, ref):
        return await _case_card(ctx, ref)  # "办结 LC-…": a case's card has its own 办结
    outcome = (
        await serve_appointment(ctx.session, appointment, step, ctx.staff, ctx.now())
        if appointment is not None and ctx.staff is not None
        else "not_yours"
    )
    # Not found and not yours read the same: references are guessable, appointments private.
    if appointment is None or outcome == "not_yours":
        return Reply(ctx.t("window.not_found", ref=ref[:32]), back_to_menu(ctx))
    if outcome == "not_now":
        text = ctx.t(
            "window.not_now",
            ref=appointment.ref,
            status=ctx.t(f"window.status_{appointment.status}"),
        )
        return Reply(text, back_to_menu(ctx))
    if step is Step.COMPLETE:
        await ask_for_rating(ctx.session, appointment, ctx.now())
    return Reply(ctx.t(f"window.done_{step}", ref=appointment.ref), back_to_menu(ctx))


async def _is_a_case(ctx: Context, ref: str) -> bool:
    """Whether the reference is a case's (refs of both kinds vary by street: look it up)."""
    stmt = select(Case.id).where(Case.ref == ref.strip().upper()[:32])
    return (await ctx.session.exec(stmt)).first() is not None


async def _case_card(ctx: Context, ref: str) -> list[Reply]:
    """The case's card (as its number alone shows it), under a line saying how it is acted on
    (a walkthrough: "办结 LC-…" was "没有找到预约号")."""
    shown = await ctx.redirect(ctx, f"case:view:{ref}")
    if not shown:
        return shown
    first = shown[0]
    said = ctx.t("window.case_reference", ref=ref)
    return [Reply(f"{said}\n{first.text}", first.buttons, first.link), *shown[1:]]


def _register_steps() -> None:
    for command, step in STEP_COMMANDS.items():

        async def handle(ctx: Context, step: Step = step) -> HandlerResult:
            return await _step(ctx, step)

        handle.__name__ = f"window_{command}"
        router.command(command, filters=(is_staff,))(handle)


_register_steps()
