"""Booking a service: choose it, see the documents, choose a day and a slot, confirm; my
appointments, cancel, reschedule, the waitlist."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.context import Context
from bot.dates import DayPart, WhenAsked, parse_when, read_number
from bot.i18n import format_day
from bot.messages import Button, Link, Reply
from bot.outgoing.tell import offer_place
from bot.router import HandlerResult, Phase, Router
from bot.signing import link_signature
from handlers.common import (
    back_to_menu,
    echoed,
    format_time,
    gives_up,
    holiday_label,
    is_short,
    localized,
    main_menu,
    options_again,
    options_shown,
    payloads_shown,
    street_code,
    weekday_name,
)
from models.appointments import (
    BookingLimits,
    Outcome,
    accept_offer,
    active_appointments,
    book_slot,
    cancel_appointment,
    find_appointment,
    join_waitlist,
    reschedule,
)
from models.base import SHANGHAI
from models.booking import Appointment, BookingSlot, WaitlistEntry
from models.intents import (
    CANCEL_DENIED,
    fold,
    load_lexicon,
    no_order,
    services_asked,
    services_named,
    unnamed_words,
)
from models.lexicon import Lexicon
from models.org import Department
from models.people import ensure_resident
from models.reminders import ReminderRules
from models.roster_plan import planned_by
from models.service_match import load_service_catalogue
from models.services import DayKind, Service
from models.slots import (
    HORIZON_DAYS,
    Closed,
    DayPlan,
    known_free_slots,
    next_open_days,
    plan_day,
    staffed_slots,
)
from models.when import names_when

router = Router("booking")
BOOK_SERVICE = "book:svc:"  # the option that books a service: the code follows

CHOOSE_SERVICE = "booking.service"
CHOOSE_DAY = "booking.day"
MOVE, CANCEL = "book:move:", "book:cancel:"  # an appointment's options, before its ref
DAYS_SHOWN, SLOTS_SHOWN, MATCHES_SHOWN, ALTERNATIVES = 5, 12, 8, 3
WEEK = 7  # open days looked through past those shown, for a weekend service's weekend day
NOON = time(12)
HOURS_A_DAY = 24
NAME_CHARS = 2  # what is left of a sentence names something from two characters on
NOTHING_SAID = WhenAsked(None, None, None)


def reminder_rules(ctx: Context) -> ReminderRules:
    """Reminder times from the settings."""
    return ReminderRules(ctx.settings.reminder_evening_at, ctx.settings.reminder_before)


def booking_limits(ctx: Context) -> BookingLimits:
    """Per-resident limits from the settings."""
    s = ctx.settings
    return BookingLimits(
        per_service=s.booking_per_service,
        in_total=s.booking_in_total,
        no_shows=s.booking_no_show_limit,
        offer_minutes=s.waitlist_offer_minutes,
    )


def ics_link(ctx: Context, ref: str) -> str:
    """A signed link to the appointment's calendar file (refs alone cannot be enumerated)."""
    signature = link_signature(ctx.settings.secret_key_value, "ics", ref)
    return f"{ctx.settings.public_url.rstrip('/')}/ics/{ref}.ics?sig={signature}"


def _name(ctx: Context, service: Service) -> str:
    return localized(ctx, service.name_zh, service.name_en)


def _when(ctx: Context, moment: datetime) -> str:
    local = moment.astimezone(SHANGHAI)
    day = local.date()
    return ctx.t(
        "booking.when",
        date=format_day(ctx.lang, day),
        weekday=weekday_name(ctx, day),
        time=format_time(local.time()),
    )


async def _service(ctx: Context, code: str) -> Service | None:
    found = (await ctx.session.exec(select(Service).where(Service.code == code))).first()
    return found if found is not None and found.active else None


@router.payload("book")
@router.command("book")
async def start_booking(ctx: Context) -> HandlerResult:
    """Categories to choose from, or type part of a service's name (and a day)."""
    if ctx.command_args and not _names_no_service(ctx, ctx.command_args):
        ctx.clear_state()  # "预约社保卡补办" starts over: no day held from before applies
        return await _service_typed(ctx, ctx.command_args)
    return await _choose_category(ctx)


async def _choose_category(ctx: Context) -> Reply:
    ctx.set_state(CHOOSE_SERVICE, back="menu")
    return Reply(ctx.t("booking.choose_category"), (*await _categories(ctx), *_mine_button(ctx)))


async def _categories(ctx: Context) -> tuple[Button, ...]:
    departments = (await ctx.session.exec(select(Department).order_by(col(Department.id)))).all()
    return tuple(
        Button(localized(ctx, d.name_zh, d.name_en), f"book:cat:{d.code}") for d in departments
    )


def _mine_button(ctx: Context) -> tuple[Button, ...]:
    return (Button(ctx.t("booking.mine"), "book:mine"),)


@router.payload("book:cat")
async def category(ctx: Context) -> HandlerResult:
    """The services of one department."""
    department = (
        await ctx.session.exec(select(Department).where(Department.code == ctx.args))
    ).first()
    if department is None:
        return await start_booking(ctx)
    stmt = select(Service).where(
        Service.department_id == department.id, col(Service.active).is_(True)
    )
    services = (await ctx.session.exec(stmt.order_by(col(Service.id)))).all()
    ctx.set_state(CHOOSE_SERVICE, back="book")
    buttons = tuple(Button(_service_label(ctx, s), f"{BOOK_SERVICE}{s.code}") for s in services)
    return Reply(ctx.t("booking.choose_service"), buttons)


def _service_label(ctx: Context, service: Service) -> str:
    """The service's name, marked when it can also be booked at weekends and on holidays."""
    mark = ctx.t("booking.weekend_mark") if service.weekend else ""
    return _name(ctx, service) + mark


@router.state(CHOOSE_SERVICE)
async def service_typed(ctx: Context) -> HandlerResult:
    """Part of a service's name, perhaps with a day ("周六上午办社保卡补办")."""
    return await _service_typed(ctx, ctx.text)


async def _service_typed(ctx: Context, text: str) -> HandlerResult:
    said, before = parse_when(text, _today(ctx)), _asked_before(ctx)
    on_screen = options_shown(ctx.state.data)
    if on_screen and load_lexicon(Path(ctx.settings.data_dir)).only_agrees(text):
        # "好的" / "确认" at several services that fit chooses none of them: they are asked
        # again, the day kept (an outside walkthrough: "确认" found 调解协议司法确认指引).
        return Reply(ctx.t("match.choose_one"), on_screen)
    matches = await match_services(ctx, text)
    if len(matches) == 1:
        return await _show_asked(ctx, matches[0], _over(said, before))
    ctx.set_state(CHOOSE_SERVICE, back="book")  # on_screen read before, kept for the reply
    if not matches:
        return await _nothing_named(ctx, text, on_screen, _over(said, before))
    return offer_services(ctx, matches, text, held=before)


