"""Timed actions over rows: appointment reminders, and a ledger of case follow-ups and alerts.

A reminder is a row, not a scheduler job: the periodic sweep finds the due ones, so nothing is
lost across restarts and 100,000 appointments cost no memory in the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus
from models.messaging import Reminder

APPOINTMENT = "appointment"
CASE = "case"
EVENING_BEFORE = "evening_before"
HOUR_BEFORE = "hour_before"

_REMINDER = Reminder.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ReminderRules:
    """When appointment reminders go out (both configurable)."""

    evening_at: time = time(18, 0)
    before: timedelta = timedelta(hours=1)

    def due_at(self, kind: str, starts_at: datetime) -> datetime:
        """When a reminder of this kind is due for an appointment starting at starts_at."""
        if kind == HOUR_BEFORE:
            return starts_at - self.before
        evening = starts_at.astimezone(SHANGHAI).date() - timedelta(days=1)
        return datetime.combine(evening, self.evening_at, tzinfo=SHANGHAI)


class Verdict(StrEnum):
    """What the sweep does with a due appointment reminder."""

    SEND = "sent"
    CANCELLED = "cancelled"  # the appointment was cancelled or already dealt with
    MOVED = "moved"  # the appointment moved: the reminder waits for the new time
    SUPERSEDED = "superseded"  # a later reminder is due too (e.g. after downtime): send only that
    EXPIRED = "expired"  # the appointment has begun: a reminder would be useless


async def schedule_appointment_reminders(
    session: AsyncSession, appointment: Appointment, rules: ReminderRules, now: datetime
) -> list[Reminder]:
    """Create (or move) an appointment's reminders; those already past are not made."""
    made = []
    for kind in (EVENING_BEFORE, HOUR_BEFORE):
        due = rules.due_at(kind, appointment.starts_at)
        if due <= now or appointment.id is None:
            continue
        stmt = select(Reminder).where(
            Reminder.subject_kind == APPOINTMENT,
            Reminder.subject_id == appointment.id,
            Reminder.kind == kind,
        )
        reminder = (await session.exec(stmt)).first() or Reminder(
            subject_kind=APPOINTMENT, subject_id=appointment.id, kind=kind, due_at=due
        )
        reminder.due_at, reminder.done, reminder.outcome = due, False, None
        session.add(reminder)
        made.append(reminder)
    return made


class DueReminder(Protocol):
    """What judging needs of a reminder (a Reminder row, or a plain row from a sweep query)."""

    kind: str
    due_at: datetime


class RemindedAppointment(Protocol):
    """What judging needs of an appointment."""

    status: str
    starts_at: datetime


def judge_appointment_reminder(
    reminder: DueReminder,
    appointment: RemindedAppointment | None,
    rules: ReminderRules,
    now: datetime,
) -> tuple[Verdict, datetime | None]:
    """Send, skip or move a due reminder; a moved one comes back with its new due time."""
    if appointment is None or appointment.status != AppointmentStatus.BOOKED:
        return Verdict.CANCELLED, None
    if appointment.starts_at <= now:
        return Verdict.EXPIRED, None
    expected = rules.due_at(reminder.kind, appointment.starts_at)
    if expected != reminder.due_at:
        return Verdict.MOVED, expected if expected > now else None
    if reminder.kind == EVENING_BEFORE and now >= rules.due_at(HOUR_BEFORE, appointment.starts_at):
        return Verdict.SUPERSEDED, None
    return Verdict.SEND, None


async def due_reminders(
    session: AsyncSession, subject_kind: str, now: datetime, limit: int
) -> list[Reminder]:
    """The oldest due, undone reminders of one kind of subject."""
    stmt = (
        select(Reminder)
        .where(
            Reminder.subject_kind == subject_kind,
            col(Reminder.done).is_(False),
            col(Reminder.due_at) <= now,
        )
        .order_by(col(Reminder.due_at))
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def mark_once(
    connection: AsyncConnection, subject_kind: str, subject_id: int, kind: str, now: datetime
) -> bool:
    """Record that something happened to a subject (a follow-up, an escalation) unless it
    already has; whether this call was the first. The unique key makes it exactly once."""
    values = {
        "subject_kind": subject_kind,
        "subject_id": subject_id,
        "kind": kind,
        "due_at": now,
        "done": True,
        "outcome": "sent",
    }
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(_REMINDER)
        .values(values)
        .on_conflict_do_nothing(index_elements=["subject_kind", "subject_id", "kind"])
    )
    return bool((await connection.execute(stmt)).rowcount)


def not_yet_marked(subject_kind: str, kind: str, subject_id: Any) -> sa.ColumnElement[bool]:
    """A WHERE clause: the subject has no ledger entry of this kind yet."""
    return ~sa.exists().where(
        _REMINDER.c.subject_kind == subject_kind,
        _REMINDER.c.kind == kind,
        _REMINDER.c.subject_id == subject_id,
    )
