"""网格上报 by residents: a problem in the neighbourhood told in their words, its category (pressed,
typed, or named in a sentence, which then describes the problem; a bare category word asks for the
description next), then its place (a shared location or a typed address, the intake step proxy
handling uses); the case is opened for the grid's departments and the resident gets its
reference."""

from __future__ import annotations

from typing import Any

from bot.context import Context
from bot.messages import Button, Reply
from bot.router import HandlerResult, Router
from handlers.case_text import WORDS_LIMIT, catalogue
from handlers.cases import ask_questions, place_answer
from handlers.common import back_to_menu, localized, with_media
from models.case_ops import Category
from models.cases import CaseKind
from models.matching_text import matching_copy
from models.policy import may_report_grid_issue

router = Router("grid_report")

REPORT_WORDS, REPORT_CATEGORY = "grid.words", "grid.category"
KEPT = ("location", "attachments", "place")  # what a report carries from step to step


def _resident(ctx: Context) -> bool:
    """Staff who may report have their own 上报 (社区发现); everyone else reports as a resident."""
    return not may_report_grid_issue(ctx.staff)


@router.command("report", filters=(_resident,))
async def report_start(ctx: Context) -> HandlerResult:
    """Ask what the problem is (a photo or location may come first)."""
    if ctx.command_args:
        return await report_from_words(ctx, ctx.command_args)
    ctx.set_state(REPORT_WORDS, back="menu")
    return Reply(ctx.t("grid_report.ask"), back_to_menu(ctx))


@router.state(REPORT_WORDS)
async def report_words(ctx: Context) -> HandlerResult:
    """The words; a photo or location sent before them is kept. Once a category is chosen
    these words are the description; a bare category word ("路灯") chooses the category and
    the description is asked for next."""
    kept = _with_media(ctx, ctx.state.data)
    chosen = _category(ctx, kept.get("category"))
    if not ctx.text:
        ctx.set_state(REPORT_WORDS, **kept)
        return Reply(ctx.t("grid_report.media_kept"), back_to_menu(ctx))
    if chosen is not None:
        return await _described(ctx, chosen, ctx.text, kept)
    return await report_from_words(ctx, ctx.text, kept)


async def report_from_words(ctx: Context, words: str, kept: dict[str, Any] | None = None) -> Reply:
    """A problem in the resident's words: its category next, the likeliest first (a bare
    category word has chosen it: the description is asked for)."""
    carried = {k: v for k, v in (kept or {}).items() if k in KEPT}
    named = _named(ctx, words)
    if named is not None and _bare(named, words):
        return _ask_description(ctx, named, carried)
    ctx.set_state(REPORT_CATEGORY, **carried, words=words[:WORDS_LIMIT], back="menu")
    return _category_question(ctx, "grid_report.choose_category", words)


def _categories(ctx: Context) -> tuple[Category, ...]:
    return tuple(catalogue(ctx).categories[CaseKind.GRID_REPORT])


def _category(ctx: Context, code: object) -> Category | None:
    return catalogue(ctx).category(CaseKind.GRID_REPORT, code) if isinstance(code, str) else None


def _category_question(ctx: Context, key: str, words: str) -> Reply:
    typed = _folded(words)
    ranked = sorted(
        _categories(ctx),
        key=lambda c: (-_score(c, typed), -sum(ch in words for ch in c.name_zh)),
    )
    buttons = tuple(
        Button(localized(ctx, c.name_zh, c.name_en), f"report:cat:{c.code}") for c in ranked
    )
    return Reply(ctx.t(key), (*buttons, *back_to_menu(ctx)))


def _ask_description(ctx: Context, category: Category, kept: dict[str, Any]) -> Reply:
    """The category is known, what is wrong is not yet: ask for it (the same words step)."""
    carried = {k: v for k, v in kept.items() if k in KEPT}
    ctx.set_state(REPORT_WORDS, **carried, category=category.code, back="menu")
    name = localized(ctx, category.name_zh, category.name_en)
    return Reply(ctx.t("grid_report.ask_description", category=name), back_to_menu(ctx))