async def _nothing_named(
    ctx: Context, text: str, on_screen: tuple[Button, ...], asked: WhenAsked
) -> Reply:
    """No service fits. A day or time ("周六上午可以吗", "那就周五吧"): choose the service
    first, the options shown kept (a category's services, the several that fit, or the
    categories) and the day (said over what was kept) kept for the one chosen. No name at
    all ("Book an appointment"): the categories. Other words: quoted, with the categories."""
    unnamed = _unnamed_words(ctx, text)
    if names_when(fold(text)) and len(unnamed) < NAME_CHARS:  # "护照" of "周六办护照" is a name
        ctx.set_state(CHOOSE_SERVICE, back="book", **_held_data(asked))
        buttons = on_screen or (*await _categories(ctx), *back_to_menu(ctx))
        if asked.day is None:
            return Reply(ctx.t("booking.service_first"), buttons)
        day = format_day(ctx.lang, asked.day)
        return Reply(ctx.t("booking.service_for_day", date=day), buttons)
    if not unnamed:
        return await _choose_category(ctx)
    buttons = (*await _categories(ctx), *back_to_menu(ctx))
    return Reply(ctx.t("booking.no_match", text=echoed(text)), buttons)


def offer_services(
    ctx: Context, services: Sequence[Service], text: str, held: WhenAsked = NOTHING_SAID
) -> Reply:
    """Several services fit what was typed: the best of them and "none of these" (the
    categories). A day or time said with them (over one held from before) is kept for the
    one chosen ("帮我约下周一下午两点办居住证" shows that Monday's 14:00 once 居住证办理 is
    chosen)."""
    asked = _over(parse_when(text, _today(ctx)), held)
    ctx.set_state(CHOOSE_SERVICE, back="book", **_held_data(asked))
    shown = services[:MATCHES_SHOWN]
    buttons = tuple(Button(_service_label(ctx, s), f"{BOOK_SERVICE}{s.code}") for s in shown)
    other = Button(ctx.t("match.none_of_these"), "book")  # 都不是: the categories
    return Reply(ctx.t("match.which_service") + _day_kept_note(ctx, asked), (*buttons, other))


def _day_kept_note(ctx: Context, asked: WhenAsked) -> str:
    """The line promising the day said (on its own line), or nothing without a day."""
    if asked.day is None:
        return ""
    return "\n" + ctx.t("booking.day_kept", date=format_day(ctx.lang, asked.day))


def _held_data(asked: WhenAsked) -> dict[str, str]:
    """A day, part of the day and time, as a step keeps them until the service is chosen."""
    kept = {
        "asked_day": asked.day.isoformat() if asked.day else "",
        "asked_part": asked.part.value if asked.part else "",
        "asked_at": asked.at.strftime("%H:%M") if asked.at else "",
    }
    return {key: value for key, value in kept.items() if value}


def _over(said: WhenAsked, before: WhenAsked) -> WhenAsked:
    """A day or time said again over the one kept: "还是周五吧" after "下周一下午两点" is Friday
    at 14:00; a part of the day or a time said anew replaces the time as well."""
    if said.part is not None or said.at is not None:
        return WhenAsked(said.day or before.day, said.part, said.at)
    return WhenAsked(said.day or before.day, before.part, before.at)


def _held_when(data: dict[str, object]) -> WhenAsked:
    """The day or time _held_data put in a step's data; anything unreadable is left out."""
    day = part = at = None
    with suppress(ValueError):
        day = date.fromisoformat(str(data.get("asked_day", "")))
    with suppress(ValueError):
        part = DayPart(str(data.get("asked_part", "")))
    with suppress(ValueError):
        at = time.fromisoformat(str(data.get("asked_at", "")))
    return WhenAsked(day, part, at)


async def book_what_fits(ctx: Context, text: str) -> HandlerResult:
    """A booking sentence naming a service, matched among the services the database offers (a
    service deactivated there is never offered): its days (or that day's time), which of
    several, or the categories."""
    fits = await match_services(ctx, text)
    if len(fits) == 1:
        return await book_from_words(ctx, fits[0].code, text)
    if fits:
        return offer_services(ctx, fits, text)
    return await start_booking(ctx)


def _names_no_service(ctx: Context, text: str) -> bool:
    return not _unnamed_words(ctx, text)


def _unnamed_words(ctx: Context, text: str) -> list[str]:
    data = Path(ctx.settings.data_dir)
    return unnamed_words(text, load_lexicon(data), load_service_catalogue(data))


async def match_services(ctx: Context, text: str) -> list[Service]:
    """The services the text asks for, best first, by the one matching path of free text and
    proxy handling (models.service_match), ranked among the services the database offers (a
    service deactivated there is never offered): the one that clearly fits, else the best three."""
    data = Path(ctx.settings.data_dir)
    stmt = select(Service).where(col(Service.active).is_(True))
    offered = {s.code: s for s in (await ctx.session.exec(stmt)).all()}
    catalogue = load_service_catalogue(data)
    matches = services_asked(text, load_lexicon(data), catalogue, among=offered)
    return [offered[m.code] for m in matches]


def _today(ctx: Context) -> date:
    return ctx.now().astimezone(SHANGHAI).date()


@router.payload("book:svc")
async def service_chosen(ctx: Context) -> HandlerResult:
    """Documents to bring and the next days with places."""
    service = await _service(ctx, ctx.args)
    if service is None:
        return await start_booking(ctx)
    return await _show_asked(ctx, service, _asked_before(ctx))


def says_when(asked: WhenAsked) -> bool:
    """Whether a message said anything of when: a day, a part of the day or a time."""
    return asked.day is not None or asked.part is not None or asked.at is not None


def when_held(data: dict[str, object]) -> bool:
    """Whether the choice of a service holds a day or time said before it."""
    return says_when(_held_when(data))


def _asked_before(ctx: Context) -> WhenAsked:
    """The day or time held at the choice of a service (nothing at any other step; 预约 with a
    service's name starts over first)."""
    if ctx.state.name != CHOOSE_SERVICE:
        return NOTHING_SAID
    return _held_when(ctx.state.data)  # a day gone by is shown as gone by, not replaced


async def book_from_words(ctx: Context, service_code: str, text: str) -> HandlerResult:
    """A booking asked for in one sentence: the service's days, or that day's slots."""
    ctx.clear_state()
    service = await _service(ctx, service_code)
    if service is None:
        return await start_booking(ctx)
    return await _show_asked(ctx, service, parse_when(text, _today(ctx)))


