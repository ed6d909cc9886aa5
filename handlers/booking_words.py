"""A booking said in one sentence without a booking word: a service named with a day or a time
("我想明天下午5点去办社保卡补办", "social security card replacement tomorrow 5pm") goes straight
to that day's slots, or to the confirm question when that time is free."""

from __future__ import annotations

from pathlib import Path

from bot.context import Context
from bot.dates import parse_when, without_when
from bot.router import HandlerResult, Phase, Router
from handlers.booking import CHOOSE_DAY, CHOOSE_SERVICE, book_from_words
from handlers.inquiry import ASKING, understood
from models.base import SHANGHAI
from models.intents import Intent, fold, load_lexicon, services_asked
from models.service_match import load_service_catalogue

router = Router("booking_words")

# Where a sentence may be taken before the flow reads it: no flow, booking, or asking.
TAKEN_IN = ("", CHOOSE_SERVICE, CHOOSE_DAY, ASKING)
_SERVICE = "booking_words.service"  # the service the sentence names, found once per message


def _says_when(ctx: Context, text: str) -> bool:
    asked = parse_when(text, ctx.now().astimezone(SHANGHAI).date())
    return asked.day is not None or asked.at is not None or asked.part is not None


def _named_service(ctx: Context, text: str) -> str | None:
    """The one service the sentence names (the shared matching path), its days and times left
    out; several that fit equally are no booking in one sentence."""
    data = Path(ctx.settings.data_dir)
    matches = services_asked(without_when(text), load_lexicon(data), load_service_catalogue(data))
    return matches[0].code if len(matches) == 1 else None


def _books(ctx: Context) -> bool:
    """A statement (not a question) saying when and naming one service, with no flow or in the
    booking or asking flows; a booking flow's own service is left to the flow (it reads the day
    and time, and keeps a move), and a sentence with a booking word to the understanding."""
    text = ctx.text
    if ctx.payload is not None or ctx.command is not None or not text:
        return False
    if ctx.state.name not in TAKEN_IN or not _says_when(ctx, text):
        return False
    if load_lexicon(Path(ctx.settings.data_dir)).has("question", fold(text)):
        return False
    if understood(ctx).intent not in (Intent.QUESTION, Intent.UNKNOWN, Intent.BOOKING):
        return False
    code = _named_service(ctx, text)
    if code is None or code == ctx.state.data.get("service"):
        return False
    ctx.extra[_SERVICE] = code
    return True


@router.route(Phase.COMMAND, _books)
async def book_in_one_sentence(ctx: Context) -> HandlerResult:
    """That day's slots, or the confirm question for the time when it is free."""
    return await book_from_words(ctx, str(ctx.extra[_SERVICE]), ctx.text)
