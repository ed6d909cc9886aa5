"""The desk's cases, dispatch and appointments over real HTTP, for staff of two departments, the
street's dispatcher, a grid leader and a supervisor: each sees and does only what models.policy
allows, a record they may not see answers 404 exactly as a missing one, and every step sends
the same news the chat does (read back from the outbox)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, func, select

from bot.app import Linli
from bot.outgoing.message import Message, Say
from models.access_log import PersonalDataView
from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus, RosterShift
from models.case_ops import case_catalogue, open_case
from models.cases import Case, CaseEvent, CaseHandler, CaseKind, CaseStatus
from models.messaging import OutboxMessage
from models.org import Staff
from models.people import Resident
from models.reminders import ReminderRules
from tests.conftest import DATA
from tests.scheduler_data import bind_staff, book, resident_with_accounts
from tests.test_admin_auth import Browser, set_password, without_tokens

Client = TestClient[web.Request, web.Application]
PHONE = "13812345678"
MASKED = "138****5678"
CODES = ("S021", "S022", "S017", "S025", "S015", "S027", "S037", "S042", "S001")


@dataclass
class Street:
    """The cases of these tests and the ids of the people in them."""

    resident: int
    staff: dict[str, int]
    civil: int  # a civil-affairs proxy case, nobody's yet
    social: int  # a social-security proxy case
    found: int  # a grid report of S027's grid, waiting for dispatch (elderly care)
    elsewhere: int  # a grid report of S028's grid, waiting for dispatch (facilities)


async def _case(linli: Linli, **fields: Any) -> int:
    async with linli.sessions() as session, session.begin():
        case = await open_case(
            session,
            case_catalogue(DATA),
            now=linli.clock.now(),
            street_code="LC",
            **fields,
        )
        assert case.id is not None
        return case.id


async def _grid_of(linli: Linli, code: str) -> tuple[int, int | None]:
    async with linli.sessions() as session:
        staff = (await session.exec(select(Staff).where(Staff.code == code))).one()
        assert staff.id is not None
        return staff.id, staff.grid_id


@pytest.fixture
async def street(linli: Linli) -> Street:
    """Desk passwords, chat accounts for alerts, a resident with a phone, four cases."""
    staff = {code: await set_password(linli, code) for code in CODES}
    for code in ("S021", "S022", "S017", "S025", "S015", "S027", "S042"):
        await bind_staff(linli, code, "telegram", f"tg-{code}")
    resident = await resident_with_accounts(linli, ("wechat", "o-resident-1", timedelta(0)))
    async with linli.sessions() as session, session.begin():
        row = await session.get(Resident, resident)
        assert row is not None
        row.phone, row.name = PHONE, "王小明"
        session.add(row)
    leader, grid = await _grid_of(linli, "S027")
    other, other_grid = await _grid_of(linli, "S028")
    proxy = {"kind": CaseKind.PROXY, "resident_id": resident}
    answers = {"answers": {"address": "南街社区3栋", "visit_time": "周六上午"}}
    civil = await _case(
        linli,
        **proxy,
        category_code="ca-elderly-allowance",
        summary="代办高龄补贴",
        details=answers,
    )
    social = await _case(linli, **proxy, category_code="ss-card", summary="代办社保卡")
    found = await _case(
        linli,
        kind=CaseKind.GRID_REPORT,
        category_code="elderly-care",
        summary="独居老人家里没人应门",
        resident_id=resident,
        reporter_staff_id=leader,
        grid_id=grid,
        details={"answers": {"place": "南街社区5栋2单元"}},
        attachments=[{"kind": "image", "ref": "media-0001"}],
        latitude=30.68,
        longitude=103.85,
        to_dispatch=True,
    )
    elsewhere = await _case(
        linli,
        kind=CaseKind.GRID_REPORT,
        category_code="facilities",
        summary="路灯坏了",
        reporter_staff_id=other,
        grid_id=other_grid,
        to_dispatch=True,
    )
    return Street(resident, staff, civil, social, found, elsewhere)


@pytest.fixture
async def desk(client: Client, street: Street) -> AsyncIterator[dict[str, Browser]]:
    """A logged-in browser for each staff member of the tests (nine logins from one address,
    under the desk's ten a minute)."""
    assert len(CODES) < 10
    browsers: dict[str, Browser] = {}
    try:
        for code in CODES:
            browsers[code] = Browser(client)
            assert (await browsers[code].log_in(code)).status == 303, code
        yield browsers
    finally:
        for browser in browsers.values():
            await browser.http.close()


async def news(linli: Linli) -> list[tuple[str, int | None, int | None, str]]:
    """Every message in the outbox: (kind, resident id, staff id, catalogue key)."""
    async with linli.sessions() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    found = []
    for row in rows:
        line = Message.from_payload(row.payload).lines[0]
        key = line.key if isinstance(line, Say) else ""
        found.append((row.kind, row.resident_id, row.staff_id, key))
    return found


async def told(linli: Linli, key: str) -> set[tuple[int | None, int | None]]:
    """Who got a message with this key: (resident id, staff id) pairs."""
    return {(r, s) for _, r, s, k in await news(linli) if k == key}


async def snapshot(linli: Linli, number: int) -> tuple[object, ...]:
    """What an action could change on a case."""
    async with linli.sessions() as session:
        case = await session.get(Case, number)
        assert case is not None
        events = await session.exec(select(func.count()).where(col(CaseEvent.case_id) == number))
        handlers = await session.exec(select(CaseHandler).where(CaseHandler.case_id == number))
        parts = sorted(
            (h.department_id, h.lead, h.accepted_at, h.done_at, h.returned_at)
            for h in handlers.all()
        )
        outbox = await session.exec(select(func.count()).select_from(OutboxMessage))
        return (
            case.status,
            case.assignee_staff_id,
            case.department_id,
            events.one(),
            parts,
            outbox.one(),
        )


async def ref_of(linli: Linli, number: int) -> str:
    async with linli.sessions() as session:
        case = await session.get(Case, number)
        assert case is not None
        return case.ref


async def page(browser: Browser, path: str) -> str:
    """A desk page that must open, every text found in the catalogue."""
    response = await browser.get(path)
    assert response.status == 200, (path, response.status)
    text = await response.text()
    untranslated = UNTRANSLATED.search(text)
    assert untranslated is None, (path, untranslated)
    return text


UNTRANSLATED = re.compile(r"\b(desk|cases|dispatch|window)\.[a-z_]+")


def same(page_of_theirs: str, page_of_missing: str, number: int) -> bool:
    """Two answers are the same but for the tokens and the address asked (in the page's links)."""
    theirs = without_tokens(page_of_theirs).replace(f"/admin/cases/{number}", "/admin/cases/N")
    missing = without_tokens(page_of_missing).replace("/admin/cases/999999", "/admin/cases/N")
    return theirs == missing


ACTIONS: dict[str, dict[str, str]] = {
    "accept": {},
    "ask": {"question": "您方便周六上午在家吗？"},
    "step": {"step": "resolved"},
    "transfer": {"department": "social_security", "reason": "不归我们"},
    "co_accept": {},
    "co_done": {},
    "return": {"reason": "不归我们"},
}


async def test_the_queue_shows_each_only_the_cases_they_may_see(
    linli: Linli, street: Street, desk: dict[str, Browser]
) -> None:
    refs = {
        n: await ref_of(linli, n)
        for n in (street.civil, street.social, street.found, street.elsewhere)
    }
    sees = {
        "S021": {street.civil},
        "S017": {street.social},
        "S042": {street.found, street.elsewhere},
        "S027": {street.found},
        "S037": {street.civil, street.social, street.found, street.elsewhere},
    }
    for code, allowed in sees.items():
        text = await page(desk[code], "/admin/cases")
        shown = {n for n, ref in refs.items() if ref in text}
        assert shown == allowed, code
    supervisor = desk["S037"]
    grid_only = await page(supervisor, "/admin/cases?kind=grid_report")
    assert refs[street.found] in grid_only and refs[street.civil] not in grid_only
    assert refs[street.civil] not in await page(desk["S021"], "/admin/cases?who=mine")
    assert refs[street.civil] in await page(desk["S021"], "/admin/cases?who=unassigned")
    async with linli.sessions() as session, session.begin():
        late = await session.get(Case, street.civil)
        assert late is not None
        late.due_at = linli.clock.now() - timedelta(hours=1)
        session.add(late)
    overdue = await page(supervisor, "/admin/cases?overdue=1")
    assert refs[street.civil] in overdue and refs[street.social] not in overdue
    assert "已超期" in overdue
    english = await page(supervisor, "/admin/cases?lang=en&status=all")
    assert "Proxy handling" in english and '<html lang="en">' in english


async def test_the_queue_is_paginated(
    linli: Linli, street: Street, desk: dict[str, Browser]
) -> None:
    for n in range(27):
        await _case(linli, kind=CaseKind.PROXY, category_code="ss-card", summary=f"代办 {n}")
    first = await page(desk["S017"], "/admin/cases")
    assert first.count('href="/admin/cases/') == 25
    assert 'rel="next" href="/admin/cases?page=2"' in first
    second = await page(desk["S017"], "/admin/cases?page=2")
    assert second.count('href="/admin/cases/') == 3  # 28 social-security cases in all
    assert 'rel="prev"' in second and 'rel="next"' not in second


async def test_another_departments_case_answers_like_a_missing_one(
    linli: Linli, street: Street, desk: dict[str, Browser]
) -> None:
    outsider = desk["S017"]
    theirs = await outsider.get(f"/admin/cases/{street.civil}")
    missing = await outsider.get("/admin/cases/999999")
    assert theirs.status == missing.status == 404
    assert same(await theirs.text(), await missing.text(), street.civil)
    assert (await desk["S027"].get(f"/admin/cases/{street.elsewhere}")).status == 404
    assert (await desk["S042"].get(f"/admin/cases/{street.civil}")).status == 404
    before = await snapshot(linli, street.civil)
    for action, form in {**ACTIONS, "note": {"note": "看一看"}}.items():
        answer = await outsider.act(f"/admin/cases/{street.civil}/{action}", **form)
        assert answer.status == 404, action
        missing_too = await outsider.act(f"/admin/cases/999999/{action}", **form)
        assert same(await answer.text(), await missing_too.text(), street.civil), action
    assert await snapshot(linli, street.civil) == before


async def test_every_action_is_refused_for_the_wrong_person(
    linli: Linli, street: Street, desk: dict[str, Browser]
) -> None:
    civil = f"/admin/cases/{street.civil}"
    card = await page(desk["S037"], civil)
    assert f'action="{civil}/accept"' not in card and f'action="{civil}/note"' in card
    for code, number in (("S037", street.civil), ("S027", street.found), ("S042", street.found)):
        before = await snapshot(linli, number)
        for action, form in ACTIONS.items():
            answer = await desk[code].act(f"/admin/cases/{number}/{action}", **form)
            assert answer.status == 403, (code, action)
        assert await snapshot(linli, number) == before, code
    assert (await desk["S021"].act(f"{civil}/accept")).status == 303
    colleague = desk["S022"]
    before = await snapshot(linli, street.civil)
    assert (await colleague.act(f"{civil}/accept")).status == 409  # taken: first come owns it
    for action in ("ask", "step", "transfer"):
        answer = await colleague.act(f"{civil}/{action}", **ACTIONS[action])
        assert answer.status == 403, action
        assert "不归您办理" in await answer.text()
    assert await snapshot(linli, street.civil) == before
    for code in ("S021", "S027", "S017"):
        assert (await desk[code].get("/admin/dispatch")).status == 403, code
        form = {"lead": "civil_affairs", "days": "3"}
        refused = await desk[code].act(f"/admin/dispatch/{street.found}", **form)
        assert refused.status == 403, code
    hidden = await desk["S042"].act(
        f"/admin/dispatch/{street.civil}", lead="civil_affairs", days="3"
    )
    assert hidden.status == 404  # not a case the dispatcher may see
    for code in ("S042", "S027"):
        assert (await desk[code].get("/admin/appointments")).status == 403, code
    nav = await page(desk["S042"], "/admin/cases")
    assert 'href="/admin/dispatch"' in nav and 'href="/admin/appointments"' not in nav


async def test_dispatch_to_two_departments_through_to_resolution(
    linli: Linli, street: Street, desk: dict[str, Browser]
) -> None:
    number, resident, reporter = street.found, street.resident, street.staff["S027"]
    both = {(resident, None), (None, reporter)}
    queue = await page(desk["S042"], "/admin/dispatch")
    form = queue[queue.index(f'action="/admin/dispatch/{number}"') :]
    form = form[: form.index("</form>")]
    assert re.search(r'value="civil_affairs" selected', form)  # the category's suggestion
    assert re.search(r'value="health" checked', form)
    assert 'name="days"' in form and 'value="3"' in form
    short = await desk["S042"].act(f"/admin/dispatch/{number}", lead="civil_affairs", days="0")
    assert short.status == 400
    sent = await desk["S042"].act(
        f"/admin/dispatch/{number}", lead="civil_affairs", co="health", days="3"
    )
    assert sent.status == 303
    assert await told(linli, "dispatch.news_dispatched") == both
    alerted = {s for kind, _, s, _ in await news(linli) if kind == "alert"}
    assert {street.staff["S021"], street.staff["S025"]} <= alerted
    after = await page(desk["S042"], "/admin/dispatch")
    assert "已派单" in after and f'action="/admin/dispatch/{number}"' not in after

    case_path = f"/admin/cases/{number}"
    co_view = await page(desk["S025"], case_path)
    assert MASKED in co_view and PHONE not in co_view
    assert f'action="{case_path}/co_accept"' in co_view
    assert (await desk["S025"].act(f"{case_path}/co_accept")).status == 303
    assert await told(linli, "dispatch.news_co_accepted") == both

    assert (await desk["S021"].act(f"{case_path}/accept")).status == 303
    assert await told(linli, "cases.notice_accepted") == {(resident, None)}
    assert await told(linli, "dispatch.reporter_accepted") == {(None, reporter)}  # own words
    owner_view = await page(desk["S021"], case_path)
    assert PHONE in owner_view and "王小明" in owner_view
    assert "南街社区5栋2单元" in owner_view and "media-0001" in owner_view
    assert "30.680000, 103.850000" in owner_view
    for code in ("S025", "S037"):
        seen = await page(desk[code], case_path)
        assert MASKED in seen and PHONE not in seen, code
    async with linli.sessions() as session:
        views = (await session.exec(select(PersonalDataView))).all()
    assert [(v.staff_id, v.resident_id, v.subject, v.field_name, v.place) for v in views] == [
        (street.staff["S021"], resident, f"case:{number}", "name, phone, ID, words", "desk")
    ]

    early = await desk["S021"].act(f"{case_path}/step", step="resolved")
    assert early.status == 409 and "协同部门还没有全部完成" in await early.text()
    assert await told(linli, "cases.notice_resolved") == set()
    assert (await desk["S025"].act(f"{case_path}/co_done")).status == 303
    assert await told(linli, "dispatch.news_co_done") == both
    assert (await desk["S021"].act(f"{case_path}/step", step="resolved")).status == 303
    assert await told(linli, "cases.notice_resolved") == {(resident, None)}
    assert await told(linli, "dispatch.reporter_resolved") == {(None, reporter)}
    async with linli.sessions() as session:
        case = await session.get(Case, number)
        assert case is not None and case.status == CaseStatus.RESOLVED
    timeline = await page(desk["S021"], case_path)
    for words in ("街道派单", "协办部门接手", "受理，负责到底", "协办部门完成", "已办结"):
        assert words in timeline, words
    # Closed: masked for its handler too, and the note says why (not "once you accept").
    assert PHONE not in timeline and "事项已结束，完整号码不再显示" in timeline
    assert "受理后可见完整号码" not in timeline
    english = await page(desk["S021"], f"{case_path}?lang=en")
    assert "Timeline" in english and "Handling departments" in english
    await page(desk["S042"], "/admin/dispatch")
    await page(desk["S025"], case_path)


async def test_a_called_department_returns_the_call_with_a_reason(
    linli: Linli, street: Street, desk: dict[str, Browser]
) -> None:
    number = street.elsewhere
    sent = await desk["S042"].act(f"/admin/dispatch/{number}", lead="masswork", days="3")
    assert sent.status == 303
    path = f"/admin/cases/{number}"
    assert f'action="{path}/return"' in await page(desk["S015"], path)
    before = await snapshot(linli, number)
    blank = await desk["S015"].act(f"{path}/return", reason="   ")
    assert blank.status == 409 and "请写明退回原因" in await blank.text()
    assert await snapshot(linli, number) == before
    assert (await desk["S015"].act(f"{path}/return", reason="这是住建部门的事")).status == 303
    async with linli.sessions() as session:
        case = await session.get(Case, number)
        assert case is not None and case.status == CaseStatus.NEW and case.department_id is None
    dispatcher = street.staff["S042"]
    assert (None, dispatcher) in await told(linli, "dispatch.alert_returned")
    reporter = (await _grid_of(linli, "S028"))[0]
    assert (None, reporter) in await told(linli, "dispatch.news_returned")
    again = await page(desk["S042"], "/admin/dispatch")
    assert f'action="/admin/dispatch/{number}"' in again  # back in the queue


async def test_transfer_ask_and_note_from_the_case_page(
    linli: Linli, street: Street, desk: dict[str, Browser]
) -> None:
    path = f"/admin/cases/{street.civil}"
    card = await page(desk["S021"], path)
    assert "南街社区3栋" in card and "周六上午" in card and MASKED in card
    no_reason = await desk["S021"].act(f"{path}/transfer", department="social_security", reason="")
    assert no_reason.status == 400
    moved = await desk["S021"].act(
        f"{path}/transfer", department="social_security", reason="社保卡的事"
    )
    assert moved.status == 303
    assert moved.headers["Location"] == "/admin/cases"  # handed on: back to the queue
    assert (street.resident, None) in await told(linli, "cases.notice_transferred")
    assert (await desk["S021"].get(path)).status == 404  # no longer theirs to see
    assert (await desk["S017"].act(f"{path}/accept")).status == 303
    twice = await desk["S017"].act(f"{path}/accept")  # a replayed form repeats nothing
    assert twice.status == 409 and "已经受理" in await twice.text()
    asked = await desk["S017"].act(f"{path}/ask", question="请问周六上午在家吗？")
    assert asked.status == 303
    assert await told(linli, "cases.notice_question") == {(street.resident, None)}
    assert (await desk["S017"].act(f"{path}/note", note="已电话联系")).status == 303
    seen = await page(desk["S017"], path)
    assert "已电话联系" in seen and "请问周六上午在家吗？" in seen and "社保卡的事" in seen
    assert "已为" in seen and 'role="status"' in seen  # the flash after the form
    assert "已为" not in await page(desk["S017"], path)  # shown once
    assert (await desk["S017"].act(f"{path}/note", note="  ")).status == 400
    async with linli.sessions() as session:
        case = await session.get(Case, street.civil)
        assert case is not None and case.status == CaseStatus.WAITING_RESIDENT


async def test_todays_appointments_are_served_from_the_desk(
    linli: Linli, street: Street, desk: dict[str, Browser]
) -> None:
    starts = datetime(2026, 11, 27, 9, 30, tzinfo=SHANGHAI)
    number = await book(
        linli,
        street.resident,
        starts,
        ReminderRules(),
        service_code="ss-card-reissue",
        ref="LCY-T-1",
    )
    async with linli.sessions() as session, session.begin():
        on_duty = await session.exec(
            select(func.count()).where(
                col(RosterShift.staff_id) == street.staff["S001"],
                col(RosterShift.day) == starts.date(),
            )
        )
        if not on_duty.one():
            session.add(
                RosterShift(
                    staff_id=street.staff["S001"],
                    day=starts.date(),
                    starts_at=starts.replace(hour=8, minute=0),
                    ends_at=starts.replace(hour=18, minute=0),
                    window=4,
                )
            )
    clerk = desk["S001"]
    listed = await page(clerk, "/admin/appointments")
    assert "LCY-T-1" in listed and "社保卡补办" in listed
    assert f'action="/admin/appointments/{number}/check_in"' in listed
    untrained = await page(desk["S021"], "/admin/appointments")
    assert "LCY-T-1" not in untrained
    refused = await desk["S021"].act(f"/admin/appointments/{number}/check_in")
    assert refused.status == 404
    assert (await clerk.act(f"/admin/appointments/{number}/check_in")).status == 303
    assert (await clerk.act(f"/admin/appointments/{number}/check_in")).status == 409
    assert (await clerk.act(f"/admin/appointments/{number}/complete")).status == 303
    async with linli.sessions() as session:
        appointment = await session.get(Appointment, number)
        assert appointment is not None and appointment.status == AppointmentStatus.COMPLETED
    assert await told(linli, "window.rate_request") == {(street.resident, None)}


async def test_a_helper_gives_its_part_back_and_the_dispatcher_calls_another(
    linli: Linli, street: Street, desk: dict[str, Browser]
) -> None:
    number, path = street.found, f"/admin/cases/{street.found}"
    sent = await desk["S042"].act(
        f"/admin/dispatch/{number}", lead="civil_affairs", co="health", days="3"
    )
    assert sent.status == 303
    assert (await desk["S021"].act(f"{path}/accept")).status == 303
    assert (await desk["S025"].act(f"{path}/return", reason="这不是卫生口的事")).status == 303
    # The lead carries on: nobody tells the resident that the case went back to the street.
    assert await told(linli, "dispatch.news_returned") == set()
    queue = await page(desk["S042"], "/admin/dispatch")
    settle = f'action="/admin/dispatch/{number}/part/'
    assert settle in queue and "这不是卫生口的事" in queue
    department = queue[queue.index(settle) + len(settle) :].split('"')[0]
    assert (
        await desk["S021"].act(f"/admin/dispatch/{number}/part/{department}", helper="masswork")
    ).status == 403
    called = await desk["S042"].act(
        f"/admin/dispatch/{number}/part/{department}", helper="masswork"
    )
    assert called.status == 303
    assert settle not in await page(desk["S042"], "/admin/dispatch")  # answered
    assert (None, street.staff["S015"]) in await told(linli, "cases.alert_co")
    assert f'action="{path}/co_accept"' in await page(desk["S015"], path)
    again = await desk["S042"].act(f"/admin/dispatch/{number}/part/{department}", helper="")
    assert again.status == 409  # nothing returned is left to answer