async def _show_asked(ctx: Context, service: Service, asked: WhenAsked) -> Reply:
    """The service's days, or the slots of the day (and the time) the resident asked for."""
    if not says_when(asked):
        return await _show_service(ctx, service)
    day = asked.day or _chosen_day(ctx, service) or await _first_fitting_day(ctx, service, asked)
    return await _show_day(ctx, service, day, asked.part, asked.at)


def _chosen_day(ctx: Context, service: Service) -> date | None:
    """The day whose slots the resident is looking at ("下午5点" then means that day)."""
    data = ctx.state.data
    if ctx.state.name != CHOOSE_DAY or data.get("service") != service.code:
        return None
    try:
        return date.fromisoformat(str(data.get("day", "")))
    except ValueError:
        return None


async def _first_fitting_day(ctx: Context, service: Service, asked: WhenAsked) -> date:
    """A time without a day: the first open day with a free slot at that time (else the first
    open day, where the answer explains the hours)."""
    plans = await next_open_days(ctx.session, service, ctx.now(), DAYS_SHOWN)
    for plan in plans:
        if any(_fits(s, plan, asked.part, asked.at) for s in plan.free):
            return plan.info.day
    return plans[0].info.day if plans else _today(ctx)


async def appointment_card(ctx: Context, ref: str) -> Reply | None:
    """One of this resident's appointments by its reference, with cancel and reschedule."""
    appointment = await own_appointment(ctx, ref)
    if appointment is None:
        return None
    item = await _appointment_item(ctx, appointment)
    return Reply(item.text, (*item.buttons, *back_to_menu(ctx)))


async def _appointment_item(ctx: Context, appointment: Appointment) -> Reply:
    """One appointment with its cancel and reschedule buttons."""
    service = await ctx.session.get(Service, appointment.service_id)
    text = ctx.t(
        "booking.item",
        ref=appointment.ref,
        service=_name(ctx, service) if service else "",
        when=_when(ctx, appointment.starts_at),
    )
    buttons = (
        Button(ctx.t("booking.cancel"), f"book:cancel:{appointment.ref}"),
        Button(ctx.t("booking.move"), f"book:move:{appointment.ref}"),
    )
    return Reply(text, buttons)


def documents_lines(ctx: Context, service: Service) -> list[str]:
    """「居住证办理」 请携带： · … : a service's name and the documents to bring."""
    documents = (
        service.documents_en if ctx.lang == "en" and service.documents_en else service.documents_zh
    )
    lines = [ctx.t("booking.service_title", service=_name(ctx, service))]
    return lines + [ctx.t("booking.documents")] + [f"· {d}" for d in documents]


async def service_of_step(ctx: Context, step: object, data: object) -> Service | None:
    """The service a booking step (its day or time, under way or paused) is for, if any."""
    if not isinstance(step, str) or not step.startswith("booking.") or not isinstance(data, dict):
        return None
    code = data.get("service")
    return await _service(ctx, code) if isinstance(code, str) and code else None


async def _show_service(ctx: Context, service: Service) -> Reply:
    move = ctx.state.data.get("move")
    held = None if move else await _held_for(ctx, service)
    if held is not None:  # said now, not after a day and a time were chosen for nothing
        ctx.clear_state()
        return await _already_booked(ctx, service, held)
    ctx.set_state(CHOOSE_DAY, service=service.code, back="book", **({"move": move} if move else {}))
    lines = documents_lines(ctx, service)
    days = await _days_offered(ctx, service)
    if not days:
        nothing = await _no_place_ahead(ctx, service)
        return Reply("\n".join([*lines, nothing.text]), nothing.buttons)
    lines.append(ctx.t("booking.choose_day"))
    buttons = tuple(_day_button(ctx, service, plan) for plan in days)
    return Reply("\n".join(lines), buttons)


async def _held_for(ctx: Context, service: Service) -> Appointment | None:
    """The resident's appointment for this service still to come, when another would pass the
    limit of appointments per service."""
    resident = ctx.identity.resident_id
    if resident is None:
        return None
    mine = await active_appointments(ctx.session, resident, ctx.now())
    held = [a for a in mine if a.service_id == service.id]
    return held[0] if len(held) >= booking_limits(ctx).per_service else None


async def _already_booked(ctx: Context, service: Service, held: Appointment) -> Reply:
    text = ctx.t(
        "booking.already_booked",
        service=_name(ctx, service),
        ref=held.ref,
        when=_when(ctx, held.starts_at),
    )
    buttons = (
        Button(ctx.t("booking.move"), f"book:move:{held.ref}"),
        Button(ctx.t("booking.cancel"), f"book:cancel:{held.ref}"),
        *back_to_menu(ctx),
    )
    return Reply(text, buttons)


async def _days_offered(ctx: Context, service: Service) -> list[DayPlan]:
    """The next open days, and for a service offered at weekends the first weekend or holiday
    with places when those days are all workdays: it is who the weekend hours are for."""
    days = await next_open_days(ctx.session, service, ctx.now(), DAYS_SHOWN)
    if not service.weekend or not days or any(_rest_day(plan) for plan in days):
        return days
    later = await next_open_days(ctx.session, service, ctx.now(), DAYS_SHOWN + WEEK)
    rest = next((plan for plan in later[len(days) :] if _rest_day(plan)), None)
    return [*days, rest] if rest is not None else days


def _rest_day(plan: DayPlan) -> bool:
    return plan.info.kind is DayKind.HOLIDAY


def _day_button(ctx: Context, service: Service, plan: DayPlan) -> Button:
    day = plan.info.day
    label = ctx.t(
        "booking.day_label",
        date=format_day(ctx.lang, day),
        weekday=weekday_name(ctx, day),
        places=sum(s.capacity - s.booked for s in plan.free),
    )
    return Button(label, f"book:day:{service.code}:{day:%Y%m%d}")


@router.state(CHOOSE_DAY)
async def day_typed(ctx: Context) -> HandlerResult:
    """A typed day or time ("周六", "12月5日", "明天傍晚", "下午5点半" for the day shown)."""
    return await day_said(ctx, ctx.text)


async def day_said(ctx: Context, text: str) -> HandlerResult:
    """The day or time the text says, at the booking's day or time step (the text may be words
    said earlier that the resident then chose a reading for)."""
    service = await _service(ctx, str(ctx.state.data.get("service", "")))
    if service is None:
        return await start_booking(ctx)
    asked = parse_when(_hour_alone(ctx, text), _today(ctx))
    if not says_when(asked):
        if "move" in ctx.state.data and gives_up(ctx, text):
            ctx.clear_state()  # "算了不改了": the appointment stays as it was
            return await main_menu(ctx, ctx.t("booking.move_dropped"))
        return _not_understood(ctx)
    return await _show_asked(ctx, service, asked)


