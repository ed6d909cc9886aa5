"""提需求: a need in the resident's own words, matched against what neighbours already asked
for (+1 it) or made a new item with a suggested category; supporters hear of every stage."""

from __future__ import annotations

import re
import time
from functools import cache
from pathlib import Path
from typing import Any

from bot.context import Context
from bot.messages import Button, Reply
from bot.pipeline import QUESTION_STEPS
from bot.router import HandlerResult, Phase, Router
from handlers.common import (
    back_to_menu,
    gives_up,
    localized,
    location_of,
    main_menu,
    payloads_shown,
    with_media,
)
from models.intents import fold, load_lexicon
from models.lexicon import AGREEING
from models.need_match import NeedMatcher, load_matcher, refresh_matcher, take_in_new_items
from models.need_ops import (
    NeedCategory,
    UnusableNeedError,
    item_with_same_words,
    join_item,
    load_categories,
    lock_item_creation,
    need_title,
    new_item,
    submit_need,
    suggest_category,
)
from models.needs import Need, NeedItem
from models.people import Resident, ensure_resident

router = Router("needs")

NEED_WORDS = "need.words"
NEED_CATEGORY = "need.category"  # typed at the categories: "不知道" takes the suggested one
DONT_KNOW_TAIL = 4  # "不知道选哪个": what may follow the phrase
MATCHES_SHOWN = 3
# A process builds its matcher once (over 100,000 needs that takes about 15 s, in a worker
# thread), then reads only what changed at most this often; items made since, here or by another
# process, join it before every match (take_in_new_items). A full build a day also catches what
# reading changes cannot see (a +1 on a need submitted over a week before).
MATCHER_SECONDS = 60.0
REBUILD_SECONDS = 86_400.0
_matchers: dict[str, tuple[float, float, NeedMatcher]] = {}  # url -> (built, refreshed, matcher)


def categories(ctx: Context) -> tuple[NeedCategory, ...]:
    """The 18 need categories from data/needs.toml (read once per data directory)."""
    return _categories_in(ctx.settings.data_dir)


@cache
def _categories_in(data_dir: Path) -> tuple[NeedCategory, ...]:
    return load_categories(data_dir)


async def matcher(ctx: Context) -> NeedMatcher:
    """This process's matcher over open items, holding every item committed so far."""
    current = await _kept_matcher(ctx)
    await take_in_new_items(ctx.session, current)
    return current


async def _kept_matcher(ctx: Context) -> NeedMatcher:
    """This process's matcher, built once and brought up to date when stale."""
    key, now = ctx.settings.database_url, time.monotonic()
    held = _matchers.get(key)
    if held is None or now - held[0] > REBUILD_SECONDS:
        built = await load_matcher(ctx.session, ctx.settings.need_match_threshold, ctx.now())
        _matchers[key] = (now, now, built)
        return built
    built_at, refreshed_at, current = held
    if now - refreshed_at <= MATCHER_SECONDS:
        return current
    _matchers[key] = (built_at, now, current)  # requests meanwhile match against it as it is
    fresh = await refresh_matcher(ctx.session, current, ctx.now())
    if fresh is not current:
        _matchers[key] = (now, now, fresh)
    return fresh


def _opens_a_need(ctx: Context) -> bool:
    """ "我想提个需求", "我有个建议" alone, outside a flow (data/intents.toml need_opening)."""
    if ctx.payload is not None or ctx.command is not None or not ctx.text:
        return False
    if ctx.state.name and not ctx.state.name.startswith(QUESTION_STEPS):
        return False  # a flow's step: the words are its answer
    return load_lexicon(Path(ctx.settings.data_dir)).is_only("need_opening", ctx.text)


@router.route(Phase.COMMAND, _opens_a_need)
@router.payload("need")
@router.command("need")
async def need_start(ctx: Context) -> HandlerResult:
    """Ask for the need in the resident's own words."""
    if ctx.command_args:
        return await need_from_words(ctx, ctx.command_args)
    ctx.set_state(NEED_WORDS, back="menu")
    return Reply(ctx.t("needs.ask"), back_to_menu(ctx))


