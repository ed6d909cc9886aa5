"""What a staff member may do to a case from its desk page, and doing it.

Every action asks the policy (models.policy) before calling the domain operation, which asks
again; a case the staff member may not see answers 404, an action that is not theirs 403, and
one the case's state forbids 409. Each success sends the same news the chat's action sends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from sqlmodel import select

from bot.web.admin import news
from bot.web.admin.auth import DeskRequest, see_other, staff_page
from models.case_ops import (
    OPEN,
    Progress,
    Refusal,
    accept_case,
    add_note,
    ask_resident,
    finish_part,
    mark_progress,
    steps_for,
    transfer_case,
)
from models.cases import Case, CaseStatus
from models.dispatch import answer_call, return_call
from models.org import Department, Staff
from models.policy import (
    DeskPage,
    Viewer,
    can_view_case,
    handler_departments,
    may_accept_case,
    may_accept_part,
    may_finish_part,
    may_return_call,
    may_transfer_case,
    may_work_case,
)

WORDS_LIMIT = 500
routes = web.RouteTableDef()
NAV: tuple[()] = ()


@dataclass(frozen=True)
class Actions:
    """The forms a case page offers this staff member now."""

    accept: bool = False
    note: bool = False
    ask: bool = False
    steps: tuple[Progress, ...] = ()
    transfer: bool = False
    co_accept: bool = False
    co_done: bool = False
    give_back: bool = False

    @property
    def any(self) -> bool:
        """Whether there is anything to do at all."""
        return any((self.accept, self.note, self.ask, self.steps, self.transfer)) or any(
            (self.co_accept, self.co_done, self.give_back)
        )


async def visible_case(desk: DeskRequest, number: str) -> Case | None:
    """The case with this id, if this staff member may see it (else as if it did not exist)."""
    if not number.isdecimal() or len(number) > 9:
        return None
    case = await desk.session.get(Case, int(number))
    if case is None or not await can_view_case(desk.session, case, Viewer(staff=desk.staff)):
        return None
    return case


async def available(desk: DeskRequest, case: Case) -> Actions:
    """What the policy (and the case's state) lets this staff member do now."""
    staff, is_open = desk.staff, case.status in OPEN
    working = may_work_case(staff, case) and case.status in (*OPEN, CaseStatus.READY_FOR_PICKUP)
    handlers = await handler_departments(desk.session, case)
    mine = handlers.get(staff.department_id or 0)
    return Actions(
        accept=is_open and case.assignee_staff_id is None and may_accept_case(staff, case),
        note=True,  # anyone who may see the case may note on it (case_ops.add_note)
        ask=working and is_open,
        steps=steps_for(case) if working else (),
        transfer=is_open and may_transfer_case(staff, case),
        co_accept=mine is not None
        and mine.accepted_at is None
        and may_accept_part(staff, mine, case),
        co_done=may_finish_part(staff, handlers, case),
        give_back=mine is not None and may_return_call(staff, mine, case),
    )


Outcome = Refusal | web.Response | None
Action = Callable[[DeskRequest, Case], Awaitable[Outcome]]


async def _accept(desk: DeskRequest, case: Case) -> Outcome:
    if not may_accept_case(desk.staff, case):
        return Refusal.NOT_YOURS
    refusal = await accept_case(desk.session, case, desk.staff, desk.now)
    if refusal is None:
        await news.accepted(desk, case)
    return refusal


async def _note(desk: DeskRequest, case: Case) -> Outcome:
    words = desk.text("note")[:WORDS_LIMIT]
    if not words:
        return desk.refuse(400, "desk.text_required", back=_page(case))
    return await add_note(desk.session, case, desk.staff, words, desk.now)


async def _ask(desk: DeskRequest, case: Case) -> Outcome:
    question = desk.text("question")[:WORDS_LIMIT]
    if not may_work_case(desk.staff, case):
        return Refusal.NOT_YOURS
    if not question:
        return desk.refuse(400, "desk.text_required", back=_page(case))
    refusal = await ask_resident(desk.session, case, desk.staff, question, desk.now)
    if refusal is None:
        await news.asked(desk, case, question)
    return refusal


async def _step(desk: DeskRequest, case: Case) -> Outcome:
    if not may_work_case(desk.staff, case):
        return Refusal.NOT_YOURS
    chosen = desk.text("step")
    if chosen not in Progress._value2member_map_:
        return Refusal.NO_SUCH_STEP
    step = Progress(chosen)
    refusal = await mark_progress(desk.session, case, desk.staff, step, desk.now)
    if refusal is None:
        await news.stepped(desk, case, step)
    return refusal


async def _transfer(desk: DeskRequest, case: Case) -> Outcome:
    if not may_transfer_case(desk.staff, case):
        return Refusal.NOT_YOURS
    reason = desk.text("reason")[:WORDS_LIMIT]
    code = desk.text("department")[:32]
    target = (await desk.session.exec(select(Department).where(Department.code == code))).first()
    if target is None or target.id == case.department_id:
        return desk.refuse(400, "desk.department_required", back=_page(case))
    if not reason:
        return desk.refuse(400, "desk.reason_required", back=_page(case))
    refusal = await transfer_case(desk.session, case, desk.staff, code, reason, desk.now)
    if refusal is None:
        await news.transferred(desk, case)
    return refusal


async def _co_accept(desk: DeskRequest, case: Case) -> Outcome:
    refusal = await answer_call(desk.session, case, desk.staff, desk.now)
    if refusal is None:
        await news.co_accepted(desk, case)
    return refusal


async def _co_done(desk: DeskRequest, case: Case) -> Outcome:
    if case.status not in OPEN:
        return Refusal.CLOSED
    refusal = await finish_part(desk.session, case, desk.staff, desk.now)
    if refusal is None:
        await news.co_done(desk, case)
    return refusal


async def _give_back(desk: DeskRequest, case: Case) -> Outcome:
    reason = " ".join(desk.text("reason").split())[:WORDS_LIMIT]
    refusal = await return_call(desk.session, case, desk.staff, reason, desk.now)
    if refusal is None:
        await news.returned(desk, case, reason)
    return refusal


ACTIONS: dict[str, Action] = {
    "accept": _accept,
    "note": _note,
    "ask": _ask,
    "step": _step,
    "transfer": _transfer,
    "co_accept": _co_accept,
    "co_done": _co_done,
    "return": _give_back,
}


def _page(case: Case) -> str:
    return f"/admin/cases/{case.id}"


@routes.post(r"/cases/{number:\d{1,9}}/{action:[a-z_]{1,20}}")
@staff_page(DeskPage.CASES)
async def act(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/cases/{id}/{action}: one action on a case, then back to its page."""
    case = await visible_case(desk, desk.request.match_info["number"])
    action = ACTIONS.get(desk.request.match_info["action"])
    if case is None or action is None:
        return desk.refuse(404, "desk.not_found")
    outcome = await action(desk, case)
    if isinstance(outcome, web.Response):
        return outcome
    if outcome is not None:
        status = 403 if outcome is Refusal.NOT_YOURS else 409
        return desk.refuse(status, f"desk.refused_{outcome}", back=_page(case))
    desk.flash(f"desk.done_{desk.request.match_info['action']}", ref=case.ref)
    if not await can_view_case(desk.session, case, Viewer(staff=desk.staff)):
        return see_other("/admin/cases")  # handed on to another department: no longer ours
    return see_other(_page(case))


async def staff_names(desk: DeskRequest, ids: set[int]) -> dict[int, str]:
    """Staff names by id, for the timeline."""
    if not ids:
        return {}
    rows = await desk.session.exec(select(Staff).where(Staff.id.in_(ids)))  # type: ignore[union-attr]
    return {s.id or 0: s.name for s in rows.all()}