def _hour_alone(ctx: Context, text: str) -> str:
    """A number alone typed at a day's times ("10", "17") is an hour, read as "10点" is; the
    number of an option shown was taken before as that option (WeChat numbers them). At the
    days it stays unread: "10" could be a date as well."""
    number = read_number(text.strip().rstrip("。.!！"))
    if "day" in ctx.state.data and number is not None and 0 < number < HOURS_A_DAY:
        return f"{number}点"
    return _asked_for(ctx, text)


def _asked_for(ctx: Context, text: str) -> str:
    """The part of the text that says the day or time wanted: from the first 改到 / 换成 …
    on, when a day or time follows it ("十点来不了，改到11点半" asks for 11:30, not 10:00;
    "改到周六，时间换成下午三点" keeps both)."""
    folded = fold(text)
    markers = load_lexicon(Path(ctx.settings.data_dir)).words.get("move_target", ())
    ends = [folded.find(marker) + len(marker) for marker in markers if marker in folded]
    if not ends:
        return text
    rest = folded[min(ends) :]
    return rest if names_when(rest) else text


def _not_understood(ctx: Context) -> Reply:
    """Words that are no day or time: ask again, with what was on the screen still there (at
    the confirm question, its 确认 stays; for a move, saying the appointment is unchanged)."""
    shown = options_again(ctx)
    key = "booking.day_not_understood"
    if any(button.payload.startswith("book:ok:") for button in shown):
        moving = "move" in ctx.state.data
        key = "booking.move_not_understood" if moving else "booking.confirm_not_understood"
    elif any(button.payload.startswith("book:slot:") for button in shown):
        key = "booking.time_not_understood"  # the buttons are times, not days
    return Reply(ctx.t(key), shown)


@router.payload("book:day")
async def day_chosen(ctx: Context) -> HandlerResult:
    """The slots of a chosen day (from a page of them, for "earlier" and "later")."""
    code, _, rest = ctx.args.partition(":")
    day_text, _, page_text = rest.partition(":")
    service = await _service(ctx, code)
    try:
        day = datetime.strptime(day_text, "%Y%m%d").date()
    except ValueError:
        day = None
    if service is None or day is None:
        return await start_booking(ctx)
    start = int(page_text) if page_text.isdecimal() and len(page_text) < 4 else 0
    return await _show_day(ctx, service, day, None, None, start)


async def _show_day(
    ctx: Context,
    service: Service,
    day: date,
    part: DayPart | None,
    at: time | None,
    start: int = 0,
) -> Reply:
    move = ctx.state.data.get("move")
    # Booked from words ("预约医保 明天晚上7点"), the service has not been named to the resident.
    unnamed = ctx.state.data.get("service") != service.code
    ctx.set_state(
        CHOOSE_DAY,
        service=service.code,
        day=day.isoformat(),
        back=f"{BOOK_SERVICE}{service.code}",
        **({"move": move} if move else {}),
    )
    plan = await plan_day(ctx.session, service, day, ctx.now())
    if plan.closed is not None:
        return await _closed(ctx, service, plan, unnamed=unnamed)
    wanted = [s for s in plan.free if _fits(s, plan, part, at)]
    if at is not None and wanted:
        asked = _confirm_question(ctx, service, wanted[0])
        return replace(asked, text=asked.text + _unpublished_note(ctx, plan))
    if not wanted:
        return await _nothing_free(ctx, service, plan, part, at, unnamed=unnamed)
    buttons = _slot_page(ctx, service, day, wanted, start if part is None else 0)
    title = ctx.t(
        "booking.choose_slot",
        service=_name(ctx, service),
        date=format_day(ctx.lang, day),
        weekday=weekday_name(ctx, day),
    )
    return Reply(title + _unpublished_note(ctx, plan) + "\n" + ctx.t("booking.slot_hint"), buttons)


def _unpublished_note(ctx: Context, plan: DayPlan) -> str:
    """On an open day of a year whose holiday schedule is not out: it may still change."""
    if plan.info.published:
        return ""
    return ctx.t("booking.unpublished_open", year=plan.info.day.year)


def _slot_page(
    ctx: Context, service: Service, day: date, wanted: list[BookingSlot], start: int
) -> tuple[Button, ...]:
    """One page of a day's free slots, with "earlier" and "later" when there are more: every
    slot of the day, up to the after-work ones, can be reached."""
    start = max(0, min(start, len(wanted) - 1))
    fits = SLOTS_SHOWN if len(wanted) <= SLOTS_SHOWN else SLOTS_SHOWN - 2
    shown = wanted[start : start + fits]
    buttons = [
        Button(
            ctx.t(
                "booking.slot_label",
                time=format_time(s.starts_at.astimezone(SHANGHAI).time()),
                places=s.capacity - s.booked,
            ),
            f"book:slot:{s.id}",
        )
        for s in shown
    ]
    page = f"book:day:{service.code}:{day:%Y%m%d}"
    if start > 0:
        buttons.append(Button(ctx.t("booking.earlier_times"), f"{page}:{max(0, start - fits)}"))
    if start + fits < len(wanted):
        buttons.append(Button(ctx.t("booking.later_times"), f"{page}:{start + fits}"))
    return tuple(buttons)


def _fits(slot: BookingSlot, plan: DayPlan, part: DayPart | None, at: time | None) -> bool:
    local = slot.starts_at.astimezone(SHANGHAI)
    end = slot.ends_at.astimezone(SHANGHAI)
    if at is not None:
        return local.time() <= at < end.time()
    if part is None:
        return True
    first, until = _part_hours(plan, part)
    return first <= local.time() < until


def _part_hours(plan: DayPlan, part: DayPart) -> tuple[time, time]:
    """The hours a part of the day stands for on the plan's day: the morning until noon, the
    afternoon from noon, after work (傍晚/下班后) the last hour before closing, not before noon."""
    if part is DayPart.MORNING:
        return time.min, NOON
    if part is DayPart.AFTERNOON or plan.closes is None:
        return NOON, time.max
    hour_before = datetime.combine(plan.info.day, plan.closes) - timedelta(hours=1)
    return max(NOON, hour_before.time()), time.max


async def _closed(ctx: Context, service: Service, plan: DayPlan, *, unnamed: bool) -> Reply:
    """Why the day is closed, and the nearest days that are open."""
    day = plan.info.day
    holiday = holiday_label(ctx, plan.info)
    weekday = weekday_name(ctx, day)
    reason = ctx.t(
        f"booking.closed_{plan.closed}",
        date=format_day(ctx.lang, day),
        weekday=ctx.t("booking.weekday_holiday", weekday=weekday, holiday=holiday)
        if holiday
        else weekday,
    )
    # A holiday the law fixes by date (元旦) is one whatever the year's schedule will add.
    if not plan.info.published and plan.info.holiday is None:
        reason += ctx.t("booking.unpublished", year=day.year)
    reason = _for_service(ctx, service, unnamed) + reason
    near = day if plan.closed in NEAR_CLOSED else None
    return await _with_alternatives(ctx, service, reason, near=near)


