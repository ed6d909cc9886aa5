"""Ratings (评价): what a resident may rate (a recent appointment, case or window visit) and
the one six-level rating each thing gets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI, utc_field
from models.booking import Appointment, AppointmentStatus
from models.case_ops import CaseCatalogue
from models.cases import Case, CaseKind, CaseStatus, Rating, RatingLevel
from models.org import Department
from models.reminders import APPOINTMENT, CASE
from models.services import Service

WINDOW = "window"
POOR = frozenset({RatingLevel.TOO_SLOW, RatingLevel.BAD_ATTITUDE, RatingLevel.POOR_SKILL})
RECENT = timedelta(days=30)
SHOWN = 5
COMMENT_LIMIT = 500
SERVED = (AppointmentStatus.CHECKED_IN, AppointmentStatus.COMPLETED)
FINISHED = (CaseStatus.RESOLVED, CaseStatus.CLOSED)


class WindowVisit(SQLModel, table=True):
    """A visit to a department's window that the resident rates without an appointment
    (one a day per department)."""

    __table_args__ = (sa.UniqueConstraint("resident_id", "department_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    resident_id: int = Field(foreign_key="resident.id")
    department_id: int = Field(foreign_key="department.id")
    day: date
    created_at: datetime = utc_field()


@dataclass(frozen=True)
class Subject:
    """One thing a resident may rate: an appointment, a case or a window visit."""

    kind: str
    id: int
    ref: str
    name_zh: str
    name_en: str
    at: datetime
    staff_id: int | None
    department_id: int | None


def _appointment_subject(appointment: Appointment, service: Service) -> Subject:
    return Subject(
        APPOINTMENT,
        appointment.id or 0,
        appointment.ref,
        service.name_zh,
        service.name_en,
        appointment.starts_at,
        appointment.served_by_staff_id,
        service.department_id,
    )


def _case_subject(case: Case, catalogue: CaseCatalogue) -> Subject:
    zh, en = catalogue.category_names(case)
    return Subject(
        CASE,
        case.id or 0,
        case.ref,
        zh,
        en,
        case.resolved_at or case.updated_at,
        case.assignee_staff_id,
        case.department_id,
    )


def _window_subject(visit: WindowVisit, department: Department) -> Subject:
    return Subject(
        WINDOW,
        visit.id or 0,
        "",
        department.name_zh,
        department.name_en,
        visit.created_at,
        None,
        department.id,
    )


def _unrated(kind: str, resident_id: int, subject_id: Mapped[int | None]) -> sa.ColumnElement[bool]:
    rated = select(Rating.id).where(
        Rating.subject_kind == kind,
        Rating.resident_id == resident_id,
        Rating.subject_id == subject_id,
    )
    return ~rated.exists()


def _appointment_rateable(now: datetime) -> sa.ColumnElement[bool]:
    """Served at the window, or booked and past its time (the clerk may not have marked it)."""
    booked_and_past = (col(Appointment.status) == AppointmentStatus.BOOKED) & (
        col(Appointment.starts_at) < now
    )
    return sa.or_(col(Appointment.status).in_(SERVED), booked_and_past)


async def recent_subjects(
    session: AsyncSession, catalogue: CaseCatalogue, resident_id: int, now: datetime
) -> list[Subject]:
    """The resident's few most recent unrated appointments and finished cases, newest first."""
    appointments = (
        select(Appointment, Service)
        .join(Service, col(Service.id) == Appointment.service_id)
        .where(
            Appointment.resident_id == resident_id,
            col(Appointment.starts_at) >= now - RECENT,
            _appointment_rateable(now),
            _unrated(APPOINTMENT, resident_id, col(Appointment.id)),
        )
        .order_by(col(Appointment.starts_at).desc())
        .limit(SHOWN)
    )
    cases = (
        select(Case)
        .where(
            Case.resident_id == resident_id,
            col(Case.status).in_(FINISHED),
            col(Case.kind) != CaseKind.RETURN_VISIT,
            col(Case.updated_at) >= now - RECENT,
            _unrated(CASE, resident_id, col(Case.id)),
        )
        .order_by(col(Case.updated_at).desc())
        .limit(SHOWN)
    )
    found = [_appointment_subject(a, s) for a, s in (await session.exec(appointments)).all()]
    found += [_case_subject(c, catalogue) for c in (await session.exec(cases)).all()]
    return sorted(found, key=lambda s: s.at, reverse=True)[:SHOWN]


async def find_subject(
    session: AsyncSession,
    catalogue: CaseCatalogue,
    kind: str,
    subject_id: int,
    resident_id: int,
    now: datetime,
) -> Subject | None:
    """A thing this resident may rate (their own, served or finished), else None."""
    if kind == APPOINTMENT:
        appointment = await session.get(Appointment, subject_id)
        if appointment is None or appointment.resident_id != resident_id:
            return None
        served = appointment.status in SERVED or (
            appointment.status == AppointmentStatus.BOOKED and appointment.starts_at < now
        )
        service = await session.get(Service, appointment.service_id)
        return _appointment_subject(appointment, service) if served and service else None
    if kind == CASE:
        case = await session.get(Case, subject_id)
        if case is None or case.resident_id != resident_id or case.status not in FINISHED:
            return None
        return _case_subject(case, catalogue)
    if kind == WINDOW:
        visit = await session.get(WindowVisit, subject_id)
        if visit is None or visit.resident_id != resident_id:
            return None
        department = await session.get(Department, visit.department_id)
        return _window_subject(visit, department) if department else None
    return None


async def window_visit(
    session: AsyncSession, resident_id: int, department_id: int, now: datetime
) -> Subject | None:
    """Today's visit to a department's window, recorded the first time it is rated (only a
    department that has a window in the hall can be visited there)."""
    department = await session.get(Department, department_id)
    if department is None or department.window is None:
        return None
    today = now.astimezone(SHANGHAI).date()
    stmt = select(WindowVisit).where(
        WindowVisit.resident_id == resident_id,
        WindowVisit.department_id == department_id,
        WindowVisit.day == today,
    )
    visit = (await session.exec(stmt)).first()
    if visit is None:
        visit = WindowVisit(
            resident_id=resident_id, department_id=department_id, day=today, created_at=now
        )
        session.add(visit)
        await session.flush()
    return _window_subject(visit, department)


async def rating_of(session: AsyncSession, subject: Subject, resident_id: int) -> Rating | None:
    """The resident's rating of this thing, if they gave one."""
    return await rating_by(session, subject.kind, subject.id, resident_id)


async def rating_by(
    session: AsyncSession, kind: str, subject_id: int, resident_id: int
) -> Rating | None:
    """The resident's rating of the thing of this kind and number, if they gave one."""
    stmt = select(Rating).where(
        Rating.subject_kind == kind,
        Rating.subject_id == subject_id,
        Rating.resident_id == resident_id,
    )
    return (await session.exec(stmt)).first()


async def rate(
    session: AsyncSession, subject: Subject, resident_id: int, level: RatingLevel, now: datetime
) -> Rating | None:
    """The resident's one rating of a thing, counted for who served them; None if already rated."""
    if await rating_of(session, subject, resident_id) is not None:
        return None
    rating = Rating(
        subject_kind=subject.kind,
        subject_id=subject.id,
        resident_id=resident_id,
        staff_id=subject.staff_id,
        level=level,
        created_at=now,
    )
    session.add(rating)
    await session.flush()
    return rating
