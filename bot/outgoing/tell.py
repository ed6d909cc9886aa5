"""Occasions that several callers announce the same way (a handler, a job, the CLI)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outgoing import pushes
from bot.outgoing.message import Day, Message, Name, Say, Value, say
from bot.outgoing.queue import for_resident, for_staff, queue
from models.appointments import BookingLimits, expire_offers
from models.booking import Appointment, BookingSlot, WaitlistEntry
from models.case_ops import case_catalogue
from models.cases import CONCERNS, Case, Rating, RatingLevel
from models.needs import NeedItem, NeedStage
from models.notice_ops import NoticeReport
from models.notices import Notice
from models.org import Staff
from models.ratings_return_visit import RATED
from models.reminders import APPOINTMENT, CASE, mark_once
from models.services import Service


def notice_summary(notice: Notice, report: NoticeReport) -> Message:
    """A notice's summary for its author (sent when it is done, shown when they ask)."""
    counts = {
        "audience": report.audience,
        "opted_out": report.opted_out,
        "accounts": report.accounts,
        "sent": report.sent,
        "failed": report.failed,
        "unreachable": report.unreachable,
        "cancelled": report.cancelled,
        "pending": report.pending,
    }
    return pushes.notice_summary(
        notice_id=notice.id or 0, excerpt=notice.text, counts=counts, failures=report.failures
    )


def notice_message(notice: Notice) -> Message:
    """A notice as its readers get it."""
    return pushes.notice(
        text=notice.text,
        urgent=notice.urgent,
        link_url=notice.link_url,
        image_url=notice.image_url,
    )


def case_category(case: Case, data_dir: Path) -> Name:
    """A case's category in both languages, as the street's catalogue names it (the case keeps
    the Chinese name only)."""
    return Name(*case_catalogue(data_dir).category_names(case))


RETURN_VISIT_ALERT = "return_visit_alert"


def rated_thing(kind: str, name: Name, ref: str, day: date) -> Say:
    """What a resident rated, in the reader's words: 预约 12月4日 社保卡补办 / 事项 LC-… /
    社会保障科窗口 11月27日."""
    if kind == APPOINTMENT:
        return say("rating.subject_appointment", service=name, day=Day(day))
    if kind == CASE:
        return say("rating.subject_case", category=name, ref=ref)
    return say("rating.subject_window", department=name, day=Day(day))


def _rated(case: Case) -> Value:
    """A return visit's rated thing (return visits opened before it was kept: as stored)."""
    rated = case.details.get(RATED)
    if not isinstance(rated, dict):
        return str(case.details.get("thing", ""))
    name = Name(str(rated.get("zh", "")), str(rated.get("en", "")))
    day = date.fromisoformat(str(rated.get("day")))
    return rated_thing(str(rated.get("kind")), name, str(rated.get("ref", "")), day)


async def alert_return_visit(
    session: AsyncSession, connection: AsyncConnection, case: Case, now: datetime, *, again: bool
) -> bool:
    """A poor rating's return visit, to the supervisor who owns it: once (or again, to a new
    owner), never to the staff member it concerns. Whether it was queued."""
    owner = case.assignee_staff_id
    if case.id is None or owner is None or owner == case.details.get(CONCERNS):
        return False
    if not await mark_once(connection, CASE, case.id, RETURN_VISIT_ALERT, now) and not again:
        return False
    rating_id, concerned_id = case.details.get("rating_id"), case.details.get(CONCERNS)
    rating = await session.get(Rating, rating_id) if isinstance(rating_id, int) else None
    concerned = await session.get(Staff, concerned_id) if isinstance(concerned_id, int) else None
    alert = pushes.return_visit(
        ref=case.ref,
        level=RatingLevel(str(case.details.get("level", RatingLevel.BAD_ATTITUDE))),
        thing=_rated(case),
        concerns=concerned.name if concerned else "—",
        comment=(rating.comment if rating else None) or "",
        due_at=case.due_at,
    )
    once = f"return_visit:{case.id}:{{person}}"
    to = [for_staff(owner)]
    return bool(await queue(connection, alert, to, kind="alert", now=now, once=once))


_SERVICE = Service.__table__  # type: ignore[attr-defined]
OFFER_KEY = "waitlist_entry"  # an offer's payload names its entry, to move on if undeliverable


async def need_stage_news(
    connection: AsyncConnection,
    item: NeedItem,
    stage: NeedStage,
    residents: Iterable[int],
    now: datetime,
) -> int:
    """Tell each supporter of a need item that it moved on (a repeat of a stage tells nobody)."""
    reason = item.stage_reason if stage is NeedStage.REJECTED else None
    news = pushes.need_stage(title=item.title, stage=str(stage), reason=reason)
    people = [for_resident(r) for r in residents]
    return await queue(
        connection, news, people, kind="need", now=now, once=f"need:{item.id}:{stage}:{{person}}"
    )


async def need_merge_news(
    connection: AsyncConnection,
    keep: NeedItem,
    absorbed: NeedItem,
    residents: Iterable[int],
    now: datetime,
) -> int:
    """Tell the absorbed item's supporters where their need went (once each)."""
    news = pushes.need_merged(old=absorbed.title, title=keep.title, count=keep.supporters)
    people = [for_resident(r) for r in residents]
    return await queue(
        connection, news, people, kind="need", now=now, once=f"need:{absorbed.id}:merged:{{person}}"
    )


async def offer_place(
    connection: AsyncConnection,
    entry: WaitlistEntry,
    slot: BookingSlot,
    minutes: int,
    now: datetime,
) -> int:
    """Offer a freed place to a waiting resident (once per entry and offer time)."""
    found = await connection.execute(
        sa.select(_SERVICE.c.name_zh, _SERVICE.c.name_en).where(_SERVICE.c.id == slot.service_id)
    )
    names = found.one_or_none()
    offer = pushes.waitlist_offer(
        service=Name(names.name_zh, names.name_en or "") if names else Name(""),
        starts_at=slot.starts_at,
        entry_id=entry.id or 0,
        minutes=minutes,
    )
    return await queue(
        connection,
        offer,
        [for_resident(entry.resident_id)],
        kind="offer",
        now=now,
        once=f"offer:{entry.id}:{entry.offer_expires_at:%Y%m%d%H%M%S}",
        about={OFFER_KEY: entry.id},
    )


async def pass_on_offers(session: AsyncSession, now: datetime, minutes: int) -> int:
    """Release lapsed offers and offer the places to the next residents; how many offered."""
    _expired, offered = await expire_offers(session, now, BookingLimits(offer_minutes=minutes))
    await session.flush()
    connection = await session.connection()
    for entry in offered:
        slot = await session.get(BookingSlot, entry.slot_id)
        if slot is not None:
            await offer_place(connection, entry, slot, minutes, now)
    return len(offered)


async def ask_for_rating(session: AsyncSession, appointment: Appointment, now: datetime) -> int:
    """The six-level rating request after a window visit, once per appointment (from the chat
    or the desk, whichever marks it done)."""
    await session.flush()
    request = pushes.rating_request(appointment_id=appointment.id or 0, ref=appointment.ref)
    return await queue(
        await session.connection(),
        request,
        [for_resident(appointment.resident_id)],
        kind="rating",
        now=now,
        once=f"rate:appt:{appointment.id}",
    )
