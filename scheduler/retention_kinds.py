"""Retention per kind of record (issue 21): once a finished record is older than its kind's
period (LINLI_RETENTION_*_DAYS), its personal data is removed by models/anonymise.py and the
record kept, so every statistic stays; access log rows older than theirs are deleted.

A record is looked at only while it still holds something to remove, which the database can
tell without a marker column: a case without the anonymised mark in its details, a need with an
attachment or a location, a rating with a comment not yet removed, an appointment still naming
its chat account, an account with a nickname or a conversation. So a record is counted once,
a second run finds nothing, and a backlog (the first run over years) goes on at the next tick,
one short transaction per batch. Open cases, needs whose item is still going and appointments
still ahead are never touched: only finished ones, and only once their period is over.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from bot.config import Settings
from models.access_log import forget_views
from models.anonymise import (
    MARK,
    REMOVED,
    anonymise_accounts,
    anonymise_appointments,
    anonymise_case_events,
    anonymise_cases,
    anonymise_needs,
    anonymise_ratings,
)
from models.booking import Appointment
from models.cases import Case, CaseStatus, Rating
from models.messaging import ConversationState
from models.needs import Need, NeedItem, NeedStage
from models.people import ChannelIdentity
from scheduler.context import JobContext

# Batches one tick handles at most per kind; the rest waits for the next tick.
BATCHES_PER_TICK = 20
FINISHED_CASES = (CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.CANCELLED)
FINISHED_ITEMS = (NeedStage.DONE, NeedStage.REJECTED)

Candidates = Callable[[AsyncSession, datetime, int], Awaitable[Sequence[int]]]
Anonymise = Callable[[AsyncSession, Sequence[int]], Awaitable[int]]


@dataclass(frozen=True)
class Kind:
    """One kind of record: its period's setting, which records are due, how they are cleaned."""

    name: str
    days: Callable[[Settings], int]
    due: Candidates
    anonymise: Anonymise


async def _ids(session: AsyncSession, stmt: SelectOfScalar[int | None]) -> list[int]:
    return [found for found in (await session.exec(stmt)).all() if found is not None]


async def _due_cases(session: AsyncSession, cutoff: datetime, limit: int) -> list[int]:
    """Finished cases, closed (resolved, cancelled) before the cutoff, not yet anonymised."""
    finished_at = sa.func.coalesce(col(Case.closed_at), col(Case.resolved_at), col(Case.updated_at))
    stmt = (
        select(col(Case.id))
        .where(
            col(Case.status).in_(FINISHED_CASES),
            finished_at < cutoff,
            Case.details[MARK].as_string().is_(None),
        )
        .order_by(col(Case.id))
        .limit(limit)
    )
    return await _ids(session, stmt)


async def _anonymise_cases(session: AsyncSession, case_ids: Sequence[int]) -> int:
    """A case and its timeline go together (the timeline is found through the case's mark)."""
    await anonymise_case_events(session, case_ids)
    return await anonymise_cases(session, case_ids)


async def _due_needs(session: AsyncSession, cutoff: datetime, limit: int) -> list[int]:
    """Needs submitted before the cutoff whose item is done or turned down (also before it),
    or that never joined an item, still holding a photo or a location. Their words were
    cleaned when submitted."""
    finished_item = (
        select(col(NeedItem.id))
        .where(col(NeedItem.stage).in_(FINISHED_ITEMS), col(NeedItem.updated_at) < cutoff)
        .scalar_subquery()
    )
    stmt = (
        select(col(Need.id))
        .where(
            col(Need.created_at) < cutoff,
            sa.or_(col(Need.item_id).is_(None), col(Need.item_id).in_(finished_item)),
            sa.or_(
                col(Need.latitude).is_not(None),
                col(Need.longitude).is_not(None),
                sa.func.json_array_length(col(Need.attachments)) > 0,
            ),
        )
        .order_by(col(Need.id))
        .limit(limit)
    )
    return await _ids(session, stmt)


async def _due_ratings(session: AsyncSession, cutoff: datetime, limit: int) -> list[int]:
    """Ratings given before the cutoff whose comment is still there."""
    stmt = (
        select(col(Rating.id))
        .where(
            col(Rating.created_at) < cutoff,
            col(Rating.comment).is_not(None),
            col(Rating.comment) != REMOVED,
        )
        .order_by(col(Rating.id))
        .limit(limit)
    )
    return await _ids(session, stmt)


async def _due_appointments(session: AsyncSession, cutoff: datetime, limit: int) -> list[int]:
    """Appointments that were due before the cutoff (whatever became of them), still naming
    the chat account that booked them."""
    stmt = (
        select(col(Appointment.id))
        .where(col(Appointment.starts_at) < cutoff, col(Appointment.identity_id).is_not(None))
        .order_by(col(Appointment.id))
        .limit(limit)
    )
    return await _ids(session, stmt)


async def _due_accounts(session: AsyncSession, cutoff: datetime, limit: int) -> list[int]:
    """Residents' chat accounts last seen before the cutoff that still have a nickname or a
    conversation (staff accounts are the roster's)."""
    conversation = select(ConversationState.identity_id).where(
        col(ConversationState.identity_id) == col(ChannelIdentity.id)
    )
    stmt = (
        select(col(ChannelIdentity.id))
        .where(
            col(ChannelIdentity.staff_id).is_(None),
            col(ChannelIdentity.last_seen_at) < cutoff,
            sa.or_(col(ChannelIdentity.display_name).is_not(None), conversation.exists()),
        )
        .order_by(col(ChannelIdentity.id))
        .limit(limit)
    )
    return await _ids(session, stmt)


KINDS: tuple[Kind, ...] = (
    Kind("cases", lambda s: s.retention_cases_days, _due_cases, _anonymise_cases),
    Kind("needs", lambda s: s.retention_needs_days, _due_needs, anonymise_needs),
    Kind("ratings", lambda s: s.retention_ratings_days, _due_ratings, anonymise_ratings),
    Kind(
        "appointments",
        lambda s: s.retention_appointments_days,
        _due_appointments,
        anonymise_appointments,
    ),
    Kind(
        "accounts",
        lambda s: s.retention_inactive_accounts_days,
        _due_accounts,
        anonymise_accounts,
    ),
)


async def remove_expired_personal_data(ctx: JobContext) -> int:
    """Remove the personal data of every kind of record past its period, and delete access
    log rows past theirs; how many records changed or went."""
    now = ctx.clock.now()
    total = 0
    for kind in KINDS:
        total += await _sweep(ctx, kind, now - timedelta(days=kind.days(ctx.settings)))
    cutoff = now - timedelta(days=ctx.settings.retention_access_log_days)
    for _ in range(BATCHES_PER_TICK):
        async with ctx.sessions() as session, session.begin():
            gone = await forget_views(session, cutoff, ctx.batch)
        total += gone
        if gone < ctx.batch:
            break
    return total


async def _sweep(ctx: JobContext, kind: Kind, cutoff: datetime) -> int:
    """One kind, batch by batch, each in its own short transaction."""
    changed = 0
    for _ in range(BATCHES_PER_TICK):
        async with ctx.sessions() as session, session.begin():
            due = await kind.due(session, cutoff, ctx.batch)
            if due:
                changed += await kind.anonymise(session, due)
        if len(due) < ctx.batch:
            break
    return changed
