"""Greeting, main menu, help, opening hours, cancel/back anywhere, and the last-resort answer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.clock import local_today
from bot.context import Context
from bot.messages import Reply
from bot.router import HandlerResult, Router
from handlers.booking import just_booked
from handlers.common import (
    back_to_menu,
    format_date,
    format_time,
    holiday_label,
    localized,
    main_menu,
    street_name,
    weekday_name,
)
from handlers.my_records import appointment_by_reference, names_an_appointment, offer_to_cancel
from models.base import SHANGHAI
from models.calendar import (
    DayInfo,
    classify_day,
    next_non_working_day,
)
from models.intents import fold, load_lexicon
from models.refs import find_reference
from models.services import DayKind
from models.when import names_when, without_when

router = Router("menu")


@router.payload("menu")
@router.command("menu")
async def show_menu(ctx: Context) -> HandlerResult:
    """Greet and show the main menu; leaves any flow."""
    ctx.clear_state()
    if not ctx.command:
        return await main_menu(ctx)
    help_text = ctx.t("menu.help")
    if ctx.is_staff:
        help_text += "\n" + ctx.t("menu.staff_help")
    return [await main_menu(ctx), Reply(help_text)]


@router.event("subscribe", "scan")
async def welcome(ctx: Context) -> HandlerResult:
    """A new follower (or a scanned code): welcome, main menu and what words work."""
    ctx.clear_state()
    street = street_name(ctx, await ctx.reference.street(ctx.unit))
    return [await main_menu(ctx, ctx.t("menu.welcome", street=street)), Reply(ctx.t("menu.help"))]


@router.event("view")
async def link_opened(ctx: Context) -> HandlerResult:
    """A menu link was opened, or the platform reported where the person is on entering the
    chat (WeChat's LOCATION event): nothing to say, and any question shown stays shown."""
    return None


def _no_flow(ctx: Context) -> bool:
    """A photo or location inside a flow belongs to that flow (a need, a grid report)."""
    return not ctx.state.name


@router.event("image", "location", filters=(_no_flow,))
async def attachment_without_flow(ctx: Context) -> HandlerResult:
    """A photo or place sent outside any flow that uses one."""
    return await main_menu(ctx, ctx.t("menu.attachment_unused"))


@router.event("location_unreadable")
async def location_unreadable(ctx: Context) -> HandlerResult:
    """A location whose coordinates make no sense: ask again, keeping any flow as it is."""
    return Reply(ctx.t("menu.location_unreadable"), back_to_menu(ctx))


@router.event("voice_unrecognized")
async def voice_not_recognized(ctx: Context) -> HandlerResult:
    """A voice message the platform could not turn into text."""
    return await main_menu(ctx, ctx.t("menu.voice_unclear"))


@router.event("unsupported")
async def unsupported_message(ctx: Context) -> HandlerResult:
    """A kind of message we do not handle (video, link, file, …)."""
    return await main_menu(ctx, ctx.t("menu.unsupported"))


@router.command("cancel")
async def cancel(ctx: Context) -> HandlerResult:
    """Abandon the current flow from anywhere; "cancel my appointment" cancels an appointment,
    and "取消 LCY-…" that one (a walkthrough: it asked about the one booked last)."""
    ref = find_reference(ctx.command_args) if ctx.command_args else None
    if ref is not None and ref.startswith("LCY"):  # read as "取消LCY-…" is, denials and all
        return await appointment_by_reference(ctx, ref, ctx.text)
    if ctx.command_args and (_names_a_booking(ctx) or _points_at_a_booking(ctx)):
        return await offer_to_cancel(ctx)
    if ctx.command_args and not ctx.state.name and await _points_at_an_appointment(ctx):
        # "cancel the social security one", "取消 周一那个": asked about the one named, or
        # which (a walkthrough: the one booked last was offered, and cancelled on "yes")
        return await offer_to_cancel(ctx)
    if not ctx.state.name:
        # "取消" alone right after booking means that booking; "取消 订阅通知" does not
        booked = None if ctx.command_args else await just_booked(ctx)
        if booked is not None:  # "取消" right after booking means that booking: ask first
            return await ctx.redirect(ctx, f"book:cancel:{booked.ref}")
        # nothing under way: say so, and how an appointment is cancelled
        return await main_menu(ctx, ctx.t("menu.nothing_to_cancel"))
    ctx.clear_state()
    return await main_menu(ctx, ctx.t("menu.cancelled"))


async def _points_at_an_appointment(ctx: Context) -> bool:
    """Whether the words after 取消/cancel name a booked service, or a day or time and little
    else ("周一那个", "the 10:30 one"; not "明天的停水通知订阅", a review)."""
    args = fold(ctx.command_args)
    if names_when(args):
        lexicon = load_lexicon(Path(ctx.settings.data_dir))
        rest = lexicon.without("pointing", without_when(args))
        rest = " ".join(w for w in rest.split() if w not in lexicon.word_set("pointing"))
        return sum(ch.isalnum() for ch in rest) <= WHEN_POINTING_REST
    return await names_an_appointment(ctx, ctx.command_args)


WHEN_POINTING_REST = 2  # characters beside a day or time that still only point at one


def _names_a_booking(ctx: Context) -> bool:
    """Whether the words after 取消/cancel are about an appointment ("cancel my booking")."""
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    return lexicon.has("booking", fold(ctx.command_args))


def _points_at_a_booking(ctx: Context) -> bool:
    """With nothing under way, "cancel it", "取消这个" (exactly one of data/intents.toml's
    cancel_option or cancel_booking words) can only mean the resident's appointment."""
    words = load_lexicon(Path(ctx.settings.data_dir)).words
    meant = (*words.get("cancel_option", ()), *words.get("cancel_booking", ()))
    return not ctx.state.name and ctx.words in meant


@router.command("back")
async def back(ctx: Context) -> HandlerResult:
    """Go one step back in a flow that says where back is, else to the main menu."""
    target = ctx.state.data.get("back")
    if isinstance(target, str) and target:
        return await ctx.redirect(ctx, target)
    ctx.clear_state()
    return await main_menu(ctx, ctx.t("menu.main_title"))


@router.payload("hours")
@router.command("hours")
async def opening_hours(ctx: Context) -> HandlerResult:
    """Whether the hall is open now, its hours today and on the next weekend or holiday."""
    now_line = await _open_now(ctx)
    key = f"hours:{ctx.lang}:{local_today(ctx.clock).isoformat()}"
    text = await ctx.reference.remember(key, lambda: _hours_text(ctx))
    return Reply("\n".join(line for line in (now_line, text) if line), back_to_menu(ctx))


async def _open_now(ctx: Context) -> str:
    """Open now, not yet, or closed for today and when it opens next (a walkthrough: at 23:00
    办公时间 gave today's hours without saying the hall had closed)."""
    overrides = await ctx.reference.overrides(ctx.unit)
    today = classify_day(local_today(ctx.clock), overrides)
    rule = await ctx.reference.opening_rule(ctx.unit, today.kind)
    now = ctx.now().astimezone(SHANGHAI).time()
    if rule is not None and now < rule.opens:
        return ctx.t("hours.now_before", opens=format_time(rule.opens))
    if rule is not None and now < rule.closes:
        return ctx.t("hours.now_open", closes=format_time(rule.closes))
    for offset in range(1, NEXT_OPENING_DAYS + 1):
        info = classify_day(today.day + timedelta(days=offset), overrides)
        following = await ctx.reference.opening_rule(ctx.unit, info.kind)
        if following is not None:
            return ctx.t(
                "hours.now_closed",
                date=format_date(ctx, info.day),
                weekday=weekday_name(ctx, info.day),
                opens=format_time(following.opens),
            )
    return ""


NEXT_OPENING_DAYS = 14  # how far ahead "closed now" looks for the next opening


async def _hours_text(ctx: Context) -> str:
    """The opening-hours answer; the same for everyone reading the same language that day."""
    overrides = await ctx.reference.overrides(ctx.unit)
    today = classify_day(local_today(ctx.clock), overrides)
    upcoming = next_non_working_day(today.day, overrides)
    lines = [await _day_line(ctx, today, "today")]
    lines.append(
        ctx.t("hours.no_next_holiday")
        if upcoming is None
        else await _day_line(ctx, upcoming, "next")
    )
    unpublished = {info.day.year for info in (today, upcoming) if info and not info.published}
    lines.extend(ctx.t("hours.unpublished", year=year) for year in sorted(unpublished))
    street = await ctx.reference.street(ctx.unit)
    if street is not None:
        hall = localized(ctx, street.service_hall_zh, street.service_hall_en)
        address = localized(ctx, street.address_zh, street.address_en)
        lines.append(ctx.t("hours.address", hall=hall, address=address, phone=street.phone))
    return "\n".join(lines)


async def _day_line(ctx: Context, info: DayInfo, which: str) -> str:
    """One line saying when a day's service runs and how many services it offers."""
    rule = await ctx.reference.opening_rule(ctx.unit, info.kind)
    label = holiday_label(ctx, info)
    values: dict[str, object] = {
        "date": format_date(ctx, info.day),
        "weekday": weekday_name(ctx, info.day),
        "holiday": ctx.t("hours.holiday_name", name=label) if label else "",
    }
    if rule is None:
        return ctx.t("hours.today_closed", **values)
    holiday = info.kind is DayKind.HOLIDAY
    count = await ctx.reference.service_count(ctx.unit, weekend_only=holiday)
    values |= {"opens": format_time(rule.opens), "closes": format_time(rule.closes), "count": count}
    if which == "next":
        return ctx.t("hours.next_holiday", **values)
    return ctx.t("hours.today_holiday" if holiday else "hours.today_workday", **values)


@router.fallback()
async def not_understood(ctx: Context) -> HandlerResult:
    """The last resort: explain, and offer the main menu."""
    if ctx.state_expired:
        minutes = ctx.settings.state_timeout_minutes
        return await main_menu(ctx, ctx.t("menu.expired", minutes=minutes))
    if ctx.payload is not None:
        return await main_menu(ctx, ctx.t("menu.stale_option"))
    if ctx.inbound.event is not None:
        return await main_menu(ctx)
    if not ctx.text:
        return await main_menu(ctx, ctx.t("menu.empty"))
    return await main_menu(ctx, ctx.t("menu.not_understood"))
