"""咨询 and free text anywhere: answer questions from the street's knowledge, and understand what
a resident wants without menus — a booking in one sentence, a reference number, a problem for
the grid, a wish, proxy handling, a person — even in the middle of another flow."""

from __future__ import annotations

from pathlib import Path

from bot.context import Context
from bot.messages import Button, Reply
from bot.router import HandlerResult, Phase, Router
from handlers.booking import appointment_card, book_from_words, start_booking
from handlers.cases import ANSWER, PROXY_QUESTION, PROXY_WORDS, proxy_from_words
from handlers.cases_staff import ASK, NOTE, REPORT_WORDS, TRANSFER_REASON
from handlers.common import back_to_menu, localized, main_menu
from handlers.grid_report import REPORT_WORDS as GRID_WORDS
from handlers.grid_report import report_from_words
from handlers.handover import LIVE, STAFF_SIDE, hand_over
from handlers.menu import not_understood
from handlers.needs import NEED_WORDS, need_from_words
from handlers.needs_edit import RENAME
from handlers.needs_staff import REJECT_REASON
from handlers.needs_visit import VISIT_WORDS
from handlers.notices_staff import TEXT as NOTICE_TEXT
from models.intents import Intent, Understood, fold, load_lexicon, service_names, understand
from models.knowledge import Entry, Knowledge, load_knowledge

router = Router("inquiry")

ASKING = "ask.recent"  # after a question: the next one is a question too, with the history
RECENT = 6  # exchanges kept for a hand-over's transcript
# Flows where the resident types free text of their own; only a reference number or asking
# for a person interrupts them, since "路灯坏了" there is what the flow asked for.
FREE_TEXT_STATES = (
    NEED_WORDS,
    VISIT_WORDS,
    PROXY_WORDS,
    PROXY_QUESTION,
    ANSWER,
    NOTE,
    ASK,
    TRANSFER_REASON,
    REPORT_WORDS,
    GRID_WORDS,
    NOTICE_TEXT,
    REJECT_REASON,
    RENAME,
    LIVE,
    STAFF_SIDE,
)
INTERRUPTING = (Intent.REFERENCE, Intent.HANDOVER, Intent.BOOKING)


def knowledge(ctx: Context) -> Knowledge:
    """The FAQ and catalogue of this installation's data directory."""
    return load_knowledge(Path(ctx.settings.data_dir))


def understood(ctx: Context, text: str | None = None) -> Understood:
    """What the message's text (or the given text) wants, worked out once per message."""
    text = ctx.text if text is None else text
    cached = ctx.extra.get("understood")
    if isinstance(cached, tuple) and cached[0] == text and isinstance(cached[1], Understood):
        return cached[1]
    found = knowledge(ctx)
    names = service_names(found)
    result = understand(text, load_lexicon(Path(ctx.settings.data_dir)), found, names)
    ctx.extra["understood"] = (text, result)
    return result


def _interrupts(ctx: Context) -> bool:
    """In a flow, a message that clearly asks for something else takes over."""
    if ctx.payload is not None or not ctx.text or not ctx.state.name:
        return False
    if ctx.state.name in (ASKING, LIVE, STAFF_SIDE):
        return False
    intent = understood(ctx).intent
    if ctx.state.name in FREE_TEXT_STATES:
        return intent in (Intent.REFERENCE, Intent.HANDOVER)
    if intent in INTERRUPTING:
        return True
    return intent is Intent.QUESTION and _asks(ctx, ctx.text)


def _asks(ctx: Context, text: str) -> bool:
    return load_lexicon(Path(ctx.settings.data_dir)).has("question", fold(text))


@router.route(Phase.COMMAND, _interrupts)
async def interrupting(ctx: Context) -> HandlerResult:
    """Leave the flow for what the message asks."""
    ctx.clear_state()
    return await respond(ctx)


@router.payload("ask")
@router.command("ask")
async def ask_start(ctx: Context) -> HandlerResult:
    """咨询: ask in your own words."""
    if ctx.command_args:
        return await respond(ctx, ctx.command_args)
    ctx.set_state(ASKING, recent=[])
    return Reply(ctx.t("ask.prompt"), back_to_menu(ctx))


@router.state(ASKING)
async def next_question(ctx: Context) -> HandlerResult:
    """Another message while asking: understood the same way, with the history kept."""
    return await respond(ctx)


def _typed(ctx: Context) -> bool:
    # A command word nobody took (a resident typing 工作台) gets the plain "not understood".
    return ctx.payload is None and bool(ctx.text) and ctx.command is None


@router.route(Phase.FALLBACK, _typed)
async def free_text(ctx: Context) -> HandlerResult:
    """Whatever typed text no button, command or flow took: work out what it wants."""
    if ctx.state_expired:
        return await not_understood(ctx)  # first say that the half-finished flow was reset
    return await respond(ctx)


async def respond(ctx: Context, text: str | None = None) -> HandlerResult:
    """Answer what the message (or the given text) wants."""
    text = ctx.text if text is None else text
    seen = understood(ctx, text)
    intent = seen.intent
    if intent is Intent.BOOKING and seen.service:
        return await book_from_words(ctx, seen.service, text)
    if intent is Intent.BOOKING:
        return await start_booking(ctx)  # wants to book, has not said what yet
    if intent is Intent.REFERENCE and seen.reference:
        return await _reference(ctx, seen.reference)
    if intent is Intent.HANDOVER:
        return await hand_over(ctx, _transcript(ctx))
    if intent is Intent.PROXY:
        return await proxy_from_words(ctx, text)
    if intent in (Intent.REPORT, Intent.NEED):
        return _offer_report_or_need(ctx, intent, text)
    if intent is Intent.CHITCHAT:
        return await main_menu(ctx, ctx.t("ask.chitchat"))
    if intent is Intent.ABUSE:
        return Reply(ctx.t("ask.abuse"), _human_and_menu(ctx))
    if not seen.found and not _asks(ctx, text):
        return await not_understood(ctx)  # nothing we know of, and not even a question
    return _answer(ctx, seen, text)


