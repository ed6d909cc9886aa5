"""What Linli holds about one resident (我的数据), gathered for them to see and to take away.

Phone and ID numbers are masked here as everywhere they are shown, and the personal data in the
resident's own words (phone, ID and door numbers …) is replaced by placeholders, since a copy
travels through chat platforms and downloads; everything else is the resident's record in full.
Nothing of another person is included: a case's timeline holds
only the resident's own words and the office's steps, never a staff member's notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import Appointment, WaitlistEntry
from models.cases import Case, CaseEvent, Rating
from models.consent import Consent
from models.messaging import InboundMessage, OutboxMessage
from models.needs import Need, NeedItem, NeedSupport
from models.people import ChannelIdentity, Resident, mask_id_number, mask_phone
from models.personal_data import remove_personal_data
from models.ratings import WindowVisit
from models.services import Service

# The sections of an export, in the order a person reads them.
SECTIONS = (
    "profile",
    "accounts",
    "consents",
    "appointments",
    "waitlist",
    "cases",
    "needs",
    "supports",
    "ratings",
    "window_visits",
    "messages",
)


def _when(moment: datetime | None) -> str | None:
    return moment.astimezone(SHANGHAI).isoformat(timespec="minutes") if moment else None


def _clean_answers(answers: object) -> dict[str, str]:
    if not isinstance(answers, dict):
        return {}
    return {str(k): remove_personal_data(str(v)) for k, v in answers.items()}


def mask_account(external_id: str) -> str:
    """A chat account's id with all but its last four characters hidden."""
    return "*" * max(0, min(len(external_id), 12) - 4) + external_id[-4:]


async def held_data(session: AsyncSession, resident_id: int) -> dict[str, Any]:
    """Every record of the resident, section by section, ready to be written as JSON."""
    resident = await session.get(Resident, resident_id)
    if resident is None:
        return {}
    return {
        "profile": _profile(resident),
        "accounts": await _accounts(session, resident_id),
        "consents": await _consents(session, resident_id),
        "appointments": await _appointments(session, resident_id),
        "waitlist": await _waitlist(session, resident_id),
        "cases": await _cases(session, resident_id),
        "needs": await _needs(session, resident_id),
        "supports": await _supports(session, resident_id),
        "ratings": await _ratings(session, resident_id),
        "window_visits": await _window_visits(session, resident_id),
        "messages": await _messages(session, resident_id),
        "kept_messages": await _kept_messages(session, resident_id),
    }


def _profile(resident: Resident) -> dict[str, Any]:
    return {
        "name": resident.name,
        "phone": mask_phone(resident.phone) or None,
        "id_number": mask_id_number(resident.id_number) or None,
        "community_id": resident.community_id,
        "grid_id": resident.grid_id,
        "elderly": resident.elderly,
        "disabled": resident.disabled,
        "notices_opt_out": resident.notices_opt_out,
        "created_at": _when(resident.created_at),
    }


async def linked_identities(session: AsyncSession, resident_id: int) -> Sequence[ChannelIdentity]:
    """The chat accounts of a resident."""
    stmt = select(ChannelIdentity).where(ChannelIdentity.resident_id == resident_id)
    return (await session.exec(stmt.order_by(col(ChannelIdentity.id)))).all()


async def _accounts(session: AsyncSession, resident_id: int) -> list[dict[str, Any]]:
    return [
        {
            "channel": account.channel,
            "account": mask_account(account.external_id),
            "language": account.lang,
            "created_at": _when(account.created_at),
            "last_seen_at": _when(account.last_seen_at),
        }
        for account in await linked_identities(session, resident_id)
    ]


async def _consents(session: AsyncSession, resident_id: int) -> list[dict[str, Any]]:
    stmt = select(Consent).where(Consent.resident_id == resident_id).order_by(col(Consent.id))
    return [
        {
            "purpose": c.purpose,
            "given": c.given,
            "answered_at": _when(c.answered_at),
            "withdrawn_at": _when(c.withdrawn_at),
        }
        for c in (await session.exec(stmt)).all()
    ]


async def _appointments(session: AsyncSession, resident_id: int) -> list[dict[str, Any]]:
    stmt = (
        select(Appointment, Service)
        .join(Service, col(Service.id) == col(Appointment.service_id))
        .where(Appointment.resident_id == resident_id)
        .order_by(col(Appointment.starts_at))
    )
    return [
        {
            "ref": a.ref,
            "service": s.name_zh,
            "service_en": s.name_en,
            "starts_at": _when(a.starts_at),
            "status": str(a.status),
            "checked_in_at": _when(a.checked_in_at),
            "booked_at": _when(a.created_at),
        }
        for a, s in (await session.exec(stmt)).all()
    ]


