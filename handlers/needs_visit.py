"""代提需求: a grid worker takes down the need of a resident met on a door-to-door visit.

The resident is found by mobile number, or registered in the worker's grid when new; the need
is theirs, marked as taken down by the worker, and goes through the same matching as their own.
The answer to a number is the same whether it is registered or not (and shows no name), so the
flow cannot be used to find out who lives in the street.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from bot.context import Context
from bot.messages import Reply
from bot.router import HandlerResult, Router
from handlers.common import back_to_menu, with_media
from handlers.needs import take_need
from handlers.staff import active_staff, is_staff
from models.org import Grid, Staff
from models.people import Resident, mask_phone, normalise_mobile, set_phone
from models.policy import may_take_need_for, may_take_needs_on_visits
from models.sealed import lookup_hash

router = Router("needs_visit")

VISIT_PHONE, VISIT_WORDS = "need_for.phone", "need_for.words"


async def grid_worker(ctx: Context) -> Staff | None:
    """The active grid leader behind this account, with a grid to work in."""
    staff = await active_staff(ctx)
    return staff if may_take_needs_on_visits(staff) else None


@router.payload("need:for", filters=(is_staff,))
@router.command("need_for", filters=(is_staff,))
async def need_for_start(ctx: Context) -> HandlerResult:
    """Ask for the resident's mobile number."""
    if await grid_worker(ctx) is None:
        return Reply(ctx.t("needs.visit_only_grid"), back_to_menu(ctx))
    ctx.set_state(VISIT_PHONE, back="menu")
    return Reply(ctx.t("needs.visit_phone"), back_to_menu(ctx))


@router.state(VISIT_PHONE)
async def visit_phone(ctx: Context) -> HandlerResult:
    """The number; whether someone has registered it is not told (the same answer either
    way), and nobody is registered until a need follows."""
    staff = await grid_worker(ctx)
    if staff is None:
        ctx.clear_state()
        return Reply(ctx.t("needs.visit_only_grid"), back_to_menu(ctx))
    phone = normalise_mobile(ctx.text)
    if phone is None:
        return Reply(ctx.t("needs.visit_phone_again"), back_to_menu(ctx))
    ctx.set_state(VISIT_WORDS, phone=phone)
    return Reply(ctx.t("needs.visit_taken", phone=mask_phone(phone)), back_to_menu(ctx))


async def resident_by_phone(ctx: Context, phone: str, staff: Staff) -> Resident:
    """The resident with this mobile number, or a new one in the worker's grid."""
    stmt = (
        select(Resident).where(Resident.phone_lookup == lookup_hash(phone)).order_by(Resident.id)  # type: ignore[arg-type]
    )
    found = (await ctx.session.exec(stmt)).first()
    if found is not None:
        return found
    grid = await ctx.session.get(Grid, staff.grid_id or 0)
    resident = Resident(
        grid_id=staff.grid_id,
        community_id=grid.community_id if grid else staff.community_id,
        created_at=ctx.now(),
    )
    set_phone(resident, phone)
    ctx.session.add(resident)
    await ctx.session.flush()
    return resident


@router.state(VISIT_WORDS)
async def visit_words(ctx: Context) -> HandlerResult:
    """The need in the resident's words (a photo or location meanwhile is kept with it)."""
    data: dict[str, Any] = dict(ctx.state.data)
    kept = with_media(ctx, data)
    if ctx.inbound.event in ("image", "location") and not ctx.text:
        ctx.set_state(VISIT_WORDS, **kept)
        return Reply(ctx.t("needs.media_kept"), back_to_menu(ctx))
    staff = await grid_worker(ctx)
    phone = normalise_mobile(str(data.get("phone", "")))
    if staff is None or phone is None:
        ctx.clear_state()
        return Reply(ctx.t("needs.gone"), back_to_menu(ctx))
    resident = await resident_by_phone(ctx, phone, staff)
    if not may_take_need_for(staff, resident):
        ctx.clear_state()
        return Reply(ctx.t("needs.visit_other_grid"), back_to_menu(ctx))
    return await take_need(ctx, resident, ctx.text, kept, staff_id=staff.id)
