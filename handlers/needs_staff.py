"""Staff and needs: this week's top items, and moving an item to its next stage, which every
supporter hears about once (through the outbox)."""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context
from bot.messages import Button, Reply
from bot.needs_news import announce_stage
from bot.router import HandlerResult, Router
from handlers.common import back_to_menu
from handlers.staff import is_staff
from models.need_ops import STAGE_ORDER, change_stage, top_items
from models.needs import NeedItem, NeedStage

router = Router("needs_staff")

TOP = 10


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
            n=n,
            title=item.title,
            count=count,
            stage=ctx.t(f"needs.stage_{item.stage}"),
        )
        for n, (item, count) in enumerate(ranked, 1)
    ]
    buttons = tuple(_next_button(ctx, item) for item, _ in ranked if _next_stage(item) is not None)
    return Reply("\n".join(lines), (*buttons, *back_to_menu(ctx)))


def _next_stage(item: NeedItem) -> NeedStage | None:
    index = STAGE_ORDER.index(item.stage) if item.stage in STAGE_ORDER else len(STAGE_ORDER)
    return STAGE_ORDER[index + 1] if index + 1 < len(STAGE_ORDER) else None


def _next_button(ctx: Context, item: NeedItem) -> Button:
    stage = _next_stage(item)
    label = ctx.t("needs.move", title=item.title[:12], stage=ctx.t(f"needs.stage_{stage}"))
    return Button(label, f"need:move:{item.id}:{stage}")


@router.payload("need:move", filters=(is_staff,))
async def move(ctx: Context) -> HandlerResult:
    """The next stage; each supporter is told once."""
    number, _, stage_text = ctx.args.partition(":")
    item = (
        await ctx.session.get(NeedItem, int(number))
        if number.isdecimal() and len(number) < 10
        else None
    )
    if item is None or stage_text not in NeedStage._value2member_map_:
        return Reply(ctx.t("needs.gone"), back_to_menu(ctx))
    stage = NeedStage(stage_text)
    told = await change_stage(ctx.session, item, stage, ctx.now(), staff_id=ctx.identity.staff_id)
    if told is None:
        return Reply(ctx.t("needs.cannot_move"), back_to_menu(ctx))
    await announce_stage(ctx.unit.connection, item, stage, told, ctx.now())
    return Reply(ctx.t("needs.moved", title=item.title, count=len(told)), back_to_menu(ctx))
