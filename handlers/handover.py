"""转人工: hand a resident over to a person. In opening hours the staff member on duty gets the
conversation and answers in chat; messages are relayed both ways, each on the other's own
channel, until either side ends it. Outside hours the resident learns when to expect an
answer, and the case's deadlines (the SLA sweep) make sure one comes."""

from __future__ import annotations

from bot.clock import local_today
from bot.context import Context
from bot.messages import Button, Reply
from bot.outgoing import Person, for_resident, for_staff, pushes, queue
from bot.router import HandlerResult, Phase, Router
from handlers.case_text import alert_department, catalogue, when
from handlers.common import back_to_menu, opening_hours, street_code
from handlers.staff import active_staff, is_staff
from models.base import SHANGHAI
from models.calendar import classify_day
from models.case_ops import open_case
from models.cases import Case, CaseKind
from models.handover import (
    assign_to,
    end,
    is_handover,
    on_duty,
    relay,
    take,
    waiting_handover,
)
from models.people import ensure_resident

router = Router("handover")

LIVE, STAFF_SIDE = "handover.live", "handover.staff"
# Nobody to talk to live: the question, to register for the person who answers later.
HANDOVER_QUESTION = "handover.question"
LINE = 300  # characters of one relayed message shown in a transcript line


async def hand_over(ctx: Context, transcript: list[dict[str, str]]) -> Reply:
    """Open the consultation and reach the person on duty, or say when someone will answer;
    with nobody to talk to live and no question yet, ask for the question first."""
    asked = _question(ctx, transcript)
    waiting = await waiting_handover(ctx.session, ctx.identity.resident_id)
    if waiting is not None:  # asked for a person again: one request, with what was added
        return await _add_to(ctx, waiting, asked)
    is_open = await _open_now(ctx)
    staff = await on_duty(ctx.session, ctx.now()) if is_open else []
    if not staff and not asked:  # a case reading "转人工" would tell nobody anything
        ctx.set_state(HANDOVER_QUESTION)
        return Reply(ctx.t("handover.ask_question"), back_to_menu(ctx))
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    case = await open_case(
        ctx.session,
        catalogue(ctx),
        kind=CaseKind.CONSULTATION,
        category_code=None,
        summary=asked or ctx.t("handover.summary"),
        details={"transcript": transcript, "handover": True},
        now=ctx.now(),
        street_code=await street_code(ctx),
        resident_id=resident.id,
        grid_id=resident.grid_id,
    )
    if not staff:
        await alert_department(ctx, case, case.department_id or 0)
        ctx.clear_state()
        due = when(ctx.lang, case.first_reply_due_at)
        if is_open:  # open, but nobody on duty can be reached: not "closed"
            return Reply(ctx.t("handover.no_one_free", ref=case.ref, due=due), back_to_menu(ctx))
        hours = await opening_hours(ctx)
        return Reply(ctx.t("handover.closed", ref=case.ref, due=due, **hours), back_to_menu(ctx))
    person = staff[0]
    assign_to(ctx.session, case, person, ctx.now())
    await _tell_staff(ctx, case, person.id or 0, "handover.alert", transcript=_lines(transcript))
    ctx.set_state(LIVE, case=case.id)
    return Reply(ctx.t("handover.waiting", ref=case.ref), (_end_button(ctx, case),))


def _question(ctx: Context, transcript: list[dict[str, str]]) -> str:
    """What the resident wants a person for: the last question asked, or the words typed with
    the request ("转人工：养老金没到账", "我要找人工，养老金没到账"); "" for the bare word."""
    asked = next((r["q"] for r in reversed(transcript) if r.get("q")), "")
    if asked:
        return asked
    return ctx.command_args if ctx.command == "human" else ctx.text


async def _add_to(ctx: Context, case: Case, text: str) -> Reply:
    """Add the resident's words to their open request, or remind them of it; a live chat
    stays live (its next words are relayed as before)."""
    due = when(ctx.lang, case.first_reply_due_at)
    live = ctx.state.name == LIVE
    if not text:
        if not live:
            ctx.set_state(HANDOVER_QUESTION)  # the next words join the request found again
        return Reply(ctx.t("handover.already", ref=case.ref, due=due), back_to_menu(ctx))
    await _pass_on(ctx, case, text)
    if not live:
        ctx.clear_state()
    return Reply(ctx.t("handover.added", ref=case.ref, due=due), back_to_menu(ctx))


