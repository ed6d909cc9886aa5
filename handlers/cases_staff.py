"""Cases for staff: accept (首问责任), my cases, notes, questions to the resident, progress
steps the resident is told about, transfer, co-handling; grid leaders report what they find."""

from __future__ import annotations

from sqlmodel import col, select

from bot.context import Context
from bot.messages import Button, Reply
from bot.outgoing import case_news
from bot.router import HandlerResult, Router
from handlers.case_text import (
    WORDS_LIMIT,
    alert_handlers,
    catalogue,
    category_name,
    status_text,
    tell_resident,
    viewer,
)
from handlers.common import (
    back_to_menu,
    localized,
    location_of,
    street_code,
    with_media,
)
from handlers.staff import active_staff, is_staff
from models.case_ops import (
    OPEN,
    Progress,
    Refusal,
    accept_case,
    add_note,
    ask_refusal,
    ask_resident,
    finish_part,
    mark_progress,
    open_case,
    staff_cases,
    steps_for,
    transfer_case,
    transfer_refusal,
)
from models.cases import Case, CaseHandler, CaseKind
from models.dispatch import goes_to_dispatch, in_queue
from models.org import Department, Staff, StaffRole
from models.policy import (
    can_view_case,
    handler_departments,
    may_accept_case,
    may_accept_part,
    may_finish_part,
    may_report_grid_issue,
    may_return_call,
    may_work_case,
)

router = Router("cases_staff")

NOTE, ASK, TRANSFER_REASON = "case.note", "case.ask", "case.transfer"
TRANSFER_TO = "case.transfer_to"  # the department list is shown: "民政" chooses 民政科
REPORT_WORDS, REPORT_CATEGORY = "report.words", "report.category"


async def visible_case(ctx: Context, number: str, staff: Staff) -> Case | None:
    """The case with this id if the staff member may see it (else None, as if missing)."""
    if not (number.isdecimal() and len(number) < 10):
        return None
    case = await ctx.session.get(Case, int(number))
    if case is None or not await can_view_case(ctx.session, case, await viewer(ctx)):
        return None
    return case


STEP_LABELS = {
    Progress.COLLECTED: "cases.collected",
    Progress.READY: "cases.ready",
    Progress.RESOLVED: "cases.resolve",
}


async def staff_actions(ctx: Context, case: Case, staff: Staff) -> tuple[Button, ...]:
    """What this staff member can do with the case now."""
    buttons: list[Button] = []
    if case.status in OPEN and case.assignee_staff_id is None and may_accept_case(staff, case):
        buttons.append(Button(ctx.t("cases.accept"), f"case:accept:{case.id}"))
    if may_work_case(staff, case) and case.status in (*OPEN, "ready_for_pickup"):
        buttons += [
            Button(ctx.t("cases.note"), f"case:note:{case.id}"),
            Button(ctx.t("cases.ask"), f"case:ask:{case.id}"),
            *(
                Button(ctx.t(STEP_LABELS[step]), f"case:step:{case.id}:{step}")
                for step in steps_for(case)
            ),
            Button(ctx.t("cases.transfer"), f"case:transfer:{case.id}"),
        ]
    handlers = await handler_departments(ctx.session, case)
    buttons += _call_buttons(ctx, case, staff, handlers)
    return (*buttons, *back_to_menu(ctx))


def _call_buttons(
    ctx: Context, case: Case, staff: Staff, handlers: dict[int, CaseHandler]
) -> list[Button]:
    """A called department's answers: a co-handler accepts, then reports its part done; a
    department that has not taken the call on may return it with a reason."""
    mine = handlers.get(staff.department_id or 0)
    if mine is None:
        return []
    buttons: list[Button] = []
    if may_accept_part(staff, mine, case) and mine.accepted_at is None:
        buttons.append(Button(ctx.t("dispatch.accept_part"), f"case:coaccept:{case.id}"))
    if may_finish_part(staff, handlers, case):
        buttons.append(Button(ctx.t("cases.co_done"), f"case:co:{case.id}"))
    if may_return_call(staff, mine, case):
        buttons.append(Button(ctx.t("dispatch.return_call"), f"case:return:{case.id}"))
    return buttons


