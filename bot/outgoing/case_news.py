"""Who is told what about a case, for every caller that moves one: the chat handlers, the staff
desk and the scheduler. The wording is in pushes; this module picks the people."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outgoing import pushes
from bot.outgoing.message import Moment, Name, Say, Value
from bot.outgoing.queue import for_resident, for_staff, queue
from bot.outgoing.tell import case_category
from models.calendar import street_opening_rule
from models.case_card import intake_answers
from models.case_ops import Progress, department_staff, pickup_window
from models.cases import CONCERNS, Case
from models.org import Department, Staff, StaffRole
from models.personal_data import remove_personal_data
from models.policy import about_staff, handler_departments, may_be_alerted
from models.services import DayKind
from models.supervision import answering_supervisor


async def _department(session: AsyncSession, department_id: int | None) -> Department | None:
    return await session.get(Department, department_id) if department_id else None


def department_name(department: Department | None) -> Name:
    """A department's name in both languages, for a message read in either."""
    if department is None:
        return Name("")
    return Name(department.name_zh, department.name_en or "")


async def tell_resident(
    session: AsyncSession,
    case: Case,
    key: str,
    *,
    now: datetime,
    data_dir: Path,
    buttons: list[tuple[str, str]] | None = None,
    **values: Value,
) -> int:
    """A message about the case to its resident, on whichever account they used last."""
    if case.resident_id is None:
        return 0
    news = pushes.case_news(
        key,
        ref=case.ref,
        category=case_category(case, data_dir),
        options=tuple(buttons or ()),
        **values,
    )
    connection = await session.connection()
    return await queue(connection, news, [for_resident(case.resident_id)], kind="case", now=now)


# The grid worker who reported a case is not its resident: the same news, in their own words.
REPORTER_WORDS = {
    "cases.notice_accepted": "dispatch.reporter_accepted",
    "cases.notice_resolved": "dispatch.reporter_resolved",
    "cases.notice_transferred": "dispatch.reporter_transferred",
}


async def tell_reporter(
    session: AsyncSession, case: Case, key: str, *, now: datetime, data_dir: Path, **values: Value
) -> int:
    """The same news for the grid worker who reported what they found (社区发现)."""
    reporter = await session.get(Staff, case.reporter_staff_id) if case.reporter_staff_id else None
    if reporter is None or not reporter.active:
        return 0
    news = pushes.case_news(
        REPORTER_WORDS.get(key, key),
        ref=case.ref,
        category=case_category(case, data_dir),
        options=(),
        **values,
    )
    connection = await session.connection()
    return await queue(connection, news, [for_staff(reporter.id or 0)], kind="case", now=now)


async def tell_both(
    session: AsyncSession, case: Case, key: str, *, now: datetime, data_dir: Path, **values: Value
) -> int:
    """Tell the resident and the reporting grid worker (each step of the grid chain)."""
    told = await tell_resident(
        session, case, key, now=now, data_dir=data_dir, buttons=None, **values
    )
    return told + await tell_reporter(session, case, key, now=now, data_dir=data_dir, **values)


async def alert_department(
    session: AsyncSession,
    case: Case,
    department_id: int,
    *,
    now: datetime,
    data_dir: Path,
    co: bool = False,
    reopened: str | None = None,
) -> int:
    """The assigned-case alert, with accept and view buttons, to a department's staff (for a
    case the resident reopened, with their words, to whoever answers for it)."""
    department = await session.get(Department, department_id)
    alert = pushes.case_alert(
        reopened=None if reopened is None else remove_personal_data(reopened),
        co=co,
        case_id=case.id or 0,
        ref=case.ref,
        category=case_category(case, data_dir),
        summary=remove_personal_data(case.summary),  # in full for whoever accepts it
        department=department_name(department),
        due_at=case.due_at,
        details=request_details(case),
    )
    if about_staff(case):  # reopened or transferred: its owner, else who answers for them
        members = await _answering(session, case, department_id)
    else:
        members = await department_staff(session, department_id)
    people = [for_staff(person.id or 0) for person in members if may_be_alerted(person, case)]
    connection = await session.connection()
    return await queue(connection, alert, people, kind="alert", now=now)


