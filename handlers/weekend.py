"""周末能办什么: the services open on weekend and holiday mornings, by category, with the hours;
"星期六可以办社保吗" answers yes or no for the services the question names."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import col, select

from bot.context import Context
from bot.dates import parse_when
from bot.messages import Button, Reply
from bot.router import HandlerResult, Phase, Router
from handlers.booking import (
    BOOK_SERVICE,
    CHOOSE_DAY,
    CHOOSE_SERVICE,
    day_typed,
    match_services,
    service_typed,
)
from handlers.booking_words import TAKEN_IN
from handlers.common import back_to_menu, localized, opening_hours
from handlers.inquiry import (
    ASKING,
    answer_then_offer_flow,
    free_text,
    keeping_paused,
    paused_flow,
    understood,
)
from models.base import SHANGHAI
from models.intents import OWN_RECORDS, fold, load_lexicon
from models.lexicon import Lexicon
from models.services import Service
from models.when import without_when

router = Router("weekend")

# The words (weekend, which, not_a_service, question) are in data/intents.toml.
_SHOWN = 3  # services offered to book straight from a yes


def _lexicon(ctx: Context) -> Lexicon:
    return load_lexicon(Path(ctx.settings.data_dir))


def _subject(text: str, lexicon: Lexicon) -> str:
    """What the question names besides the weekend and the asking words ("社保" in
    "星期六可以办社保吗")."""
    rest = lexicon.pattern("weekend", "after_work", "evening", "which").sub(" ", without_when(text))
    rest = lexicon.pattern("question", "not_a_service", "after_work_filler").sub(" ", rest)
    rest = re.sub(r"[^\w]+", " ", rest).strip()
    rest = re.sub(r"(?<=[^a-z0-9]) | (?=[^a-z0-9])", "", rest)  # spaces only between words
    return rest if sum(ch.isalnum() for ch in rest) >= 2 else ""


def _asks_about_weekend(ctx: Context) -> bool:
    """A question about weekend or holiday services, outside a flow of the resident's own words
    ("周末" alone, outside booking, asks it too); a question with a clock time ("周六9点能办吗")
    is a booking and is left to it."""
    if ctx.payload is not None or ctx.command is not None or not ctx.text:
        return False
    if ctx.state.name not in TAKEN_IN:
        return False
    text, lexicon = fold(ctx.text), _lexicon(ctx)
    weekend, after_work = lexicon.pattern("weekend"), _after_work(text, lexicon)
    if not weekend.search(text) and not after_work:
        return False
    at = parse_when(text, ctx.now().astimezone(SHANGHAI).date()).at
    if at is not None and not (after_work and WORK_ENDS.search(text)):
        return False  # "我六点半才下班" says when work ends, not when to come
    if understood(ctx).intent in OWN_RECORDS:
        return False  # "我预约的社保卡补办能改到周六吗" moves that appointment
    if lexicon.has("which", text):
        return True
    if ctx.state.name in ("", ASKING) and weekend.fullmatch(text.strip("?？!！。.呢 ")):
        return True
    asking = lexicon.has("question", text)
    asking = asking or text.rstrip("?？!！。. ").endswith(("吗", "么", "嘛", "不", "没"))
    if asking and ctx.state.name == CHOOSE_SERVICE:
        return True
    return asking and (bool(_subject(text, lexicon)) or after_work)


@router.route(Phase.COMMAND, _asks_about_weekend)
async def weekend_question(ctx: Context) -> HandlerResult:
    """Which services are open at weekends, or whether the ones asked about are (a question
    about something else, "周末出去玩吗", goes where it would have gone)."""
    text, lexicon = fold(ctx.text), _lexicon(ctx)
    subject = _subject(text, lexicon)
    asked = await _services_about(ctx, subject) if subject else []
    if (subject and not asked) or (ctx.state.name == CHOOSE_SERVICE and not subject):
        return await _as_typed(ctx)  # "周六上午可以吗" at the service step: the booking's day
    after_work = _after_work(text, lexicon)

    async def answer(ctx: Context) -> HandlerResult:
        if asked:
            reply = await _yes_or_no(ctx, asked)
            return await _after_work_first(ctx, reply) if after_work else reply
        return await _after_work_reply(ctx) if after_work else await weekend_services(ctx)

    if ctx.state.name in ("", ASKING):
        paused = paused_flow(ctx)  # a flow an earlier question paused is still offered
        ctx.clear_state()
        return await keeping_paused(ctx, paused, answer)
    return await answer_then_offer_flow(ctx, answer)  # mid-booking: the step is offered again


# A clock time that says when work ends: "六点半才下班", "6点下班", "18:30下班".
WORK_ENDS = re.compile(r"(?:点|点半|点多|点钟|点以后|分|[0-9]:[0-9]{2})\s*(?:才|就|左右)?下班")


def _after_work(text: str, lexicon: Lexicon) -> bool:
    """Whether a question asks whether one can come after work or in the evening: those words
    with coming or opening ones ("下班后能办吗", "晚上几点关门"), and not about what to bring,
    how long it takes or picking up ("我刚下班了，社保卡补办要带什么" asks what to bring)."""
    if not (lexicon.has("after_work", text) or lexicon.has("evening", text)):
        return False
    return lexicon.has("coming", text) and not lexicon.has("after_work_not", text)


async def _after_work_reply(ctx: Context) -> Reply:
    """When one who works can come: the evening closed, the weekend's mornings, proxy."""
    hours = await opening_hours(ctx)
    buttons = (
        Button(ctx.t("weekend.all"), "weekend"),
        Button(ctx.t("weekend.proxy"), "proxy"),
        *back_to_menu(ctx),
    )
    return Reply(ctx.t("weekend.after_work", **hours), buttons)


