"""Answering a resolved case's push in one's own words: "还没解决呢，垃圾还在", "不行",
"still broken" reopen the case with those words as the reason; "解决了", "好了", "谢谢" confirm
it. The push's options, remembered when it was delivered, say which case is in view."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select

from bot.context import Context
from bot.messages import Reply
from bot.router import HandlerResult, Phase, Router
from handlers.case_text import WORDS_LIMIT, alert_department
from handlers.common import back_to_menu
from handlers.inquiry import respond
from handlers.solved_words import CONFIRM, case_in_view, not_solved, short_reply, solved
from models.case_ops import reopen
from models.cases import Case, CaseKind, CaseStatus

router = Router("case_reply")


def _data(ctx: Context) -> Path:
    return Path(ctx.settings.data_dir)


def _answers_push(ctx: Context) -> bool:
    if ctx.payload is not None or not ctx.text or ctx.command is not None:
        return False
    if case_in_view(ctx) is not None:
        return not_solved(ctx.text, _data(ctx), in_view=True) or solved(ctx.text, _data(ctx))
    # The push scrolled away (a question asked meanwhile): only a short "没解决", outside a
    # flow, since a longer message ("楼道灯没修好") may well be news of another matter.
    return (
        not ctx.state.name
        and short_reply(ctx.words)
        and not_solved(ctx.text, _data(ctx), in_view=False)
    )


@router.route(Phase.COMMAND, _answers_push)
async def push_answered(ctx: Context) -> HandlerResult:
    """Reopen (with the resident's words as the reason) or confirm the case in view."""
    case = await _case(ctx)
    if case is None:  # no case waits for an answer: the words are understood as any others
        return await respond(ctx)
    if case_in_view(ctx) is not None and not not_solved(ctx.text, _data(ctx), in_view=True):
        return await ctx.redirect(ctx, f"{CONFIRM}{case.id}")
    reason = ctx.text[:WORDS_LIMIT]
    if not reopen(ctx.session, case, case.resident_id or 0, reason, ctx.now()):
        return Reply(ctx.t("cases.not_now"), back_to_menu(ctx))
    await alert_department(ctx, case, case.department_id or 0)
    ctx.clear_state()
    text = ctx.t("cases.reopened", ref=case.ref) + "\n" + ctx.t("case_reply.words_kept")
    return Reply(text, back_to_menu(ctx))


async def _case(ctx: Context) -> Case | None:
    """The case in view, else the resident's one case waiting for their confirmation."""
    resident = ctx.identity.resident_id
    if resident is None:
        return None
    number = case_in_view(ctx)
    if number is not None:
        case = await ctx.session.get(Case, number)
        return case if case is not None and case.resident_id == resident else None
    stmt = select(Case).where(
        Case.resident_id == resident,
        Case.status == CaseStatus.RESOLVED,
        col(Case.kind) != CaseKind.RETURN_VISIT,
    )
    waiting = (await ctx.session.exec(stmt.limit(2))).all()
    return waiting[0] if len(waiting) == 1 else None