@router.state(NEED_WORDS)
async def need_words(ctx: Context) -> HandlerResult:
    """The words (a photo or location sent meanwhile is kept with them)."""
    kept = with_media(ctx, ctx.state.data)
    if ctx.inbound.event in ("image", "location") and not ctx.text:
        ctx.set_state(NEED_WORDS, **kept)
        return Reply(ctx.t("needs.media_kept"), back_to_menu(ctx))
    return await need_from_words(ctx, ctx.text, kept)


async def need_from_words(ctx: Context, text: str, kept: dict[str, Any] | None = None) -> Reply:
    """A need in the resident's own words: matched against what neighbours asked for."""
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    return await take_need(ctx, resident, text, kept)


async def take_need(
    ctx: Context,
    resident: Resident,
    text: str,
    kept: dict[str, Any] | None = None,
    staff_id: int | None = None,
) -> Reply:
    """Record a need for a resident (by a grid worker when staff_id is given) and offer matches."""
    latitude, longitude = location_of(kept or {})
    try:
        suggested = suggest_category(text, categories(ctx))
        need, created = await submit_need(
            ctx.session,
            resident_id=resident.id or 0,
            text=text,
            now=ctx.now(),
            category=suggested.code if suggested else None,
            community_id=resident.community_id,
            grid_id=resident.grid_id,
            compound_id=resident.compound_id,
            submitted_by_staff_id=staff_id,
            latitude=latitude,
            longitude=longitude,
            attachments=list((kept or {}).get("attachments", [])),
        )
    except UnusableNeedError as unusable:
        return Reply(ctx.t(f"needs.unusable_{unusable}"), back_to_menu(ctx))
    ctx.clear_state()
    if not created and need.item_id is not None:
        item = await ctx.session.get(NeedItem, need.item_id)
        return Reply(ctx.t("needs.already", title=item.title if item else ""), back_to_menu(ctx))
    return await _place(ctx, need, suggested)


async def _place(ctx: Context, need: Need, suggested: NeedCategory | None) -> Reply:
    """An unplaced need: into a neighbour's item in the same words, else the similar items
    offered, else the categories for a new item."""
    if need.item_id is None and (joined := await _same_words_joined(ctx, need)) is not None:
        return joined
    items = await _similar_items(ctx, need, need.category)
    if not items:
        return _category_question(ctx, need, suggested)
    return _offer(ctx, need, items, ctx.t("needs.similar"))


def _unplaced_given_up(ctx: Context) -> str | None:
    """The need whose offer or categories are on screen, when the words only give it up ("算了
    先不提了"; a walkthrough: the need stayed, listed as unfinished)."""
    if ctx.payload is not None or not ctx.text:
        return None
    shown = payloads_shown(ctx.state.data, "need:new:") or payloads_shown(
        ctx.state.data, "need:cat:"
    )
    if not shown or not gives_up(ctx, ctx.text):
        return None
    return shown[0].split(":")[2]


@router.route(Phase.COMMAND, lambda ctx: _unplaced_given_up(ctx) is not None)
async def need_given_up(ctx: Context) -> HandlerResult:
    """Not submitted after all: the need, placed in no item yet, is removed."""
    need = await _own_need(ctx, _unplaced_given_up(ctx) or "")
    ctx.clear_state()
    if need is not None and need.item_id is None:
        await ctx.session.delete(need)
    return await main_menu(ctx, ctx.t("needs.given_up"))


@router.payload("need:again")
async def placing_again(ctx: Context) -> HandlerResult:
    """A need left at its offer or categories (进度 lists it): the choice again."""
    need = await _own_need(ctx, ctx.args)
    if need is None:
        return Reply(ctx.t("needs.gone"), back_to_menu(ctx))
    if need.item_id is not None:
        item = await ctx.session.get(NeedItem, need.item_id)
        return Reply(ctx.t("needs.already", title=item.title if item else ""), back_to_menu(ctx))
    return await _place(ctx, need, suggest_category(need.text, categories(ctx)))


async def _same_words_joined(ctx: Context, need: Need) -> Reply | None:
    """A neighbour put it in the same words: the need joins their item at once."""
    item = await item_with_same_words(ctx.session, need)
    if item is None:
        return None
    await join_item(ctx.session, need, item, ctx.now())
    return await main_menu(ctx, ctx.t("needs.joined", title=item.title, count=item.supporters))


