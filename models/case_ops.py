"""Case handling: open with deadlines and routing, first-responder ownership (首问责任),
transfer, co-handling (协同), the resident's confirmation, and who may see what.

Every action is an event on the case's timeline (who, when, what).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from models.base import SHANGHAI
from models.calendar import load_overrides, working_deadline
from models.cases import (
    OPEN_CONDITION,
    OPEN_STATUSES,
    Case,
    CaseEvent,
    CaseHandler,
    CaseKind,
    CaseStatus,
)
from models.org import Department, Staff, StaffRole
from models.people import ChannelIdentity
from models.policy import (
    UNVOUCHED_CHANNELS,
    Viewer,
    can_view_case,
    handler_departments,
    may_accept_case,
    may_finish_part,
    may_transfer_case,
    may_work_case,
)
from models.refs import next_reference

OPEN = tuple(CaseStatus(status) for status in OPEN_STATUSES)


@dataclass(frozen=True)
class CaseType:
    """A kind of case: its names, time limits and the questions its intake asks."""

    kind: CaseKind
    name_zh: str
    name_en: str
    deadline_days: int
    first_reply_days: int
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    """A category of a kind (e.g. 高龄补贴申领) and the departments that handle it."""

    code: str
    name_zh: str
    name_en: str
    department: str
    co: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()  # words that name it inside a sentence ("路灯" for 公共设施)
    id_number: bool = False  # the handler needs the resident's ID card number (asked with consent)


@dataclass(frozen=True)
class CaseCatalogue:
    """Case types, categories and routing from data/cases.toml."""

    types: dict[CaseKind, CaseType]
    categories: dict[CaseKind, tuple[Category, ...]]
    routing: dict[CaseKind, str] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> CaseCatalogue:
        """Read data/cases.toml."""
        data = tomllib.loads((data_dir / "cases.toml").read_text(encoding="utf-8"))
        types = {
            CaseKind(kind): CaseType(
                CaseKind(kind),
                spec["name_zh"],
                spec["name_en"],
                int(spec["deadline_working_days"]),
                int(spec["first_reply_working_days"]),
                tuple(spec.get("questions", [])),
            )
            for kind, spec in data["types"].items()
        }
        categories = {
            CaseKind.PROXY: tuple(_category(c) for c in data.get("proxy", [])),
            CaseKind.GRID_REPORT: tuple(_category(c) for c in data.get("grid", [])),
        }
        routing = {CaseKind(k): v for k, v in data.get("routing", {}).items()}
        return cls(types, categories, routing)

    def category(self, kind: CaseKind, code: str) -> Category | None:
        """A category of a kind by its code."""
        return next((c for c in self.categories.get(kind, ()) if c.code == code), None)

    def category_names(self, case: Case) -> tuple[str, str]:
        """A case's category in Chinese and English, as the catalogue names it (the case keeps
        the Chinese name only); the Chinese twice when the catalogue no longer knows it."""
        kind = CaseKind(case.kind)
        code = case.details.get("category_code")
        found = self.category(kind, code) if isinstance(code, str) else None
        if found is not None and found.name_zh == case.category:
            return found.name_zh, found.name_en
        spec = self.types.get(kind)
        if spec is not None and spec.name_zh == case.category:
            return spec.name_zh, spec.name_en
        return case.category, case.category


@cache
def case_catalogue(data_dir: Path) -> CaseCatalogue:
    """data/cases.toml of a data directory, read once."""
    return CaseCatalogue.load(data_dir)


def _category(entry: dict[str, Any]) -> Category:
    return Category(
        entry["code"],
        entry["name_zh"],
        entry["name_en"],
        entry["department"],
        tuple(entry.get("co", [])),
        tuple(entry.get("keywords", [])),
        bool(entry.get("id_number", False)),
    )


async def _department(session: AsyncSession, code: str) -> Department:
    return (await session.exec(select(Department).where(Department.code == code))).one()


async def open_case(
    session: AsyncSession,
    catalogue: CaseCatalogue,
    *,
    kind: CaseKind,
    category_code: str | None,
    summary: str,
    now: datetime,
    street_code: str,
    resident_id: int | None = None,
    reporter_staff_id: int | None = None,
    grid_id: int | None = None,
    details: dict[str, Any] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    department: Department | None = None,
    to_dispatch: bool = False,
) -> Case:
    """Open a case routed to its department(s) (or to the one given), with its deadlines in
    working days; with to_dispatch it waits in the street's dispatch queue instead (街道呼叫),
    its category's departments kept as the dispatcher's suggestion."""
    spec = catalogue.types[kind]
    category = catalogue.category(kind, category_code or "")
    lead_code = category.department if category else catalogue.routing.get(kind, "masswork")
    lead = department or await _department(session, lead_code)
    overrides = await load_overrides(session)
    case = Case(
        ref=await next_reference(session, street_code, now.astimezone(SHANGHAI).date()),
        kind=kind,
        category=category.name_zh if category else spec.name_zh,
        status=CaseStatus.NEW if to_dispatch else CaseStatus.ASSIGNED,
        summary=summary[:2000],
        details={"category_code": category_code, **(details or {})},
        resident_id=resident_id,
        reporter_staff_id=reporter_staff_id,
        department_id=None if to_dispatch else lead.id,
        grid_id=grid_id,
        latitude=latitude,
        longitude=longitude,
        attachments=attachments or [],
        first_reply_due_at=await working_deadline(session, now, spec.first_reply_days, overrides),
        due_at=await working_deadline(session, now, spec.deadline_days, overrides),
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    await session.flush()
    assert case.id is not None
    actor = ("staff", reporter_staff_id) if reporter_staff_id else ("resident", resident_id)
    if to_dispatch:
        record(session, case, actor, "to_dispatch", now)
        return case
    session.add(CaseHandler(case_id=case.id, department_id=lead.id or 0, lead=True))
    for code in category.co if category else ():
        co = await _department(session, code)
        session.add(CaseHandler(case_id=case.id, department_id=co.id or 0, lead=False))
    record(session, case, actor, "received", now, **named(lead))
    return case


def named(department: Department) -> dict[str, str]:
    """A department's name for a timeline step, in both languages (read back by language)."""
    return {"department": department.name_zh, "department_en": department.name_en}


