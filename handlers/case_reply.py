"""Answering a case's push in one's own words. Under a resolved case's push, "还没解决呢，垃圾
还在", "不行", "still broken" reopen the case with those words as the reason; "解决了", "好了",
"谢谢" confirm it. Under the office's question ("工作人员想问：…"), the words typed next are the
answer. The push's options, remembered when it was delivered, say which case is in view."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select

from bot.context import Context
from bot.i18n import LANGS, t
from bot.messages import Reply
from bot.router import HandlerResult, Phase, Router
from handlers.case_text import WORDS_LIMIT, alert_department
from handlers.cases import ANSWER, ANSWER_FRESH, answer_given, waiting_for_answer
from handlers.common import back_to_menu
from handlers.inquiry import ASKING, puts_a_question, respond, understood
from handlers.solved_words import (
    CONFIRM,
    case_in_view,
    not_solved,
    one_case_shown,
    short_reply,
    solved,
)
from models.case_ops import reopen
from models.cases import Case, CaseKind, CaseStatus
from models.intents import Intent, fold

router = Router("case_reply")


def _data(ctx: Context) -> Path:
    return Path(ctx.settings.data_dir)


ANSWER_PREFIX = "case:answer:"


def question_in_view(ctx: Context) -> int | None:
    """The case whose question from the office is the latest thing shown (its 回复 option)."""
    return one_case_shown(ctx, ANSWER_PREFIX)


def _says_reply(ctx: Context) -> bool:
    """Whether the message is the 回复 option's label, typed after it scrolled away."""
    return fold(ctx.text) in {fold(t(lang, "cases.answer")) for lang in LANGS}


def _in_a_flow(ctx: Context) -> bool:
    """Whether a flow waits for the resident's words; after a question answered from the FAQ
    (ask.recent) none does, and an answer to the office is still that (an outside
    walkthrough: it was lost after any FAQ answer)."""
    return ctx.state.name not in ("", ASKING)


def _answers_question(ctx: Context) -> bool:
    """Words typed under the office's question, delivered lately, that are no other matter
    ("是东门，靠近快递柜那边", "有的，残疾证也有", "是的，户籍在南街社区"): not small talk
    ("好的", "谢谢"), nor a request the bot reads surely ("楼道灯坏了"), nor a question
    ("社保卡怎么办理"). After other replies scrolled the question away, only "回复" typed
    (the reply to unsure words then offers 回复, see answer_offer in handlers/cases)."""
    if ctx.payload is not None or not ctx.text or ctx.command is not None or _in_a_flow(ctx):
        return False
    if question_in_view(ctx) is None:
        return _says_reply(ctx)
    if ctx.now() - ctx.state.updated_at > ANSWER_FRESH:
        return False  # asked days ago: the next words may be about anything
    seen = understood(ctx)
    if seen.ruled is Intent.CHITCHAT or (seen.sure and seen.intent in _NO_ANSWER):
        return False
    if not seen.sure or seen.intent is Intent.UNKNOWN:
        return True
    return seen.intent is Intent.QUESTION and not puts_a_question(ctx, ctx.text)


_NO_ANSWER = (Intent.CHITCHAT, Intent.ABUSE)


@router.route(Phase.COMMAND, _answers_question)
async def question_answered(ctx: Context) -> HandlerResult:
    """Words typed under the office's question are the answer, as after pressing 回复; "回复"
    typed later starts the answer to the one case waiting for it."""
    number = question_in_view(ctx)
    if number is None:
        waiting = await waiting_for_answer(ctx)
        if waiting is None:  # none, or several: the word is understood as any other
            return await respond(ctx)
        return await ctx.redirect(ctx, f"{ANSWER_PREFIX}{waiting.id}")
    case = await ctx.session.get(Case, number)
    if case is None or case.status != CaseStatus.WAITING_RESIDENT:
        return await respond(ctx)  # answered already, or the case moved on: read as any words
    ctx.set_state(ANSWER, case=number, back="track")
    return await answer_given(ctx)


def _answers_push(ctx: Context) -> bool:
    if ctx.payload is not None or not ctx.text or ctx.command is not None:
        return False
    if case_in_view(ctx) is not None:
        return not_solved(ctx.text, _data(ctx), in_view=True) or solved(ctx.text, _data(ctx))
    # The push scrolled away (a question asked meanwhile): only a short "没解决", outside a
    # flow, since a longer message ("楼道灯没修好") may well be news of another matter.
    # Not after an FAQ answer either: "还是不行" there says the answer did not help.
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
    await alert_department(ctx, case, case.department_id or 0, reopened=reason)
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
