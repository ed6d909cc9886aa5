"""Who is told what after a desk action: the same messages the chat's staff actions send
(bot.outgoing.case_news picks the people), so the desk and the chat cannot disagree.

Each step of a case also reaches the grid worker who reported it (社区发现), as the grid chain
asks; a case nobody reported from a grid tells only its resident.
"""

from __future__ import annotations

from bot.outgoing import case_news
from bot.outgoing.case_news import department_name
from bot.outgoing.message import Name, Value
from bot.web.admin.auth import DeskRequest
from models.calendar import street_opening_rule
from models.case_ops import Progress, pickup_window
from models.cases import Case
from models.org import Department
from models.services import DayKind

# The chat's own mapping (handlers/cases_staff.TELL_RESIDENT): each step's news and buttons.
TELL_RESIDENT: dict[Progress, tuple[str, list[tuple[str, str]]]] = {
    Progress.COLLECTED: ("cases.notice_collected", []),
    Progress.READY: (
        "cases.notice_ready",
        [("cases.confirm", "case:confirm:{id}"), ("cases.reopen", "case:reopen:{id}")],
    ),
    Progress.RESOLVED: (
        "cases.notice_resolved",
        [
            ("cases.confirm", "case:confirm:{id}"),
            ("cases.reopen", "case:reopen:{id}"),
            ("cases.rate_button", "rate:case:{id}"),
        ],
    ),
}


async def tell(
    desk: DeskRequest,
    case: Case,
    key: str,
    buttons: list[tuple[str, str]] | None = None,
    **values: Value,
) -> None:
    """News for the resident (with their buttons) and for the reporting grid worker."""
    now, data_dir = desk.now, desk.linli.settings.data_dir
    await case_news.tell_resident(
        desk.session, case, key, now=now, data_dir=data_dir, buttons=buttons, **values
    )
    await case_news.tell_reporter(desk.session, case, key, now=now, data_dir=data_dir, **values)


async def _department(desk: DeskRequest, department_id: int | None) -> Name:
    found = await desk.session.get(Department, department_id) if department_id else None
    return department_name(found)


async def accepted(desk: DeskRequest, case: Case) -> None:
    """首问责任: the resident learns which department took their case."""
    department = await _department(desk, case.department_id)
    await tell(desk, case, "cases.notice_accepted", department=department)


async def asked(desk: DeskRequest, case: Case, question: str) -> None:
    """The owner's question, with the resident's answer button."""
    buttons = [("cases.answer", f"case:answer:{case.id}")]
    await case_news.tell_resident(
        desk.session,
        case,
        "cases.notice_question",
        now=desk.now,
        data_dir=desk.linli.settings.data_dir,
        buttons=buttons,
        question=question,
    )


async def stepped(desk: DeskRequest, case: Case, step: Progress) -> None:
    """Collected, ready for pick-up (at which window, and when), resolved."""
    key, buttons = TELL_RESIDENT[step]
    window = await pickup_window(desk.session, case, desk.staff)
    if step is Progress.READY and not window:
        key = "cases.notice_ready_at_centre"
    pressed = [(label, payload.format(id=case.id)) for label, payload in buttons]
    await tell(desk, case, key, pressed, window=window or "", **await _opening_hours(desk))


async def _opening_hours(desk: DeskRequest) -> dict[str, Value]:
    hours: dict[str, Value] = {}
    for kind, name in ((DayKind.WORKDAY, "weekday_hours"), (DayKind.HOLIDAY, "holiday_hours")):
        rule = await street_opening_rule(desk.session, kind)
        hours[name] = f"{rule.opens:%H:%M}–{rule.closes:%H:%M}" if rule else "—"
    return hours


async def transferred(desk: DeskRequest, case: Case) -> None:
    """The new department is alerted; the resident learns where their case went."""
    await desk.session.flush()
    data_dir = desk.linli.settings.data_dir
    await case_news.alert_department(
        desk.session, case, case.department_id or 0, now=desk.now, data_dir=data_dir
    )
    department = await _department(desk, case.department_id)
    await tell(desk, case, "cases.notice_transferred", department=department)


async def co_accepted(desk: DeskRequest, case: Case) -> None:
    """A co-handling department took on its part."""
    department = await _department(desk, desk.staff.department_id)
    await tell(desk, case, "dispatch.news_co_accepted", department=department)


async def co_done(desk: DeskRequest, case: Case) -> None:
    """A co-handling department finished its part."""
    department = await _department(desk, desk.staff.department_id)
    await tell(desk, case, "dispatch.news_co_done", department=department)


async def returned(desk: DeskRequest, case: Case, reason: str) -> None:
    """The dispatcher learns why a call came back; the resident that it is being re-sent."""
    department = await _department(desk, desk.staff.department_id)
    data_dir = desk.linli.settings.data_dir
    await case_news.alert_dispatchers(
        desk.session,
        case,
        "dispatch.alert_returned",
        now=desk.now,
        data_dir=data_dir,
        department=department,
        reason=reason,
    )
    await tell(desk, case, "dispatch.news_returned", department=department)


async def dispatched(desk: DeskRequest, case: Case) -> None:
    """The called departments are alerted; resident and grid worker learn who and by when."""
    await desk.session.flush()
    await case_news.announce_dispatch(
        desk.session, case, now=desk.now, data_dir=desk.linli.settings.data_dir
    )