async def _similar_items(ctx: Context, need: Need, category: str | None) -> list[NeedItem]:
    """The open items most like the need, best first (none in the need's own item)."""
    found = (await matcher(ctx)).match(need.text, category, MATCHES_SHOWN)
    return [
        item
        for item_id, _ in found
        if item_id != need.item_id and (item := await ctx.session.get(NeedItem, item_id))
    ]


def _offer(ctx: Context, need: Need, items: list[NeedItem], heading: str) -> Reply:
    """The similar items to +1, or a new item after all."""
    lines = [heading]
    lines += [
        ctx.t("needs.similar_line", title=item.title, count=item.supporters) for item in items
    ]
    buttons = tuple(
        Button(ctx.t("needs.plus", title=item.title), f"need:plus:{need.id}:{item.id}")
        for item in items
    )
    return Reply("\n".join(lines), (*buttons, Button(ctx.t("needs.new"), f"need:new:{need.id}")))


def _category_question(
    ctx: Context, need: Need, suggested: NeedCategory | None, *, declined: bool = False
) -> Reply:
    """The categories, the suggested one first; declined: the resident has said the similar
    items offered are not theirs, so choosing makes the new item without offering them again."""
    ordered = sorted(categories(ctx), key=lambda c: c != suggested)
    tail = ":own" if declined else ""
    buttons = tuple(
        Button(localized(ctx, c.name_zh, c.name_en), f"need:cat:{need.id}:{c.code}{tail}")
        for c in ordered
    )
    # The need is stored already; the step only lets typed words reach category_typed. "Yes"
    # and "不知道" take the first category only when it is a suggestion, not the file's first.
    # A label's start chooses it ("文化" is 文化体育): no other label begins the same way.
    on_yes = buttons[0].payload if suggested is not None else None
    ctx.set_state(NEED_CATEGORY, back="menu", on_yes=on_yes, by_start=True)
    return Reply(ctx.t("needs.choose_category"), (*buttons, *back_to_menu(ctx)))


def says_dont_know(text: str, data_dir: Path) -> bool:
    """Whether the words only say the resident cannot tell ("不知道选哪个", "not sure"): one
    of the phrases, with a few characters after it at most ("不清楚，我想撤回" says more)."""
    said = fold(text).strip(" ,，。.!！?？~")
    return any(
        said.startswith(phrase) and len(said) - len(phrase) <= DONT_KNOW_TAIL
        for phrase in map(fold, load_lexicon(data_dir).words.get("dont_know", ()))
    )


@router.state(NEED_CATEGORY)
async def category_typed(ctx: Context) -> HandlerResult:
    """Words typed at the categories (a label or its number is read as pressing it): "不知道"
    takes the suggested one, shown first; anything else shows them again, nothing lost."""
    options = ctx.state.data.get("options")
    if not isinstance(options, list) or not options:
        return await main_menu(ctx, ctx.t("menu.stale_option"))
    suggested = ctx.state.data.get("on_yes")
    if isinstance(suggested, str) and says_dont_know(ctx.text, Path(ctx.settings.data_dir)):
        return await ctx.redirect(ctx, suggested)
    labels = [str(label) for label in ctx.state.data.get("labels") or []]
    buttons = tuple(
        Button(label, str(payload)) for label, payload in zip(labels, options, strict=False)
    )
    return Reply(ctx.t("needs.category_again"), buttons)


async def _own_need(ctx: Context, number: str) -> Need | None:
    """The need, if this account's resident wrote it or its staff member took it down."""
    if not (number.isdecimal() and len(number) < 10):
        return None
    need = await ctx.session.get(Need, int(number))
    if need is None:
        return None
    by_resident = (
        ctx.identity.resident_id is not None and need.resident_id == ctx.identity.resident_id
    )
    by_staff = ctx.staff is not None and need.submitted_by_staff_id == ctx.staff.id
    return need if by_resident or by_staff else None


_NOT_THE_SAME = re.compile(
    r"不是|不一样|没有一样|不同|不相同|另一回事|两回事"
    r"|(?<![a-z])(?:none|not the same|different)(?![a-z])"
)


def _declined_option(ctx: Context) -> str | None:
    """At the similar needs offered, words saying none is theirs ("都不是我说的", "没有一样的",
    "not the same"): the 都不是，作为新需求 button's payload (a walkthrough: the need was lost)."""
    if ctx.payload is not None or ctx.state.name or not ctx.text or ctx.command is not None:
        return None
    declined = payloads_shown(ctx.state.data, "need:new:")
    if len(declined) != 1 or any(mark in ctx.text for mark in "?？吗"):
        return None
    if not _NOT_THE_SAME.search(fold(ctx.text)) or _supported_option(ctx) is not None:
        return None
    return declined[0]