def _step_button(ctx: Context, case: Case, step: Progress) -> Button:
    return Button(ctx.t(STEP_LABELS[step]), f"case:step:{case.id}:{step}")


def refused(ctx: Context, refusal: Refusal) -> Reply:
    """A staff action the domain refused, in words."""
    return Reply(ctx.t(f"cases.refused_{refusal}"), back_to_menu(ctx))


@router.command("mycases", filters=(is_staff,))
async def my_work(ctx: Context) -> HandlerResult:
    """Open cases I own, then unassigned ones in my department, soonest due first."""
    staff = await active_staff(ctx)
    if staff is None:
        return Reply(ctx.t("staff.inactive"), back_to_menu(ctx))
    cases = await staff_cases(ctx.session, staff)
    if not cases:
        return Reply(ctx.t("cases.staff_none"), back_to_menu(ctx))
    lines = [ctx.t("cases.staff_title")]
    lines += [
        ctx.t(
            "cases.mine_line",
            ref=c.ref,
            category=category_name(ctx, c).render(ctx.lang),
            status=status_text(ctx, c),
        )
        for c in cases
    ]
    return Reply(
        "\n".join(lines),
        (*(Button(c.ref, f"case:view:{c.ref}") for c in cases), *back_to_menu(ctx)),
    )


@router.payload("case:accept", filters=(is_staff,))
async def accept(ctx: Context) -> HandlerResult:
    """Take the case: from now on it is mine to the end."""
    staff = await active_staff(ctx)
    case = await visible_case(ctx, ctx.args, staff) if staff else None
    if staff is None or case is None:
        return Reply(ctx.t("cases.not_yours"), back_to_menu(ctx))
    refusal = await accept_case(ctx.session, case, staff, ctx.now())
    if refusal is not None:
        return refused(ctx, refusal)
    await case_news.tell_accepted(ctx.session, case, now=ctx.now(), data_dir=ctx.settings.data_dir)
    return Reply(ctx.t("cases.accepted", ref=case.ref), await staff_actions(ctx, case, staff))


@router.payload("case:step", filters=(is_staff,))
async def step(ctx: Context) -> HandlerResult:
    """Collected, ready for pick-up, resolved: the resident is told each time."""
    number, _, step_text = ctx.args.partition(":")
    staff = await active_staff(ctx)
    case = await visible_case(ctx, number, staff) if staff else None
    if staff is None or case is None or step_text not in Progress._value2member_map_:
        return Reply(ctx.t("cases.not_yours"), back_to_menu(ctx))
    progress = Progress(step_text)
    refusal = await mark_progress(ctx.session, case, staff, progress, ctx.now())
    if refusal is not None:
        return refused(ctx, refusal)
    await case_news.tell_progress(
        ctx.session, case, progress, staff=staff, now=ctx.now(), data_dir=ctx.settings.data_dir
    )
    return Reply(
        ctx.t(f"cases.done_{progress}", ref=case.ref), await staff_actions(ctx, case, staff)
    )


@router.payload("case:co", filters=(is_staff,))
async def co_done(ctx: Context) -> HandlerResult:
    """My department's part of a co-handled case is done."""
    staff = await active_staff(ctx)
    case = await visible_case(ctx, ctx.args, staff) if staff else None
    if staff is None or case is None:
        return Reply(ctx.t("cases.not_yours"), back_to_menu(ctx))
    refusal = await finish_part(ctx.session, case, staff, ctx.now())
    if refusal is not None:
        return refused(ctx, refusal)
    await case_news.tell_part(
        ctx.session,
        case,
        "dispatch.news_co_done",
        staff,
        now=ctx.now(),
        data_dir=ctx.settings.data_dir,
    )
    return Reply(ctx.t("cases.co_recorded", ref=case.ref), back_to_menu(ctx))