def request_details(case: Case) -> tuple[Say, ...]:
    """The request beyond its words, for an alert: what the intake asked (address, time,
    place; door numbers removed until someone accepts), location and attachments."""
    lines = [
        Say(f"cases.answered_{question}", {"answer": remove_personal_data(answer)})
        for question, answer in intake_answers(case).items()
    ]
    if case.latitude is not None and case.longitude is not None:
        point = {"lat": f"{case.latitude:.5f}", "lon": f"{case.longitude:.5f}"}
        lines.append(Say("cases.card_location", point))
    if case.attachments:
        lines.append(Say("cases.card_attachments", {"count": len(case.attachments)}))
    return tuple(lines)


async def _answering(session: AsyncSession, case: Case, department_id: int) -> list[Staff]:
    """Who answers a case about a staff member: its owner, else that department's supervisor."""
    if case.assignee_staff_id is not None:
        owner = await session.get(Staff, case.assignee_staff_id)
        return [owner] if owner is not None and owner.active else []
    concerned = case.details.get(CONCERNS)
    supervisor = await answering_supervisor(
        session, department_id, concerned if isinstance(concerned, int) else None
    )
    return [supervisor] if supervisor is not None else []


async def alert_handlers(
    session: AsyncSession, case: Case, *, now: datetime, data_dir: Path
) -> int:
    """The alert to the lead department and to every co-handling one (协同整治); a complaint
    about a staff member only to the supervisor who owns it."""
    if case.details.get(CONCERNS) is not None and case.assignee_staff_id is not None:
        return await _alert_complaint_owner(session, case, now)
    sent = 0
    for department_id, handler in (await handler_departments(session, case)).items():
        sent += await alert_department(
            session, case, department_id, now=now, data_dir=data_dir, co=not handler.lead
        )
    return sent


async def _alert_complaint_owner(session: AsyncSession, case: Case, now: datetime) -> int:
    concerned = await session.get(Staff, case.details.get(CONCERNS))
    alert = pushes.complaint_about_staff(
        ref=case.ref,
        concerns=concerned.name if concerned else "—",
        summary=case.summary,
        due_at=case.due_at,
    )
    connection = await session.connection()
    owner = [for_staff(case.assignee_staff_id or 0)]
    return await queue(connection, alert, owner, kind="alert", now=now)


async def alert_dispatchers(
    session: AsyncSession, case: Case, key: str, *, now: datetime, data_dir: Path, **values: Value
) -> int:
    """A case for the street's dispatch desk (new in the queue, or a call returned)."""
    stmt = select(Staff.id).where(Staff.role == StaffRole.DISPATCHER, col(Staff.active).is_(True))
    people = [for_staff(staff_id) for staff_id in (await session.exec(stmt)).all() if staff_id]
    alert = pushes.dispatch_alert(
        key,
        case_id=case.id or 0,
        ref=case.ref,
        category=case_category(case, data_dir),
        summary=remove_personal_data(case.summary),  # the dispatcher needs the matter, not who
        **values,
    )
    connection = await session.connection()
    return await queue(connection, alert, people, kind="alert", now=now)


async def alert_owner(
    session: AsyncSession, case: Case, key: str, *, now: datetime, data_dir: Path, **values: Value
) -> int:
    """News for whoever handles the case now: its owner, else its lead department's staff."""
    if case.assignee_staff_id is not None:
        owners = [case.assignee_staff_id]
    elif case.department_id is not None:
        members = await department_staff(session, case.department_id)
        owners = [m.id or 0 for m in members if may_be_alerted(m, case)]
    else:
        owners = []
    alert = pushes.case_handler_news(
        key, case_id=case.id or 0, ref=case.ref, category=case_category(case, data_dir), **values
    )
    connection = await session.connection()
    return await queue(connection, alert, [for_staff(i) for i in owners], kind="alert", now=now)


async def announce_dispatch(
    session: AsyncSession, case: Case, *, now: datetime, data_dir: Path
) -> int:
    """After the dispatcher's call: the departments are alerted, the resident and the grid
    worker told who leads, who helps and by when."""
    sent = await alert_handlers(session, case, now=now, data_dir=data_dir)
    parts = await handler_departments(session, case)
    lead = await _department(session, case.department_id)
    helping = [await session.get(Department, i) for i, h in parts.items() if not h.lead]
    names = [d for d in helping if d is not None]
    co = Name("、".join(d.name_zh for d in names), ", ".join(d.name_en or d.name_zh for d in names))
    return sent + await tell_both(
        session,
        case,
        "dispatch.news_dispatched",
        now=now,
        data_dir=data_dir,
        department=department_name(lead),
        co=co if names else Say("dispatch.none"),
        due=Moment(case.due_at) if case.due_at else "",
    )