async def _pass_on(ctx: Context, case: Case, text: str) -> None:
    """The resident's words on the case's timeline, and to the staff member on it, if any."""
    relay(ctx.session, case, ("resident", case.resident_id), text, ctx.now())
    if case.assignee_staff_id is not None:
        await _tell_staff(
            ctx, case, case.assignee_staff_id, "handover.from_resident", text=text[:1000]
        )


@router.state(HANDOVER_QUESTION)
async def question_typed(ctx: Context) -> HandlerResult:
    """The question asked for after a bare 转人工: it opens the request, or joins the open one."""
    if not ctx.text:
        return Reply(ctx.t("handover.ask_question"), back_to_menu(ctx))
    return await hand_over(ctx, [{"q": ctx.text[:1000]}])


async def _open_now(ctx: Context) -> bool:
    """Whether the service centre is open at this moment (weekday or holiday hours)."""
    overrides = await ctx.reference.overrides(ctx.unit)
    today = classify_day(local_today(ctx.clock), overrides)
    rule = await ctx.reference.opening_rule(ctx.unit, today.kind)
    if rule is None:
        return False
    now = ctx.now().astimezone(SHANGHAI).time()
    return rule.opens <= now < rule.closes


def _lines(transcript: list[dict[str, str]]) -> str:
    # The resident's own questions, marked without words: the alert is read in any language.
    return "\n".join(f"· {r.get('q', '')[:LINE]}" for r in transcript if r.get("q")) or "—"


def _end_button(ctx: Context, case: Case) -> Button:
    return Button(ctx.t("handover.end"), f"handover:end:{case.id}")


async def _tell_staff(
    ctx: Context, case: Case, staff_id: int, key: str, *, live: bool = True, **values: str
) -> None:
    """A message to the staff member, with join and end buttons while the chat goes on."""
    actions = ("handover.take", "handover:take") if live else None
    await _tell(ctx, case, key, actions, for_staff(staff_id), values)


async def _tell_resident(
    ctx: Context, case: Case, key: str, *, live: bool = True, **values: str
) -> None:
    """A message to the resident, with reply and end buttons while the chat goes on."""
    actions = ("handover.reply", "handover:reply") if live else None
    if case.resident_id is not None:
        await _tell(ctx, case, key, actions, for_resident(case.resident_id), values)


async def _tell(
    ctx: Context,
    case: Case,
    key: str,
    actions: tuple[str, str] | None,
    to: Person,
    values: dict[str, str],
) -> None:
    news = pushes.handover_news(
        key, case_id=case.id or 0, ref=case.ref, summary=case.summary, actions=actions, **values
    )
    await queue(ctx.unit.connection, news, [to], kind="handover", now=ctx.now())


async def _case(ctx: Context, number: object) -> Case | None:
    text = str(number)
    if not (text.isdecimal() and len(text) < 10):
        return None
    case = await ctx.session.get(Case, int(text))
    return case if is_handover(case) else None


@router.payload("human")
@router.command("human")
async def human(ctx: Context) -> HandlerResult:
    """转人工 from a button or the word."""
    recent = ctx.state.data.get("recent", []) if ctx.state.name == "ask.recent" else []
    return await hand_over(ctx, [dict(r) for r in recent if isinstance(r, dict)])


@router.payload("handover:take", filters=(is_staff,))
async def staff_takes(ctx: Context) -> HandlerResult:
    """The staff member joins (or returns to) the conversation; the resident is told once."""
    staff, case = await active_staff(ctx), await _case(ctx, ctx.args)
    if staff is None or case is None:
        return Reply(ctx.t("handover.over"), back_to_menu(ctx))
    joined = case.assignee_staff_id is None or case.status != "accepted"
    refusal = take(ctx.session, case, staff, ctx.now())
    if refusal is not None:
        key = "handover.not_yours" if refusal == "not_yours" else "handover.taken"
        return Reply(ctx.t(key), back_to_menu(ctx))
    if joined:
        await _tell_resident(ctx, case, "handover.joined", staff=staff.name)
    ctx.set_state(STAFF_SIDE, case=case.id)
    return Reply(ctx.t("handover.staff_prompt", ref=case.ref), (_end_button(ctx, case),))