async def _ask_text(ctx: Context, state: str, key: str) -> HandlerResult:
    staff = await active_staff(ctx)
    case = await visible_case(ctx, ctx.args.partition(":")[0], staff) if staff else None
    if staff is None or case is None:
        return Reply(ctx.t("cases.not_yours"), back_to_menu(ctx))
    extra = ctx.args.partition(":")[2]
    # Refused before the words are typed, not after (an outside walkthrough).
    if state == ASK:
        refusal = ask_refusal(case, staff)
    elif state == TRANSFER_REASON:
        refusal = await transfer_refusal(ctx.session, case, staff, extra)
    else:
        refusal = None
    if refusal is not None:
        return refused(ctx, refusal)
    ctx.set_state(state, case=case.id, extra=extra)
    return Reply(ctx.t(key, ref=case.ref), back_to_menu(ctx))


@router.payload("case:note", filters=(is_staff,))
async def note_start(ctx: Context) -> HandlerResult:
    """Ask for the note's text."""
    return await _ask_text(ctx, NOTE, "cases.note_prompt")


@router.payload("case:ask", filters=(is_staff,))
async def ask_start(ctx: Context) -> HandlerResult:
    """Ask for the question to the resident."""
    return await _ask_text(ctx, ASK, "cases.ask_prompt")


@router.payload("case:to", filters=(is_staff,))
async def transfer_target(ctx: Context) -> HandlerResult:
    """A department chosen: now the reason."""
    return await _ask_text(ctx, TRANSFER_REASON, "cases.transfer_prompt")


@router.state(NOTE, ASK, TRANSFER_REASON)
async def text_for_case(ctx: Context) -> HandlerResult:
    """The note, the question, or the transfer's reason."""
    staff = await active_staff(ctx)
    state, data = ctx.state.name, dict(ctx.state.data)
    ctx.clear_state()
    case = await visible_case(ctx, str(data.get("case", "")), staff) if staff else None
    if staff is None or case is None or not ctx.text:
        return Reply(ctx.t("cases.not_yours"), back_to_menu(ctx))
    text = ctx.text[:WORDS_LIMIT]
    if state == NOTE:
        refusal = await add_note(ctx.session, case, staff, text, ctx.now())
        if refusal is not None:
            return refused(ctx, refusal)
        return Reply(ctx.t("cases.noted", ref=case.ref), await staff_actions(ctx, case, staff))
    if state == ASK:
        refusal = await ask_resident(ctx.session, case, staff, text, ctx.now())
        if refusal is not None:
            return refused(ctx, refusal)
        await tell_resident(
            ctx,
            case,
            "cases.notice_question",
            [("cases.answer", f"case:answer:{case.id}")],
            question=text,
        )
        return Reply(ctx.t("cases.asked", ref=case.ref), back_to_menu(ctx))
    refusal = await transfer_case(
        ctx.session, case, staff, str(data.get("extra", "")), text, ctx.now()
    )
    if refusal is not None:
        return refused(ctx, refusal)
    await ctx.unit.flush()
    alerted = await case_news.tell_transferred(
        ctx.session, case, now=ctx.now(), data_dir=ctx.settings.data_dir
    )
    key = "cases.transferred" if alerted else "cases.transferred_unalerted"
    return Reply(ctx.t(key, ref=case.ref), back_to_menu(ctx))


