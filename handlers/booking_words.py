"""A booking said in one sentence without a booking word: a service named with a day or a time
("我想明天下午5点去办社保卡补办", "social security card replacement tomorrow 5pm") goes straight
to that day's slots, or to the confirm question when that time is free; a name several services
fit ("下周一下午两点办居住证") offers them, the day and time kept for the one chosen."""

from __future__ import annotations

from pathlib import Path

from bot.context import Context
from bot.dates import parse_when, without_when
from bot.router import HandlerResult, Phase, Router
from handlers.booking import (
    CHOOSE_DAY,
    CHOOSE_SERVICE,
    book_from_words,
    book_what_fits,
    says_when,
)
from handlers.inquiry import ASKING, understood
from models.base import SHANGHAI
from models.intents import Intent, fold, load_lexicon, services_asked
from models.service_match import load_service_catalogue

router = Router("booking_words")

# Where a sentence may be taken before the flow reads it: no flow, booking, or asking.
TAKEN_IN = ("", CHOOSE_SERVICE, CHOOSE_DAY, ASKING)
_SERVICE = "booking_words.services"  # the services the sentence names, found once a message


def _named_services(ctx: Context, text: str) -> list[str]:
    """The services the sentence names (the shared matching path), its days and times left
    out: the one that clearly fits, else the best few."""
    data = Path(ctx.settings.data_dir)
    matches = services_asked(without_when(text), load_lexicon(data), load_service_catalogue(data))
    return [match.code for match in matches]


def _books(ctx: Context) -> bool:
    """A statement (not a question) saying when and naming a service (or several that fit),
    with no flow or in the booking or asking flows; a sentence naming the booking flow's own
    service is left to the flow (it reads the day and time, and keeps a move)."""
    text = ctx.text
    if ctx.payload is not None or ctx.command is not None or not text:
        return False
    if ctx.state.name not in TAKEN_IN or not says_when(
        parse_when(text, ctx.now().astimezone(SHANGHAI).date())
    ):
        return False
    lexicon, folded = load_lexicon(Path(ctx.settings.data_dir)), fold(text)
    if lexicon.has("question", folded):
        return False
    seen = understood(ctx)
    if seen.intent not in (Intent.QUESTION, Intent.UNKNOWN, Intent.BOOKING):
        # A day and a service read as perhaps a move, with no word of moving or of an
        # appointment in it ("下周一下午两点办居住证"), is a booking: a move says what changes
        # (改到, 换到) or which appointment ("居住证的预约调到周一" is still asked about).
        unsure_move = not seen.sure and seen.intent is Intent.MOVE_BOOKING
        if not unsure_move or lexicon.has("move_booking", folded):
            return False
        if lexicon.has("booking", folded) or "move" in folded:
            return False
    codes = _named_services(ctx, text)
    if not codes or ctx.state.data.get("service") in codes:
        return False
    ctx.extra[_SERVICE] = codes
    return True


@router.route(Phase.COMMAND, _books)
async def book_in_one_sentence(ctx: Context) -> HandlerResult:
    """That day's slots, or the confirm question for the time when it is free; when several
    services fit ("下周一下午两点办居住证"), which of them, the day and time kept."""
    codes = ctx.extra[_SERVICE]
    if isinstance(codes, list) and len(codes) == 1:
        return await book_from_words(ctx, str(codes[0]), ctx.text)
    return await book_what_fits(ctx, ctx.text)
