"""Residents' needs, merged into items that are ranked by demand and carried out."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col

from models.base import enum_field, json_field, utc_field


class NeedStage(StrEnum):
    """征集 → 立项 → 策划 → 论证 → 实施 → 完成, or 不予立项."""

    COLLECTING = "collecting"
    APPROVED = "approved"
    PLANNING = "planning"
    REVIEW = "review"
    IMPLEMENTING = "implementing"
    DONE = "done"
    REJECTED = "rejected"


class NeedItem(SQLModel, table=True):
    """A merged need that residents support; ranked by distinct supporters."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=120)
    category: str = Field(max_length=40, index=True)
    stage: NeedStage = enum_field(NeedStage.COLLECTING, index=True)
    stage_reason: str | None = Field(default=None, max_length=500)
    supporters: int = Field(default=0, index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    merged_into_id: int | None = Field(default=None, foreign_key="needitem.id")
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field(index=True)  # the matcher re-reads items changed since


class Need(SQLModel, table=True):
    """One resident's need in their own words."""

    __table_args__ = (sa.UniqueConstraint("resident_id", "text_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    submitted_by_staff_id: int | None = Field(default=None, foreign_key="staff.id")
    text: str = Field(max_length=2000)
    text_hash: str = Field(max_length=64, index=True)  # neighbours' needs in the same words
    category: str | None = Field(default=None, max_length=40)
    item_id: int | None = Field(default=None, foreign_key="needitem.id", index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id")
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    compound_id: int | None = Field(default=None, foreign_key="compound.id")
    latitude: float | None = None
    longitude: float | None = None
    attachments: list[dict[str, Any]] = json_field(default_factory=list)
    created_at: datetime = utc_field(index=True)


# An item still collecting support or being carried out: not merged away, not done or rejected.
OPEN_ITEM = (
    col(NeedItem.merged_into_id).is_(None),
    col(NeedItem.stage).not_in([NeedStage.DONE, NeedStage.REJECTED]),
)


class NeedSupport(SQLModel, table=True):
    """A resident's +1 on an item; one per person."""

    item_id: int = Field(foreign_key="needitem.id", primary_key=True)
    resident_id: int = Field(foreign_key="resident.id", primary_key=True, index=True)
    created_at: datetime = utc_field()


class NeedItemEvent(SQLModel, table=True):
    """A change of an item's stage, title or membership, for its history."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="needitem.id", index=True)
    at: datetime = utc_field()
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    kind: str = Field(max_length=24)
    note: str | None = Field(default=None, max_length=500)
