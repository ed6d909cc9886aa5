"""Cases: proxy handling, grid reports, consultations, complaints and disputes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import enum_field, json_field, utc_field


class CaseKind(StrEnum):
    """The kinds of matter a case can be."""

    PROXY = "proxy"
    GRID_REPORT = "grid_report"
    CONSULTATION = "consultation"
    COMPLAINT = "complaint"
    DISPUTE = "dispute"
    RETURN_VISIT = "return_visit"


# In a return visit's details: the staff member the complaint concerns (who may not see it).
CONCERNS = "concerns_staff_id"


class CaseStatus(StrEnum):
    """Where a case stands."""

    NEW = "new"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    WAITING_RESIDENT = "waiting_resident"
    READY_FOR_PICKUP = "ready_for_pickup"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES = ("new", "assigned", "accepted", "waiting_resident")
# Written out, not bound: SQLite uses a partial index only when the query repeats its condition.
OPEN_CONDITION = "status IN (" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")"


class Case(SQLModel, table=True):
    """A matter that must get an answer (事事有答复、件件有着落)."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.Index("ix_case_resident_created", "resident_id", "created_at"),
        sa.Index("ix_case_assignee_status", "assignee_staff_id", "status"),
        sa.Index("ix_case_department_status", "department_id", "status"),
        sa.Index("ix_case_status_due", "status", "due_at"),
        # "My cases" reads only open cases: partial indexes keep it flat however many are closed.
        sa.Index(
            "ix_case_open_assignee_due",
            "assignee_staff_id",
            "due_at",
            sqlite_where=sa.text(OPEN_CONDITION),
            postgresql_where=sa.text(OPEN_CONDITION),
        ),
        sa.Index(
            "ix_case_open_unassigned_due",
            "department_id",
            "due_at",
            sqlite_where=sa.text(f"{OPEN_CONDITION} AND assignee_staff_id IS NULL"),
            postgresql_where=sa.text(f"{OPEN_CONDITION} AND assignee_staff_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=32, unique=True)
    kind: CaseKind = enum_field()
    category: str = Field(max_length=60)
    status: CaseStatus = enum_field(CaseStatus.NEW)
    summary: str = Field(max_length=2000)
    details: dict[str, Any] = json_field(default_factory=dict)
    resident_id: int | None = Field(default=None, foreign_key="resident.id")
    reporter_staff_id: int | None = Field(default=None, foreign_key="staff.id")
    department_id: int | None = Field(default=None, foreign_key="department.id")
    assignee_staff_id: int | None = Field(default=None, foreign_key="staff.id")
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    latitude: float | None = None
    longitude: float | None = None
    attachments: list[dict[str, Any]] = json_field(default_factory=list)
    first_reply_due_at: datetime | None = utc_field(nullable=True, default=None)
    due_at: datetime | None = utc_field(nullable=True, default=None)
    accepted_at: datetime | None = utc_field(nullable=True, default=None)
    first_replied_at: datetime | None = utc_field(nullable=True, default=None)
    resolved_at: datetime | None = utc_field(nullable=True, default=None)
    closed_at: datetime | None = utc_field(nullable=True, default=None)
    escalated_at: datetime | None = utc_field(nullable=True, default=None)
    created_at: datetime = utc_field(index=True)  # the Open311 list and the exports by period
    updated_at: datetime = utc_field()


class CaseEvent(SQLModel, table=True):
    """One step on a case's timeline: who did what, when."""

    __table_args__ = (sa.Index("ix_caseevent_case_at", "case_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id")
    at: datetime = utc_field()
    actor_kind: str = Field(max_length=16)  # resident, staff or system
    actor_id: int | None = None
    kind: str = Field(max_length=32)
    note: str | None = Field(default=None, max_length=2000)
    data: dict[str, Any] = json_field(default_factory=dict)


class CaseHandler(SQLModel, table=True):
    """A department handling a case: the lead, or a co-handler (协同) of a grid report."""

    case_id: int = Field(foreign_key="cases.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    lead: bool = True
    done_at: datetime | None = utc_field(nullable=True, default=None)
    # The dispatch step (街道呼叫): the department answers the call, or returns it with a reason.
    accepted_at: datetime | None = utc_field(nullable=True, default=None)
    returned_at: datetime | None = utc_field(nullable=True, default=None)
    return_reason: str | None = Field(default=None, max_length=500)


class RatingLevel(StrEnum):
    """The six-level window rating: 很满意、满意、一般、时间长、态度差、业务差."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    AVERAGE = "average"
    TOO_SLOW = "too_slow"
    BAD_ATTITUDE = "bad_attitude"
    POOR_SKILL = "poor_skill"


class Rating(SQLModel, table=True):
    """A resident's rating of an appointment or a case, counted for the staff member."""

    __table_args__ = (sa.UniqueConstraint("subject_kind", "subject_id", "resident_id"),)

    id: int | None = Field(default=None, primary_key=True)
    subject_kind: str = Field(max_length=16)  # appointment or case
    subject_id: int
    resident_id: int = Field(foreign_key="resident.id")
    staff_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    level: RatingLevel = enum_field()
    comment: str | None = Field(default=None, max_length=500)
    created_at: datetime = utc_field()