NEAR_CLOSED = (Closed.NOT_ON_HOLIDAYS, Closed.NO_HOURS)  # closed, not gone by nor too far


def _for_service(ctx: Context, service: Service, unnamed: bool) -> str:
    """The service's name before a day's answer, when the resident has not been told it yet."""
    return ctx.t("booking.for_service", service=_name(ctx, service)) if unnamed else ""


async def _nothing_free(
    ctx: Context,
    service: Service,
    plan: DayPlan,
    part: DayPart | None,
    at: time | None,
    *,
    unnamed: bool,
) -> Reply:
    """No free slot at the asked time (or on the day): why — not offered that day, taken, or
    nobody on duty yet — then the nearest free times, and the waitlist of a taken slot."""
    asked = [s for s in plan.slots if _fits(s, plan, part, at)]
    taken = [s for s in asked if s.capacity > 0]
    reason = await _why_nothing_free(ctx, plan, part, at, asked, taken)
    reason = _for_service(ctx, service, unnamed) + reason
    wait_for = taken[0] if taken else None
    if not plan.free:
        return await _with_alternatives(ctx, service, reason, wait_for)
    # Other times of the same day still have places: the nearest to the time asked for.
    nearest = sorted(plan.free, key=lambda s: _distance(s, plan, part, at))[:ALTERNATIVES]
    buttons = tuple(_slot_button(ctx, s, with_day=False) for s in sorted(nearest, key=_start))
    text = reason + ctx.t("booking.alternatives")
    return Reply(text, (*_wait_button(ctx, wait_for), *buttons, *back_to_menu(ctx)))


def _wait_button(ctx: Context, slot: BookingSlot | None) -> tuple[Button, ...]:
    return (Button(ctx.t("booking.wait"), f"book:wait:{slot.id}"),) if slot else ()


async def _why_nothing_free(
    ctx: Context,
    plan: DayPlan,
    part: DayPart | None,
    at: time | None,
    asked: list[BookingSlot],
    taken: list[BookingSlot],
) -> str:
    day = plan.info.day
    values = {
        "date": format_day(ctx.lang, day),
        "weekday": weekday_name(ctx, day),
        "time": format_time(at) if at else "",
        "hours": ctx.t(
            "booking.hours", opens=format_time(plan.opens), closes=format_time(plan.closes)
        )
        if plan.opens and plan.closes
        else "",
    }
    if at is not None and plan.opens and plan.closes and not plan.opens <= at < plan.closes:
        return ctx.t("booking.time_outside", **values)
    if (part or at) and not asked:  # that time is not offered on that day
        return ctx.t("booking.outside_hours", **values)
    if taken:
        return ctx.t("booking.time_full" if part or at else "booking.day_full", **values)
    return ctx.t("booking.day_unstaffed", **values) + await _roster_note(ctx, day)


def _start(slot: BookingSlot) -> datetime:
    return slot.starts_at


def _distance(slot: BookingSlot, plan: DayPlan, part: DayPart | None, at: time | None) -> float:
    """How far a slot is from the time asked for (in seconds), so the nearest come first."""
    local = slot.starts_at.astimezone(SHANGHAI)
    if at is None and part is None:
        return local.timestamp()
    first, until = (at, at) if at else _part_hours(plan, part or DayPart.MORNING)
    early = datetime.combine(local.date(), first, SHANGHAI) - local
    late = local - datetime.combine(local.date(), until, SHANGHAI)
    return max(early.total_seconds(), late.total_seconds(), 0.0)


async def _roster_note(ctx: Context, day: date | None) -> str:
    """When to ask again: the day the roster roll-forward first staffs `day` (without a day,
    the first day it has not reached). When it has reached them and still nobody is on duty,
    nobody is scheduled for the service: the street's phone instead."""
    weeks = ctx.settings.roster_weeks_ahead
    today = _today(ctx)
    wanted = day or today + timedelta(weeks=weeks)
    again = planned_by(wanted, weeks)
    if again <= today or wanted > today + timedelta(days=HORIZON_DAYS):
        street = await ctx.reference.street(ctx.unit)
        return ctx.t("booking.roster_nobody", phone=street.phone) if street else ""
    return ctx.t(
        "booking.roster_ahead",
        weeks=weeks,
        date=format_day(ctx.lang, again),
        weekday=weekday_name(ctx, again),
    )


async def _no_place_ahead(ctx: Context, service: Service, said: str = "") -> Reply:
    """No free slot in the weeks ahead: all taken (the waitlist of the soonest) or nobody on
    duty for the service yet (when to ask again, unless `said` already says the same)."""
    taken = await staffed_slots(ctx.session, service.id or 0, ctx.now(), 1)
    if taken:
        text = ctx.t("booking.all_taken", when=_when(ctx, taken[0].starts_at))
        return Reply(text, (*_wait_button(ctx, taken[0]), *back_to_menu(ctx)))
    note = await _roster_note(ctx, None)
    text = ctx.t("booking.unstaffed") + ("" if note in said else note)
    return Reply(text, back_to_menu(ctx))


async def _with_alternatives(
    ctx: Context,
    service: Service,
    reason: str,
    wait_for: BookingSlot | None = None,
    near: date | None = None,
) -> Reply:
    """The reason, then the nearest times with places (slots already made first: cheap), from
    the day asked for on when there are any (元旦 closed: the days after it, not tomorrow's), and
    the waitlist of the slot that was asked for when it is taken."""
    slots: list[BookingSlot] = []
    if near is not None:
        slots = await _free_slots_from(ctx, service, _start_of(near))
    if not slots:
        slots = await _free_slots_from(ctx, service, ctx.now())
    if not slots and wait_for is not None:
        text = reason + ctx.t("booking.others_taken")
        return Reply(text, (*_wait_button(ctx, wait_for), *back_to_menu(ctx)))
    if not slots:
        nothing = await _no_place_ahead(ctx, service, reason)
        return Reply(f"{reason}\n{nothing.text}", nothing.buttons)
    buttons = tuple(_slot_button(ctx, s, with_day=True) for s in slots)
    text = reason + ctx.t("booking.alternatives")
    return Reply(text, (*_wait_button(ctx, wait_for), *buttons, *back_to_menu(ctx)))