# What the resident is told at each step of progress, and the buttons that come with it.
PROGRESS_NEWS: dict[Progress, tuple[str, tuple[tuple[str, str], ...]]] = {
    Progress.COLLECTED: ("cases.notice_collected", ()),
    Progress.READY: (
        "cases.notice_ready",
        (("cases.confirm", "case:confirm:{id}"), ("cases.reopen", "case:reopen:{id}")),
    ),
    Progress.RESOLVED: (
        "cases.notice_resolved",
        (
            ("cases.confirm", "case:confirm:{id}"),
            ("cases.reopen", "case:reopen:{id}"),
            ("cases.rate_button", "rate:case:{id}"),
        ),
    ),
}


async def opening_hours(session: AsyncSession) -> dict[str, Value]:
    """The centre's weekday and holiday hours ("08:00–18:00"), as the news names them."""
    hours: dict[str, Value] = {}
    for kind, name in ((DayKind.WORKDAY, "weekday_hours"), (DayKind.HOLIDAY, "holiday_hours")):
        rule = await street_opening_rule(session, kind)
        hours[name] = f"{rule.opens:%H:%M}–{rule.closes:%H:%M}" if rule else "—"
    return hours


async def tell_progress(
    session: AsyncSession,
    case: Case,
    step: Progress,
    *,
    staff: Staff,
    now: datetime,
    data_dir: Path,
) -> int:
    """Collected, ready for pick-up (at which window), resolved: the resident, with the buttons
    that step calls for, and the reporting grid worker."""
    key, buttons = PROGRESS_NEWS[step]
    window = await pickup_window(session, case, staff)
    if step is Progress.READY and not window:
        key = "cases.notice_ready_at_centre"  # no window to name: collect at the centre
    pressed = [(label, payload.format(id=case.id)) for label, payload in buttons]
    values: dict[str, Value] = {"window": window or "", **await opening_hours(session)}
    told = await tell_resident(
        session, case, key, now=now, data_dir=data_dir, buttons=pressed, **values
    )
    return told + await tell_reporter(session, case, key, now=now, data_dir=data_dir, **values)


async def tell_accepted(session: AsyncSession, case: Case, *, now: datetime, data_dir: Path) -> int:
    """首问责任: the resident and the grid worker learn which department took the case."""
    department = await _department(session, case.department_id)
    return await tell_both(
        session,
        case,
        "cases.notice_accepted",
        now=now,
        data_dir=data_dir,
        department=department_name(department),
    )


async def tell_transferred(
    session: AsyncSession, case: Case, *, now: datetime, data_dir: Path
) -> int:
    """The new department is alerted; the resident and grid worker learn where it went. How
    many of the department's staff were alerted (none when nobody there has a chat account)."""
    await session.flush()
    alerted = await alert_department(
        session, case, case.department_id or 0, now=now, data_dir=data_dir
    )
    department = await _department(session, case.department_id)
    await tell_both(
        session,
        case,
        "cases.notice_transferred",
        now=now,
        data_dir=data_dir,
        department=department_name(department),
    )
    return alerted


async def tell_part(
    session: AsyncSession, case: Case, key: str, staff: Staff, *, now: datetime, data_dir: Path
) -> int:
    """A co-handling department took on or finished its part (dispatch.news_co_*)."""
    department = await _department(session, staff.department_id)
    return await tell_both(
        session, case, key, now=now, data_dir=data_dir, department=department_name(department)
    )


async def tell_returned(
    session: AsyncSession, case: Case, staff: Staff, reason: str, *, now: datetime, data_dir: Path
) -> int:
    """The dispatcher learns why a call came back; when it was the lead's, the resident and the
    grid worker learn that the case is being sent on again."""
    department = await _department(session, staff.department_id)
    name = department_name(department)
    sent = await alert_dispatchers(
        session,
        case,
        "dispatch.alert_returned",
        now=now,
        data_dir=data_dir,
        department=name,
        reason=reason,
    )
    if case.department_id is not None:  # a helper gave its part back: the lead carries on
        return sent
    return sent + await tell_both(
        session, case, "dispatch.news_returned", now=now, data_dir=data_dir, department=name
    )
