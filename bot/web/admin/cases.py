"""The case queue (/admin/cases) and a case's page (/admin/cases/{id}) with its full card,
timeline and the forms of the actions this staff member may take (bot.web.admin.case_actions).

A resident's full phone number is shown only when models.policy.may_see_phone allows it, and
every such showing is written to the access log (models.case_card, place "desk").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlmodel import col, select

from bot.i18n import catalogue as texts
from bot.web.admin.auth import DeskRequest, staff_page
from bot.web.admin.case_actions import available, staff_names, visible_case
from bot.web.admin.case_queue import STATUS_CHOICES, QueueFilter, queue_page
from bot.web.admin.layout import NavEntry
from models.case_card import CaseCard, case_card
from models.case_ops import OPEN, case_catalogue, timeline
from models.cases import Case, CaseEvent, CaseKind
from models.org import Department
from models.personal_data import remove_personal_data
from models.policy import DeskPage, may_see_phone

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.CASES, "/admin/cases", "desk.nav_cases"),)
QUESTIONS = ("address", "visit_time", "place")


async def departments(desk: DeskRequest) -> dict[int, Department]:
    """Every department by id (a short table), for names and choices."""
    rows = await desk.session.exec(select(Department).order_by(col(Department.id)))
    return {d.id or 0: d for d in rows.all()}


def kind_name(desk: DeskRequest, case: Case) -> str:
    """The case's kind (全程代办, 网格上报 …) in the desk's language."""
    spec = case_catalogue(desk.linli.settings.data_dir).types.get(CaseKind(case.kind))
    if spec is None:
        return str(case.kind)
    return spec.name_en if desk.lang == "en" else spec.name_zh


def category_name(desk: DeskRequest, case: Case) -> str:
    """The case's category as the catalogue names it, in the desk's language."""
    zh, en = case_catalogue(desk.linli.settings.data_dir).category_names(case)
    return en if desk.lang == "en" else zh


def overdue(case: Case, now: datetime) -> bool:
    """Open and past its deadline."""
    return case.status in OPEN and case.due_at is not None and case.due_at < now


@routes.get("/cases")
@staff_page(DeskPage.CASES)
async def queue(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/cases: the cases this staff member may see, filtered, a page at a time."""
    chosen = QueueFilter.from_query(desk.request.query)
    found = await queue_page(desk.session, desk.staff, chosen, desk.now)
    known = await departments(desk)
    rows = [
        {
            "case": case,
            "kind": kind_name(desk, case),
            "category": category_name(desk, case),
            "summary": remove_personal_data(case.summary),  # in full on the case card, if yours
            "department": _department_name(desk, known.get(case.department_id or 0)),
            "overdue": overdue(case, desk.now),
            "mine": case.assignee_staff_id == desk.staff.id,
        }
        for case in found.cases
    ]
    return desk.render(
        "cases.html",
        rows=rows,
        chosen=chosen,
        has_next=found.has_next,
        statuses=STATUS_CHOICES,
        kinds=[k.value for k in CaseKind],
        departments=sorted(known.values(), key=lambda d: d.code),
    )


def _department_name(desk: DeskRequest, department: Department | None) -> str:
    if department is None:
        return desk.t("desk.no_department")
    return department.name_en if desk.lang == "en" and department.name_en else department.name_zh


@dataclass(frozen=True)
class EventRow:
    """One step of the timeline, in words."""

    at: datetime
    actor: str
    text: str


@routes.get(r"/cases/{number:\d{1,9}}")
@staff_page(DeskPage.CASES)
async def case_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/cases/{id}: the whole card; 404 when this staff member may not see it."""
    case = await visible_case(desk, desk.request.match_info["number"])
    if case is None:
        return desk.refuse(404, "desk.not_found")
    known = await departments(desk)
    # The shared card (models.case_card): the phone in full only when may_see_phone allows,
    # and then written to the access log with place "desk".
    card = await case_card(desk.session, case, desk.staff, now=desk.now, place="desk")
    return desk.render(
        "case.html",
        case=case,
        card=card,
        kind=kind_name(desk, case),
        category=category_name(desk, case),
        answers=_answers(desk, card),
        overdue=overdue(case, desk.now),
        department=_department_name(desk, known.get(case.department_id or 0)),
        events=await _events(desk, case, mine=may_see_phone(desk.staff, case)),
        actions=await available(desk, case),
        transfer_to=[d for d in known.values() if d.id != case.department_id],
        step_labels=STEP_LABELS,
    )


STEP_LABELS = {
    "collected": "desk.step_collected",
    "ready_for_pickup": "desk.step_ready",
    "resolved": "desk.step_resolved",
}


def _answers(desk: DeskRequest, card: CaseCard) -> list[tuple[str, str]]:
    """What the intake asked (address, visit time, place), as the resident answered it."""
    return [
        (desk.t(f"desk.answer_{q}") if q in QUESTIONS else q, answer)
        for q, answer in card.answers.items()
    ]


async def _events(desk: DeskRequest, case: Case, *, mine: bool) -> list[EventRow]:
    """The timeline; the notes (a resident's answers and messages among them) in full only for
    the one who may see the card in full (that view is logged by case_card), cleaned for others."""
    events = await timeline(desk.session, case)
    names = await staff_names(
        desk, {e.actor_id for e in events if e.actor_kind == "staff" and e.actor_id}
    )
    return [EventRow(e.at, _actor(desk, e, names), event_text(desk, e, mine)) for e in events]


def _actor(desk: DeskRequest, event: CaseEvent, names: dict[int, str]) -> str:
    if event.actor_kind == "staff":
        return names.get(event.actor_id or 0, desk.t("desk.actor_staff"))
    if event.actor_kind == "resident":
        return desk.t("desk.actor_resident")
    return desk.t("desk.actor_system")


def event_text(desk: DeskRequest, event: CaseEvent, in_full: bool = False) -> str:
    """A timeline step as the chat words it (cases.event_…), else its kind and note; the note
    without personal data unless in_full."""
    key = f"cases.event_{event.kind}"
    note = event.note or ""
    note = note if in_full else remove_personal_data(note)
    if not isinstance(texts(desk.lang).get(key), str):
        return " ".join(part for part in (event.kind, note) if part)
    values = {k: v for k, v in event.data.items() if isinstance(v, str | int)}
    for name in ("department", "staff", "window", "co", "days"):
        values.setdefault(name, "")
    return desk.t(key, note=note, **values)