async def _free_slots_from(ctx: Context, service: Service, moment: datetime) -> list[BookingSlot]:
    """The first free slots from a moment on (not before now, nor past the days residents may
    book, counted from today)."""
    moment = max(moment, ctx.now())
    last = ctx.now().astimezone(SHANGHAI).date() + timedelta(days=HORIZON_DAYS)
    left = (last - moment.astimezone(SHANGHAI).date()).days
    if left < 0:
        return []
    slots = await known_free_slots(ctx.session, service.id or 0, moment, ALTERNATIVES)
    slots = [s for s in slots if s.starts_at.astimezone(SHANGHAI).date() <= last]
    if not slots:
        plans = await next_open_days(ctx.session, service, moment, 2, horizon_days=left)
        slots = [s for plan in plans for s in plan.free][:ALTERNATIVES]
    return slots


def _start_of(day: date) -> datetime:
    """Midnight of a day in Shanghai."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def _slot_button(ctx: Context, slot: BookingSlot, *, with_day: bool) -> Button:
    local = slot.starts_at.astimezone(SHANGHAI)
    when = format_time(local.time())
    if with_day:
        when = f"{format_day(ctx.lang, local.date())} {weekday_name(ctx, local.date())} {when}"
    return Button(
        ctx.t("booking.slot_label", time=when, places=slot.capacity - slot.booked),
        f"book:slot:{slot.id}",
    )


@router.payload("book:slot")
async def slot_chosen(ctx: Context) -> HandlerResult:
    """Ask to confirm the chosen slot."""
    slot = await _slot(ctx, ctx.args)
    if slot is None:
        return await start_booking(ctx)
    service = await ctx.session.get(Service, slot.service_id)
    if service is None:
        return await start_booking(ctx)
    return _confirm_question(ctx, service, slot)


async def _slot(ctx: Context, text: str) -> BookingSlot | None:
    return (
        await ctx.session.get(BookingSlot, int(text))
        if text.isascii() and text.isdecimal() and len(text) < 10
        else None
    )


def _confirm_question(ctx: Context, service: Service, slot: BookingSlot) -> Reply:
    key = "booking.confirm_move" if ctx.state.data.get("move") else "booking.confirm"
    text = ctx.t(key, service=_name(ctx, service), when=_when(ctx, slot.starts_at))
    return Reply(text, (Button(ctx.t("booking.yes"), f"book:ok:{slot.id}"), *back_to_menu(ctx)))


@router.payload("book:ok")
async def confirmed(ctx: Context) -> HandlerResult:
    """Book (or move to) the slot; full → alternatives and the waitlist."""
    slot = await _slot(ctx, ctx.args)
    if slot is None:
        return await start_booking(ctx)
    move = ctx.state.data.get("move")
    if slot.booked >= slot.capacity:  # full already: no need to make a resident record
        return await _full(ctx, slot, move)
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    if isinstance(move, str):
        appointment = await own_appointment(ctx, move)
        if appointment is None:
            return await start_booking(ctx)
        result = await reschedule(
            ctx.session,
            appointment,
            slot.id or 0,
            ctx.now(),
            reminder_rules(ctx),
            booking_limits(ctx),
        )
        await _announce_offers(ctx, result.offered)
    else:
        result = await book_slot(
            ctx.session,
            resident_id=resident.id or 0,
            slot_id=slot.id or 0,
            now=ctx.now(),
            street_code=await street_code(ctx),
            rules=reminder_rules(ctx),
            limits=booking_limits(ctx),
            identity_id=ctx.identity.id,
        )
    ctx.clear_state()
    if result.outcome is Outcome.BOOKED and result.appointment is not None:
        return await _booked_reply(ctx, result.appointment, moved=bool(move))
    if result.outcome is Outcome.FULL:
        return await _full(ctx, slot, move)
    reason = ctx.t(f"booking.outcome_{result.outcome}")
    return Reply(reason, (*_mine_button(ctx), *back_to_menu(ctx)))


async def _full(ctx: Context, slot: BookingSlot, move: object = None) -> Reply:
    """The slot is full: the nearest times with places, and the waitlist. A move goes on:
    the times offered move the same appointment, they do not book another."""
    service = await ctx.session.get(Service, slot.service_id)
    if isinstance(move, str) and service is not None:
        ctx.set_state(CHOOSE_DAY, service=service.code, back="book", move=move)
    else:
        ctx.clear_state()
    await ctx.session.refresh(slot)
    if slot.capacity == 0 and service is not None:  # nobody left to serve it: no waitlist
        return await _with_alternatives(ctx, service, ctx.t("booking.unstaffed"))
    reason = ctx.t("booking.outcome_full")
    if service is None:
        return Reply(reason, back_to_menu(ctx))
    return await _with_alternatives(ctx, service, reason, slot)


async def _booked_reply(ctx: Context, appointment: Appointment, *, moved: bool) -> Reply:
    service = await ctx.session.get(Service, appointment.service_id)
    street = await ctx.reference.street(ctx.unit)
    documents = ""
    if service is not None:
        items = (
            service.documents_en
            if ctx.lang == "en" and service.documents_en
            else service.documents_zh
        )
        documents = "、".join(items) if ctx.lang != "en" else "; ".join(items)
    text = ctx.t(
        "booking.moved" if moved else "booking.booked",
        ref=appointment.ref,
        service=_name(ctx, service) if service else "",
        when=_when(ctx, appointment.starts_at),
        hall=localized(ctx, street.service_hall_zh, street.service_hall_en) if street else "",
        address=localized(ctx, street.address_zh, street.address_en) if street else "",
        documents=documents,
    )
    link = Link(ics_link(ctx, appointment.ref), ctx.t("booking.calendar"))
    return Reply(text, (*_mine_button(ctx), *back_to_menu(ctx)), link)


@router.payload("book:wait")
async def wait_for_place(ctx: Context) -> HandlerResult:
    """Join the waitlist of a full slot; a slot with places left is offered to book instead."""
    slot = await _slot(ctx, ctx.args)
    if slot is None or slot.starts_at <= ctx.now():
        return await start_booking(ctx)
    if slot.booked < slot.capacity:
        return await slot_chosen(ctx)
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    if await join_waitlist(ctx.session, slot.id or 0, resident.id or 0, ctx.now()) is None:
        return await slot_chosen(ctx)
    minutes = ctx.settings.waitlist_offer_minutes
    return Reply(
        ctx.t("booking.waiting", when=_when(ctx, slot.starts_at), minutes=minutes),
        back_to_menu(ctx),
    )


@router.payload("book:accept")
async def accept_place(ctx: Context) -> HandlerResult:
    """Take the place a waitlist offer holds."""
    entry = (
        await ctx.session.get(WaitlistEntry, int(ctx.args))
        if ctx.args.isdecimal() and len(ctx.args) < 10
        else None
    )
    if entry is None or entry.resident_id != ctx.identity.resident_id:
        return Reply(ctx.t("booking.offer_gone"), back_to_menu(ctx))
    result = await accept_offer(
        ctx.session,
        entry,
        ctx.now(),
        street_code=await street_code(ctx),
        rules=reminder_rules(ctx),
        identity_id=ctx.identity.id,
    )
    if result.appointment is None:
        return Reply(ctx.t("booking.offer_gone"), back_to_menu(ctx))
    return await _booked_reply(ctx, result.appointment, moved=False)


@router.payload("book:mine")
@router.command("appointments")
async def my_appointments(ctx: Context) -> HandlerResult:
    """Booked appointments still to come, each with cancel and reschedule."""
    ctx.clear_state()
    if ctx.identity.resident_id is None:
        return Reply(
            ctx.t("booking.none"), (Button(ctx.t("menu.book"), "book"), *back_to_menu(ctx))
        )
    appointments = await active_appointments(ctx.session, ctx.identity.resident_id, ctx.now())
    if not appointments:
        return Reply(
            ctx.t("booking.none"), (Button(ctx.t("menu.book"), "book"), *back_to_menu(ctx))
        )
    replies = [await _appointment_item(ctx, appointment) for appointment in appointments]
    replies.append(Reply(ctx.t("booking.mine_footer"), back_to_menu(ctx)))
    return replies


# An appointment's options typed in words instead of pressed (data/intents.toml): "改期",
# "换个时间", "reschedule" choose 改约; "不去了", "退掉", "cancel it" choose 取消. The *_option
# words say too little on their own, so they count only with the option on screen.
OPTION_WORDS = {
    MOVE: ("move_booking", "move_option"),
    CANCEL: ("cancel_booking", "cancel_option"),
}
OPTION_WORDS_CHARS, OPTION_WORDS_COUNT = 12, 6  # a short message …
OPTION_REST = 2  # … that says little else: "帮我改期吧", not "居住证延期"
SHOWN_TO_CHOOSE = 8  # appointments offered to choose from
RECENT_BOOKING = timedelta(minutes=30)  # "right after booking": the one just made
_OPTION = "booking.option_in_words"


def _shown_refs(ctx: Context, prefix: str) -> list[str]:
    """The appointments whose option of this prefix is on screen, in the order shown."""
    options = ctx.state.data.get("options")
    shown = options if isinstance(options, list) else []
    refs = [str(o).removeprefix(prefix) for o in shown if str(o).startswith(prefix)]
    return list(dict.fromkeys(refs))


def _option_in_words(ctx: Context) -> bool:
    """A short message in an appointment option's words, with no question and no day (a day
    to move to is read by the move of the free-text understanding): the option on screen, or,
    with no flow under way, the move of whichever appointment is meant."""
    if ctx.payload is not None or not ctx.text or ctx.command not in (None, "cancel"):
        return False  # 菜单, 返回 … are theirs; "取消预约" is this route's before the command's
    if not is_short(ctx.words, chars=OPTION_WORDS_CHARS, count=OPTION_WORDS_COUNT):
        return False
    folded = fold(ctx.text)
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    if lexicon.has("question", folded) or names_when(folded):
        return False
    for prefix, (words, on_screen) in OPTION_WORDS.items():
        shown = bool(_shown_refs(ctx, prefix))
        kinds = (words, on_screen) if shown else (words,)
        if (shown or (prefix == MOVE and not ctx.state.name)) and _says_only(
            lexicon, folded, kinds
        ):
            ctx.extra[_OPTION] = prefix
            return True
    return False


def _says_only(lexicon: Lexicon, folded: str, kinds: tuple[str, ...]) -> bool:
    """Whether the text holds one of the kinds' words and, besides them and words that name
    nothing (我, 想, 帮, 一下, 预约 …), hardly a character more."""
    rest = lexicon.pattern(*kinds).sub(" ", folded)
    if rest == folded:
        return False
    rest = lexicon.pattern("filler", "generic").sub(" ", rest)
    return sum(ch.isalnum() for ch in rest) <= OPTION_REST


@router.route(Phase.COMMAND, _option_in_words)
async def option_in_words(ctx: Context) -> HandlerResult:
    """The option typed in words, as pressing it would; with several on screen, which one;
    with none on screen, the move of the only, or just booked, appointment."""
    prefix = str(ctx.extra[_OPTION])
    refs = _shown_refs(ctx, prefix)
    if not refs:
        meant = await only_or_latest(ctx)
        if meant is None:
            return await which_appointment(ctx, prefix, await upcoming_appointments(ctx))
        refs = [meant.ref]
    if len(refs) == 1:
        return await ctx.redirect(ctx, f"{prefix}{refs[0]}")
    shown = [await own_appointment(ctx, ref) for ref in refs]
    return await which_appointment(ctx, prefix, [a for a in shown if a is not None])


async def which_appointment(
    ctx: Context, prefix: str, appointments: list[Appointment]
) -> HandlerResult:
    """Which appointment to move or cancel (prefix: MOVE or CANCEL); none: say so, with 预约."""
    ctx.clear_state()
    if not appointments:
        key = "records.nothing_to_move" if prefix == MOVE else "booking.none"
        return Reply(ctx.t(key), (Button(ctx.t("menu.book"), "book"), *back_to_menu(ctx)))
    key = "records.which_to_move" if prefix == MOVE else "records.which_to_cancel"
    buttons, listed = [], {}
    for appointment in appointments[:SHOWN_TO_CHOOSE]:
        service = await ctx.session.get(Service, appointment.service_id)
        buttons.append(
            Button(await appointment_label(ctx, appointment), f"{prefix}{appointment.ref}")
        )
        listed[f"{prefix}{appointment.ref}"] = service.code if service else ""
    ctx.set_state("", listed=listed)  # no step: only a service's name typed next chooses
    return Reply(ctx.t(key), (*buttons, *back_to_menu(ctx)))


def _listed_by_name(ctx: Context) -> str | None:
    """At a list of appointments to cancel or move, the option of the one whose service the
    words name ("高龄补贴那个", "the residence permit one"; a walkthrough got an FAQ), through
    the shared service matching; not a question, a denial or a long sentence."""
    listed = ctx.state.data.get("listed")
    if ctx.payload is not None or not ctx.text or ctx.state.name or not isinstance(listed, dict):
        return None
    folded, data = fold(ctx.text), Path(ctx.settings.data_dir)
    longest = LISTED_LETTERS if folded.isascii() else LISTED_CHARS
    if len(folded) > longest or any(mark in folded for mark in "?？吗") or no_order(folded):
        return None
    if load_lexicon(data).has("question", folded) or names_when(folded):
        return None  # "社保卡补办要带什么材料"; a day is the move's, read with it (reviews)
    among = {str(code) for code in listed.values()}
    named = services_named(ctx.text, load_lexicon(data), load_service_catalogue(data), among=among)
    shown = {button.payload for button in options_shown(ctx.state.data)}  # not a list gone by
    chosen = [p for p, code in listed.items() if code in {m.code for m in named} and p in shown]
    return chosen[0] if len(chosen) == 1 else None


@router.route(Phase.COMMAND, lambda ctx: _listed_by_name(ctx) is not None)
async def listed_by_name(ctx: Context) -> HandlerResult:
    """The appointment named at the list: as pressing it."""
    return await ctx.redirect(ctx, _listed_by_name(ctx) or "")


# A service's name with a pointing word or two, no sentence: in characters, or English letters.
LISTED_CHARS, LISTED_LETTERS = 20, 48


async def appointment_label(ctx: Context, appointment: Appointment) -> str:
    """An appointment on a button: its service and when."""
    service = await ctx.session.get(Service, appointment.service_id)
    name = _name(ctx, service) if service else ""
    return ctx.t("records.appointment_label", service=name, when=_when(ctx, appointment.starts_at))


async def upcoming_appointments(ctx: Context) -> list[Appointment]:
    """This resident's appointments still to come."""
    if ctx.identity.resident_id is None:
        return []
    return await active_appointments(ctx.session, ctx.identity.resident_id, ctx.now())


