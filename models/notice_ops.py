"""Notices: write one, release it to its audience in bulk, cancel it, and report on it.

Releasing fans out with two INSERT … SELECT statements: an outbox row per reachable
resident-channel (its payload only names the notice; the worker fills in the text) and a
NoticeDelivery row per resident no chat account can reach. Nothing passes through Python per
resident. A small notice is released in the transaction that confirms it; a big one in steps of
20,000 residents, each its own transaction that also moves the notice's cursor, so SQLite's
writers are never held for long and a crash resumes after the last committed step.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.messaging import OutboxMessage, OutboxStatus
from models.notice_audience import Audience, resident_filter
from models.notices import DeliveryStatus, Notice, NoticeDelivery, NoticeStatus
from models.people import ChannelIdentity, Resident

# What a notice may be, whoever writes it (chat or desk): at least four letters or digits and at
# most 1,000 characters; an optional https link of at most 500.
TEXT_MIN, TEXT_MAX, URL_MAX = 4, 1000, 500
# Up to this many residents a notice is released in the sending transaction; a bigger one is
# released by the scheduler in steps within seconds.
INLINE_RESIDENTS = 5_000
UNREACHABLE_PREFIX = "unreachable: "  # last_error of a row that no account could take
NO_ACCOUNT = "no chat account"

_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_DELIVERY = NoticeDelivery.__table__  # type: ignore[attr-defined]
_RESIDENT = Resident.__table__  # type: ignore[attr-defined]
_IDENTITY = ChannelIdentity.__table__  # type: ignore[attr-defined]
_NOTICE = Notice.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AudienceCount:
    """How many residents an audience holds, and how many of them can be reached."""

    residents: int
    opted_out: int
    reachable_accounts: int
    unreachable: int


@dataclass
class NoticeReport:
    """Where a notice's deliveries stand."""

    audience: int
    opted_out: int
    accounts: int
    sent: int = 0
    pending: int = 0
    cancelled: int = 0
    unreachable: int = 0
    failed: int = 0
    failures: Counter[str] = field(default_factory=Counter)


def _usable_account() -> sa.ColumnElement[bool]:
    return sa.and_(
        _IDENTITY.c.resident_id == _RESIDENT.c.id,
        _IDENTITY.c.active.is_(True),
        _IDENTITY.c.unreachable.is_(False),
    )


def _wanted(audience: Audience, urgent: bool) -> sa.ColumnElement[bool]:
    """The audience, less those who opted out (urgent notices reach them too)."""
    area = resident_filter(audience)
    return area if urgent else sa.and_(area, _RESIDENT.c.notices_opt_out.is_(False))


async def count_audience(session: AsyncSession, audience: Audience, urgent: bool) -> AudienceCount:
    """The preview's numbers: residents, opted out, accounts to send to, unreachable."""
    connection = await session.connection()
    residents, opted_out = await _area_counts(connection, audience)
    wanted = _wanted(audience, urgent)
    accounts = await connection.scalar(
        sa.select(sa.func.count())
        .select_from(_RESIDENT.join(_IDENTITY, _usable_account()))
        .where(wanted)
    )
    unreachable = await connection.scalar(
        sa.select(sa.func.count())
        .where(wanted)
        .where(~sa.exists(sa.select(_IDENTITY.c.id).where(_usable_account())))
    )
    return AudienceCount(
        residents, 0 if urgent else opted_out, int(accounts or 0), int(unreachable or 0)
    )


async def _area_counts(connection: AsyncConnection, audience: Audience) -> tuple[int, int]:
    """Residents in the audience's area, and how many of them opted out of notices."""
    residents, opted_out = (
        await connection.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(_RESIDENT.c.notices_opt_out.is_(True)),
            ).where(resident_filter(audience))
        )
    ).one()
    return int(residents), int(opted_out)


FANOUT_CHUNK = 20_000  # residents per transaction when a big notice is fanned out in steps