def record(
    session: AsyncSession,
    case: Case,
    actor: tuple[str, int | None],
    kind: str,
    now: datetime,
    note: str | None = None,
    **data: Any,
) -> CaseEvent:
    """Add one event to the case's timeline."""
    event = CaseEvent(
        case_id=case.id or 0,
        at=now,
        actor_kind=actor[0],
        actor_id=actor[1],
        kind=kind,
        note=note[:2000] if note else None,
        data=data,
    )
    session.add(event)
    case.updated_at = now
    session.add(case)
    return event


async def department_staff(session: AsyncSession, department_id: int) -> list[Staff]:
    """Active staff of a department who take cases and have a chat account to be alerted on
    (if nobody has one, the SLA sweep escalates the case)."""
    reachable = select(ChannelIdentity.id).where(
        ChannelIdentity.staff_id == Staff.id,
        col(ChannelIdentity.active).is_(True),
        col(ChannelIdentity.channel).not_in(UNVOUCHED_CHANNELS),  # no push to the web chat
    )
    stmt = select(Staff).where(
        Staff.department_id == department_id,
        col(Staff.active).is_(True),
        col(Staff.role).in_((StaffRole.CLERK, StaffRole.DEPARTMENT_STAFF)),
        reachable.exists(),
    )
    return list((await session.exec(stmt.order_by(col(Staff.id)))).all())


class Refusal(StrEnum):
    """Why a staff action was refused."""

    NOT_YOURS = "not_yours"
    TAKEN = "taken"
    CLOSED = "closed"
    WAITING_CO = "waiting_co"
    NO_SUCH_STEP = "no_such_step"
    NO_REASON = "no_reason"
    ALREADY_YOURS = "already_yours"
    NO_SUCH_DEPARTMENT = "no_such_department"  # unknown, or the one that has it already


