"""Personal data taken out of records that are kept: for retention (the period is over) and for a
resident's right to deletion. The records stay, with their links, so every statistic is the same
afterwards (counts, statuses, dates, kinds, categories, departments, grids, rating levels); only
what could tell who someone is or where they live goes.

Per column, one of two things (the choice is written beside each):
- the text is still the office's record of what happened (a case's summary, a need, a complaint,
  a staff member's note): `remove_personal_data` leaves the words and replaces phone and ID
  numbers, door numbers, introduced names … with placeholders;
- the text is the person's own message (their answers to a staff member's question, what they
  wrote in a live conversation): it is replaced by REMOVED as a whole, since no rule can tell
  what in free conversation identifies someone.
Photos, voice and files (media ids) and exact locations are removed outright.

Each function takes a session and record ids, changes only rows that still hold something to
remove, and returns how many rows it changed: a second call over the same rows changes none.
No pattern finds a name written bare ("已联系张三"), so the name of the record's own resident
(Resident.name) is also replaced wherever it is written; `names` adds others (say, a name the
resident used before). For deletion, anonymise before the resident's name is removed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.booking import Appointment
from models.cases import Case, CaseEvent, CaseHandler, Rating
from models.messaging import ConversationState
from models.needs import Need
from models.people import ChannelIdentity, Resident
from models.personal_data import PLACEHOLDERS, Kind, remove_personal_data

# What stands where a person's own message was (stored like the placeholders: one form for
# readers of either language).
REMOVED = "〔已移除〕"
# In a case's details: its personal data is gone (so retention passes over it next time).
MARK = "personal_data_removed"
# A resident's own messages on a case's timeline, replaced whole: answers to a staff member's
# question, a live conversation, the reason to reopen, a rating's comment (the case's summary
# keeps the substance, cleaned).
RESIDENT_MESSAGES = frozenset({"answer", "message", "reopened", "comment"})
CHUNK = 500  # ids per IN (…) list: well under SQLite's bound-parameter limit
SHORTEST_NAME = 2  # a one-character "name" would take the character out of every word


def clean_text(text: str, names: Collection[str] = ()) -> str:
    """The text with its personal data (and the given names, written bare) replaced."""
    cleaned = remove_personal_data(text)
    for name in sorted({n.strip() for n in names}, key=len, reverse=True):
        if len(name) >= SHORTEST_NAME:
            cleaned = re.sub(re.escape(name), PLACEHOLDERS[Kind.NAME], cleaned, flags=re.I)
    return cleaned


def _clean_optional(text: str | None, names: Collection[str]) -> str | None:
    return None if text is None else clean_text(text, names)


def _with(names: Collection[str], resident_name: str | None) -> Collection[str]:
    return [*names, resident_name] if resident_name else names


def _chunks(ids: Collection[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def _set(row: Any, **values: Any) -> bool:
    """Give the row these values; whether any differed."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


async def anonymise_cases(
    session: AsyncSession, case_ids: Collection[int], *, names: Collection[str] = ()
) -> int:
    """Remove personal data from these cases (summary, intake answers, hand-over transcript,
    attachments, location) and from their departments' return reasons; how many cases changed.
    Their timelines are anonymise_case_events'."""
    changed = 0
    for chunk in _chunks(case_ids):
        cases = await session.exec(
            select(Case, Resident.name)
            .outerjoin(Resident, col(Resident.id) == col(Case.resident_id))
            .where(col(Case.id).in_(chunk))
        )
        for case, resident_name in cases.all():
            known = _with(names, resident_name)
            if _set(
                case,
                # What the case was about, which the office must still be able to answer for.
                summary=clean_text(case.summary, known),
                details=_clean_details(case.details, known),
                # Photos, voice and files the resident sent: theirs, and no statistic counts them.
                attachments=[],
                # A point is a home or where someone stood; the grid and community stay.
                latitude=None,
                longitude=None,
            ):
                session.add(case)
                changed += 1
        handlers = await session.exec(
            select(CaseHandler, Resident.name)
            .join(Case, col(Case.id) == col(CaseHandler.case_id))
            .outerjoin(Resident, col(Resident.id) == col(Case.resident_id))
            .where(col(CaseHandler.case_id).in_(chunk), col(CaseHandler.return_reason).is_not(None))
        )
        for handler, resident_name in handlers.all():
            # A department's reason for returning its part: the office's record, cleaned.
            reason = _clean_optional(handler.return_reason, _with(names, resident_name))
            if _set(handler, return_reason=reason):
                session.add(handler)
    await session.flush()
    return changed


def _clean_details(details: dict[str, Any], names: Collection[str]) -> dict[str, Any]:
    """A case's details without personal data, marked as such. The intake's answers (address,
    visit time, place) are cleaned: the road or compound may stay, the door number and phone
    go. A hand-over's transcript keeps the bot's side and loses the resident's questions.
    Codes, rating ids and levels, what was rated and whom a complaint concerns stay."""
    kept = dict(details)
    answers = kept.get("answers")
    if isinstance(answers, dict):
        kept["answers"] = {
            str(key): clean_text(str(value), names) for key, value in answers.items()
        }
    transcript = kept.get("transcript")
    if isinstance(transcript, list):
        kept["transcript"] = [_clean_exchange(entry) for entry in transcript]
    kept[MARK] = True
    return kept


