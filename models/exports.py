"""Records of a period as tables for spreadsheets: cases, appointments, needs and ratings
(`linli export`; the KPIs come from models/kpis.py).

Which records a period holds: cases, needs and ratings made in it (``created_at``),
appointments held in it (``starts_at``, as the KPIs count them). A period is whole Asia/Shanghai
days (``models.kpis.Period``).

No table holds a phone number, an ID number or a person's name: a resident is at most their
internal number, a staff member their staff code, and what residents wrote (a case's summary, a
need, a rating's comment, an item's title) goes through ``remove_personal_data``. Column names
are codes, worded by the caller; cells are plain values (text, numbers, UTC datetimes, and
enum members such as ``CaseStatus`` for the caller to word).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.booking import Appointment, AppointmentStatus
from models.case_ops import case_catalogue
from models.cases import Case, CaseKind, CaseStatus, Rating, RatingLevel
from models.kpis import Period
from models.need_ops import load_categories
from models.needs import Need, NeedItem, NeedStage
from models.org import Community, Department, Grid, Staff
from models.people import Resident
from models.personal_data import remove_personal_data
from models.ratings import WINDOW, WindowVisit
from models.reminders import APPOINTMENT, CASE
from models.services import Service

KINDS = ("cases", "appointments", "needs", "ratings")
Row = TypeVar("Row", bound=SQLModel)


@dataclass(frozen=True)
class Export:
    """A table: column codes, then one row of plain values per record."""

    columns: tuple[str, ...]
    rows: list[tuple[object, ...]]


@dataclass(frozen=True)
class Names:
    """The street's units by id, named in one language (read once per export)."""

    departments: dict[int, str]
    communities: dict[int, str]
    grids: dict[int, tuple[str, int]]  # grid name, community id
    staff: dict[int, str]  # staff codes, never names
    services: dict[int, tuple[str, int]]  # service name, department id

    def department(self, department_id: int | None) -> str:
        """A department's name ("" for none)."""
        return self.departments.get(department_id or 0, "")

    def community(self, community_id: int | None) -> str:
        """A community's name ("" for none)."""
        return self.communities.get(community_id or 0, "")

    def grid(self, grid_id: int | None) -> str:
        """A grid's name ("" for none)."""
        return self.grids.get(grid_id or 0, ("", 0))[0]

    def grid_community(self, grid_id: int | None) -> int | None:
        """The community a grid is in."""
        found = self.grids.get(grid_id or 0)
        return found[1] if found else None

    def staff_code(self, staff_id: int | None) -> str:
        """A staff member's code ("" for nobody)."""
        return self.staff.get(staff_id or 0, "")


def _pick(lang: str) -> Callable[[str, str | None], str]:
    def name(zh: str, en: str | None) -> str:
        return en if lang == "en" and en else zh

    return name


async def load_names(session: AsyncSession, lang: str) -> Names:
    """Every department, community, grid, staff code and service, in the language."""
    name = _pick(lang)
    departments = {d.id or 0: name(d.name_zh, d.name_en) for d in await _all(session, Department)}
    communities = {c.id or 0: name(c.name_zh, c.name_en) for c in await _all(session, Community)}
    grids = {
        g.id or 0: (name(g.name_zh, g.name_en), g.community_id) for g in await _all(session, Grid)
    }
    staff = {s.id or 0: s.code for s in await _all(session, Staff)}
    services = {
        s.id or 0: (name(s.name_zh, s.name_en), s.department_id)
        for s in await _all(session, Service)
    }
    return Names(departments, communities, grids, staff, services)


async def _all(session: AsyncSession, model: type[Row]) -> Sequence[Row]:
    return (await session.exec(select(model))).all()


def _clean(text: str | None) -> str:
    """What a person wrote, without the personal data in it."""
    return remove_personal_data(text) if text else ""


CASE_COLUMNS = (
    "ref",
    "kind",
    "category",
    "status",
    "department",
    "community",
    "grid",
    "summary",
    "resident",
    "reporter",
    "assignee",
    "created_at",
    "first_reply_due_at",
    "first_replied_at",
    "accepted_at",
    "due_at",
    "resolved_at",
    "closed_at",
)