def steps_for(case: Case) -> tuple[Progress, ...]:
    """The progress a case can make: documents collected and ready for pick-up belong to proxy
    handling (全程代办); every other case is only resolved."""
    if case.kind == CaseKind.PROXY:
        return (Progress.COLLECTED, Progress.READY, Progress.RESOLVED)
    return (Progress.RESOLVED,)


async def accept_case(
    session: AsyncSession, case: Case, staff: Staff, now: datetime
) -> Refusal | None:
    """The first to accept owns the case to the end (首问责任)."""
    if case.status not in OPEN:
        return Refusal.CLOSED
    if not may_accept_case(staff, case):
        return Refusal.NOT_YOURS
    if case.assignee_staff_id == staff.id:
        return Refusal.ALREADY_YOURS  # a second press (or a replayed form) repeats nothing
    if case.assignee_staff_id is not None:
        return Refusal.TAKEN
    case.assignee_staff_id, case.status = staff.id, CaseStatus.ACCEPTED
    case.accepted_at = case.accepted_at or now
    lead = (await handler_departments(session, case)).get(case.department_id or 0)
    if lead is not None and lead.accepted_at is None:
        lead.accepted_at = now
        session.add(lead)
    case.first_replied_at = case.first_replied_at or now
    record(session, case, ("staff", staff.id), "accepted", now, staff=staff.name)
    return None


async def transfer_case(
    session: AsyncSession,
    case: Case,
    staff: Staff,
    department_code: str,
    reason: str,
    now: datetime,
) -> Refusal | None:
    """Hand the case to another department, with a reason; it is unassigned again there."""
    refusal = await transfer_refusal(session, case, staff, department_code)
    if refusal is not None:
        return refusal
    target = await _department(session, department_code)
    handlers = await handler_departments(session, case)
    old = handlers.get(case.department_id or 0)
    if old is not None:
        await session.delete(old)
    if target.id in handlers and target.id != case.department_id:
        await session.delete(handlers[target.id or 0])
    await session.flush()
    session.add(CaseHandler(case_id=case.id or 0, department_id=target.id or 0, lead=True))
    case.department_id, case.assignee_staff_id, case.status = target.id, None, CaseStatus.ASSIGNED
    record(
        session,
        case,
        ("staff", staff.id),
        "transferred",
        now,
        reason,
        **named(target),
    )
    return None


async def transfer_refusal(
    session: AsyncSession, case: Case, staff: Staff, department_code: str
) -> Refusal | None:
    """Why this staff member may not hand the case to that department, if they may not (asked
    before the reason is typed, too, so that no one types it in vain)."""
    if case.status not in OPEN:
        return Refusal.CLOSED
    if not may_transfer_case(staff, case):
        return Refusal.NOT_YOURS
    stmt = select(Department.id).where(Department.code == department_code[:32])
    target = (await session.exec(stmt)).first()
    if target is None or target == case.department_id:
        return Refusal.NO_SUCH_DEPARTMENT
    return None


def ask_refusal(case: Case, staff: Staff) -> Refusal | None:
    """Why this staff member may not ask the resident about the case, if they may not."""
    if case.status not in OPEN:
        return Refusal.CLOSED
    return None if may_work_case(staff, case) else Refusal.NOT_YOURS


async def finish_part(
    session: AsyncSession, case: Case, staff: Staff, now: datetime
) -> Refusal | None:
    """A co-handling department reports its part done."""
    handlers = await handler_departments(session, case)
    if not may_finish_part(staff, handlers, case):
        return Refusal.NOT_YOURS
    mine = handlers[staff.department_id or 0]
    mine.done_at = now
    session.add(mine)
    record(session, case, ("staff", staff.id), "co_done", now, staff=staff.name)
    return None


class Progress(StrEnum):
    """Steps the owner marks on the way to an answer."""

    COLLECTED = "collected"
    READY = "ready_for_pickup"
    RESOLVED = "resolved"


