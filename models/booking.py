"""Duty roster, bookable slots, appointments and the waitlist."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import enum_field, utc_field


class AppointmentStatus(StrEnum):
    """Where an appointment stands."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


class WaitlistStatus(StrEnum):
    """Where a waitlist entry stands."""

    WAITING = "waiting"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class RosterShift(SQLModel, table=True):
    """A staff member on duty at a window for part of a day."""

    __table_args__ = (sa.UniqueConstraint("staff_id", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    day: date = Field(index=True)
    starts_at: datetime = utc_field()
    ends_at: datetime = utc_field()
    window: int | None = None


class BookingSlot(SQLModel, table=True):
    """Bookable places for one service at one time; the database enforces booked <= capacity."""

    __table_args__ = (
        sa.UniqueConstraint("service_id", "starts_at"),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="slot_capacity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="service.id")
    day: date = Field(index=True)
    starts_at: datetime = utc_field()
    ends_at: datetime = utc_field()
    capacity: int = 0
    booked: int = 0


class Appointment(SQLModel, table=True):
    """A resident's booking of a slot."""

    __table_args__ = (sa.Index("ix_appointment_resident_status", "resident_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=32, unique=True)
    resident_id: int = Field(foreign_key="resident.id")
    service_id: int = Field(foreign_key="service.id")
    slot_id: int = Field(foreign_key="bookingslot.id", index=True)
    identity_id: int | None = Field(default=None, foreign_key="channelidentity.id")
    status: AppointmentStatus = enum_field(AppointmentStatus.BOOKED)
    starts_at: datetime = utc_field(index=True)
    checked_in_at: datetime | None = utc_field(nullable=True, default=None)
    served_by_staff_id: int | None = Field(default=None, foreign_key="staff.id")
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()


class WaitlistEntry(SQLModel, table=True):
    """A resident waiting for a place in a full slot."""

    __table_args__ = (sa.UniqueConstraint("slot_id", "resident_id"),)

    id: int | None = Field(default=None, primary_key=True)
    slot_id: int = Field(foreign_key="bookingslot.id", index=True)
    resident_id: int = Field(foreign_key="resident.id")
    status: WaitlistStatus = enum_field(WaitlistStatus.WAITING)
    offer_expires_at: datetime | None = utc_field(nullable=True, default=None)
    created_at: datetime = utc_field()
