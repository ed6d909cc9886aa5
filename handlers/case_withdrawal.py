"""A resident withdraws a case still being handled (撤回): from its card, or in words ("撤销这个
事项", "代办不需要了", "取消 LC-…"); asked first, then whoever handles it is told."""

from __future__ import annotations

import re
from pathlib import Path

from bot.context import Context
from bot.i18n import normalize_words
from bot.messages import Button, Reply
from bot.outgoing import case_news
from bot.pipeline import QUESTION_STEPS
from bot.router import HandlerResult, Phase, Router
from handlers.case_text import category_name
from handlers.cases import CASES_READ, not_taken, own_case
from handlers.common import back_to_menu, clipped, gives_up, main_menu
from models.case_ops import resident_cases, withdraw_case
from models.cases import OPEN_STATUSES, Case, CaseKind, CaseStatus
from models.intents import CANCEL_DENIED, DENIED, cancelled_by_others, fold, load_lexicon
from models.lexicon import AGREEING
from models.personal_data import remove_personal_data
from models.refs import find_reference

router = Router("case_withdrawal")

WITHDRAW = "case.withdraw"

# Words that take something back, and words that name a case rather than an appointment or a
# need; a case's number names one too. Read only with no flow under way.
_TAKES_BACK = re.compile(
    r"撤销|撤回|撤消|撤会|撤单|把[^，。,.]{0,12}?(?:撤掉|收回)|(?:我|想|要)收回|收回吧|撤了吧|取消|作废|不需要了|不要了|不用了|不办了|不用办了|甭办|不用上门了"
    r"|不需要上门了|不用来了|不要来了|不想投诉了|不投诉了|不投了|不用报了"
    r"|不(?:要|需要|用)(?:代办|上门|投诉|办理?)了"
    r"|(?<![a-z])(?:withdraw|cancel|call off|no longer need|don't need)"
)
_A_CASE = re.compile(
    r"事项|代办|上门(?!送|维修|回收|收|拉|理发|做饭|护理|推销|服务)|报修|反映的|投诉|诉求|工单"
    r"|不用来了|不要来了|我的申请|申请的|上报的|刚才(?:那个)?(?:申请|上报)"
    r"|(?<![a-z])(?:case|request|report|complaint|home visit)(?![a-z])"
)
# "我的代办被取消了", "为什么取消了我的事项": about a withdrawal; "调解协议可以撤销吗",
# "how do I withdraw a case": a question (a review found both asked to confirm a withdrawal).
_NOT_ASKING = re.compile(
    r"被|无故|凭什么|为什么|怎么|如何|能不能|能否|可以|可不可以|吗|手续|流程|是真的|谁|是不是|[?？]"
    r"|(?<![a-z])(?:who|why|how|can i|could i|what|money)(?![a-z])"
)
_NOT_A_CASE = re.compile(r"预约|需求|订阅|通知|appointment|booking|(?<!t )need(?!ed)")
# Someone else cancelled something, or a complaint or report is being made ("物业取消了我家的车位，
# 我要投诉"): no take-back of one's own case (a review found them asked to confirm).
_NOT_ONES_OWN = re.compile(
    r"(?<!不)(?:我要|我想|要|想)(?:投诉|反映|上报|报修)|谢谢|thank"
    r"|(?<![a-z])(?:file|make) a complaint"
)
# "请网格员帮我代办作废旧社保卡": a proxy request for a cancellation, not one taken back.
_ASKS_FOR_PROXY = re.compile(r"(?:帮我|帮忙|请[^，。,.]{0,8}?|申请)(?:上门)?代办(?!的|申请)")
# "上门时间取消了，改到周五下午": moving a visit, not withdrawing the case (a walkthrough).
_MOVES = re.compile(r"改到|改成|改为|换个时间|推迟|换到|改后天|改期|另约|reschedule|another time")
# "不要撤回我的投诉": a take-back denied (a walkthrough: asked to confirm, "对" withdrew it).
_DENIED_TAKING_BACK = re.compile(
    r"(?:不|别|不要|不用|不必)(?:要|用)?(?:撤|取消)"
    r"|(?<![a-z])(?:don't|dont|do not) (?:withdraw|cancel)"
)
# A kind of case named ("我要撤销我的投诉"): only those are offered.
_KINDS_NAMED = {
    CaseKind.COMPLAINT: re.compile(r"投诉|complaint"),
    CaseKind.GRID_REPORT: re.compile(r"报修|上报|反映的|(?<![a-z])report"),
    CaseKind.PROXY: re.compile(r"代办|上门|师傅|proxy|home visit"),
}
_ONLY_TAKING_BACK = re.compile(
    r"(?:我要|我想|帮我|i want to |i'd like to |please )?(?:撤回|撤销|撤消|withdraw)(?:一下|吧|了)?"
)