def _clean_exchange(entry: object) -> object:
    if not isinstance(entry, dict):
        return REMOVED
    return {**entry, "q": REMOVED} if entry.get("q") else entry


async def anonymise_case_events(
    session: AsyncSession, case_ids: Collection[int], *, names: Collection[str] = ()
) -> int:
    """Remove personal data from the timelines of these cases: a resident's own messages
    (RESIDENT_MESSAGES) are replaced whole, every other note (staff notes and questions, return
    reasons) is cleaned; the steps, actors, times and data stay. How many events changed."""
    changed = 0
    for chunk in _chunks(case_ids):
        events = await session.exec(
            select(CaseEvent, Resident.name)
            .join(Case, col(Case.id) == col(CaseEvent.case_id))
            .outerjoin(Resident, col(Resident.id) == col(Case.resident_id))
            .where(col(CaseEvent.case_id).in_(chunk), col(CaseEvent.note).is_not(None))
        )
        for event, resident_name in events.all():
            if event.actor_kind == "resident" and event.kind in RESIDENT_MESSAGES:
                note: str | None = REMOVED
            else:
                note = _clean_optional(event.note, _with(names, resident_name))
            if _set(event, note=note):
                session.add(event)
                changed += 1
    await session.flush()
    return changed


async def anonymise_needs(
    session: AsyncSession, need_ids: Collection[int], *, names: Collection[str] = ()
) -> int:
    """Remove personal data from these needs; how many changed. The words are cleaned (they
    say what is wanted, which the item's ranking and history rest on; they were cleaned when
    submitted, so this catches what newer rules and the names find); attachments and the exact
    location go; category, item, community, grid and compound stay. The text_hash stays too:
    it is a hash of the cleaned words, and a new one could collide with the resident's other
    needs (one need per resident and words)."""
    changed = 0
    for chunk in _chunks(need_ids):
        needs = await session.exec(
            select(Need, Resident.name)
            .join(Resident, col(Resident.id) == col(Need.resident_id))
            .where(col(Need.id).in_(chunk))
        )
        for need, resident_name in needs.all():
            if _set(
                need,
                text=clean_text(need.text, _with(names, resident_name)),
                attachments=[],
                latitude=None,
                longitude=None,
            ):
                session.add(need)
                changed += 1
    await session.flush()
    return changed


async def anonymise_ratings(session: AsyncSession, rating_ids: Collection[int]) -> int:
    """Remove the comments of these ratings: they are the resident's own words, kept for the
    return visit, whose case keeps its cleaned summary; the level, staff member, subject and
    time (every statistic a rating feeds) stay. How many changed."""
    changed = 0
    for chunk in _chunks(rating_ids):
        ratings = await session.exec(
            select(Rating).where(
                col(Rating.id).in_(chunk),
                col(Rating.comment).is_not(None),
                col(Rating.comment) != REMOVED,
            )
        )
        for rating in ratings.all():
            rating.comment = REMOVED
            session.add(rating)
            changed += 1
    await session.flush()
    return changed


async def anonymise_appointments(session: AsyncSession, appointment_ids: Collection[int]) -> int:
    """Forget which chat account booked these appointments (an account is a WeChat or Telegram
    identity; reminders were all it was for). An appointment holds no free text or location;
    the resident, service, slot, status, times and who served stay. How many changed."""
    changed = 0
    for chunk in _chunks(appointment_ids):
        appointments = await session.exec(
            select(Appointment).where(
                col(Appointment.id).in_(chunk), col(Appointment.identity_id).is_not(None)
            )
        )
        for appointment in appointments.all():
            appointment.identity_id = None
            session.add(appointment)
            changed += 1
    await session.flush()
    return changed


async def anonymise_accounts(session: AsyncSession, identity_ids: Collection[int]) -> int:
    """Remove what chat accounts hold about a person besides the link itself: the display
    name (a nickname, often the real name) and the conversation in progress (answers typed
    into a flow: an address, a phone). The account, its channel and its resident stay, so
    that the person is still recognised if they come back. How many accounts changed."""
    changed = 0
    for chunk in _chunks(identity_ids):
        named = await session.exec(
            select(ChannelIdentity).where(
                col(ChannelIdentity.id).in_(chunk), col(ChannelIdentity.display_name).is_not(None)
            )
        )
        touched = set()
        for identity in named.all():
            identity.display_name = None
            session.add(identity)
            touched.add(identity.id)
        states = await session.exec(
            select(ConversationState).where(col(ConversationState.identity_id).in_(chunk))
        )
        for state in states.all():
            await session.delete(state)
            touched.add(state.identity_id)
        changed += len(touched)
    await session.flush()
    return changed
