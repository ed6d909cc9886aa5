"""A booking said in one sentence without a booking word: a service named with a day or a time
("我想明天下午5点去办社保卡补办", "social security card replacement tomorrow 5pm") goes straight
to that day's slots, or to the confirm question when that time is free."""

from __future__ import annotations

from pathlib import Path

from bot.context import Context
from bot.dates import parse_when, without_when
from bot.router import HandlerResult, Phase, Router
from handlers.booking import (
    CHOOSE_DAY,
    CHOOSE_SERVICE,
    book_from_words,
    day_typed,
    match_services,
    service_typed,
)
from handlers.inquiry import ASKING, free_text, understood
from models.base import SHANGHAI
from models.intents import Intent, fold, load_lexicon

router = Router("booking_words")

# Where a sentence may be taken before the flow reads it: no flow, booking, or asking.
TAKEN_IN = ("", CHOOSE_SERVICE, CHOOSE_DAY, ASKING)


def _says_when(ctx: Context, text: str) -> bool:
    asked = parse_when(text, ctx.now().astimezone(SHANGHAI).date())
    return asked.day is not None or asked.at is not None or asked.part is not None


async def _named_service(ctx: Context, text: str) -> str | None:
    """The one service the sentence names once its days and times are left out."""
    matches = await match_services(ctx, without_when(text))
    return matches[0].code if len(matches) == 1 else None


def _may_book(ctx: Context) -> bool:
    """A statement (not a question) saying when and naming something besides, with no flow
    or in the booking or asking flows, and no word that another kind of request is made of."""
    text = ctx.text
    if ctx.payload is not None or ctx.command is not None or not text:
        return False
    if ctx.state.name not in TAKEN_IN:
        return False
    if not _says_when(ctx, text) or len(without_when(text)) < 2:
        return False
    if load_lexicon(Path(ctx.settings.data_dir)).has("question", fold(text)):
        return False
    return understood(ctx).intent in (Intent.QUESTION, Intent.UNKNOWN)


@router.route(Phase.COMMAND, _may_book)
async def book_in_one_sentence(ctx: Context) -> HandlerResult:
    """That day's slots, or the confirm question for the time when it is free; a sentence that
    names no single service goes where it would have gone (the flow, or free text)."""
    code = await _named_service(ctx, ctx.text)
    if code is not None and code != ctx.state.data.get("service"):
        return await book_from_words(ctx, code, ctx.text)
    return await as_typed(ctx)  # its own service: the flow reads day and time (a move too)


async def as_typed(ctx: Context) -> HandlerResult:
    """What a message taken early gets when it turns out not to be for the taker: the booking
    step it was typed in, else the free-text understanding."""
    if ctx.state.name == CHOOSE_DAY:
        return await day_typed(ctx)
    if ctx.state.name == CHOOSE_SERVICE:
        return await service_typed(ctx)
    return await free_text(ctx)