def _asks_to_withdraw(ctx: Context) -> bool:
    """Whether typed words, with no flow under way, ask to take back one of one's cases."""
    if ctx.payload is not None or not ctx.text or ctx.staff is not None:
        return False
    if ctx.state.name and not ctx.state.name.startswith(QUESTION_STEPS):
        return False  # a flow's step reads its own answer; after a question, "撤回投诉" is this
    words = ctx.words
    if not _TAKES_BACK.search(words) or _NOT_ASKING.search(words):
        return False
    if CANCEL_DENIED.search(words) or DENIED.search(words) or _DENIED_TAKING_BACK.search(words):
        return False
    if _MOVES.search(words) or _NOT_ONES_OWN.search(words) or cancelled_by_others(words):
        return False
    if _ASKS_FOR_PROXY.search(words):
        return False
    ref = find_reference(ctx.text)
    if ref is not None:
        return not ref.startswith("LCY")  # an appointment's number: its own cancel question
    if _ONLY_TAKING_BACK.fullmatch(words.strip()):
        return True  # "撤回" alone: which case, if any, is asked next
    return bool(_A_CASE.search(words)) and not _NOT_A_CASE.search(words)


@router.route(Phase.COMMAND, _asks_to_withdraw)
async def withdrawal_in_words(ctx: Context) -> HandlerResult:
    """The case named by its number, the one still open (of the kind named), or which."""
    return await withdrawal_of(ctx, ctx.text)


@router.payload("case:withdraw_words")
async def withdrawal_redirected(ctx: Context) -> HandlerResult:
    """A step that took withdrawal words for its answer hands them here (the typed text)."""
    return await withdrawal_of(ctx, ctx.inbound.text or "")


async def withdrawal_of(ctx: Context, text: str) -> Reply:
    """The case the words name by number, the one still open (of the kind named), or which."""
    resident = ctx.identity.resident_id
    cases = await resident_cases(ctx.session, resident, CASES_READ) if resident is not None else []
    ref = find_reference(text)
    if ref is not None:
        named = [c for c in cases if c.ref == ref]
        if not named:
            return Reply(ctx.t("cases.withdraw_unknown", ref=ref), _track_and_menu(ctx))
        return _asked_about(ctx, named[0])
    still_open = [c for c in cases if c.status in OPEN_STATUSES]
    kinds = [kind for kind, said in _KINDS_NAMED.items() if said.search(normalize_words(text))]
    of_kind = [c for c in still_open if c.kind in kinds] if kinds else still_open
    if len(of_kind) == 1:
        return withdraw_question(ctx, of_kind[0])
    if not still_open:
        return Reply(ctx.t("cases.withdraw_none"), _track_and_menu(ctx))
    # Several, or none of the kind named ("撤销我的投诉" with only a proxy open): all open ones.
    key = "cases.withdraw_which" if of_kind else "cases.withdraw_none_of_kind"
    buttons = tuple(
        Button(_case_label(ctx, c), f"case:withdraw:{c.id}") for c in of_kind or still_open
    )
    return Reply(ctx.t(key), (*buttons, *back_to_menu(ctx)))


CASE_LABEL_WORDS = 8  # characters of a case's words in its button, to tell cases apart


def _case_label(ctx: Context, case: Case) -> str:
    """A case in a list: number, category and the start of its words (no personal data)."""
    words = clipped(remove_personal_data(case.summary), CASE_LABEL_WORDS)
    return f"{case.ref} {category_name(ctx, case).render(ctx.lang)}：{words}"


def _asked_about(ctx: Context, case: Case) -> Reply:
    """A case named by its number: the question, or why it cannot be withdrawn."""
    if case.status == CaseStatus.READY_FOR_PICKUP:
        return Reply(ctx.t("cases.withdraw_ready", ref=case.ref), _track_and_menu(ctx))
    if case.status not in OPEN_STATUSES:
        return Reply(ctx.t("cases.withdraw_ended", ref=case.ref), _track_and_menu(ctx))
    return withdraw_question(ctx, case)


