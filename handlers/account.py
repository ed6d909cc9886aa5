"""The resident's own details: community and grid (for notices), and the language they read."""

from __future__ import annotations

import re

from bot.context import Context
from bot.dates import read_number
from bot.i18n import normalize_words
from bot.messages import Button, Reply
from bot.router import HandlerResult, Router
from handlers.common import back_to_menu, echoed, known_resident, localized, main_menu
from models.org import Community, Grid, list_grids
from models.people import ensure_resident

router = Router("account")

CHOOSE_COMMUNITY = "account.community"
CHOOSE_GRID = "account.grid"


@router.payload("account")
@router.command("account")
async def show_account(ctx: Context) -> HandlerResult:
    """What we know about this resident, with ways to change it."""
    ctx.clear_state()
    resident = await known_resident(ctx)
    community = grid = ctx.t("account.unknown")
    if resident is not None and resident.community_id is not None:
        row = await ctx.session.get(Community, resident.community_id)
        community = localized(ctx, row.name_zh, row.name_en) if row else community
    if resident is not None and resident.grid_id is not None:
        grid_row = await ctx.session.get(Grid, resident.grid_id)
        grid = localized(ctx, grid_row.name_zh, grid_row.name_en) if grid_row else grid
    lines = [
        ctx.t("account.title"),
        ctx.t("account.community", community=community),
        ctx.t("account.grid", grid=grid),
        ctx.t("account.language"),
    ]
    buttons = (
        Button(ctx.t("account.set_community"), "account:community"),
        Button(
            ctx.t("account.set_language"),
            "account:lang:en" if ctx.lang != "en" else "account:lang:zh-CN",
        ),
        Button(ctx.t("mydata.button"), "mydata"),
        *back_to_menu(ctx),
    )
    return Reply("\n".join(lines), buttons)


@router.payload("account:community")
async def choose_community(ctx: Context) -> HandlerResult:
    """Step 1: pick a community (a button, its number, or part of its name)."""
    if ctx.args:
        return await _community_chosen(ctx, ctx.args)
    return await _community_question(ctx, ctx.t("account.choose_community"))


async def _community_question(ctx: Context, text: str) -> Reply:
    ctx.set_state(CHOOSE_COMMUNITY, back="account")
    communities = await ctx.reference.communities(ctx.unit)
    buttons = tuple(
        Button(localized(ctx, c.name_zh, c.name_en), f"account:community:{c.code}")
        for c in communities
    )
    return Reply(text, buttons)


@router.state(CHOOSE_COMMUNITY)
async def community_typed(ctx: Context) -> HandlerResult:
    """A typed community name while step 1 waits."""
    typed = ctx.words
    communities = await ctx.reference.communities(ctx.unit)
    exact = [c for c in communities if typed in (c.name_zh, c.name_en.lower())]
    partial = [
        c for c in communities if len(typed) >= 2 and typed in f"{c.name_zh}|{c.name_en.lower()}"
    ]
    matches = exact or partial
    if len(matches) == 1:
        return await _community_chosen(ctx, matches[0].code)
    key = "account.community_ambiguous" if matches else "account.community_not_found"
    return await _community_question(ctx, ctx.t(key, text=echoed(ctx.text)))


async def _community_chosen(ctx: Context, code: str) -> Reply:
    communities = {c.code: c for c in await ctx.reference.communities(ctx.unit)}
    community = communities.get(code)
    if community is None or community.id is None:
        return await _community_question(ctx, ctx.t("menu.stale_option"))
    ctx.set_state(CHOOSE_GRID, community_id=community.id, back="account:community")
    grids = await list_grids(ctx.session, community.id)
    name = localized(ctx, community.name_zh, community.name_en)
    buttons = tuple(
        Button(localized(ctx, g.name_zh, g.name_en), f"account:grid:{g.id}") for g in grids
    )
    return Reply(ctx.t("account.choose_grid", community=name), buttons)


# "第一网格", "第1网格", "3号网格", "grid 2": the grid's number, as people say it.
_GRID_NUMBER = re.compile(
    r"([0-9]{1,2}|[一二两三四五六七八九十]{1,3})\s*号?\s*网格|grid\s*(?:no\.?\s*)?([0-9]{1,2})"
)


@router.state(CHOOSE_GRID)
async def grid_typed(ctx: Context) -> HandlerResult:
    """A grid typed by its number while step 2 waits (its label or option number is read as
    pressing it); otherwise the grids again."""
    community_id = ctx.state.data.get("community_id")
    community = (
        await ctx.session.get(Community, community_id) if isinstance(community_id, int) else None
    )
    if community is None:
        return await _community_question(ctx, ctx.t("menu.stale_option"))
    said = _GRID_NUMBER.search(normalize_words(ctx.text))
    number = read_number(next(g for g in said.groups() if g)) if said else None
    grids = [g for g in await list_grids(ctx.session, community.id or 0) if g.number == number]
    if len(grids) == 1:
        return await ctx.redirect(ctx, f"account:grid:{grids[0].id}")
    again = await _community_chosen(ctx, community.code)
    return Reply(ctx.t("account.grid_not_found") + "\n" + again.text, again.buttons)


@router.payload("account:grid")
async def grid_chosen(ctx: Context) -> HandlerResult:
    """Step 2: save the grid, which must belong to the community chosen in step 1."""
    community_id = ctx.state.data.get("community_id")
    digits = ctx.args if ctx.args.isascii() and ctx.args.isdecimal() and len(ctx.args) <= 9 else ""
    grid = None
    if ctx.state.name == CHOOSE_GRID and digits:
        grid = await ctx.session.get(Grid, int(digits))
    if grid is None or grid.community_id != community_id:
        return await _community_question(ctx, ctx.t("menu.stale_option"))
    community = await ctx.session.get(Community, grid.community_id)
    if community is None:
        return await main_menu(ctx, ctx.t("menu.stale_option"))
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    resident.community_id, resident.grid_id = community.id, grid.id
    ctx.session.add(resident)
    ctx.clear_state()
    text = ctx.t(
        "account.saved",
        community=localized(ctx, community.name_zh, community.name_en),
        grid=localized(ctx, grid.name_zh, grid.name_en),
    )
    return await main_menu(ctx, text)


@router.payload("account:lang")
async def switch_language(ctx: Context) -> HandlerResult:
    """Switch between Chinese and English."""
    return await _set_language(ctx, "en" if ctx.args == "en" else "zh-CN")


@router.command("lang_en")
async def english(ctx: Context) -> HandlerResult:
    """The word "english" switches to English."""
    return await _set_language(ctx, "en")


@router.command("lang_zh")
async def chinese(ctx: Context) -> HandlerResult:
    """The word "中文" switches to Chinese."""
    return await _set_language(ctx, "zh-CN")


async def _set_language(ctx: Context, lang: str) -> Reply:
    ctx.identity.lang = lang
    return await main_menu(ctx, ctx.t("account.language_set"))


@router.event("unsubscribe")
async def unfollowed(ctx: Context) -> HandlerResult:
    """The person unfollowed: stop pushing to this account until they come back."""
    ctx.identity.active = False
    ctx.clear_state()
    return None
