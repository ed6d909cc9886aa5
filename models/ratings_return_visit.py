"""The return visit (回访) a poor rating opens: a case for the supervisor who answers for the
staff member it concerns (named in the comment, or who served the resident), never for that
person, due within one working day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.case_ops import CaseCatalogue, open_case, record
from models.cases import CONCERNS, Case, CaseKind, CaseStatus, Rating
from models.org import Department, Staff
from models.personal_data import clip, remove_personal_data
from models.ratings import COMMENT_LIMIT, Subject
from models.supervision import concern, named_staff, supervisor_for


@dataclass(frozen=True)
class ReturnVisit:
    """An opened or re-routed return visit: the case, who calls back, and for which department."""

    case: Case
    supervisor: Staff
    department: Department | None


def safe_comment(text: str) -> str:
    """A resident's comment as it may be kept and shown to staff: phone and ID numbers removed."""
    return clip(remove_personal_data(text.strip()), COMMENT_LIMIT)


async def _concerned(session: AsyncSession, subject: Subject, comment: str) -> Staff | None:
    named = await named_staff(session, comment)
    if named is not None:
        return named
    return await session.get(Staff, subject.staff_id) if subject.staff_id else None


async def open_return_visit(
    session: AsyncSession,
    catalogue: CaseCatalogue,
    *,
    rating: Rating,
    subject: Subject,
    street_code: str,
    now: datetime,
) -> ReturnVisit | None:
    """Open the return visit for a poor rating, owned by the answering supervisor from the
    start (None only if the street has no supervisor or administrator at all)."""
    comment = rating.comment or ""
    concerned = await _concerned(session, subject, comment)
    routed = await supervisor_for(session, subject.department_id, concerned)
    if routed is None:
        return None
    supervisor, department = routed
    thing = f"{subject.name_zh} {subject.ref}".strip()  # for the case's summary
    case = await open_case(
        session,
        catalogue,
        kind=CaseKind.RETURN_VISIT,
        category_code=None,
        summary=_summary(thing, rating.comment),
        now=now,
        street_code=street_code,
        resident_id=rating.resident_id,
        details={
            "rating_id": rating.id,
            "subject": f"{subject.kind}:{subject.id}",
            "level": str(rating.level),
            "thing": thing,
            RATED: rated_details(subject),  # worded for the supervisor in their language
            CONCERNS: concerned.id if concerned else None,
        },
        department=department or await _any_department(session),
    )
    _assign(session, case, supervisor, now)
    return ReturnVisit(case, supervisor, department)


async def _any_department(session: AsyncSession) -> Department | None:
    """A window visit always names a department; a case may not (then the first, for routing)."""
    return (await session.exec(select(Department).order_by(col(Department.id)))).first()


def _summary(thing: str, comment: str | None) -> str:
    return f"{thing} — {comment}" if comment else thing


RATED = "rated"


def rated_details(subject: Subject) -> dict[str, str]:
    """What was rated, kept on the return visit so that it can be worded in any language."""
    day = subject.at.astimezone(SHANGHAI).date().isoformat()
    return {
        "kind": subject.kind,
        "zh": subject.name_zh,
        "en": subject.name_en,
        "ref": subject.ref,
        "day": day,
    }


def _assign(session: AsyncSession, case: Case, supervisor: Staff, now: datetime) -> None:
    """The supervisor owns the return visit at once (nobody else is to pick it up)."""
    case.assignee_staff_id, case.status, case.accepted_at = (
        supervisor.id,
        CaseStatus.ACCEPTED,
        now,
    )
    record(session, case, ("system", None), "return_visit", now, staff=supervisor.name)


async def add_comment(
    session: AsyncSession,
    rating: Rating,
    case: Case | None,
    comment: str,
    now: datetime,
) -> ReturnVisit | None:
    """Keep the resident's comment (personal data removed) on the rating and its return visit;
    a comment that names someone else moves the return visit to that person's supervisor.
    Returns the return visit when it moved."""
    rating.comment = safe_comment(comment)
    session.add(rating)
    if case is None:
        return None
    case.summary = _summary(str(case.details.get("thing", "")), rating.comment)
    record(session, case, ("resident", rating.resident_id), "comment", now, rating.comment)
    named = await named_staff(session, rating.comment)
    if named is None or named.id == case.details.get(CONCERNS):
        return None
    return await _move(session, case, named, now)


async def _move(
    session: AsyncSession, case: Case, named: Staff, now: datetime
) -> ReturnVisit | None:
    """The comment named a staff member: theirs is the complaint, their supervisor calls back."""
    routed = await concern(session, case, named)
    if routed is None:
        return None
    supervisor, department = routed
    if supervisor.id == case.assignee_staff_id:
        session.add(case)
        return None
    _assign(session, case, supervisor, now)
    return ReturnVisit(case, supervisor, department)
