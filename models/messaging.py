"""Messages in and out: the dedupe log, conversation state, the outbox, reminders and bind codes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import enum_field, json_field, utc_field
from models.db import transaction_lock


class OutboxStatus(StrEnum):
    """Where an outgoing message stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"  # a notice withdrawn while still sending


class InboundMessage(SQLModel, table=True):
    """A message we have handled, kept so that a redelivery returns the first reply.

    The sender is part of the key: a web client picks its own message ids, and must never be
    able to read another person's replies by reusing theirs.
    """

    channel: str = Field(max_length=16, primary_key=True)
    user_ref: str = Field(max_length=128, primary_key=True)
    message_id: str = Field(max_length=128, primary_key=True)
    identity_id: int | None = Field(default=None, foreign_key="channelidentity.id")
    received_at: datetime = utc_field(index=True)
    replies: list[dict[str, Any]] = json_field(default_factory=list)


class ConversationState(SQLModel, table=True):
    """Where a chat account is in a multi-step flow; reset when older than the timeout."""

    identity_id: int = Field(foreign_key="channelidentity.id", primary_key=True)
    name: str = Field(default="", max_length=64)
    data: dict[str, Any] = json_field(default_factory=dict)
    updated_at: datetime = utc_field()


async def remember_options(
    connection: AsyncConnection,
    identity_id: int,
    options: list[str],
    now: datetime,
    labels: list[str] | None = None,
) -> bool:
    """Make options (a push's buttons) the account's current ones, so that a number typed next
    answers them; whether they were taken.

    They replace the options shown last, as the newest message on the screen; but a flow's step
    that shows no options is left alone, because it asks for a typed number itself (choose
    items by number, a community from a list). The write is a compare-and-set on the state as
    read, so a conversation that changed it meanwhile is never overwritten.
    """
    table = ConversationState.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    shown: dict[str, Any] = {"options": options}
    if labels is not None and len(labels) == len(options):
        shown["labels"] = labels
    fresh = {"identity_id": identity_id, "name": "", "data": shown}
    created = await connection.execute(
        insert(table)
        .values(**fresh, updated_at=now)
        .on_conflict_do_nothing(index_elements=["identity_id"])
    )
    if created.rowcount:
        return True
    found = await connection.execute(
        sa.select(table.c.name, table.c.data, table.c.updated_at).where(
            table.c.identity_id == identity_id
        )
    )
    row = found.one_or_none()
    data = dict(row.data or {}) if row is not None else {}
    if row is None or (row.name and not data.get("options")):
        return False
    changed = await connection.execute(
        sa.update(table)
        .where(
            table.c.identity_id == identity_id,
            table.c.name == row.name,
            table.c.updated_at == row.updated_at,
        )
        .values(data={**{k: v for k, v in data.items() if k != "labels"}, **shown})
    )
    return bool(changed.rowcount)