async def only_or_latest(ctx: Context) -> Appointment | None:
    """The only upcoming appointment, or the one booked a moment ago."""
    upcoming = await upcoming_appointments(ctx)
    return upcoming[0] if len(upcoming) == 1 else _booked_a_moment_ago(ctx, upcoming)


async def just_booked(ctx: Context) -> Appointment | None:
    """The upcoming appointment booked a moment ago (within RECENT_BOOKING), if any."""
    return _booked_a_moment_ago(ctx, await upcoming_appointments(ctx))


def _booked_a_moment_ago(ctx: Context, upcoming: Sequence[Appointment]) -> Appointment | None:
    latest = max(upcoming, key=lambda a: a.created_at, default=None)
    recent = latest is not None and latest.created_at >= ctx.now() - RECENT_BOOKING
    return latest if recent else None


async def own_appointment(ctx: Context, ref: str) -> Appointment | None:
    """The appointment if it belongs to this resident (others' refs reveal nothing)."""
    appointment = await find_appointment(ctx.session, ref[:32])
    if appointment is None or ctx.identity.resident_id is None:
        return None
    return appointment if appointment.resident_id == ctx.identity.resident_id else None


@router.payload("book:cancel")
async def cancel_question(ctx: Context) -> HandlerResult:
    """Ask before cancelling."""
    appointment = await own_appointment(ctx, ctx.args)
    if appointment is None:
        return Reply(ctx.t("booking.not_found"), back_to_menu(ctx))
    return await _cancel_question(ctx, appointment)