def notice_text_ok(text: str) -> bool:
    """Whether a notice's text says something and fits."""
    return sum(ch.isalnum() for ch in text) >= TEXT_MIN and len(text) <= TEXT_MAX


def web_address(text: str) -> str | None:
    """An https address of at most 500 characters, or None."""
    candidate = text.strip()
    parts = urlsplit(candidate)
    ok = parts.scheme == "https" and bool(parts.netloc) and not any(c.isspace() for c in candidate)
    return candidate if ok and len(candidate) <= URL_MAX else None


async def create_notice(
    session: AsyncSession,
    *,
    author_id: int,
    text: str,
    link: str | None,
    urgent: bool,
    audience: Audience,
    residents: int,
    now: datetime,
    send_at: datetime | None = None,
) -> tuple[Notice, int | None]:
    """Write a notice (its audience already checked against the author's scope): a small one
    is released in this transaction (the outbox rows created are returned), a big or
    scheduled one by the scheduler in steps (None)."""
    inline = send_at is None and residents <= INLINE_RESIDENTS
    notice = Notice(
        author_staff_id=author_id,
        text=text[:TEXT_MAX],
        link_url=link,
        urgent=urgent,
        audience=audience.as_data(),
        status=NoticeStatus.SENDING if inline else NoticeStatus.SCHEDULED,
        send_at=send_at or now,
        created_at=now,
    )
    session.add(notice)
    await session.flush()
    if not inline:
        return notice, None
    return notice, await release_notice(await session.connection(), notice, now)


async def release_notice(connection: AsyncConnection, notice: Notice, now: datetime) -> int:
    """Fan a notice out in one go (in the caller's transaction); the outbox rows created."""
    created, unreachable = await fan_out(connection, notice, now)
    await mark_released(connection, notice, now, created, unreachable)
    return created


async def fan_out(
    connection: AsyncConnection,
    notice: Notice,
    now: datetime,
    after_id: int = 0,
    upto_id: int | None = None,
) -> tuple[int, int]:
    """Delivery rows for the audience's residents with after_id < id <= upto_id: outbox rows
    for reachable accounts, unreachable deliveries for the rest; both counts."""
    audience = Audience.from_data(notice.audience)
    wanted = sa.and_(_wanted(audience, notice.urgent), _RESIDENT.c.id > after_id)
    if upto_id is not None:
        wanted = sa.and_(wanted, _RESIDENT.c.id <= upto_id)
    accounts = (
        sa.select(
            _IDENTITY.c.id,
            _RESIDENT.c.id,
            _IDENTITY.c.channel,
            sa.literal("notice"),
            sa.literal({"notice": notice.id}, type_=_OUTBOX.c.payload.type),
            sa.literal(OutboxStatus.PENDING.value),
            sa.literal(0),
            sa.literal(now, type_=_OUTBOX.c.next_attempt_at.type),
            sa.literal(now, type_=_OUTBOX.c.created_at.type),
            sa.literal(notice.id),
        )
        .select_from(_RESIDENT.join(_IDENTITY, _usable_account()))
        .where(wanted)
    )
    created = (
        await connection.execute(sa.insert(_OUTBOX).from_select(_COLUMNS, accounts))
    ).rowcount
    nobody = (
        sa.select(
            sa.literal(notice.id),
            _RESIDENT.c.id,
            sa.literal(DeliveryStatus.UNREACHABLE.value),
            sa.literal(NO_ACCOUNT),
            sa.literal(now, type_=_DELIVERY.c.updated_at.type),
        )
        .where(wanted)
        .where(~sa.exists(sa.select(_IDENTITY.c.id).where(_usable_account())))
    )
    unreachable = (
        await connection.execute(
            sa.insert(_DELIVERY).from_select(
                ["notice_id", "resident_id", "status", "error", "updated_at"], nobody
            )
        )
    ).rowcount
    return int(created), int(unreachable)


_COLUMNS = [
    "identity_id",
    "resident_id",
    "channel",
    "kind",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "notice_id",
]


