"""Appointment reminders: the evening before and an hour before, swept from the reminder table.

Each batch is one transaction: the outbox rows and the reminders' "done" marks commit
together, so a crash neither loses a reminder nor sends one twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.outgoing import Name, for_resident, pushes
from bot.outgoing.queue import outbox_values
from models.booking import Appointment
from models.messaging import OutboxMessage, Reminder
from models.reminders import (
    APPOINTMENT,
    HOUR_BEFORE,
    ReminderRules,
    Verdict,
    judge_appointment_reminder,
)
from models.services import Service
from scheduler.context import JobContext

logger = logging.getLogger(__name__)

_REMINDER = Reminder.__table__  # type: ignore[attr-defined]
_APPOINTMENT = Appointment.__table__  # type: ignore[attr-defined]
_SERVICE = Service.__table__  # type: ignore[attr-defined]
_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]

_DONE = (
    sa.update(_REMINDER)
    .where(_REMINDER.c.id == sa.bindparam("reminder_id"))
    .values(
        done=sa.bindparam("now_done"),
        outcome=sa.bindparam("new_outcome"),
        due_at=sa.bindparam("new_due", type_=_REMINDER.c.due_at.type),
    )
)


def reminder_rules(ctx: JobContext) -> ReminderRules:
    """The reminder times from the settings."""
    settings = ctx.settings
    return ReminderRules(settings.reminder_evening_at, settings.reminder_before)


async def send_due_reminders(ctx: JobContext) -> int:
    """Queue every due appointment reminder that is still useful; returns how many were queued."""
    queued = 0
    while True:
        async with ctx.engine.begin() as connection:
            rows = await _due(connection, ctx.clock.now(), ctx.batch)
            if not rows:
                return queued
            queued += await _handle_batch(connection, ctx, rows)


async def _due(connection: AsyncConnection, now: datetime, limit: int) -> list[Any]:
    stmt = (
        sa.select(
            _REMINDER.c.id,
            _REMINDER.c.kind,
            _REMINDER.c.due_at,
            _APPOINTMENT.c.id.label("appointment_id"),
            _APPOINTMENT.c.ref,
            _APPOINTMENT.c.status,
            _APPOINTMENT.c.starts_at,
            _APPOINTMENT.c.resident_id,
            _SERVICE.c.name_zh,
            _SERVICE.c.name_en,
        )
        .select_from(
            _REMINDER.outerjoin(
                _APPOINTMENT, _APPOINTMENT.c.id == _REMINDER.c.subject_id
            ).outerjoin(_SERVICE, _SERVICE.c.id == _APPOINTMENT.c.service_id)
        )
        .where(
            _REMINDER.c.subject_kind == APPOINTMENT,
            _REMINDER.c.done.is_(False),
            _REMINDER.c.due_at <= now,
        )
        .order_by(_REMINDER.c.due_at)
        .limit(limit)
    )
    return list((await connection.execute(stmt)).all())


async def _handle_batch(connection: AsyncConnection, ctx: JobContext, rows: list[Any]) -> int:
    now, rules = ctx.clock.now(), reminder_rules(ctx)
    marks, messages = [], []
    for row in rows:
        appointment = row if row.appointment_id is not None else None
        verdict, new_due = judge_appointment_reminder(row, appointment, rules, now)
        if verdict is Verdict.SEND:
            messages.append(_reminder_message(row, now))
        elif verdict is Verdict.EXPIRED:
            logger.info("reminder dropped: the appointment has begun", extra={"ref": row.ref})
        done = new_due is None
        marks.append(
            {
                "reminder_id": row.id,
                "now_done": done,
                "new_outcome": verdict.value if done else None,
                "new_due": new_due or row.due_at,
            }
        )
    await connection.execute(_DONE, marks)
    if messages:
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        await connection.execute(
            insert(_OUTBOX).on_conflict_do_nothing(index_elements=["dedupe_key"]), messages
        )
    return len(messages)


def _reminder_message(row: Any, now: datetime) -> dict[str, Any]:
    reminder = pushes.appointment_reminder(
        hour_before=row.kind == HOUR_BEFORE,
        service=Name(row.name_zh or "", row.name_en or ""),
        starts_at=row.starts_at,
        ref=row.ref,
    )
    return outbox_values(
        reminder, for_resident(row.resident_id), "reminder", now, f"reminder:{row.id}"
    )
