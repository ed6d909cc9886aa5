"""Staff editing need items from chat: rename, merge another item into this one (its supporters
are told where their need went), and split chosen needs off into a new item."""

from __future__ import annotations

import re
import unicodedata

from bot.context import Context
from bot.messages import Button, Reply
from bot.outgoing.tell import need_merge_news
from bot.router import HandlerResult, Router
from handlers.common import back_to_menu, list_number
from handlers.needs_staff import card, item_from, needs_editor
from handlers.staff import is_staff
from models.need_edit import (
    clean_title,
    is_open,
    item_needs,
    merge_items,
    need_count,
    rename_item,
    split_item,
)
from models.needs import NeedItem

router = Router("needs_edit")

RENAME, MERGE, SPLIT = "needs.rename", "needs.merge", "needs.split"
SPLIT_SHOWN = 20
NEED_LINE = 40


async def _editable(ctx: Context, number: str) -> NeedItem | Reply:
    """The open item an editor may change, or the reply saying why not."""
    item = await item_from(ctx, number)
    if item is None or not is_open(item):
        return Reply(ctx.t("needs.gone"), back_to_menu(ctx))
    if await needs_editor(ctx) is None:
        return Reply(ctx.t("needs.not_editor"), back_to_menu(ctx))
    return item


@router.payload("need:rename", filters=(is_staff,))
async def rename_start(ctx: Context) -> HandlerResult:
    """Ask for the new title."""
    item = await _editable(ctx, ctx.args)
    if isinstance(item, Reply):
        return item
    ctx.set_state(RENAME, item=item.id)
    return Reply(ctx.t("needs.rename_prompt", title=item.title), back_to_menu(ctx))


@router.state(RENAME)
async def rename_to(ctx: Context) -> HandlerResult:
    """The new title (2–60 characters)."""
    title = clean_title(ctx.text)
    if title is None:
        return Reply(ctx.t("needs.rename_again"), back_to_menu(ctx))
    item = await _editable(ctx, str(ctx.state.data.get("item", "")))
    ctx.clear_state()
    if isinstance(item, Reply):
        return item
    await rename_item(ctx.session, item, title, ctx.now(), ctx.identity.staff_id)
    return await card(ctx, item, ctx.t("needs.renamed"))


@router.payload("need:merge", filters=(is_staff,))
async def merge_start(ctx: Context) -> HandlerResult:
    """Ask which item to fold into this one."""
    item = await _editable(ctx, ctx.args)
    if isinstance(item, Reply):
        return item
    ctx.set_state(MERGE, item=item.id)
    # No buttons under a prompt for a number: a typed number would pick the button instead.
    return Reply(ctx.t("needs.merge_prompt", title=item.title))


@router.state(MERGE)
async def merge_which(ctx: Context) -> HandlerResult:
    """The other item's number; a button confirms, because a merge is not undone."""
    keep = await _editable(ctx, str(ctx.state.data.get("item", "")))
    if isinstance(keep, Reply):
        ctx.clear_state()
        return keep
    absorb = await item_from(ctx, unicodedata.normalize("NFKC", ctx.text))
    if absorb is None or absorb.id == keep.id or not is_open(absorb):
        return Reply(ctx.t("needs.merge_again"))
    ctx.clear_state()
    text = ctx.t("needs.merge_confirm", old=absorb.title, title=keep.title, count=absorb.supporters)
    confirm = Button(ctx.t("needs.merge_yes"), f"need:merged:{keep.id}:{absorb.id}")
    return Reply(text, (confirm, Button(ctx.t("needs.back_to_item"), f"need:item:{keep.id}")))


@router.payload("need:merged", filters=(is_staff,))
async def merge_confirmed(ctx: Context) -> HandlerResult:
    """Merge, and tell the absorbed item's supporters where their need went."""
    keep_id, _, absorb_id = ctx.args.partition(":")
    keep = await _editable(ctx, keep_id)
    absorb = await item_from(ctx, absorb_id)
    if isinstance(keep, Reply):
        return keep
    if absorb is None or absorb.id == keep.id or not is_open(absorb):
        return Reply(ctx.t("needs.gone"), back_to_menu(ctx))
    merged = await merge_items(ctx.session, keep, absorb, ctx.now(), ctx.identity.staff_id)
    await need_merge_news(ctx.unit.connection, keep, absorb, merged.told, ctx.now())
    note = ctx.t("needs.merged", old=absorb.title, moved=merged.moved, told=len(merged.told))
    return await card(ctx, keep, note)


@router.payload("need:split", filters=(is_staff,))
async def split_start(ctx: Context) -> HandlerResult:
    """List the item's needs by number; the clerk answers with the ones to split off."""
    item = await _editable(ctx, ctx.args)
    if isinstance(item, Reply):
        return item
    needs = await item_needs(ctx.session, item.id or 0, SPLIT_SHOWN)
    if len(needs) < 2:
        return await card(ctx, item, ctx.t("needs.split_too_few"))
    lines = [ctx.t("needs.split_prompt", title=item.title)]
    lines += [f"{n}. {need.text[:NEED_LINE]}" for n, need in enumerate(needs, 1)]
    total = await need_count(ctx.session, item.id or 0)
    ctx.set_state(SPLIT, item=item.id, needs=[need.id for need in needs], total=total)
    return Reply("\n".join(lines))


def chosen_numbers(text: str, count: int) -> list[int] | None:
    """Option numbers typed as "1 3 4", "1,3、4" or full-width; None if any is out of range."""
    typed = re.findall(r"\d+", unicodedata.normalize("NFKC", text))
    numbers = [list_number(n) for n in typed]
    if not numbers or any(not 1 <= n <= count for n in numbers):
        return None
    return sorted(set(numbers))


@router.state(SPLIT)
async def split_which(ctx: Context) -> HandlerResult:
    """The needs to move to a new item (some, not all)."""
    listed = [int(n) for n in ctx.state.data.get("needs", [])]
    numbers = chosen_numbers(ctx.text, len(listed))
    if numbers is None or len(numbers) >= int(ctx.state.data.get("total", len(listed))):
        return Reply(ctx.t("needs.split_again", count=len(listed)))
    item = await _editable(ctx, str(ctx.state.data.get("item", "")))
    ctx.clear_state()
    if isinstance(item, Reply):
        return item
    new = await split_item(
        ctx.session, item, [listed[n - 1] for n in numbers], ctx.now(), ctx.identity.staff_id
    )
    if new is None:
        return Reply(ctx.t("needs.gone"), back_to_menu(ctx))
    return await card(ctx, new, ctx.t("needs.split_done", old=item.title, count=len(numbers)))