@router.route(Phase.COMMAND, lambda ctx: _declined_option(ctx) is not None)
async def declined_in_words(ctx: Context) -> HandlerResult:
    """None of the similar needs is the resident's, said in words: as 都不是，作为新需求."""
    return await ctx.redirect(ctx, _declined_option(ctx) or "")


def _supported_option(ctx: Context) -> str | None:
    """The one similar need offered, when the message only says "+1", "支持", "就是这个",
    "me too" (`plus_one`; a reflexive 好的 joins nothing): its +1 button's payload."""
    if ctx.payload is not None or ctx.state.name or not ctx.text:
        return None
    plus = payloads_shown(ctx.state.data, "need:plus:")
    if len(plus) != 1:
        return None
    if any(mark in ctx.text for mark in "?？吗"):
        return None  # "对？", "一样吗" ask; they do not join
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    said = lexicon.is_only("plus_one", ctx.text) or (  # "对对，一样的" (a walkthrough)
        lexicon.only_words_of(("plus_one", *AGREEING), ctx.text)
        and not lexicon.only_agrees(ctx.text)
    )
    return plus[0] if said else None


@router.route(Phase.COMMAND, lambda ctx: _supported_option(ctx) is not None)
async def supported_in_words(ctx: Context) -> HandlerResult:
    """ "+1" or "支持" typed at the one similar need offered: as its +1 button."""
    return await ctx.redirect(ctx, _supported_option(ctx) or "")


@router.payload("need:plus")
async def plus_one(ctx: Context) -> HandlerResult:
    """+1 an existing item with this need."""
    need_id, _, item_id = ctx.args.partition(":")
    need = await _own_need(ctx, need_id)
    item = (
        await ctx.session.get(NeedItem, int(item_id))
        if item_id.isdecimal() and len(item_id) < 10
        else None
    )
    if need is None or item is None or item.merged_into_id is not None:
        return Reply(ctx.t("needs.gone"), back_to_menu(ctx))
    if not await join_item(ctx.session, need, item, ctx.now()):
        # their own item, or one they backed (a walkthrough was told "已为…+1", nothing added)
        said = ctx.t("needs.supported_before", title=item.title, count=item.supporters)
        return await main_menu(ctx, said)
    return await main_menu(ctx, ctx.t("needs.supported", title=item.title, count=item.supporters))


@router.payload("need:new")
async def as_new(ctx: Context) -> HandlerResult:
    """Not the same as those: choose a category for a new item."""
    need = await _own_need(ctx, ctx.args)
    if need is None:
        return Reply(ctx.t("needs.gone"), back_to_menu(ctx))
    suggested = next((c for c in categories(ctx) if c.code == need.category), None)
    return _category_question(ctx, need, suggested, declined=True)


@router.payload("need:cat")
async def category_chosen(ctx: Context) -> HandlerResult:
    """A new item in the chosen category, the resident its first supporter; unless, while they
    chose, a neighbour made an item in the same words (joined) or a similar one (offered)."""
    need_id, _, rest = ctx.args.partition(":")
    code, _, declined = rest.partition(":")
    need = await _own_need(ctx, need_id)
    if ctx.state.name == NEED_CATEGORY:  # that step is over; an old button leaves others be
        ctx.clear_state()
    category = next((c for c in categories(ctx) if c.code == code), None)
    if need is None or category is None or need.item_id is not None:
        return Reply(ctx.t("needs.gone"), back_to_menu(ctx))
    need.category = category.code
    # From here to the commit no other item is made, and every item made before is seen.
    await lock_item_creation(ctx.session)
    if (joined := await _same_words_joined(ctx, need)) is not None:
        return joined
    if not declined and (items := await _similar_items(ctx, need, category.code)):
        return _offer(ctx, need, items, ctx.t("needs.similar_meanwhile"))
    item = await new_item(ctx.session, need, need_title(need.text), ctx.now())
    (await matcher(ctx)).add(item.id or 0, need.text, category.code)
    return await main_menu(ctx, ctx.t("needs.created", title=item.title))
