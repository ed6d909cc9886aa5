"""A resident's right to deletion (删除我的数据): their personal data removed from every table,
their upcoming appointments cancelled (the places go back), and the records the law requires
kept without personal data, so that every statistic is the same afterwards.

Every table that points at a resident or a chat account has a rule here (ERASURE_RULES); a
test checks that no such table is left without one, so a new table cannot be forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.access_log import PersonalDataView
from models.anonymise import (
    anonymise_accounts,
    anonymise_appointments,
    anonymise_case_events,
    anonymise_cases,
    anonymise_needs,
    anonymise_ratings,
)
from models.appointments import BookingLimits, cancel_appointment, lapse_offer
from models.booking import Appointment, AppointmentStatus, WaitlistEntry, WaitlistStatus
from models.case_ops import record
from models.cases import OPEN_STATUSES, Case, Rating
from models.consent import Consent
from models.inbox import WebInboxItem
from models.messaging import BindCode, InboundMessage, OutboxMessage
from models.needs import Need
from models.people import ChannelIdentity, Resident, set_id_number, set_phone

# What happens to each table that points at a resident or a chat account, and why.
ERASURE_RULES = {
    "resident": "kept as an empty shell (community and grid only) for the statistics",
    "channelidentity": "unlinked; display name and conversation in progress removed",
    "appointment": "upcoming ones cancelled; all kept for statistics without the chat account",
    "waitlistentry": "waiting entries deleted, held offers passed on",
    "cases": "kept (government service records), personal data removed from every text",
    "need": "kept (demand ranking), personal data removed from the words",
    "needsupport": "kept (a +1 holds no personal data; it counts in the ranking)",
    "rating": "kept (satisfaction statistics), personal data removed from the comment",
    "windowvisit": "kept (a visit holds no personal data; it counts in the statistics)",
    "noticedelivery": "kept (delivery statistics; it holds no text)",
    "outboxmessage (notice)": "kept for the notice's report, pointing at no one",
    "consent": "kept, marked withdrawn (proof of what was agreed; no personal data)",
    "personaldataview": "kept (the law asks for the record of who looked; no personal data)",
    "bindcode": "deleted",
    "inboundmessage": "deleted (the replies it kept may hold personal data), staff's copies of"
    " the case card holding the number too",
    "outboxmessage": "deleted (messages to the person, their text in the payload)",
    "webinboxitem": "deleted (what the web chat was sent)",
    "conversationstate": "deleted with the conversation in progress",
    "bindattempt": "kept (guess counting; no personal data)",
}


@dataclass
class Erasure:
    """What a deletion removed and what it kept (counts), for the resident's answer."""

    accounts: int = 0
    messages: int = 0
    words: int = 0
    cancelled: int = 0
    open_cases: int = 0  # still being handled, now without a way to reach the resident
    kept: dict[str, int] = field(default_factory=dict)
    offered: list[WaitlistEntry] = field(default_factory=list)


async def erase_resident(
    session: AsyncSession, resident_id: int, now: datetime, limits: BookingLimits
) -> Erasure:
    """Remove a resident's personal data everywhere, keeping what the law requires."""
    resident = await session.get(Resident, resident_id)
    erasure = Erasure()
    if resident is None:
        return erasure
    names = [resident.name] if resident.name else []
    await _appointments(session, resident_id, now, limits, erasure)
    erasure.words += await _words(session, resident_id, names, erasure)
    erasure.open_cases = await _tell_handlers(session, resident_id, now)
    accounts = await _ids(session, ChannelIdentity.id, ChannelIdentity.resident_id, resident_id)
    erasure.messages = await _messages(session, resident_id, accounts)
    erasure.messages += await _copies_shown_to_staff(session, resident)
    await anonymise_accounts(session, accounts)
    await session.exec(
        sa.update(ChannelIdentity)
        .where(col(ChannelIdentity.id).in_(accounts))
        .values(resident_id=None, display_name=None)
    )
    erasure.accounts = len(accounts)
    await _consents_withdrawn(session, resident_id, now)
    await session.exec(sa.delete(BindCode).where(col(BindCode.resident_id) == resident_id))
    resident.name = None
    set_phone(resident, None)
    set_id_number(resident, None)
    # Only what the statistics count by stays: the community and the grid.
    resident.elderly = resident.disabled = False
    resident.compound_id = None
    session.add(resident)
    erasure.kept["views"] = await _count(session, PersonalDataView.resident_id, resident_id)
    return erasure


async def _ids(session: AsyncSession, id_column: Any, owner: Any, resident_id: int) -> list[int]:
    stmt = sa.select(col(id_column)).where(col(owner) == resident_id)
    return [int(row) for row in (await session.execute(stmt)).scalars().all()]


