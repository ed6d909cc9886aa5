"""What a staff member sees of a case (in chat or on the desk): the request in full, who
handles which part, and the resident's phone, masked unless they may call (then logged)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from models.access_log import log_view
from models.cases import Case, CaseStatus
from models.org import Department, Staff
from models.people import Resident, mask_id_number, mask_phone
from models.personal_data import find_personal_data, remove_personal_data
from models.policy import handler_departments, may_see_phone


@dataclass(frozen=True)
class HandlerPart:
    """One department on the case and how far its part has gone."""

    name_zh: str
    name_en: str
    lead: bool
    accepted_at: datetime | None
    returned_at: datetime | None
    return_reason: str | None
    done_at: datetime | None


@dataclass(frozen=True)
class CaseCard:
    """The facts of a case for its handlers."""

    summary: str
    answers: dict[str, str]
    location: tuple[float, float] | None
    attachments: list[dict[str, Any]]
    phone: str
    phone_shown: bool
    name: str
    id_number: str = ""  # the ID card number, masked unless phone_shown (same rule, same log)
    closed_for_owner: bool = False  # masked for its handler too: the case is no longer open
    parts: list[HandlerPart] = field(default_factory=list)


ENDED = (CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.CANCELLED)


def intake_answers(case: Case) -> dict[str, str]:
    """What the intake asked (上门地址, 时间, 位置 …), as the resident answered it."""
    answers = case.details.get("answers")
    return {str(k): str(v) for k, v in answers.items()} if isinstance(answers, dict) else {}


def holds_personal_data(summary: str, answers: dict[str, str]) -> bool:
    """Whether the resident's own words on a case carry personal data."""
    return bool(find_personal_data(summary)) or any(find_personal_data(a) for a in answers.values())


def mask_name(name: str | None) -> str:
    """王小明 → 王**: enough to greet, not enough to identify."""
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


async def case_card(
    session: AsyncSession, case: Case, staff: Staff, *, now: datetime, place: str
) -> CaseCard:
    """The card for this staff member. Only the one who accepted the case sees the resident's
    name, phone and own words in full (phone or ID numbers, door numbers typed into the request
    are removed for everyone else); each such view is written to the access log."""
    resident = await session.get(Resident, case.resident_id) if case.resident_id else None
    raw = intake_answers(case)
    owner = may_see_phone(staff, case)
    personal = bool(resident and (resident.phone or resident.id_number)) or holds_personal_data(
        case.summary, raw
    )
    shown = owner and personal
    if shown:
        log_view(
            session,
            staff_id=staff.id or 0,
            resident_id=resident.id if resident else None,
            subject=f"case:{case.id}",
            field_name="name, phone, ID, words",
            why="case owner: contact the resident",
            place=place,
            now=now,
        )
    phone = (resident.phone or "") if resident is not None else ""
    id_number = (resident.id_number or "") if resident is not None else ""
    return CaseCard(
        summary=case.summary if owner else remove_personal_data(case.summary),
        answers=raw if owner else {k: remove_personal_data(v) for k, v in raw.items()},
        location=_location(case),
        attachments=[a for a in case.attachments if isinstance(a, dict)],
        phone=phone if shown else mask_phone(phone),
        phone_shown=shown,
        closed_for_owner=case.assignee_staff_id == staff.id and case.status in ENDED,
        name=_name(resident, shown),
        id_number=id_number if shown else mask_id_number(id_number),
        parts=await _parts(session, case),
    )


def _name(resident: Resident | None, shown: bool) -> str:
    name = resident.name if resident is not None else None
    return (name or "") if shown else mask_name(name)


def _location(case: Case) -> tuple[float, float] | None:
    if case.latitude is None or case.longitude is None:
        return None
    return case.latitude, case.longitude


async def _parts(session: AsyncSession, case: Case) -> list[HandlerPart]:
    parts = []
    for department_id, handler in sorted((await handler_departments(session, case)).items()):
        department = await session.get(Department, department_id)
        parts.append(
            HandlerPart(
                name_zh=department.name_zh if department else "",
                name_en=department.name_en if department else "",
                lead=handler.lead,
                accepted_at=handler.accepted_at,
                returned_at=handler.returned_at,
                return_reason=handler.return_reason,
                done_at=handler.done_at,
            )
        )
    return sorted(parts, key=lambda p: not p.lead)
