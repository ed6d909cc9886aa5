"""网格上报 by residents: a problem in the neighbourhood told in their words, its category (pressed
or typed), then its place (a shared location or a typed address, the intake step proxy handling
uses); the case is opened for the grid's departments and the resident gets its reference."""

from __future__ import annotations

import unicodedata
from typing import Any

from bot.context import Context
from bot.messages import Button, Reply
from bot.router import HandlerResult, Router
from handlers.case_text import WORDS_LIMIT, catalogue
from handlers.cases import ask_questions, place_answer
from handlers.common import back_to_menu, localized, with_media
from models.case_ops import Category
from models.cases import CaseKind
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
    """The words; a photo or location sent before them is kept."""
    kept = _with_media(ctx, ctx.state.data)
    if not ctx.text:
        ctx.set_state(REPORT_WORDS, **kept)
        return Reply(ctx.t("grid_report.media_kept"), back_to_menu(ctx))
    return await report_from_words(ctx, ctx.text, kept)


async def report_from_words(ctx: Context, words: str, kept: dict[str, Any] | None = None) -> Reply:
    """A problem in the resident's words: its category next, the likeliest first."""
    carried = {k: v for k, v in (kept or {}).items() if k in KEPT}
    ctx.set_state(REPORT_CATEGORY, **carried, words=words[:WORDS_LIMIT], back="menu")
    return _category_question(ctx, "grid_report.choose_category", words)


def _categories(ctx: Context) -> tuple[Category, ...]:
    return tuple(catalogue(ctx).categories[CaseKind.GRID_REPORT])


def _category_question(ctx: Context, key: str, words: str) -> Reply:
    ranked = sorted(_categories(ctx), key=lambda c: -sum(ch in words for ch in c.name_zh))
    buttons = tuple(
        Button(localized(ctx, c.name_zh, c.name_en), f"report:cat:{c.code}") for c in ranked
    )
    return Reply(ctx.t(key), (*buttons, *back_to_menu(ctx)))


@router.payload("report:cat")
async def category_chosen(ctx: Context) -> HandlerResult:
    """The category; then the place, unless a shared location already told it."""
    data = ctx.state.data
    words = data.get("words")
    category = catalogue(ctx).category(CaseKind.GRID_REPORT, ctx.args)
    if ctx.state.name != REPORT_CATEGORY or not isinstance(words, str) or category is None:
        return Reply(ctx.t("menu.stale_option"), back_to_menu(ctx))
    kept = {k: v for k, v in data.items() if k in KEPT}
    return await ask_questions(ctx, CaseKind.GRID_REPORT, words, category.code, kept)


@router.state(REPORT_CATEGORY)
async def category_typed(ctx: Context) -> HandlerResult:
    """A category typed in part ("路灯", "卫生", "safety"); a photo or location is kept."""
    kept = _with_media(ctx, ctx.state.data)
    ctx.set_state(REPORT_CATEGORY, **kept)
    words = str(kept.get("words", ""))
    typed = _folded(ctx.text)
    found = [c for c in _categories(ctx) if len(typed) > 1 and _names(c, typed)]
    if len(found) == 1:
        return await ctx.redirect(ctx, f"report:cat:{found[0].code}")
    key = "grid_report.category_again" if ctx.text else "grid_report.choose_category"
    return _category_question(ctx, key, words)


def _names(category: Category, typed: str) -> bool:
    """Whether the typed words name the category: a part of its name, or its name and more."""
    for name in (category.name_zh, category.name_en):
        core = _folded(name.split("（")[0].split("(")[0])
        if typed in _folded(name) or (len(core) > 1 and core in typed):
            return True
    return False


def _folded(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def _with_media(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Flow data plus this message's photos and location, and the place the location names."""
    kept = with_media(ctx, data)
    place = place_answer(ctx)
    if place:
        kept["place"] = place
    return kept
