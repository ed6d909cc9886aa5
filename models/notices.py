"""Notices broadcast by grid leaders and street staff, and their per-account deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import enum_field, json_field, utc_field


class NoticeStatus(StrEnum):
    """Where a notice stands."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class DeliveryStatus(StrEnum):
    """What became of one notice for one chat account."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


class Notice(SQLModel, table=True):
    """A message to the residents of an area (a grid, communities, the street, a filter)."""

    id: int | None = Field(default=None, primary_key=True)
    author_staff_id: int = Field(foreign_key="staff.id", index=True)
    text: str = Field(max_length=2000)
    link_url: str | None = Field(default=None, max_length=500)
    image_url: str | None = Field(default=None, max_length=500)
    urgent: bool = False
    audience: dict[str, Any] = json_field(default_factory=dict)
    status: NoticeStatus = enum_field(NoticeStatus.DRAFT, index=True)
    send_at: datetime | None = utc_field(nullable=True, default=None)
    audience_size: int = 0  # residents in the area
    opted_out: int = 0  # of those, left out because they opted out (non-urgent notices only)
    accounts: int = 0  # delivery rows created: one per reachable resident-channel
    unreachable: int = 0  # residents with no chat account we can reach (listed as deliveries)
    created_at: datetime = utc_field()
    started_at: datetime | None = utc_field(nullable=True, default=None)
    finished_at: datetime | None = utc_field(nullable=True, default=None)
    fanout_cursor: int = 0  # residents up to this id have their delivery rows
    fanned_out: bool = False


class NoticeDelivery(SQLModel, table=True):
    """A resident a notice could not reach (no usable chat account), so that a grid worker can
    tell them in person; deliveries to chat accounts are the notice's outbox rows."""

    __table_args__ = (
        sa.UniqueConstraint("notice_id", "identity_id"),
        sa.Index("ix_noticedelivery_notice_status", "notice_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id")
    resident_id: int = Field(foreign_key="resident.id")
    identity_id: int | None = Field(default=None, foreign_key="channelidentity.id")
    status: DeliveryStatus = enum_field(DeliveryStatus.PENDING)
    outbox_id: int | None = Field(default=None, foreign_key="outboxmessage.id")
    error: str | None = Field(default=None, max_length=200)
    updated_at: datetime = utc_field()