async def _count(session: AsyncSession, owner: Any, resident_id: int) -> int:
    stmt = sa.select(sa.func.count()).where(col(owner) == resident_id)
    return int((await session.execute(stmt)).scalar_one())


async def _appointments(
    session: AsyncSession, resident_id: int, now: datetime, limits: BookingLimits, erasure: Erasure
) -> None:
    """Cancel what is still to come (the places go back), end waiting and held offers."""
    stmt = select(Appointment).where(
        Appointment.resident_id == resident_id,
        Appointment.status == AppointmentStatus.BOOKED,
        col(Appointment.starts_at) > now,
    )
    for appointment in (await session.exec(stmt)).all():
        erasure.offered += await cancel_appointment(session, appointment, now, limits)
        erasure.cancelled += 1
    waiting = (
        await session.exec(select(WaitlistEntry).where(WaitlistEntry.resident_id == resident_id))
    ).all()
    for entry in waiting:
        if entry.status == WaitlistStatus.OFFERED:
            await lapse_offer(session, entry.id or 0, now)  # the next pass moves the place on
        elif entry.status == WaitlistStatus.WAITING:
            await session.delete(entry)
    appointments = await _ids(session, Appointment.id, Appointment.resident_id, resident_id)
    await anonymise_appointments(session, appointments)
    erasure.kept["appointments"] = len(appointments)


async def _words(
    session: AsyncSession, resident_id: int, names: Sequence[str], erasure: Erasure
) -> int:
    """Personal data out of the resident's cases, their timelines, needs and rating comments."""
    cases = await _ids(session, Case.id, Case.resident_id, resident_id)
    needs = await _ids(session, Need.id, Need.resident_id, resident_id)
    ratings = await _ids(session, Rating.id, Rating.resident_id, resident_id)
    erasure.kept.update(cases=len(cases), needs=len(needs), ratings=len(ratings))
    return (
        await anonymise_cases(session, cases, names=names)
        + await anonymise_case_events(session, cases, names=names)
        + await anonymise_needs(session, needs, names=names)
        + await anonymise_ratings(session, ratings)
    )


async def _tell_handlers(session: AsyncSession, resident_id: int, now: datetime) -> int:
    """Each open case says on its timeline that the resident can no longer be reached, so its
    handler finishes it from what they have (or closes it); how many there were."""
    stmt = select(Case).where(Case.resident_id == resident_id, col(Case.status).in_(OPEN_STATUSES))
    still_open = (await session.exec(stmt)).all()
    for case in still_open:
        record(session, case, ("system", None), "resident_erased", now)
    return len(still_open)


async def _messages(session: AsyncSession, resident_id: int, accounts: list[int]) -> int:
    """Delete the kept chat messages, the messages to the person and the web chat's copies.
    A notice's deliveries stay for its report, no longer pointing at anyone (they hold only
    the notice's id)."""
    to_them = sa.or_(
        col(OutboxMessage.resident_id) == resident_id,
        col(OutboxMessage.identity_id).in_(accounts),
    )
    await session.exec(
        sa.update(OutboxMessage)
        .where(to_them, col(OutboxMessage.notice_id).is_not(None))
        .values(resident_id=None, identity_id=None)
    )
    gone = 0
    for stmt in (
        sa.delete(InboundMessage).where(col(InboundMessage.identity_id).in_(accounts)),
        sa.delete(OutboxMessage).where(to_them, col(OutboxMessage.notice_id).is_(None)),
        sa.delete(WebInboxItem).where(col(WebInboxItem.identity_id).in_(accounts)),
    ):
        result = await session.exec(stmt)
        gone += int(result.rowcount or 0)
    return gone


async def _copies_shown_to_staff(session: AsyncSession, resident: Resident) -> int:
    """What staff were shown in full (the case card of the one who accepted) is kept as the
    reply to their message for a while; those copies holding the number go too."""
    numbers = [n for n in (resident.phone, resident.id_number) if n]
    if not numbers:
        return 0
    gone = 0
    for table, column in (
        (InboundMessage, InboundMessage.replies),
        (WebInboxItem, WebInboxItem.replies),
        (OutboxMessage, OutboxMessage.payload),
    ):
        holding = sa.or_(*(sa.cast(column, sa.Text).contains(n) for n in numbers))
        result = await session.exec(sa.delete(table).where(holding))
        gone += int(result.rowcount or 0)
    return gone


async def _consents_withdrawn(session: AsyncSession, resident_id: int, now: datetime) -> None:
    await session.exec(
        sa.update(Consent)
        .where(col(Consent.resident_id) == resident_id, col(Consent.withdrawn_at).is_(None))
        .values(withdrawn_at=now)
    )