async def _described(
    ctx: Context, category: Category, words: str, kept: dict[str, Any]
) -> HandlerResult:
    """The description for a chosen category; a bare category word again is asked about."""
    if _bare(category, words) or len(_folded(words)) < 2:
        return _ask_description(ctx, category, kept)
    carried = {k: v for k, v in kept.items() if k in KEPT}
    return await ask_questions(
        ctx, CaseKind.GRID_REPORT, words[:WORDS_LIMIT], category.code, carried
    )


@router.payload("report:cat")
async def category_chosen(ctx: Context) -> HandlerResult:
    """The category; then the description if the words were only a category word, then the
    place, unless a shared location already told it."""
    data = ctx.state.data
    words = data.get("words")
    category = _category(ctx, ctx.args)
    if ctx.state.name != REPORT_CATEGORY or not isinstance(words, str) or category is None:
        return Reply(ctx.t("menu.stale_option"), back_to_menu(ctx))
    return await _described(ctx, category, words, data)


@router.state(REPORT_CATEGORY)
async def category_typed(ctx: Context) -> HandlerResult:
    """A category typed ("路灯", "卫生", "safety") or a sentence naming one ("3栋门口的路灯坏了"),
    which is then the description; a photo or location is kept."""
    kept = _with_media(ctx, ctx.state.data)
    ctx.set_state(REPORT_CATEGORY, **kept)
    words = str(kept.get("words", ""))
    named = _named(ctx, ctx.text)
    if named is None:
        key = "grid_report.category_again" if ctx.text else "grid_report.choose_category"
        return _category_question(ctx, key, f"{ctx.text} {words}")  # what it just named first
    if _bare(named, ctx.text):
        return await _described(ctx, named, words, kept)
    return await _described(ctx, named, _description(words, ctx.text, named), kept)


def _description(earlier: str, sentence: str, category: Category) -> str:
    """A sentence typed at the category step describes the problem: it replaces earlier words
    that were only a category word (or that it repeats), and follows any others."""
    if _bare(category, earlier) or _folded(earlier) in _folded(sentence):
        return sentence
    return f"{earlier}\n{sentence}"


def _named(ctx: Context, text: str) -> Category | None:
    """The one category the text names (by its name, a part of it, or a keyword, anywhere in
    the text); None when it names none or several equally."""
    typed = _folded(text)
    if len(typed) < 2:
        return None
    scored = sorted(((_score(c, typed), c) for c in _categories(ctx)), key=lambda p: -p[0])
    if not scored or scored[0][0] == 0 or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]


_WHOLE_NAME = 100  # the text is (a part of) a category's name: that category, whatever else


def _score(category: Category, typed: str) -> int:
    """How strongly folded text names a category: a part of its name outright, else how many
    of its name's core and keywords it holds."""
    if len(typed) > 1 and any(typed in _folded(name) for name in _names(category)):
        return _WHOLE_NAME
    return sum(1 for term in _terms(category) if term in typed)


def _bare(category: Category, text: str) -> bool:
    """Whether the text is only the category's word, with nothing said about the problem."""
    rest = _folded(text)
    if any(rest in _folded(name) for name in _names(category)):
        return True
    for term in sorted(_terms(category), key=len, reverse=True):
        rest = rest.replace(term, "")
    return len(rest) < 2


def _names(category: Category) -> tuple[str, str]:
    return category.name_zh, category.name_en


def _terms(category: Category) -> set[str]:
    """The folded words that name a category inside a sentence: its name without the
    bracketed examples, and its keywords."""
    cores = (name.split("（")[0].split("(")[0] for name in _names(category))
    terms = {_folded(word) for word in (*cores, *category.keywords)}
    return {term for term in terms if len(term) > 1}


def _folded(text: str) -> str:
    return "".join(ch for ch in matching_copy(text) if ch.isalnum())


def _with_media(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Flow data plus this message's photos and location, and the place the location names."""
    kept = with_media(ctx, data)
    place = place_answer(ctx)
    if place:
        kept["place"] = place
    return kept
