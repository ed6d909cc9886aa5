"""The desk's case queue: filters from the query string, one page of cases read in SQL, then
every case checked with models.policy.can_view_case before it is shown.

The SQL narrowing below is not a policy: it is a cheap superset of what can_view_case allows
(so that a page is read with indexes instead of the whole table), and can_view_case decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.case_ops import OPEN
from models.cases import Case, CaseHandler, CaseKind, CaseStatus
from models.org import Grid, Staff, StaffRole
from models.policy import ALL_SEEING, Viewer, can_view_case

PAGE_SIZE = 25
LAST_PAGE = 1000
STATUS_CHOICES = ("open", "all", *(s.value for s in CaseStatus))
WHO_CHOICES = ("", "mine", "unassigned")


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows: status (open, all or one), kind, lead department, overdue only,
    mine or unassigned only, and the page."""

    status: str = "open"
    kind: str = ""
    department_id: int | None = None
    overdue: bool = False
    who: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> QueueFilter:
        """The filter a query string asks for; anything unknown is left out."""
        status = query.get("status", "open")
        kind = query.get("kind", "")
        who = query.get("who", "")
        return cls(
            status=status if status in STATUS_CHOICES else "open",
            kind=kind if kind in CaseKind._value2member_map_ else "",
            department_id=_number(query.get("department", ""), 10**9),
            overdue=query.get("overdue") == "1",
            who=who if who in WHO_CHOICES else "",
            page=_number(query.get("page", ""), LAST_PAGE) or 1,
        )

    def query(self, **changes: object) -> str:
        """This filter (with changes, e.g. page=2) as a query string."""
        changed = replace(self, **changes)  # type: ignore[arg-type]
        pairs = {
            "status": changed.status if changed.status != "open" else "",
            "kind": changed.kind,
            "department": changed.department_id or "",
            "overdue": "1" if changed.overdue else "",
            "who": changed.who,
            "page": changed.page if changed.page > 1 else "",
        }
        return urlencode({k: v for k, v in pairs.items() if v != ""})


def _number(text: str, limit: int) -> int | None:
    return int(text) if text.isdecimal() and len(text) < 10 and 0 < int(text) <= limit else None


def could_see(staff: Staff) -> ColumnElement[bool]:
    """A superset of the cases can_view_case lets this staff member see (see module notes)."""
    mine: ColumnElement[bool] = col(Case.assignee_staff_id) == staff.id
    if staff.role in ALL_SEEING:
        return sa.true()
    if staff.role == StaffRole.GRID_LEADER:
        return sa.or_(
            mine, col(Case.grid_id) == staff.grid_id, col(Case.reporter_staff_id) == staff.id
        )
    if staff.role == StaffRole.DISPATCHER:
        return sa.or_(mine, col(Case.kind) == CaseKind.GRID_REPORT)
    if staff.role == StaffRole.LEADER:
        if staff.community_id is None:
            return sa.true()
        grids = select(Grid.id).where(Grid.community_id == staff.community_id)
        return sa.or_(mine, col(Case.grid_id).in_(grids))
    handled = select(CaseHandler.case_id).where(CaseHandler.department_id == staff.department_id)
    return sa.or_(mine, col(Case.id).in_(handled))


def _conditions(chosen: QueueFilter, staff: Staff, now: datetime) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [could_see(staff)]
    if chosen.status == "open":
        found.append(col(Case.status).in_(OPEN))
    elif chosen.status != "all":
        found.append(col(Case.status) == chosen.status)
    if chosen.kind:
        found.append(col(Case.kind) == chosen.kind)
    if chosen.department_id is not None:
        found.append(col(Case.department_id) == chosen.department_id)
    if chosen.overdue:
        found += [col(Case.status).in_(OPEN), col(Case.due_at) < now]
    if chosen.who == "mine":
        found.append(col(Case.assignee_staff_id) == staff.id)
    elif chosen.who == "unassigned":
        found.append(col(Case.assignee_staff_id).is_(None))
    return found


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: the cases this staff member may see, and whether more follow."""

    cases: list[Case]
    has_next: bool


async def queue_page(
    session: AsyncSession, staff: Staff, chosen: QueueFilter, now: datetime
) -> QueuePage:
    """The chosen page, soonest due first; each case passed by can_view_case."""
    stmt = (
        select(Case)
        .where(*_conditions(chosen, staff, now))
        .order_by(col(Case.due_at).is_(None), col(Case.due_at), col(Case.id))
        .offset((chosen.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = list((await session.exec(stmt)).all())
    viewer = Viewer(staff=staff)
    shown = [case for case in rows[:PAGE_SIZE] if await can_view_case(session, case, viewer)]
    return QueuePage(shown, len(rows) > PAGE_SIZE)