@router.payload("handover:reply")
async def resident_replies(ctx: Context) -> HandlerResult:
    """The resident answers the staff member (the conversation may have lapsed meanwhile)."""
    case = await _case(ctx, ctx.args)
    if (
        case is None
        or ctx.identity.resident_id is None
        or case.resident_id != ctx.identity.resident_id
    ):
        return Reply(ctx.t("handover.over"), back_to_menu(ctx))
    ctx.set_state(LIVE, case=case.id)
    return Reply(ctx.t("handover.resident_prompt"), (_end_button(ctx, case),))


MENU_WORDS = ("菜单", "主菜单", "帮助", "menu", "help")  # these still leave the chat


def _greeting_in_chat(ctx: Context) -> bool:
    """ "你好" in a live chat is said to the person, though it also opens the menu elsewhere."""
    in_chat = ctx.state.name in (LIVE, STAFF_SIDE) and ctx.payload is None
    return in_chat and ctx.command == "menu" and ctx.text.strip().lower() not in MENU_WORDS


@router.route(Phase.COMMAND, _greeting_in_chat)
async def greeting_in_chat(ctx: Context) -> HandlerResult:
    """Relay a greeting like any other message."""
    return await (staff_says(ctx) if ctx.state.name == STAFF_SIDE else resident_says(ctx))


@router.state(STAFF_SIDE)
async def staff_says(ctx: Context) -> HandlerResult:
    """What the staff member types goes to the resident."""
    staff, case = await active_staff(ctx), await _case(ctx, ctx.state.data.get("case"))
    if staff is None or case is None or case.assignee_staff_id != staff.id or not ctx.text:
        ctx.clear_state()
        return Reply(ctx.t("handover.over"), back_to_menu(ctx))
    relay(ctx.session, case, ("staff", staff.id), ctx.text, ctx.now())
    await _tell_resident(ctx, case, "handover.from_staff", staff=staff.name, text=ctx.text[:1000])
    return Reply(ctx.t("handover.relayed"), (_end_button(ctx, case),))


@router.state(LIVE)
async def resident_says(ctx: Context) -> HandlerResult:
    """What the resident types goes to the staff member on the case."""
    case = await _case(ctx, ctx.state.data.get("case"))
    if case is None or case.resident_id != ctx.identity.resident_id or not ctx.text:
        ctx.clear_state()
        return Reply(ctx.t("handover.over"), back_to_menu(ctx))
    await _pass_on(ctx, case, ctx.text)
    return Reply(ctx.t("handover.relayed"), (_end_button(ctx, case),))


@router.payload("handover:end")
@router.command("handover_end")
async def end_conversation(ctx: Context) -> HandlerResult:
    """Either side ends it; the other side is told, and the resident may rate it later."""
    number = ctx.args or ctx.state.data.get("case", "")
    case = await _case(ctx, number)
    staff = await active_staff(ctx)
    mine = case is not None and (
        (case.resident_id is not None and case.resident_id == ctx.identity.resident_id)
        or (staff is not None and case.assignee_staff_id == staff.id)
    )
    ctx.clear_state()
    if case is None or not mine:
        return Reply(ctx.t("handover.over"), back_to_menu(ctx))
    by_staff = staff is not None and case.assignee_staff_id == staff.id
    actor = ("staff", staff.id) if by_staff and staff else ("resident", case.resident_id)
    end(ctx.session, case, actor, ctx.now())
    if by_staff:
        await _tell_resident(ctx, case, "handover.ended_by_staff", live=False)
    elif case.assignee_staff_id is not None:
        await _tell_staff(
            ctx, case, case.assignee_staff_id, "handover.ended_by_resident", live=False
        )
    return Reply(ctx.t("handover.ended", ref=case.ref), back_to_menu(ctx))
