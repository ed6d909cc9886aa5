"""The staff desk: only chat accounts bound to an active staff account reach these routes."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.context import Context
from bot.messages import Button, Reply
from bot.router import HandlerResult, Phase, Router
from handlers.common import back_to_menu, format_date, format_time, localized, weekday_name
from models.base import SHANGHAI
from models.binding import staff_accounts
from models.booking import RosterShift
from models.org import Department, Staff
from models.policy import channel_carries_staff_powers, scope_of

router = Router("staff")

DUTY_DAYS = 14
DUTY_LINES = 10


def is_staff(ctx: Context) -> bool:
    """Filter: the account acts as an active staff member (see models.policy.acting_staff)."""
    return ctx.is_staff


async def active_staff(ctx: Context) -> Staff | None:
    """The active staff member behind this account, if any (loaded once per message)."""
    return ctx.staff


STAFF_COMMANDS = frozenset(
    {"staff", "duty", "today", "checkin", "finish", "noshow", "mycases", "report", "needs_top"}
    | {"need_item", "need_for", "notice_new", "mystars"}
)


def _powers_lost(ctx: Context) -> bool:
    """A staff word from an account still bound to someone who may no longer act as staff."""
    return ctx.identity.staff_id is not None and ctx.staff is None


def _staff_word_or_button(ctx: Context) -> bool:
    # A button that found no route, pressed or typed by someone who has lost staff powers, is
    # one of the staff buttons shown before.
    return ctx.command in STAFF_COMMANDS or ctx.payload is not None


@router.route(Phase.COMMAND, _powers_lost, _staff_word_or_button)
async def powers_lost(ctx: Context) -> HandlerResult:
    """Say why once and drop the binding: the member was deactivated, or (in production) this
    channel cannot carry staff powers at all."""
    production = ctx.settings.env == "production"
    key = (
        "staff.inactive"
        if channel_carries_staff_powers(ctx.identity.channel, production)
        else "staff.web_for_residents"
    )
    ctx.identity.staff_id = None
    return Reply(ctx.t(key), back_to_menu(ctx))


@router.command("staff", filters=(is_staff,))
@router.payload("staff", filters=(is_staff,))
async def desk(ctx: Context) -> HandlerResult:
    """Who you are as staff, which accounts are bound, and what you can do."""
    staff = await active_staff(ctx)
    if staff is None:
        return Reply(ctx.t("staff.inactive"), back_to_menu(ctx))
    lines = [ctx.t("staff.desk_title", name=staff.name, role=ctx.t(f"staff.role_{staff.role}"))]
    if staff.department_id is not None:
        department = await ctx.session.get(Department, staff.department_id)
        if department is not None:
            name = localized(ctx, department.name_zh, department.name_en)
            lines.append(ctx.t("staff.department", department=name))
    if staff.window is not None:
        lines.append(ctx.t("staff.window", window=staff.window))
    accounts = await staff_accounts(ctx.session, staff.id or 0)
    channels = ", ".join(sorted({ctx.t(f"channels.{account.channel}") for account in accounts}))
    lines.append(ctx.t("staff.accounts", channels=channels))
    extra: list[Button] = []
    if staff.grid_id:
        extra.append(Button(ctx.t("needs.visit_button"), "need:for"))
    if scope_of(staff).any:
        extra += [
            Button(ctx.t("notices.new"), "notice:new"),
            Button(ctx.t("notices.mine"), "notice:mine"),
        ]
    buttons = (
        Button(ctx.t("staff.duty_button"), "staff:duty"),
        Button(ctx.t("needs.top_button"), "need:top"),
        Button(ctx.t("stars.button"), "stars:mine"),
        *extra,
        Button(ctx.t("binding.unbind_staff"), "binding:unbind"),
        *back_to_menu(ctx),
    )
    return Reply("\n".join(lines), buttons)


@router.command("duty", filters=(is_staff,))
@router.payload("staff:duty", filters=(is_staff,))
async def duty(ctx: Context) -> HandlerResult:
    """This staff member's shifts on the duty roster for the next two weeks."""
    staff = await active_staff(ctx)
    if staff is None:
        return Reply(ctx.t("staff.inactive"), back_to_menu(ctx))
    now = ctx.now()
    stmt = (
        select(RosterShift)
        .where(
            RosterShift.staff_id == staff.id,
            col(RosterShift.ends_at) > now,
            col(RosterShift.starts_at) < now + timedelta(days=DUTY_DAYS),
        )
        .order_by(col(RosterShift.starts_at))
        .limit(DUTY_LINES)
    )
    shifts = list((await ctx.session.exec(stmt)).all())
    if not shifts:
        return Reply(ctx.t("staff.no_duty"), back_to_menu(ctx))
    lines = [ctx.t("staff.duty_title"), *(_shift_line(ctx, shift) for shift in shifts)]
    return Reply("\n".join(lines), (Button(ctx.t("menu.staff"), "staff"), *back_to_menu(ctx)))


def _shift_line(ctx: Context, shift: RosterShift) -> str:
    starts, ends = shift.starts_at.astimezone(SHANGHAI), shift.ends_at.astimezone(SHANGHAI)
    window = ctx.t("staff.duty_window", window=shift.window) if shift.window else ""
    return ctx.t(
        "staff.duty_line",
        date=format_date(ctx, starts.date()),
        weekday=weekday_name(ctx, starts.date()),
        starts=format_time(starts.time()),
        ends=format_time(ends.time()),
        window=window,
    )
