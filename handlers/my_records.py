"""Free text about the resident's own records, from anywhere, even in the middle of a flow:
"取消我的预约" offers their appointments to cancel, "改到下周六" moves the appointment they are
looking at (or just booked; "改期" with no day chooses its new day as 改约 does), "我的代办办到哪了"
shows their cases. Each uses the existing flow (cancel, reschedule, 进度); none starts a new
request."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from bot.context import Context
from bot.messages import Reply
from bot.router import HandlerResult
from handlers.booking import (
    CANCEL,
    CHOOSE_DAY,
    MOVE,
    appointment_card,
    day_said,
    my_appointments,
    only_or_latest,
    own_appointment,
    upcoming_appointments,
    which_appointment,
)
from handlers.cases import cases_of
from handlers.common import back_to_menu, localized
from models.base import SHANGHAI
from models.booking import Appointment
from models.cases import CaseKind
from models.intents import fold, load_lexicon, no_order, says_cancel, services_named
from models.service_match import load_service_catalogue
from models.services import Service
from models.when import names_when

MOVE_PAYLOADS = ("book:move:", "book:cancel:", "book:cancelled:")


async def offer_to_cancel(ctx: Context) -> HandlerResult:
    """The cancel question of the appointment named ("取消高龄补贴那个"), in view, or the only
    one; else the resident's upcoming appointments, each with the booking flow's question."""
    upcoming = await upcoming_appointments(ctx)
    named = await _named_by_service(ctx, ctx.text, upcoming)
    if named is not None and len(named) != 1:
        return await _which_of_named(ctx, CANCEL, named, upcoming)
    in_view = named[0] if named else await _in_view(ctx)
    if in_view is not None or len(upcoming) == 1:
        ctx.clear_state()
        return await ctx.redirect(ctx, f"{CANCEL}{(in_view or upcoming[0]).ref}")
    if not upcoming:
        ctx.clear_state()
        return await my_appointments(ctx)  # says there are none, with 预约
    return await which_appointment(ctx, CANCEL, upcoming)


async def move_to_day(ctx: Context, text: str | None = None) -> HandlerResult:
    """Move the appointment in view (or just booked, or the only one) to the day typed (or said
    in text, the words a reading was chosen for); with no day ("改期", "reschedule"), its new
    day is chosen as after pressing 改约."""
    text = ctx.text if text is None else text
    upcoming = await upcoming_appointments(ctx)
    named = await _named_by_service(ctx, text, upcoming)
    if named is not None and len(named) != 1:
        return await _which_of_named(ctx, MOVE, named, upcoming)
    appointment = named[0] if named else await _in_view(ctx)
    if appointment is None and len(_refs_in_view(ctx)) < 2:
        appointment = await only_or_latest(ctx)
    if appointment is None:
        return await which_appointment(ctx, MOVE, await upcoming_appointments(ctx))
    return await _move_to_said(ctx, appointment, text)


async def move_by_reference(ctx: Context, ref: str, text: str) -> HandlerResult:
    """ "LCY-… 改到周六上午10点": that appointment moved to the day said (a walkthrough: the day
    was ignored); another's, or none, is told as 改约 tells it."""
    appointment = await own_appointment(ctx, ref)
    if appointment is None:
        return await ctx.redirect(ctx, f"{MOVE}{ref}")
    return await _move_to_said(ctx, appointment, text.replace(ref, " "))


async def _move_to_said(ctx: Context, appointment: Appointment, text: str) -> HandlerResult:
    if not names_when(fold(text)):
        return await ctx.redirect(ctx, f"{MOVE}{appointment.ref}")
    service = await ctx.session.get(Service, appointment.service_id)
    if service is None:
        return await my_appointments(ctx)
    # The reschedule step of the booking flow, with the typed day read as it reads days; a time
    # alone ("改到5点半") keeps the appointment's own day.
    own_day = appointment.starts_at.astimezone(SHANGHAI).date().isoformat()
    ctx.set_state(
        CHOOSE_DAY, service=service.code, move=appointment.ref, back="book:mine", day=own_day
    )
    return await day_said(ctx, text)


async def show_my_cases(ctx: Context) -> HandlerResult:
    """进度 for what was asked about: proxy cases when the message says 代办 (data/intents.toml's
    track_proxy words), else all."""
    proxy = load_lexicon(Path(ctx.settings.data_dir)).has("track_proxy", fold(ctx.text))
    kind = CaseKind.PROXY if proxy else None
    return await cases_of(ctx, kind)


async def has_appointments(ctx: Context) -> bool:
    """Whether the resident has an appointment still to come."""
    return bool(await upcoming_appointments(ctx))