async def _after_work_first(ctx: Context, reply: Reply) -> Reply:
    """The after-work answer, then whether the services asked about are open at weekends."""
    after_work = await _after_work_reply(ctx)
    return Reply(f"{after_work.text}\n{reply.text}", reply.buttons)


async def _as_typed(ctx: Context) -> HandlerResult:
    """A question about something else than services: the booking step it was typed in, else
    the free-text understanding (as if this route had not taken it)."""
    if ctx.state.name == CHOOSE_DAY:
        return await day_typed(ctx)
    if ctx.state.name == CHOOSE_SERVICE:
        return await service_typed(ctx)
    return await free_text(ctx)


@router.payload("weekend")
async def weekend_services(ctx: Context) -> HandlerResult:
    """Every service open at weekends, by category, with the hours."""
    hours = await opening_hours(ctx)
    open_ones = [s for s in await _services(ctx) if s.weekend]
    lines = [
        ctx.t("weekend.intro", count=len(open_ones), **hours),
        *_by_category(ctx, open_ones),
        ctx.t("weekend.others", **hours),
    ]
    return Reply("\n".join(lines), (Button(ctx.t("weekend.book"), "book"), *back_to_menu(ctx)))


async def _yes_or_no(ctx: Context, asked: list[Service]) -> Reply:
    hours = await opening_hours(ctx)
    yes = [s for s in asked if s.weekend]
    no = [s for s in asked if not s.weekend]
    weekday_only = [ctx.t("weekend.weekday_only", services=_names(ctx, no), **hours)] if no else []
    if not yes:
        text = "\n".join([ctx.t("weekend.no"), *weekday_only, ctx.t("weekend.see_all")])
        return Reply(text, (Button(ctx.t("weekend.all"), "weekend"), *back_to_menu(ctx)))
    lines = [ctx.t("weekend.yes", **hours), *_by_category(ctx, yes), *weekday_only]
    buttons = tuple(
        Button(
            ctx.t("weekend.book_one", service=localized(ctx, s.name_zh, s.name_en)),
            f"{BOOK_SERVICE}{s.code}",
        )
        for s in yes[:_SHOWN]
    )
    return Reply("\n".join(lines), (*buttons, *back_to_menu(ctx)))


async def _services(ctx: Context) -> list[Service]:
    stmt = select(Service).where(col(Service.active).is_(True)).order_by(col(Service.id))
    return list((await ctx.session.exec(stmt)).all())


async def _services_about(ctx: Context, subject: str) -> list[Service]:
    """The services of the category the subject names ("社保" → 社会保障), else by name."""
    services = await _services(ctx)
    in_category = [s for s in services if _names_category(subject, s)]
    return in_category or await match_services(ctx, subject)


def _names_category(subject: str, service: Service) -> bool:
    if subject in service.category_en.lower() or subject in service.category_zh:
        return True
    # An abbreviation keeps its category's characters in order: 社保 for 社会保障.
    pattern = ".*".join(map(re.escape, subject))
    return not subject.isascii() and re.search(pattern, service.category_zh) is not None


def _by_category(ctx: Context, services: list[Service]) -> list[str]:
    """One line per category: its name, then its services."""
    groups: dict[str, list[Service]] = {}
    for service in services:
        groups.setdefault(localized(ctx, service.category_zh, service.category_en), []).append(
            service
        )
    return [
        ctx.t("weekend.category", category=name, services=_names(ctx, members))
        for name, members in groups.items()
    ]


def _names(ctx: Context, services: list[Service]) -> str:
    return ctx.t("weekend.separator").join(localized(ctx, s.name_zh, s.name_en) for s in services)