class OutboxMessage(SQLModel, table=True):
    """A message we send on our own, written in the transaction that causes it."""

    # Conversation messages and notice deliveries are claimed from separate partial indexes, so
    # a broadcast of 300,000 rows never stands in front of a reply.
    __table_args__ = (
        sa.Index(
            "ix_outbox_status_due",
            "status",
            "next_attempt_at",
            sqlite_where=sa.text("notice_id IS NULL"),
            postgresql_where=sa.text("notice_id IS NULL"),
        ),
        sa.Index(
            "ix_outbox_bulk_due",
            "status",
            "next_attempt_at",
            sqlite_where=sa.text("notice_id IS NOT NULL"),
            postgresql_where=sa.text("notice_id IS NOT NULL"),
        ),
        sa.Index("ix_outbox_notice_status", "notice_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int | None = Field(default=None, foreign_key="channelidentity.id")
    resident_id: int | None = Field(default=None, foreign_key="resident.id")
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    channel: str | None = Field(default=None, max_length=16)
    kind: str = Field(max_length=24)  # alert, reminder, notice, reply, follow_up, digest
    payload: dict[str, Any] = json_field(default_factory=dict)
    dedupe_key: str | None = Field(default=None, max_length=128, unique=True)
    status: OutboxStatus = enum_field(OutboxStatus.PENDING)
    attempts: int = 0
    next_attempt_at: datetime = utc_field()
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = utc_field(nullable=True, default=None)
    sent_at: datetime | None = utc_field(nullable=True, default=None)
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = utc_field()
    notice_id: int | None = Field(default=None, foreign_key="notice.id")


class Reminder(SQLModel, table=True):
    """A timed action over a row (an appointment, a case); swept by a periodic tick."""

    __table_args__ = (
        sa.UniqueConstraint("subject_kind", "subject_id", "kind"),
        sa.Index("ix_reminder_due", "done", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject_kind: str = Field(max_length=16)
    subject_id: int
    kind: str = Field(max_length=32)
    due_at: datetime = utc_field()
    done: bool = False
    outcome: str | None = Field(default=None, max_length=32)


class BindCode(SQLModel, table=True):
    """A one-time code that links a chat account to a staff member or a resident."""

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=128, unique=True)
    # A keyed hash of the code's first characters: which code a wrong guess was aimed at.
    selector: str | None = Field(default=None, max_length=32, index=True)
    failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    resident_id: int | None = Field(default=None, foreign_key="resident.id")
    expires_at: datetime = utc_field()
    used_at: datetime | None = utc_field(nullable=True, default=None)
    created_at: datetime = utc_field()


class BindAttempt(SQLModel, table=True):
    """One try at redeeming a bind code, kept to slow down guessing."""

    __table_args__ = (sa.Index("ix_bindattempt_identity_at", "identity_id", "attempted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="channelidentity.id")
    attempted_at: datetime = utc_field(index=True)
    succeeded: bool = False


class WeChatCallback(SQLModel, table=True):
    """A signed WeChat callback seen lately: its (timestamp, nonce, signature) and the message
    it first carried, so a capture replayed with another message or sender is refused."""

    timestamp: str = Field(max_length=16, primary_key=True)
    nonce: str = Field(max_length=64, primary_key=True)
    signature: str = Field(max_length=64, primary_key=True)
    sender: str = Field(max_length=128)
    message_id: str = Field(max_length=160)
    seen_at: datetime = utc_field(index=True)


async def bind_callback(
    connection: AsyncConnection,
    *,
    key: tuple[str, str, str],
    sender: str,
    message_id: str,
    now: datetime,
) -> tuple[str, str]:
    """Remember that the callback key (timestamp, nonce, signature) carried this message.

    Returns the (sender, message id) the key was first seen with: this one for a new key or
    the platform's own retry, another one for a replay. Safe across instances: the key is the
    primary key and the first insert wins.
    """
    table = WeChatCallback.__table__  # type: ignore[attr-defined]
    timestamp, nonce, signature = key
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    row = {"timestamp": timestamp, "nonce": nonce, "signature": signature}
    stmt = (
        insert(table)
        .values(**row, sender=sender, message_id=message_id, seen_at=now)
        .on_conflict_do_nothing(index_elements=["timestamp", "nonce", "signature"])
    )
    if (await connection.execute(stmt)).rowcount:
        return sender, message_id
    first = await connection.execute(
        sa.select(table.c.sender, table.c.message_id).where(
            *(table.c[name] == value for name, value in row.items())
        )
    )
    found = first.one()
    return str(found.sender), str(found.message_id)


async def forget_callbacks(connection: AsyncConnection, before: datetime) -> int:
    """Drop remembered callbacks seen before a moment (older ones fail the time window)."""
    table = WeChatCallback.__table__  # type: ignore[attr-defined]
    result = await connection.execute(sa.delete(table).where(table.c.seen_at < before))
    return int(result.rowcount or 0)


class ReferenceCounter(SQLModel, table=True):
    """The last sequence number handed out for a prefix on a day."""

    prefix: str = Field(max_length=16, primary_key=True)
    day: str = Field(max_length=8, primary_key=True)
    last: int = 0


class JobRun(SQLModel, table=True):
    """The last run of a periodic tick, so an operator can see the scheduler is alive."""

    name: str = Field(max_length=64, primary_key=True)
    last_started_at: datetime | None = utc_field(nullable=True, default=None)
    last_finished_at: datetime | None = utc_field(nullable=True, default=None)
    outcome: str | None = Field(default=None, max_length=200)


def outbox_row(
    *,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    identity_id: int | None = None,
    channel: str | None = None,
    resident_id: int | None = None,
    staff_id: int | None = None,
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """The column values of a new, due outbox row (for Core inserts)."""
    return {
        "identity_id": identity_id,
        "channel": channel,
        "resident_id": resident_id,
        "staff_id": staff_id,
        "kind": kind,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def queue_message(connection: AsyncConnection, **values: Any) -> int:
    """Write an outgoing message in the caller's transaction (one INSERT); returns its id.

    Takes the keyword arguments of ``outbox_row``. The delivery worker sends it once the
    transaction commits, and never if it rolls back.
    """
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    result = await connection.execute(sa.insert(table).returning(table.c.id), outbox_row(**values))
    return int(result.scalar_one())


async def queue_once(connection: AsyncConnection, *, dedupe_key: str, **values: Any) -> bool:
    """Queue a message unless one with this dedupe key exists; whether it was queued.

    Sweeps that may run twice (two instances, a retried tick) use this so a person never gets
    the same reminder twice.
    """
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(table)
        .values(outbox_row(dedupe_key=dedupe_key, **values))
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    result = await connection.execute(stmt)
    return bool(result.rowcount)


class ApiToken(SQLModel, table=True):
    """A platform access token shared by every instance (fetched once, refreshed before expiry)."""

    name: str = Field(max_length=64, primary_key=True)
    token: str = Field(max_length=600)
    expires_at: datetime = utc_field()


async def read_api_token(session: AsyncSession, name: str) -> ApiToken | None:
    """The stored token for a platform app, if any."""
    return await session.get(ApiToken, name)


async def lock_api_token(session: AsyncSession, name: str) -> ApiToken | None:
    """The stored token, locked until commit on PostgreSQL (SQLite transactions are serial)."""
    # A row lock cannot hold a row not yet there: before the first token, two instances would
    # both fetch one (the platform then voids the first). A lock named after it can.
    await transaction_lock(session, f"api-token:{name}")
    stmt = select(ApiToken).where(ApiToken.name == name).with_for_update()
    return (await session.exec(stmt)).first()


async def save_api_token(
    session: AsyncSession, name: str, token: str, expires_at: datetime
) -> None:
    """Store a freshly fetched token."""
    row = await session.get(ApiToken, name)
    if row is None:
        row = ApiToken(name=name, token=token, expires_at=expires_at)
    row.token, row.expires_at = token, expires_at
    session.add(row)
