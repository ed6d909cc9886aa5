"""The service catalogue, its opening rules and the holiday overrides an operator maintains."""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import enum_field, json_field


class DayKind(StrEnum):
    """Which opening rule a day follows."""

    WORKDAY = "workday"
    HOLIDAY = "holiday"


class Service(SQLModel, table=True):
    """One item of the service menu (e.g. 社保卡补办)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=48, unique=True)
    name_zh: str = Field(max_length=80, index=True)
    name_en: str = Field(max_length=160)
    department_id: int = Field(foreign_key="department.id", index=True)
    category_zh: str = Field(max_length=40)
    category_en: str = Field(max_length=80)
    duration_minutes: int = 15
    weekend: bool = False
    proxy: bool = False
    active: bool = True
    documents_zh: list[str] = json_field(default_factory=list)
    documents_en: list[str] = json_field(default_factory=list)


class OpeningRule(SQLModel, table=True):
    """Opening hours for a kind of day; a service-specific row overrides the street's default."""

    __table_args__ = (sa.UniqueConstraint("day_kind", "service_id"),)

    id: int | None = Field(default=None, primary_key=True)
    day_kind: DayKind = enum_field()
    service_id: int | None = Field(default=None, foreign_key="service.id")
    opens: time
    closes: time
    slot_minutes: int = 30


class HolidayOverride(SQLModel, table=True):
    """A date the holiday calendar package does not know or gets wrong for this street."""

    day: date = Field(primary_key=True)
    day_kind: DayKind = enum_field()
    name_zh: str = Field(default="", max_length=80)
    name_en: str = Field(default="", max_length=120)


class FaqEntry(SQLModel, table=True):
    """A question residents ask and the street's answer."""

    id: int | None = Field(default=None, primary_key=True)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    question_zh: str = Field(max_length=200, unique=True)
    answer_zh: str = Field(max_length=2000)
    question_en: str = Field(default="", max_length=300)
    answer_en: str = Field(default="", max_length=3000)
    keywords: list[str] = json_field(default_factory=list)


async def count_services(session: AsyncSession, *, weekend_only: bool = False) -> int:
    """How many active services there are (on weekend/holiday mornings, if asked)."""
    stmt = select(sa.func.count()).select_from(Service).where(Service.active == True)  # noqa: E712
    if weekend_only:
        stmt = stmt.where(Service.weekend == True)  # noqa: E712
    return int((await session.exec(stmt)).one())
