"""Answering a resolved case's push in one's own words: "还没解决呢，垃圾还在", "不行",
"still broken" reopen the case with those words as the reason; "解决了", "好了", "谢谢" confirm
it. The push's options, remembered when it was delivered, say which case is in view."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlmodel import col, select

from bot.context import Context
from bot.i18n import normalize_words
from bot.messages import Reply
from bot.router import HandlerResult, Phase, Router
from handlers.case_text import WORDS_LIMIT, alert_department
from handlers.common import back_to_menu, is_short
from handlers.inquiry import respond
from models.case_ops import reopen
from models.cases import Case, CaseKind, CaseStatus
from models.intents import load_lexicon

router = Router("case_reply")

REOPEN, CONFIRM = "case:reopen:", "case:confirm:"
SHORT_CHARS, SHORT_WORDS = 8, 3  # a reply no longer than this says nothing else …
THANKS_CHARS, THANKS_WORDS = 12, 5  # … and one that says it is solved, with thanks


def _words(data_dir: Path, kind: str) -> tuple[str, ...]:
    """A word list of data/intents.toml (Chinese and English alike, folded when it was read;
    read again when the file changes)."""
    return load_lexicon(data_dir).words.get(kind, ())


def _holds(text: str, words: Iterable[str]) -> bool:
    return any(word in text for word in words)


def not_solved(text: str, data_dir: Path, *, in_view: bool) -> bool:
    """Whether the words say the matter is not solved; "不行"/"nope" at their start counts only
    as the answer to a push in view."""
    words = normalize_words(text)
    if _holds(words, _words(data_dir, "not_solved")):
        return True
    return in_view and any(_starts(words, word) for word in _words(data_dir, "not_solved_start"))


def _starts(text: str, word: str) -> bool:
    """Whether the text begins with the word ("nope, still", not "nopes")."""
    rest = text.removeprefix(word)
    return text.startswith(word) and not (
        word.isascii() and rest[:1].isascii() and rest[:1].isalpha()
    )


def solved(text: str, data_dir: Path) -> bool:
    """Whether a short reply says the matter is solved (and nothing says it is not)."""
    words = normalize_words(text)
    return (
        _short(words, THANKS_CHARS, THANKS_WORDS)
        and _holds(words, _words(data_dir, "solved"))
        and not not_solved(text, data_dir, in_view=True)
    )


def _short(words: str, chars: int = SHORT_CHARS, count: int = SHORT_WORDS) -> bool:
    return is_short(words, chars, count)


def case_in_view(ctx: Context) -> int | None:
    """The case whose confirm/reopen options are the latest shown (a delivered push's)."""
    options = ctx.state.data.get("options")
    if not isinstance(options, list):
        return None
    ids = {
        str(option).removeprefix(REOPEN)
        for option in options
        if str(option).startswith(REOPEN) and f"{CONFIRM}{str(option)[len(REOPEN) :]}" in options
    }
    found = ids.pop() if len(ids) == 1 else ""
    return int(found) if found.isdecimal() and len(found) < 10 else None


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
        not ctx.state.name and _short(ctx.words) and not_solved(ctx.text, _data(ctx), in_view=False)
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