def _refs_in_view(ctx: Context) -> set[str]:
    """The appointments the resident is moving or looking at (their buttons are on screen)."""
    data = ctx.state.data
    refs = {data["move"]} if isinstance(data.get("move"), str) else set()
    options = data.get("options")
    if not refs and isinstance(options, list):
        refs = {
            str(o).split(":")[2]  # "book:cancelled:REF:minute" carries the time asked about
            for o in options
            if isinstance(o, str) and o.startswith(MOVE_PAYLOADS)
        }
    return refs


async def _in_view(ctx: Context) -> Appointment | None:
    """The appointment the resident is moving or looking at, when it is one."""
    refs = _refs_in_view(ctx)
    if len(refs) != 1:
        return None
    return await own_appointment(ctx, next(iter(refs)))


async def names_an_appointment(ctx: Context, text: str) -> bool:
    """Whether the words name the service of one of the resident's upcoming appointments."""
    return bool(await _named_by_service(ctx, text, await upcoming_appointments(ctx)))


async def _named_by_service(
    ctx: Context, text: str, upcoming: list[Appointment]
) -> list[Appointment] | None:
    """The upcoming appointments whose service the words name ("社保卡那个改到下周六"), through
    the shared service-matching path: None when the words name no service, empty when they
    name one the resident has no appointment for."""
    if not upcoming or not text:
        return None
    data = Path(ctx.settings.data_dir)
    lexicon, catalogue = load_lexicon(data), load_service_catalogue(data)
    codes = {a.id: await _service_code(ctx, a) for a in upcoming}
    mine = {m.code for m in services_named(text, lexicon, catalogue, among=set(codes.values()))}
    if mine:
        return [a for a in upcoming if codes[a.id] in mine]
    other = services_named(text, lexicon, catalogue)
    # With one appointment, only another service named in full says it is not that one: a
    # reason may mention a service ("取消预约，明天要带孩子去打疫苗", a review).
    sure = SURELY_NAMED if len(upcoming) > 1 else 1.0
    if other and other[0].code not in codes.values() and (other[0].named or other[0].score >= sure):
        ctx.extra[_OTHER_SERVICE] = other[0].code
        return []
    return None


SURELY_NAMED = 0.8  # a service named this well, and none of the resident's, is another one
_OTHER_SERVICE = "my_records.other_service"


async def _service_code(ctx: Context, appointment: Appointment) -> str:
    service = await ctx.session.get(Service, appointment.service_id)
    return service.code if service is not None else ""


async def _which_of_named(
    ctx: Context, prefix: str, named: list[Appointment], upcoming: list[Appointment]
) -> HandlerResult:
    """Several appointments of the named service: which one; none of it: say so, then all."""
    result = await which_appointment(ctx, prefix, named or upcoming)
    code = ctx.extra.get(_OTHER_SERVICE)
    if named or not isinstance(result, Reply) or not isinstance(code, str):
        return result
    service = (await ctx.session.exec(select(Service).where(Service.code == code))).first()
    if service is None:
        return result
    said = ctx.t("records.none_of_that", service=localized(ctx, service.name_zh, service.name_en))
    return Reply(f"{said}\n{result.text}", result.buttons)


async def appointment_by_reference(ctx: Context, ref: str, text: str) -> HandlerResult:
    """An appointment number with words around it: "取消LCY-…" asks the cancel question,
    "LCY-… 改到周六上午10点" moves it to the day said, else (or when denied) its card."""
    acted = _act_on_appointment(ctx, ref, text)
    if acted == f"{MOVE}{ref}":
        return await move_by_reference(ctx, ref, text)
    if acted is not None:
        ctx.clear_state()
        return await ctx.redirect(ctx, acted)
    card = await appointment_card(ctx, ref)
    if card is not None:
        return card
    return Reply(ctx.t("ask.no_reference", ref=ref), back_to_menu(ctx))


def _act_on_appointment(ctx: Context, ref: str, text: str) -> str | None:
    """The appointment option the words around its reference ask for: cancel or move (an
    outside walkthrough: "取消LCY-…" only showed the appointment, and "是的" then was lost)."""
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    words = fold(text).replace(fold(ref), " ")
    if no_order(words):
        return None  # "不用取消了", "取消了吗？": the card, whose buttons act (a review)
    # 取消 itself is no lexicon word (alone, it leaves a flow): beside a number it cancels.
    if says_cancel(words, lexicon) or "取消" in words:
        return f"{CANCEL}{ref}"
    if any(lexicon.has(kind, words) for kind in ("move_booking", "move_option", "move_target")):
        return f"{MOVE}{ref}"
    return None