async def export_cases(session: AsyncSession, period: Period, lang: str, data_dir: Path) -> Export:
    """The cases made in the period, oldest first."""
    names = await load_names(session, lang)
    catalogue = case_catalogue(Path(data_dir))
    stmt = (
        select(Case, Resident.community_id)
        .outerjoin(Resident, col(Resident.id) == col(Case.resident_id))
        .where(period.holds(col(Case.created_at)))
        .order_by(col(Case.created_at), col(Case.id))
    )
    rows: list[tuple[object, ...]] = []
    for case, home in (await session.exec(stmt)).all():
        zh, en = catalogue.category_names(case)
        community = names.grid_community(case.grid_id) or home
        rows.append(
            (
                case.ref,
                CaseKind(case.kind),
                en if lang == "en" else zh,
                CaseStatus(case.status),
                names.department(case.department_id),
                names.community(community),
                names.grid(case.grid_id),
                _clean(case.summary),
                case.resident_id,
                names.staff_code(case.reporter_staff_id),
                names.staff_code(case.assignee_staff_id),
                case.created_at,
                case.first_reply_due_at,
                case.first_replied_at,
                case.accepted_at,
                case.due_at,
                case.resolved_at,
                case.closed_at,
            )
        )
    return Export(CASE_COLUMNS, rows)


APPOINTMENT_COLUMNS = (
    "ref",
    "service",
    "department",
    "status",
    "starts_at",
    "booked_at",
    "checked_in_at",
    "served_by",
    "resident",
)


async def export_appointments(session: AsyncSession, period: Period, lang: str) -> Export:
    """The appointments held in the period (by their start), earliest first."""
    names = await load_names(session, lang)
    stmt = (
        select(Appointment)
        .where(period.holds(col(Appointment.starts_at)))
        .order_by(col(Appointment.starts_at), col(Appointment.ref))
    )
    rows: list[tuple[object, ...]] = []
    for appointment in (await session.exec(stmt)).all():
        service, department_id = names.services.get(appointment.service_id, ("", 0))
        rows.append(
            (
                appointment.ref,
                service,
                names.department(department_id),
                AppointmentStatus(appointment.status),
                appointment.starts_at,
                appointment.created_at,
                appointment.checked_in_at,
                names.staff_code(appointment.served_by_staff_id),
                appointment.resident_id,
            )
        )
    return Export(APPOINTMENT_COLUMNS, rows)


NEED_COLUMNS = (
    "id",
    "item",
    "item_title",
    "stage",
    "category",
    "community",
    "grid",
    "text",
    "resident",
    "submitted_by",
    "created_at",
)


async def export_needs(session: AsyncSession, period: Period, lang: str, data_dir: Path) -> Export:
    """The needs residents raised in the period, with the item each was merged into."""
    names = await load_names(session, lang)
    name = _pick(lang)
    categories = {c.code: name(c.name_zh, c.name_en) for c in load_categories(Path(data_dir))}
    stmt = (
        select(Need, NeedItem)
        .outerjoin(NeedItem, col(NeedItem.id) == col(Need.item_id))
        .where(period.holds(col(Need.created_at)))
        .order_by(col(Need.created_at), col(Need.id))
    )
    rows: list[tuple[object, ...]] = []
    for need, item in (await session.exec(stmt)).all():
        rows.append(
            (
                need.id,
                need.item_id,
                _clean(item.title) if item else "",
                NeedStage(item.stage) if item else None,
                categories.get(need.category or "", need.category or ""),
                names.community(need.community_id),
                names.grid(need.grid_id),
                _clean(need.text),
                need.resident_id,
                names.staff_code(need.submitted_by_staff_id),
                need.created_at,
            )
        )
    return Export(NEED_COLUMNS, rows)


RATING_COLUMNS = (
    "id",
    "subject",
    "subject_ref",
    "level",
    "staff",
    "department",
    "comment",
    "resident",
    "created_at",
)


async def export_ratings(session: AsyncSession, period: Period, lang: str) -> Export:
    """The ratings given in the period, with what was rated (an appointment's or a case's
    reference; a window visit's department)."""
    names = await load_names(session, lang)
    kind = col(Rating.subject_kind)
    subject_id = col(Rating.subject_id)
    stmt = (
        select(Rating, Appointment.ref, Case.ref, WindowVisit.department_id)
        .outerjoin(Appointment, sa.and_(kind == APPOINTMENT, col(Appointment.id) == subject_id))
        .outerjoin(Case, sa.and_(kind == CASE, col(Case.id) == subject_id))
        .outerjoin(WindowVisit, sa.and_(kind == WINDOW, col(WindowVisit.id) == subject_id))
        .where(period.holds(col(Rating.created_at)))
        .order_by(col(Rating.created_at), col(Rating.id))
    )
    staff_departments = {
        s.id or 0: s.department_id for s in await _all(session, Staff) if s.department_id
    }
    rows: list[tuple[object, ...]] = []
    for rating, appointment_ref, case_ref, visited in (await session.exec(stmt)).all():
        department = visited or staff_departments.get(rating.staff_id or 0)
        rows.append(
            (
                rating.id,
                rating.subject_kind,
                appointment_ref or case_ref or "",
                RatingLevel(rating.level),
                names.staff_code(rating.staff_id),
                names.department(department),
                _clean(rating.comment),
                rating.resident_id,
                rating.created_at,
            )
        )
    return Export(RATING_COLUMNS, rows)