async def chunk_end(
    connection: AsyncConnection, after_id: int, size: int = FANOUT_CHUNK
) -> int | None:
    """The resident id that ends the next chunk after after_id (None: the rest is one chunk)."""
    stmt = (
        sa.select(_RESIDENT.c.id)
        .where(_RESIDENT.c.id > after_id)
        .order_by(_RESIDENT.c.id)
        .offset(size - 1)
        .limit(1)
    )
    found = await connection.scalar(stmt)
    return None if found is None else int(found)


async def mark_released(
    connection: AsyncConnection, notice: Notice, now: datetime, created: int, unreachable: int
) -> None:
    """Record a finished fan-out: the audience's numbers, and the notice as sending."""
    residents, opted_out = await _area_counts(connection, Audience.from_data(notice.audience))
    await connection.execute(
        sa.update(_NOTICE)
        .where(_NOTICE.c.id == notice.id)
        .values(
            status=NoticeStatus.SENDING.value,
            # Typed, so that SQLite stores the instant as UTC like every other column.
            started_at=sa.func.coalesce(
                _NOTICE.c.started_at, sa.literal(now, type_=_NOTICE.c.started_at.type)
            ),
            audience_size=residents,
            opted_out=0 if notice.urgent else opted_out,
            accounts=_NOTICE.c.accounts + created,
            unreachable=_NOTICE.c.unreachable + unreachable,
            fanned_out=True,
        )
    )


async def cancel_notice(session: AsyncSession, notice: Notice, now: datetime) -> int:
    """Withdraw a scheduled or sending notice; the number of deliveries that will not go out."""
    if notice.status not in (NoticeStatus.SCHEDULED, NoticeStatus.SENDING, NoticeStatus.DRAFT):
        return -1
    connection = await session.connection()
    withdrawn = await connection.execute(
        sa.update(_OUTBOX)
        .where(_OUTBOX.c.notice_id == notice.id, _OUTBOX.c.status == OutboxStatus.PENDING.value)
        .values(status=OutboxStatus.CANCELLED.value)
    )
    notice.status, notice.finished_at = NoticeStatus.CANCELLED, now
    session.add(notice)
    return int(withdrawn.rowcount)


async def notice_report(session: AsyncSession, notice: Notice) -> NoticeReport:
    """Audience size, sent, failed (and why), unreachable, cancelled and pending."""
    report = NoticeReport(notice.audience_size, notice.opted_out, notice.accounts)
    report.unreachable = notice.unreachable
    rows = await session.exec(
        select(OutboxMessage.status, OutboxMessage.last_error, sa.func.count())
        .where(OutboxMessage.notice_id == notice.id)
        .group_by(col(OutboxMessage.status), col(OutboxMessage.last_error))
    )
    for status, error, count in rows.all():
        if status == OutboxStatus.SENT:
            report.sent += count
        elif status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
            report.pending += count
        elif status == OutboxStatus.CANCELLED:
            report.cancelled += count
        elif error and error.startswith(UNREACHABLE_PREFIX):
            report.unreachable += count
            report.failures[error.removeprefix(UNREACHABLE_PREFIX)] += count
        else:
            report.failed += count
            report.failures[error or "unknown"] += count
    return report


async def still_sending(session: AsyncSession, notice: Notice) -> bool:
    """Whether any delivery of the notice is waiting or being sent (one indexed lookup)."""
    waiting = sa.select(_OUTBOX.c.id).where(
        _OUTBOX.c.notice_id == notice.id,
        _OUTBOX.c.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]),
    )
    return bool(await session.scalar(sa.select(sa.exists(waiting))))


async def due_notices(session: AsyncSession, now: datetime) -> list[Notice]:
    """Scheduled notices whose time has come."""
    stmt = select(Notice).where(Notice.status == NoticeStatus.SCHEDULED, col(Notice.send_at) <= now)
    return list((await session.exec(stmt.order_by(col(Notice.id)))).all())