def _answer(ctx: Context, seen: Understood, text: str) -> Reply:
    answer = seen.answer
    if answer is not None:
        _remember(ctx, text, answer.entry.title_zh)
        return Reply(_answer_text(ctx, answer.entry), _next_steps(ctx, answer.entry))
    _remember(ctx, text, "")
    maybe = [found for found in seen.found if found.score > 0][:3]
    if seen.intent is not Intent.QUESTION or not maybe:
        return Reply(ctx.t("ask.unknown"), _human_and_menu(ctx))
    # The options carry the titles; each channel shows them once (WeChat numbers them).
    buttons = tuple(Button(_title(ctx, f.entry)[:40], f"ask:show:{f.entry.id}") for f in maybe)
    return Reply(ctx.t("ask.not_sure"), (*buttons, *_human_and_menu(ctx)))


def _title(ctx: Context, entry: Entry) -> str:
    return localized(ctx, entry.title_zh, entry.title_en)


def _answer_text(ctx: Context, entry: Entry) -> str:
    source = (
        ctx.t("ask.source_faq") if entry.id.startswith("faq:") else ctx.t("ask.source_catalogue")
    )
    body = localized(ctx, entry.answer_zh, entry.answer_en)
    return f"{body}\n{ctx.t('ask.source', source=source, title=_title(ctx, entry))}"


def _next_steps(ctx: Context, entry: Entry) -> tuple[Button, ...]:
    buttons: list[Button] = []
    if entry.service:
        buttons.append(Button(ctx.t("ask.book_this"), f"book:svc:{entry.service}"))
    if entry.proxy or _proxy_possible(ctx, entry.service):
        buttons.append(Button(ctx.t("ask.proxy_this"), "proxy"))
    return (*buttons, *_human_and_menu(ctx))


def _proxy_possible(ctx: Context, service: str | None) -> bool:
    entry = knowledge(ctx).by_id.get(f"service:{service}") if service else None
    return entry is not None and entry.proxy


def _human_and_menu(ctx: Context) -> tuple[Button, ...]:
    return (Button(ctx.t("ask.human"), "human"), *back_to_menu(ctx))


@router.payload("ask:show")
async def show_entry(ctx: Context) -> HandlerResult:
    """One of the answers offered when the bot was not sure."""
    entry = knowledge(ctx).by_id.get(ctx.args)
    if entry is None:
        return Reply(ctx.t("menu.stale_option"), back_to_menu(ctx))
    return Reply(_answer_text(ctx, entry), _next_steps(ctx, entry))


def _remember(ctx: Context, text: str, answered: str) -> None:
    """Keep the last exchanges in the asking state, for a hand-over's transcript."""
    recent = list(ctx.state.data.get("recent", [])) if ctx.state.name == ASKING else []
    recent = [*recent, {"q": text[:300], "a": answered[:100]}][-RECENT:]
    ctx.set_state(ASKING, recent=recent)


def _transcript(ctx: Context) -> list[dict[str, str]]:
    recent = ctx.state.data.get("recent", []) if ctx.state.name == ASKING else []
    return [dict(r) for r in recent if isinstance(r, dict)]


async def _reference(ctx: Context, ref: str) -> HandlerResult:
    if ref.startswith("LCY"):
        card = await appointment_card(ctx, ref)
        if card is not None:
            return card
        return Reply(ctx.t("ask.no_reference", ref=ref), back_to_menu(ctx))
    return await ctx.redirect(ctx, f"case:view:{ref}")


def _offer_report_or_need(ctx: Context, intent: Intent, text: str) -> Reply:
    """A problem or a wish: reported to the grid, or collected as a need (the resident picks)."""
    ctx.set_state(ASKING, recent=_transcript(ctx), words=text[:500])
    first = (
        ("ask.as_report", "ask:report") if intent is Intent.REPORT else ("ask.as_need", "ask:need")
    )
    second = (
        ("ask.as_need", "ask:need") if intent is Intent.REPORT else ("ask.as_report", "ask:report")
    )
    key = "ask.offer_report" if intent is Intent.REPORT else "ask.offer_need"
    buttons = (Button(ctx.t(first[0]), first[1]), Button(ctx.t(second[0]), second[1]))
    return Reply(ctx.t(key), (*buttons, *back_to_menu(ctx)))


@router.payload("ask:report")
async def as_grid_report(ctx: Context) -> HandlerResult:
    """Report it to the grid: its category and place next, then its reference."""
    words = ctx.state.data.get("words")
    if not isinstance(words, str) or not words:
        return Reply(ctx.t("menu.stale_option"), back_to_menu(ctx))
    return await report_from_words(ctx, words)


@router.payload("ask:need")
async def as_need(ctx: Context) -> HandlerResult:
    """Collect it as a need (matched against what neighbours asked for)."""
    words = ctx.state.data.get("words")
    if not isinstance(words, str) or not words:
        return Reply(ctx.t("menu.stale_option"), back_to_menu(ctx))
    return await need_from_words(ctx, words)
