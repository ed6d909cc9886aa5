"""Who looked at whose unmasked personal data, when and why: every such view is written here."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utc_field


class PersonalDataView(SQLModel, table=True):
    """One view of unmasked personal data (a resident's full phone number, for instance)."""

    __table_args__ = (sa.Index("ix_personaldataview_staff_at", "staff_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field()
    staff_id: int = Field(foreign_key="staff.id")
    resident_id: int | None = Field(default=None, foreign_key="resident.id", index=True)
    subject: str = Field(max_length=40)  # what record it was seen on, e.g. "case:12"
    field_name: str = Field(max_length=24)  # which datum, e.g. "phone"
    why: str = Field(max_length=80)  # the purpose, e.g. "case accepted: call the resident"
    place: str = Field(max_length=16)  # where it was shown: chat or desk


def log_view(
    session: AsyncSession,
    *,
    staff_id: int,
    resident_id: int | None,
    subject: str,
    field_name: str,
    why: str,
    place: str,
    now: datetime,
) -> PersonalDataView:
    """Write down one unmasked view; it is saved with the transaction that showed it."""
    view = PersonalDataView(
        at=now,
        staff_id=staff_id,
        resident_id=resident_id,
        subject=subject[:40],
        field_name=field_name[:24],
        why=why[:80],
        place=place[:16],
    )
    session.add(view)
    return view


async def recent_views(
    session: AsyncSession, *, staff_id: int | None = None, limit: int = 200
) -> list[PersonalDataView]:
    """The latest views, newest first (all, or one staff member's)."""
    stmt = select(PersonalDataView)
    if staff_id is not None:
        stmt = stmt.where(PersonalDataView.staff_id == staff_id)
    stmt = stmt.order_by(col(PersonalDataView.at).desc(), col(PersonalDataView.id).desc())
    return list((await session.exec(stmt.limit(limit))).all())
