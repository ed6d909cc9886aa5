"""The street's dispatch desk (街道呼叫) at /admin/dispatch: grid reports waiting for a call
and co-handling calls a department returned; one form per waiting case (lead department,
co-handling departments, working days), pre-filled with its category's suggestion."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from sqlmodel import col, select

from bot.outgoing import case_news
from bot.web.admin import news
from bot.web.admin.auth import DeskRequest, see_other, staff_page
from bot.web.admin.case_actions import visible_case
from bot.web.admin.cases import category_name, departments, kind_name
from bot.web.admin.layout import NavEntry
from models.case_ops import case_catalogue
from models.cases import Case, CaseHandler, CaseKind
from models.dispatch import (
    LONGEST_DEADLINE,
    dispatch_case,
    dispatch_queue,
    in_queue,
    returned_parts,
    settle_returned_part,
)
from models.org import Department
from models.personal_data import remove_personal_data
from models.policy import DeskPage, Viewer, can_view_case, may_dispatch

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.DISPATCH, "/admin/dispatch", "desk.nav_dispatch"),)


@dataclass(frozen=True)
class Waiting:
    """A case in the queue and the form's suggestion for it."""

    case: Case
    kind: str
    category: str
    lead: str
    co: tuple[str, ...]
    days: int

    @property
    def summary(self) -> str:
        """The report's words without phone, ID or door numbers: the matter, not who."""
        return remove_personal_data(self.case.summary)


@dataclass(frozen=True)
class Returned:
    """A co-handling call a department gave back, and why."""

    case: Case
    department: Department | None
    handler: CaseHandler


def suggestion(desk: DeskRequest, case: Case) -> tuple[str, tuple[str, ...], int]:
    """The category's departments (lead, co) and the kind's deadline in working days."""
    catalogue = case_catalogue(desk.linli.settings.data_dir)
    code = case.details.get("category_code")
    category = catalogue.category(CaseKind(case.kind), code) if isinstance(code, str) else None
    spec = catalogue.types.get(CaseKind(case.kind))
    days = spec.deadline_days if spec is not None else 3
    if category is None:
        return catalogue.routing.get(CaseKind(case.kind), ""), (), days
    return category.department, category.co, days


@routes.get("/dispatch")
@staff_page(DeskPage.DISPATCH)
async def dispatch_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/dispatch: the queue and the returned parts this staff member may see."""
    viewer = Viewer(staff=desk.staff)
    waiting = [
        Waiting(case, kind_name(desk, case), category_name(desk, case), *suggestion(desk, case))
        for case in await dispatch_queue(desk.session)
        if await can_view_case(desk.session, case, viewer)
    ]
    known = await departments(desk)
    returned = [
        Returned(case, known.get(handler.department_id), handler)
        for case, handler in await returned_parts(desk.session)
        if await can_view_case(desk.session, case, viewer)
    ]
    return desk.render(
        "dispatch.html",
        waiting=waiting,
        returned=returned,
        departments=sorted(known.values(), key=lambda d: d.code),
        may_dispatch=may_dispatch(desk.staff),
        longest=LONGEST_DEADLINE,
    )


async def _chosen(desk: DeskRequest, codes: list[str]) -> list[Department]:
    if not codes:
        return []
    stmt = select(Department).where(col(Department.code).in_(codes))
    return list((await desk.session.exec(stmt)).all())


@routes.post(r"/dispatch/{number:\d{1,9}}")
@staff_page(DeskPage.DISPATCH)
async def dispatch(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/dispatch/{id}: call a lead department and co-handlers with a deadline."""
    case = await visible_case(desk, desk.request.match_info["number"])
    if case is None or not in_queue(case):
        return desk.refuse(404, "desk.not_found")
    if not may_dispatch(desk.staff):
        return desk.refuse(403, "desk.refused_not_yours", back="/admin/dispatch")
    assert desk.form is not None
    lead = await _chosen(desk, [desk.text("lead")[:32]])
    codes = [c[:32] for c in desk.texts("co")][:20]
    co = await _chosen(desk, codes)
    days = desk.text("days")
    in_range = days.isdecimal() and len(days) < 4 and 1 <= int(days) <= LONGEST_DEADLINE
    if not lead or len(co) != len(set(codes)) or not in_range:
        return desk.refuse(400, "desk.dispatch_incomplete", back="/admin/dispatch")
    refusal = await dispatch_case(
        desk.session, case, desk.staff, lead=lead[0], co=co, working_days=int(days), now=desk.now
    )
    if refusal is not None:
        status = 403 if refusal == "not_yours" else 409
        return desk.refuse(status, f"desk.refused_{refusal}", back="/admin/dispatch")
    await news.dispatched(desk, case)
    desk.flash("desk.done_dispatch", ref=case.ref)
    return see_other("/admin/dispatch")


@routes.post(r"/dispatch/{number:\d{1,9}}/part/{department:\d{1,9}}")
@staff_page(DeskPage.DISPATCH)
async def settle_part(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/dispatch/{id}/part/{department}: a returned co-handling part is answered:
    another department is called to help (`helper`), or the work goes on without (empty)."""
    case = await visible_case(desk, desk.request.match_info["number"])
    if case is None:
        return desk.refuse(404, "desk.not_found")
    if not may_dispatch(desk.staff):
        return desk.refuse(403, "desk.refused_not_yours", back="/admin/dispatch")
    code = desk.text("helper")[:32]
    found = await _chosen(desk, [code]) if code else []
    if code and not found:
        return desk.refuse(400, "desk.dispatch_incomplete", back="/admin/dispatch")
    replacement = found[0] if found else None
    returned = int(desk.request.match_info["department"])
    refusal = await settle_returned_part(
        desk.session, case, desk.staff, returned, replacement, desk.now
    )
    if refusal is not None:
        status = 403 if refusal == "not_yours" else 409
        return desk.refuse(status, f"desk.refused_{refusal}", back="/admin/dispatch")
    if replacement is not None:
        await desk.session.flush()
        await case_news.alert_department(
            desk.session,
            case,
            replacement.id or 0,
            now=desk.now,
            data_dir=Path(desk.linli.settings.data_dir),
            co=True,
        )
    desk.flash("desk.done_dispatch", ref=case.ref)
    return see_other("/admin/dispatch")
