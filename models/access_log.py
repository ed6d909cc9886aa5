"""Who looked at whose unmasked personal data, when and why: every such view is written here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utc_field
from models.cases import Case


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


CASE_SUBJECT = "case:"


def case_id_of(subject: str) -> int | None:
    """The case id of a subject such as "case:12", else None."""
    rest = subject.removeprefix(CASE_SUBJECT)
    if rest == subject or not rest.isdecimal() or len(rest) > 9:
        return None
    return int(rest)


async def case_refs(session: AsyncSession, views: Sequence[PersonalDataView]) -> dict[int, str]:
    """The reference numbers of the cases the views were on, by case id."""
    ids = {found for found in (case_id_of(view.subject) for view in views) if found is not None}
    if not ids:
        return {}
    rows = await session.exec(select(Case.id, Case.ref).where(col(Case.id).in_(ids)))
    return {case_id: ref for case_id, ref in rows.all() if case_id is not None}


async def recent_views(
    session: AsyncSession,
    *,
    staff_id: int | None = None,
    resident_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[PersonalDataView]:
    """The latest views, newest first: all, or those of one staff member, about one resident,
    from `since` (inclusive) and before `until` (exclusive)."""
    stmt = select(PersonalDataView)
    if staff_id is not None:
        stmt = stmt.where(PersonalDataView.staff_id == staff_id)
    if resident_id is not None:
        stmt = stmt.where(PersonalDataView.resident_id == resident_id)
    if since is not None:
        stmt = stmt.where(col(PersonalDataView.at) >= since)
    if until is not None:
        stmt = stmt.where(col(PersonalDataView.at) < until)
    stmt = stmt.order_by(col(PersonalDataView.at).desc(), col(PersonalDataView.id).desc())
    return list((await session.exec(stmt.limit(limit))).all())


async def forget_views(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete at most `limit` views older than a moment (the log's own retention), oldest
    first; how many went."""
    oldest = (
        select(col(PersonalDataView.id))
        .where(col(PersonalDataView.at) < before)
        .order_by(col(PersonalDataView.at))
        .limit(limit)
    )
    ids = list((await session.exec(oldest)).all())
    if not ids:
        return 0
    await session.exec(sa.delete(PersonalDataView).where(col(PersonalDataView.id).in_(ids)))
    return len(ids)
