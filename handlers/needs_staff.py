"""Staff and needs: this week's top items, an item's card, and moving it on (every supporter is
told once, through the outbox) or rejecting it with a reason. Renaming, merging and splitting
are in handlers/needs_edit.py."""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context
from bot.messages import Button, Reply
from bot.outgoing.tell import need_stage_news
from bot.router import HandlerResult, Router
from handlers.common import back_to_menu, localized
from handlers.needs import categories
from handlers.staff import active_staff, is_staff
from models.need_edit import is_open, need_count
from models.need_ops import STAGE_ORDER, can_move, change_stage, top_items
from models.needs import NeedItem, NeedStage
from models.org import Staff
from models.policy import may_edit_need_items

router = Router("needs_staff")

TOP = 10
REJECT_REASON = "needs.reject"
REASON_LIMIT = 300


async def needs_editor(ctx: Context) -> Staff | None:
    """The active staff member behind this account, when their role may edit need items."""
    staff = await active_staff(ctx)
    return staff if may_edit_need_items(staff) else None


async def item_from(ctx: Context, number: str) -> NeedItem | None:
    """The item with this number (as typed or carried in a button), if it exists."""
    number = number.strip().lstrip("#＃").strip()
    if not (number.isdecimal() and len(number) < 10):
        return None
    return await ctx.session.get(NeedItem, int(number))


@router.payload("need:top", filters=(is_staff,))
@router.command("needs_top", filters=(is_staff,))
async def top_this_week(ctx: Context) -> HandlerResult:
    """Items with the most new supporters in the last seven days."""
    ranked = await top_items(ctx.session, limit=TOP, since=ctx.now() - timedelta(days=7))
    if not ranked:
        return Reply(ctx.t("needs.top_none"), back_to_menu(ctx))
    lines = [ctx.t("needs.top_title")]
    lines += [
        ctx.t(
            "needs.top_line",
            title=item.title,
            count=count,
            stage=ctx.t(f"needs.stage_{item.stage}"),
        )
        for item, count in ranked
    ]
    buttons = tuple(
        Button(ctx.t("needs.open_item", id=item.id, title=item.title[:12]), f"need:item:{item.id}")
        for item, _ in ranked
    )
    return Reply("\n".join(lines), (*buttons, *back_to_menu(ctx)))


@router.payload("need:item", filters=(is_staff,))
@router.command("need_item", filters=(is_staff,))
async def item_card(ctx: Context) -> HandlerResult:
    """An item's title, category, stage and supporters, with what this staff member may do."""
    item = await item_from(ctx, ctx.args or ctx.command_args)
    if item is None:
        return Reply(ctx.t("needs.no_item"), back_to_menu(ctx))
    return await card(ctx, item)


async def card(ctx: Context, item: NeedItem, note: str | None = None) -> Reply:
    """The card of one item (under a note, when an action has just been done)."""
    needs = await need_count(ctx.session, item.id or 0)
    category = next((c for c in categories(ctx) if c.code == item.category), None)
    lines = [note] if note else []
    lines.append(
        ctx.t(
            "needs.card",
            id=item.id,
            title=item.title,
            category=localized(ctx, category.name_zh, category.name_en) if category else "—",
            stage=ctx.t(f"needs.stage_{item.stage}"),
            supporters=item.supporters,
            needs=needs,
        )
    )
    if item.merged_into_id is not None:
        lines.append(ctx.t("needs.merged_away", id=item.merged_into_id))
    elif item.stage_reason:
        lines.append(ctx.t("needs.reason", reason=item.stage_reason))
    editor = await needs_editor(ctx)
    buttons = _edit_buttons(ctx, item) if editor is not None and is_open(item) else ()
    return Reply("\n".join(lines), (*buttons, *back_to_menu(ctx)))


def _edit_buttons(ctx: Context, item: NeedItem) -> tuple[Button, ...]:
    buttons: list[Button] = []
    stage = next_stage(item)
    if stage is not None:
        label = ctx.t("needs.move", title=item.title[:12], stage=ctx.t(f"needs.stage_{stage}"))
        buttons.append(Button(label, f"need:move:{item.id}:{stage}"))
    if can_move(item, NeedStage.REJECTED):
        buttons.append(Button(ctx.t("needs.reject"), f"need:reject:{item.id}"))
    for action in ("rename", "merge", "split"):
        buttons.append(Button(ctx.t(f"needs.{action}"), f"need:{action}:{item.id}"))
    return tuple(buttons)


def next_stage(item: NeedItem) -> NeedStage | None:
    """The stage after the item's current one (None once done or rejected)."""
    if item.stage not in STAGE_ORDER:
        return None
    index = STAGE_ORDER.index(item.stage)
    return STAGE_ORDER[index + 1] if index + 1 < len(STAGE_ORDER) else None


@router.payload("need:move", filters=(is_staff,))
async def move(ctx: Context) -> HandlerResult:
    """The next stage; each supporter is told once."""
    number, _, stage_text = ctx.args.partition(":")
    item = await item_from(ctx, number)
    if item is None or stage_text not in NeedStage._value2member_map_:
        return Reply(ctx.t("needs.gone"), back_to_menu(ctx))
    if await needs_editor(ctx) is None:
        return Reply(ctx.t("needs.not_editor"), back_to_menu(ctx))
    return await _change(ctx, item, NeedStage(stage_text))


@router.payload("need:reject", filters=(is_staff,))
async def reject_start(ctx: Context) -> HandlerResult:
    """不予立项: ask for the reason the supporters will read."""
    item = await item_from(ctx, ctx.args)
    if item is None or not can_move(item, NeedStage.REJECTED):
        return Reply(ctx.t("needs.cannot_move"), back_to_menu(ctx))
    if await needs_editor(ctx) is None:
        return Reply(ctx.t("needs.not_editor"), back_to_menu(ctx))
    ctx.set_state(REJECT_REASON, item=item.id)
    return Reply(ctx.t("needs.reject_prompt", title=item.title), back_to_menu(ctx))


@router.state(REJECT_REASON)
async def reject_reason(ctx: Context) -> HandlerResult:
    """The reason; then the item is rejected and its supporters told why."""
    item_id = str(ctx.state.data.get("item", ""))
    reason = " ".join(ctx.text.split())[:REASON_LIMIT]
    if sum(ch.isalnum() for ch in reason) < 2:
        return Reply(ctx.t("needs.reject_prompt_again"), back_to_menu(ctx))
    ctx.clear_state()
    item = await item_from(ctx, item_id)
    if item is None or await needs_editor(ctx) is None:
        return Reply(ctx.t("needs.gone"), back_to_menu(ctx))
    return await _change(ctx, item, NeedStage.REJECTED, reason)


async def _change(
    ctx: Context, item: NeedItem, stage: NeedStage, reason: str | None = None
) -> Reply:
    told = await change_stage(
        ctx.session, item, stage, ctx.now(), staff_id=ctx.identity.staff_id, reason=reason
    )
    if told is None:
        return Reply(ctx.t("needs.cannot_move"), back_to_menu(ctx))
    await ctx.session.flush()
    await need_stage_news(ctx.unit.connection, item, stage, told, ctx.now())
    return await card(ctx, item, ctx.t("needs.moved", title=item.title, count=len(told)))