async def _waitlist(session: AsyncSession, resident_id: int) -> list[dict[str, Any]]:
    waiting = select(WaitlistEntry).where(WaitlistEntry.resident_id == resident_id)
    return [
        {"slot": w.slot_id, "status": str(w.status), "joined_at": _when(w.created_at)}
        for w in (await session.exec(waiting)).all()
    ]


async def _cases(session: AsyncSession, resident_id: int) -> list[dict[str, Any]]:
    stmt = select(Case).where(Case.resident_id == resident_id).order_by(col(Case.created_at))
    return [
        {
            "ref": case.ref,
            "kind": str(case.kind),
            "category": case.category,
            "status": str(case.status),
            "words": remove_personal_data(case.summary),
            "answers": _clean_answers(case.details.get("answers")),
            "location": [case.latitude, case.longitude] if case.latitude is not None else None,
            "attachments": len(case.attachments),
            "opened_at": _when(case.created_at),
            "due_at": _when(case.due_at),
            "resolved_at": _when(case.resolved_at),
            "closed_at": _when(case.closed_at),
        }
        for case in (await session.exec(stmt)).all()
    ]


async def _needs(session: AsyncSession, resident_id: int) -> list[dict[str, Any]]:
    stmt = (
        select(Need, NeedItem)
        .join(NeedItem, col(NeedItem.id) == col(Need.item_id), isouter=True)
        .where(Need.resident_id == resident_id)
        .order_by(col(Need.created_at))
    )
    return [
        {
            "words": remove_personal_data(need.text),
            "category": need.category,
            "item": item.title if item else None,
            "stage": str(item.stage) if item else None,
            "submitted_at": _when(need.created_at),
        }
        for need, item in (await session.exec(stmt)).all()
    ]


async def _supports(session: AsyncSession, resident_id: int) -> list[dict[str, Any]]:
    stmt = (
        select(NeedSupport, NeedItem)
        .join(NeedItem, col(NeedItem.id) == col(NeedSupport.item_id))
        .where(NeedSupport.resident_id == resident_id)
    )
    return [
        {"item": item.title, "supported_at": _when(support.created_at)}
        for support, item in (await session.exec(stmt)).all()
    ]


async def _ratings(session: AsyncSession, resident_id: int) -> list[dict[str, Any]]:
    stmt = select(Rating).where(Rating.resident_id == resident_id).order_by(col(Rating.id))
    return [
        {
            "subject": f"{r.subject_kind}:{r.subject_id}",
            "level": str(r.level),
            "comment": remove_personal_data(r.comment) if r.comment else None,
            "rated_at": _when(r.created_at),
        }
        for r in (await session.exec(stmt)).all()
    ]


async def _window_visits(session: AsyncSession, resident_id: int) -> list[dict[str, Any]]:
    visits = select(WindowVisit).where(WindowVisit.resident_id == resident_id)
    return [{"visited_at": _when(v.created_at)} for v in (await session.exec(visits)).all()]


async def _messages(session: AsyncSession, resident_id: int) -> list[dict[str, Any]]:
    """What the resident wrote on their cases (answers, comments, reasons)."""
    written = (
        select(CaseEvent, Case.ref)
        .join(Case, col(Case.id) == col(CaseEvent.case_id))
        .where(
            Case.resident_id == resident_id,
            CaseEvent.actor_kind == "resident",
            col(CaseEvent.note).is_not(None),
        )
        .order_by(col(CaseEvent.at))
    )
    return [
        {"case": ref, "words": remove_personal_data(event.note or ""), "at": _when(event.at)}
        for event, ref in (await session.exec(written)).all()
    ]


async def _kept_messages(session: AsyncSession, resident_id: int) -> dict[str, int]:
    """How many chat messages are kept for a while (to answer a resent one the same way)
    and how many messages to the resident are kept; their words are not copied out."""
    accounts = [a.id for a in await linked_identities(session, resident_id)]
    kept = await session.exec(
        select(sa.func.count())
        .select_from(InboundMessage)
        .where(col(InboundMessage.identity_id).in_(accounts))
    )
    sent = await session.exec(
        select(sa.func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.resident_id) == resident_id)
    )
    return {"chat_messages": int(kept.one()), "messages_to_you": int(sent.one())}