async def mark_progress(
    session: AsyncSession,
    case: Case,
    staff: Staff,
    step: Progress,
    now: datetime,
    note: str | None = None,
) -> Refusal | None:
    """Documents collected, ready for pick-up (at a window: see pickup_window), or resolved."""
    if case.status not in (*OPEN, CaseStatus.READY_FOR_PICKUP):
        return Refusal.CLOSED
    if not may_work_case(staff, case):
        return Refusal.NOT_YOURS
    if step not in steps_for(case):
        return Refusal.NO_SUCH_STEP
    if step is Progress.RESOLVED:
        handlers = await handler_departments(session, case)
        if any(still_working(h) for h in handlers.values()):
            return Refusal.WAITING_CO  # 协同整治: closes only when every co-handler is done
        case.status, case.resolved_at = CaseStatus.RESOLVED, now
        handlers_lead = handlers.get(case.department_id or 0)
        if handlers_lead is not None:
            handlers_lead.done_at = now
            session.add(handlers_lead)
    elif step is Progress.READY:
        case.status = CaseStatus.READY_FOR_PICKUP
    window = await pickup_window(session, case, staff)
    record(session, case, ("staff", staff.id), step.value, now, note, window=window)
    return None


async def release_cases(session: AsyncSession, staff: Staff, now: datetime) -> list[Case]:
    """A staff member who leaves hands their open cases back to the lead department, which is
    alerted to take them on again (首问责任 passes to whoever accepts next)."""
    stmt = select(Case).where(sa.text(OPEN_CONDITION), col(Case.assignee_staff_id) == staff.id)
    released = list((await session.exec(stmt.order_by(col(Case.id)))).all())
    for case in released:
        case.assignee_staff_id, case.status = None, CaseStatus.ASSIGNED
        record(session, case, ("system", None), "released", now, staff=staff.name)
    return released


def still_working(handler: CaseHandler) -> bool:
    """A co-handler that has neither done its part nor returned the call."""
    return not handler.lead and handler.done_at is None and handler.returned_at is None


async def pickup_window(session: AsyncSession, case: Case, staff: Staff) -> int | None:
    """Where finished work is collected: the staff member's window, else their department's
    (a department's finished work is kept at its hall window); None if neither has one."""
    if staff.window:
        return staff.window
    department = await session.get(Department, case.department_id) if case.department_id else None
    return department.window if department else None


async def ask_resident(
    session: AsyncSession, case: Case, staff: Staff, question: str, now: datetime
) -> Refusal | None:
    """A question for the resident; the case waits for the answer."""
    refusal = ask_refusal(case, staff)
    if refusal is not None:
        return refusal
    case.status = CaseStatus.WAITING_RESIDENT
    record(session, case, ("staff", staff.id), "question", now, question)
    return None


def resident_answers(
    session: AsyncSession, case: Case, resident_id: int, answer: str, now: datetime
) -> None:
    """The resident's answer lands on the case, and the owner has it back."""
    if case.status == CaseStatus.WAITING_RESIDENT:
        case.status = CaseStatus.ACCEPTED
    record(session, case, ("resident", resident_id), "answer", now, answer)


async def add_note(
    session: AsyncSession, case: Case, staff: Staff, note: str, now: datetime
) -> Refusal | None:
    """A staff note on the timeline, by anyone on staff who may see the case."""
    if not await can_view_case(session, case, Viewer(staff=staff)):
        return Refusal.NOT_YOURS
    record(session, case, ("staff", staff.id), "note", now, note)
    return None


def confirm_resolved(session: AsyncSession, case: Case, resident_id: int, now: datetime) -> bool:
    """The resident confirms: the case closes."""
    if case.status != CaseStatus.RESOLVED or case.resident_id != resident_id:
        return False
    case.status, case.closed_at = CaseStatus.CLOSED, now
    record(session, case, ("resident", resident_id), "confirmed", now)
    return True