@router.payload("case:transfer", filters=(is_staff,))
async def transfer_start(ctx: Context) -> HandlerResult:
    """Which department should take it over?"""
    staff = await active_staff(ctx)
    case = await visible_case(ctx, ctx.args, staff) if staff else None
    if staff is None or case is None:
        return Reply(ctx.t("cases.not_yours"), back_to_menu(ctx))
    departments = (
        await ctx.session.exec(
            select(Department)
            .where(col(Department.id) != case.department_id)
            .order_by(col(Department.id))
        )
    ).all()
    buttons = tuple(
        Button(localized(ctx, d.name_zh, d.name_en), f"case:to:{case.id}:{d.code}")
        for d in departments
    )
    # A department's name typed in part chooses it (a walkthrough: "民政" got an FAQ and the
    # transfer was dropped); other words show the list again.
    ctx.set_state(TRANSFER_TO, case=case.id, by_start=True)
    return Reply(ctx.t("cases.transfer_choose", ref=case.ref), (*buttons, *back_to_menu(ctx)))


@router.state(TRANSFER_TO)
async def transfer_target_unclear(ctx: Context) -> HandlerResult:
    """Words that name none of the departments: the list again."""
    case = ctx.state.data.get("case")
    if not isinstance(case, int):
        return Reply(ctx.t("menu.stale_option"), back_to_menu(ctx))
    again = await ctx.redirect(ctx, f"case:transfer:{case}")
    if not again:
        return again
    first = again[0]
    return [Reply(f"{ctx.t('cases.transfer_unclear')}\n{first.text}", first.buttons), *again[1:]]


def _may_report(ctx: Context) -> bool:
    return may_report_grid_issue(ctx.staff)


@router.command("report", filters=(_may_report,))
async def report_start(ctx: Context) -> HandlerResult:
    """社区发现: describe what you found (a photo or location may follow)."""
    ctx.set_state(REPORT_WORDS, back="menu")
    return Reply(ctx.t("cases.report_ask"), back_to_menu(ctx))


@router.state(REPORT_WORDS)
async def report_words(ctx: Context) -> HandlerResult:
    """The description (and any photo or location sent with it); then the category."""
    data = with_media(ctx, ctx.state.data)
    if ctx.text:
        data["words"] = ctx.text[:WORDS_LIMIT]
    ctx.set_state(REPORT_WORDS, **data)
    if "words" not in data:
        return Reply(ctx.t("cases.report_got_media"), back_to_menu(ctx))
    ctx.set_state(REPORT_CATEGORY, **data)
    categories = catalogue(ctx).categories[CaseKind.GRID_REPORT]
    return Reply(
        ctx.t("cases.report_category"),
        tuple(
            Button(localized(ctx, c.name_zh, c.name_en), f"case:grid:{c.code}") for c in categories
        ),
    )


@router.payload("case:grid", filters=(is_staff,))
async def report_category(ctx: Context) -> HandlerResult:
    """Open the grid report: the lead and co-handling departments are alerted."""
    staff = await active_staff(ctx)
    data = ctx.state.data
    if staff is None or ctx.state.name != REPORT_CATEGORY or not isinstance(data.get("words"), str):
        return await report_start(ctx)
    latitude, longitude = location_of(data)
    case = await open_case(
        ctx.session,
        catalogue(ctx),
        kind=CaseKind.GRID_REPORT,
        category_code=ctx.args,
        summary=str(data["words"]),
        now=ctx.now(),
        street_code=await street_code(ctx),
        reporter_staff_id=staff.id,
        grid_id=staff.grid_id if staff.role == StaffRole.GRID_LEADER else None,
        attachments=list(data.get("attachments", [])),
        latitude=latitude,
        longitude=longitude,
        to_dispatch=await goes_to_dispatch(ctx.session, CaseKind.GRID_REPORT),
    )
    ctx.clear_state()
    alerted = await alert_handlers(ctx, case)
    return Reply(
        ctx.t(
            _reported_key(case, alerted),
            ref=case.ref,
            category=category_name(ctx, case).render(ctx.lang),
        ),
        back_to_menu(ctx),
    )


def _reported_key(case: Case, alerted: int) -> str:
    """What the reporter is told: with the dispatch desk, or alerted departments, or none yet."""
    if in_queue(case):
        return "dispatch.reported"
    return "cases.reported" if alerted else "cases.reported_unalerted"