async def _cancel_question(
    ctx: Context, appointment: Appointment, *, changed: bool = False
) -> Reply:
    # The service is named: a resident with two appointments at one time must see which.
    service = await ctx.session.get(Service, appointment.service_id)
    text = ctx.t(
        "booking.cancel_question",
        service=_name(ctx, service) if service else "",
        ref=appointment.ref,
        when=_when(ctx, appointment.starts_at),
    )
    if changed:
        text = f"{ctx.t('booking.cancel_changed', ref=appointment.ref)}\n{text}"
    # The time asked about goes with the answer: a 确定取消 left on screen must not cancel the
    # booking after it was moved to another time.
    payload = f"book:cancelled:{appointment.ref}:{_minute_of(appointment.starts_at)}"
    return Reply(text, (Button(ctx.t("booking.cancel_yes"), payload), *back_to_menu(ctx)))


def _minute_of(moment: datetime) -> int:
    """A moment as whole minutes since the epoch: short, and the same in any time zone."""
    return int(moment.timestamp()) // 60


def _kept_at_cancel_question(ctx: Context) -> str | None:
    """The appointment whose cancel question is on screen, when the words then take the cancel
    back ("算了不取消了", "不用了", "don't cancel"; a walkthrough was offered 取消我的预约)."""
    if ctx.payload is not None or not ctx.text or ctx.state.name:
        return None
    shown = payloads_shown(ctx.state.data, "book:cancelled:")
    if len(shown) != 1:
        return None
    if not (CANCEL_DENIED.search(fold(ctx.text)) or gives_up(ctx, ctx.text)):
        return None
    return shown[0].split(":")[2]


@router.route(Phase.COMMAND, lambda ctx: _kept_at_cancel_question(ctx) is not None)
async def cancel_taken_back(ctx: Context) -> HandlerResult:
    """Not cancelled after all: the appointment stands, said with its time."""
    appointment = await own_appointment(ctx, _kept_at_cancel_question(ctx) or "")
    if appointment is None:
        return await main_menu(ctx)
    when = _when(ctx, appointment.starts_at)
    return await main_menu(ctx, ctx.t("booking.cancel_kept", ref=appointment.ref, when=when))


@router.payload("book:cancelled")
async def cancel_confirmed(ctx: Context) -> HandlerResult:
    """Cancel; the freed place is offered to the waitlist."""
    ref, _, asked_at = ctx.args.partition(":")
    appointment = await own_appointment(ctx, ref)
    if appointment is None:
        return Reply(ctx.t("booking.not_found"), back_to_menu(ctx))
    if asked_at and asked_at != str(_minute_of(appointment.starts_at)):
        return await _cancel_question(ctx, appointment, changed=True)
    offered = await cancel_appointment(ctx.session, appointment, ctx.now(), booking_limits(ctx))
    await _announce_offers(ctx, offered)
    return await main_menu(ctx, ctx.t("booking.cancelled", ref=appointment.ref))


@router.payload("book:move")
async def move_start(ctx: Context) -> HandlerResult:
    """Reschedule: choose a new day for the same service."""
    appointment = await own_appointment(ctx, ctx.args)
    service = await ctx.session.get(Service, appointment.service_id) if appointment else None
    if appointment is None or service is None:
        return Reply(ctx.t("booking.not_found"), back_to_menu(ctx))
    ctx.set_state(CHOOSE_DAY, move=appointment.ref)
    return await _show_service(ctx, service)


async def _announce_offers(ctx: Context, offered: list[WaitlistEntry]) -> None:
    """Tell each resident a place is held for them (through the outbox)."""
    await ctx.unit.flush()
    for entry in offered:
        await announce_offer(ctx, entry)


async def announce_offer(ctx: Context, entry: WaitlistEntry) -> None:
    """One waitlist offer as an outbox message to the resident."""
    slot = await ctx.session.get(BookingSlot, entry.slot_id)
    if slot is not None:
        minutes = ctx.settings.waitlist_offer_minutes
        await offer_place(ctx.unit.connection, entry, slot, minutes, ctx.now())
