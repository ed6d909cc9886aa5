"""A called department's answer to the street's dispatch (街道呼叫), from chat: a co-handling
department accepts its part, and a called department may return the call with a reason."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Reply
from bot.outgoing import case_news
from bot.router import HandlerResult, Router
from handlers.case_text import WORDS_LIMIT
from handlers.cases_staff import refused, staff_actions, visible_case
from handlers.common import back_to_menu
from handlers.staff import active_staff, is_staff
from models.case_ops import Refusal
from models.cases import Case
from models.dispatch import answer_call, return_call
from models.org import Staff

router = Router("dispatch_calls")

RETURN_REASON = "case.return"


async def _case(ctx: Context, number: str) -> tuple[Staff, Case] | None:
    staff = await active_staff(ctx)
    case = await visible_case(ctx, number, staff) if staff is not None else None
    return (staff, case) if staff is not None and case is not None else None


@router.payload("case:coaccept", filters=(is_staff,))
async def accept_part(ctx: Context) -> HandlerResult:
    """My department takes on its part of the joint work."""
    found = await _case(ctx, ctx.args)
    if found is None:
        return Reply(ctx.t("cases.not_yours"), back_to_menu(ctx))
    staff, case = found
    refusal = await answer_call(ctx.session, case, staff, ctx.now())
    if refusal is not None:
        return refused(ctx, refusal)
    await case_news.tell_part(
        ctx.session,
        case,
        "dispatch.news_co_accepted",
        staff,
        now=ctx.now(),
        data_dir=ctx.settings.data_dir,
    )
    return Reply(ctx.t("dispatch.co_accepted", ref=case.ref), await staff_actions(ctx, case, staff))


@router.payload("case:return", filters=(is_staff,))
async def return_start(ctx: Context) -> HandlerResult:
    """Returning a call needs a reason: ask for it."""
    found = await _case(ctx, ctx.args)
    if found is None:
        return Reply(ctx.t("cases.not_yours"), back_to_menu(ctx))
    ctx.set_state(RETURN_REASON, case=found[1].id)
    return Reply(ctx.t("dispatch.return_prompt", ref=found[1].ref), back_to_menu(ctx))


@router.state(RETURN_REASON)
async def return_reason(ctx: Context) -> HandlerResult:
    """The reason typed: the call goes back to the dispatcher, who is told why."""
    found = await _case(ctx, str(ctx.state.data.get("case", "")))
    if found is None:
        ctx.clear_state()
        return Reply(ctx.t("cases.not_yours"), back_to_menu(ctx))
    staff, case = found
    refusal = await return_call(ctx.session, case, staff, ctx.text[:WORDS_LIMIT], ctx.now())
    if refusal is Refusal.NO_REASON:  # keep asking: nothing typed is lost, nothing is sent
        return Reply(ctx.t("cases.refused_no_reason"), back_to_menu(ctx))
    ctx.clear_state()
    if refusal is not None:
        return refused(ctx, refusal)
    await case_news.tell_returned(
        ctx.session,
        case,
        staff,
        ctx.text[:WORDS_LIMIT],
        now=ctx.now(),
        data_dir=ctx.settings.data_dir,
    )
    return Reply(ctx.t("dispatch.returned", ref=case.ref), back_to_menu(ctx))