def _track_and_menu(ctx: Context) -> tuple[Button, ...]:
    return (Button(ctx.t("menu.track"), "track"), *back_to_menu(ctx))


def withdraw_question(ctx: Context, case: Case) -> Reply:
    """Asked before a case is withdrawn: the staff's work on it stops."""
    ctx.set_state(WITHDRAW, case=case.id, back="track")
    name = category_name(ctx, case).render(ctx.lang)
    choices = (
        Button(ctx.t("cases.withdraw_yes"), f"case:withdraw_yes:{case.id}"),
        Button(ctx.t("cases.withdraw_no"), f"case:withdraw_no:{case.id}"),
    )
    said = ctx.t("cases.withdraw_confirm", ref=case.ref, category=name)
    return Reply(said, (*choices, *back_to_menu(ctx)))


def _cancel_at_the_question(ctx: Context) -> bool:
    return ctx.state.name == WITHDRAW and ctx.command == "cancel"


@router.route(Phase.COMMAND, _cancel_at_the_question)
async def cancel_at_the_question(ctx: Context) -> HandlerResult:
    """取消 at "确定撤回…吗？" may mean the question or the case: nothing is withdrawn."""
    return await ctx.redirect(ctx, f"case:withdraw_no:{ctx.state.data.get('case', '')}")


@router.payload("case:withdraw")
async def withdraw_pressed(ctx: Context) -> HandlerResult:
    """撤回 on a case's card: asked first."""
    case = await own_case(ctx, ctx.args)
    if case is None or case.status not in OPEN_STATUSES:
        return not_taken(ctx, case)
    return withdraw_question(ctx, case)


@router.payload("case:withdraw_yes")
async def withdraw_confirmed(ctx: Context) -> HandlerResult:
    """Withdrawn: the case ends, and whoever handles it is told."""
    case = await own_case(ctx, ctx.args)
    ctx.clear_state()
    if case is None or not withdraw_case(ctx.session, case, case.resident_id or 0, ctx.now()):
        return not_taken(ctx, case)
    await case_news.alert_owner(
        ctx.session, case, "cases.withdrawn_alert", now=ctx.now(), data_dir=ctx.settings.data_dir
    )
    return await main_menu(ctx, ctx.t("cases.withdrawn", ref=case.ref))


@router.payload("case:withdraw_no")
async def withdraw_declined(ctx: Context) -> HandlerResult:
    """Not withdrawn: the case goes on."""
    case = await own_case(ctx, ctx.args)
    ctx.clear_state()
    if case is None or case.status not in OPEN_STATUSES:
        return not_taken(ctx, case)  # an old button: the case has ended meanwhile
    return await main_menu(ctx, ctx.t("cases.withdraw_kept", ref=case.ref))


@router.state(WITHDRAW)
async def withdraw_answered(ctx: Context) -> HandlerResult:
    """Words at the question: only agreeing or withdrawing words withdraw ("撤回吧", "是的",
    "不要了"); declining keeps ("不用了", "不撤了", "算了"); anything else, another case
    named among it, asks again (a review: "我要撤销我的投诉" withdrew the case asked about)."""
    case = await own_case(ctx, str(ctx.state.data.get("case", "")))
    if case is None or case.status not in OPEN_STATUSES:
        ctx.clear_state()
        return not_taken(ctx, case)
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    folded = fold(ctx.text)
    saying = lexicon.has("withdraw_yes", folded) or lexicon.only_agrees(ctx.text)  # not "谢谢"
    if saying and lexicon.only_words_of(("withdraw_yes", *AGREEING, "gives_up_filler"), ctx.text):
        return await ctx.redirect(ctx, f"case:withdraw_yes:{case.id}")
    if _keeps(ctx) or gives_up(ctx, ctx.text):
        return await ctx.redirect(ctx, f"case:withdraw_no:{case.id}")
    return withdraw_question(ctx, case)


def _keeps(ctx: Context) -> bool:
    """ "不撤了", "不用撤回", "no, keep it", "不": the case stays."""
    keep = re.search(
        r"不撤|别撤|不用撤|不要撤|继续办|不用了|不要|不了|^不是?$|^别$|^否|再想想"
        r"|(?<![a-z])(?:keep|no|don't|dont)(?![a-z])",
        ctx.words,
    )
    return bool(keep or CANCEL_DENIED.search(ctx.words))