def reopen(session: AsyncSession, case: Case, resident_id: int, reason: str, now: datetime) -> bool:
    """ "Not solved": back to its owner, who is still responsible."""
    if (
        case.status not in (CaseStatus.RESOLVED, CaseStatus.READY_FOR_PICKUP)
        or case.resident_id != resident_id
    ):
        return False
    case.status, case.resolved_at = CaseStatus.ACCEPTED, None
    record(session, case, ("resident", resident_id), "reopened", now, reason)
    return True


def withdraw_case(session: AsyncSession, case: Case, resident_id: int, now: datetime) -> bool:
    """The resident withdraws a case still being handled: no one works on it any more."""
    if case.status not in OPEN_STATUSES or case.resident_id != resident_id:
        return False
    case.status, case.closed_at = CaseStatus.CANCELLED, now
    record(session, case, ("resident", resident_id), "withdrawn", now)
    return True


async def find_case(session: AsyncSession, ref: str, viewer: Viewer) -> Case | None:
    """A case by reference number, only if the viewer may see it (else as if it did not exist)."""
    case = (await session.exec(select(Case).where(Case.ref == ref.strip().upper()[:32]))).first()
    if case is None or not await can_view_case(session, case, viewer):
        return None
    return case


EARLIER_CASES_READ = 10


async def resident_cases(session: AsyncSession, resident_id: int, limit: int = 10) -> list[Case]:
    """A resident's most recent cases."""
    stmt = (
        select(Case)
        .where(Case.resident_id == resident_id)
        .order_by(col(Case.created_at).desc())
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def earlier_answer(
    session: AsyncSession, resident_id: int, question: str, skip: Callable[[str], bool]
) -> str | None:
    """What the resident answered to an intake question on their latest case that asked it
    (a visit's address), leaving out answers skip refuses (one that was itself "同上。")."""
    for case in await resident_cases(session, resident_id, limit=EARLIER_CASES_READ):
        answers = case.details.get("answers") if isinstance(case.details, dict) else None
        answer = answers.get(question) if isinstance(answers, dict) else None
        if isinstance(answer, str) and answer.strip() and not skip(answer):
            return answer
    return None


async def staff_cases(session: AsyncSession, staff: Staff, limit: int = 20) -> list[Case]:
    """Open cases the staff member owns, unassigned ones in their department, their
    department's co-handling parts still to do, and what they reported themselves (社区发现),
    soonest due first: index-ordered reads of at most `limit` rows each, merged."""
    is_open = sa.text(OPEN_CONDITION)  # the partial indexes' own words
    reads = [
        select(Case).where(is_open, col(Case.assignee_staff_id) == staff.id),
        select(Case).where(is_open, col(Case.reporter_staff_id) == staff.id),
    ]
    if staff.department_id is not None:  # "no department" must not match cases with none
        reads.append(
            select(Case).where(
                is_open,
                col(Case.department_id) == staff.department_id,
                col(Case.assignee_staff_id).is_(None),
            )
        )
        reads.append(_parts_to_do(staff.department_id))
    found: dict[int, Case] = {}
    for stmt in reads:
        ordered = stmt.order_by(col(Case.due_at), col(Case.id)).limit(limit)
        found |= {case.id or 0: case for case in (await session.exec(ordered)).all()}
    far = datetime.max.replace(tzinfo=SHANGHAI)
    return sorted(found.values(), key=lambda c: (c.due_at or far, c.id or 0))[:limit]


def _parts_to_do(department_id: int) -> SelectOfScalar[Case]:
    """Open cases where the department helps (协同) and its part is neither done nor returned."""
    part = select(CaseHandler.case_id).where(
        col(CaseHandler.department_id) == department_id,
        col(CaseHandler.lead).is_(False),
        col(CaseHandler.done_at).is_(None),
        col(CaseHandler.returned_at).is_(None),
    )
    return select(Case).where(sa.text(OPEN_CONDITION), col(Case.id).in_(part))


async def timeline(session: AsyncSession, case: Case) -> list[CaseEvent]:
    """The case's events, oldest first."""
    stmt = (
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id)
        .order_by(col(CaseEvent.at), col(CaseEvent.id))
    )
    return list((await session.exec(stmt)).all())
