"""The staff desk (/admin) in a real browser: Debian's Chromium, driven by Playwright, on the real
aiohttp app (the fixtures of tests/test_web_browser.py, through tests/browser_fixtures.py).

Every staff member logs in through the login form and works by clicking and typing: each role
sees exactly its pages in the navigation (screenshots of every page, two at a phone's width); a
grid report goes from the dispatcher through a co-handling and a lead department to resolution,
the resident and the grid leader told of every step; a roster CSV is uploaded; a notice's
progress bar moves while the outbox worker delivers; everyone sees their own stars. Refusals:
every record route of the desk (read from its route table, so that a new one cannot escape)
answers 404 to staff outside the record's scope and 403 to roles without its page, changing
nothing; forms crafted in the page by the wrong person are refused; after logging out neither
the back button nor the old cookie opens the desk.

Screenshots go to var/screenshots/desk/ (not in git).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Locator, Page, expect
from sqlmodel import SQLModel, col, func, select

from bot.app import Linli
from bot.clock import ManualClock
from bot.i18n import t
from bot.outgoing.case_news import REPORTER_WORDS
from bot.outgoing.message import Message, Say
from bot.web.admin import PAGES, case_actions, desk_app, needs
from bot.web.admin.layout import NavEntry
from models.base import SHANGHAI
from models.binding import issue_bind_code
from models.booking import Appointment, RosterShift
from models.case_ops import accept_case, case_catalogue, open_case
from models.cases import Case, CaseEvent, CaseHandler, CaseKind, CaseStatus
from models.messaging import BindCode, OutboxMessage
from models.need_ops import new_item, submit_need
from models.needs import NeedItem
from models.notices import Notice
from models.org import Community, Staff, StaffRole
from models.people import Resident
from models.policy import DESK_PAGES, DeskPage
from models.reminders import ReminderRules
from models.services import DayKind, HolidayOverride
from models.stars import scorecard
from scheduler.context import JobContext
from scheduler.notices import run_notices
from tests.browser_fixtures import (
    PHONE,
    DeskOpener,
    base_url,
    browser,
    desks,
    needs_chromium,
    page_errors,
    screenshots,
)
from tests.conftest import DATA
from tests.dispatching import dispatch
from tests.fakes.recording_channel import RecordingChannel
from tests.scheduler_data import bind_staff, book, resident_with_accounts
from tests.test_notices import deliver_all, street_of_two_grids, worker

__all__ = ["base_url", "browser", "desks", "page_errors", "screenshots"]  # fixtures by name

pytestmark = needs_chromium

ZH = "zh-CN"
RESIDENT_PHONE = "13812345678"
MASKED = "138****5678"
ROLES = {  # one staff member of each role (data/staff.toml)
    StaffRole.CLERK: "S001",  # 王丽, social security, window 4
    StaffRole.DEPARTMENT_STAFF: "S021",  # 邓秀英, civil affairs
    StaffRole.GRID_LEADER: "S027",  # 董红梅, 南街社区 grid 1
    StaffRole.DISPATCHER: "S042",  # 何婷
    StaffRole.SUPERVISOR: "S037",  # 沈国平
    StaffRole.LEADER: "S043",  # 钟国强, the street's leader
    StaffRole.ADMIN: "S040",  # 贾晨
}
NAV: tuple[NavEntry, ...] = tuple(entry for module in PAGES for entry in module.NAV)


# ─────────────────────────── the street's records ───────────────────────────


async def staff_ids(linli: Linli, *codes: str) -> dict[str, int]:
    async with linli.sessions() as session:
        rows = (await session.exec(select(Staff).where(col(Staff.code).in_(codes)))).all()
    return {row.code: row.id or 0 for row in rows}


async def resident_with_phone(linli: Linli, external_id: str = "o-resident-1") -> int:
    """A resident with a WeChat account (so that news reaches them), a name and a phone."""
    number = await resident_with_accounts(linli, ("wechat", external_id, timedelta(0)))
    async with linli.sessions() as session, session.begin():
        row = await session.get(Resident, number)
        assert row is not None
        row.phone, row.name = RESIDENT_PHONE, "王小明"
        session.add(row)
    return number


async def new_case(linli: Linli, **fields: Any) -> int:
    """A case opened by the domain, as the chat opens one."""
    async with linli.sessions() as session, session.begin():
        case = await open_case(
            session, case_catalogue(DATA), now=linli.clock.now(), street_code="LC", **fields
        )
        assert case.id is not None
        return case.id


async def grid_report(linli: Linli, resident: int, reporter: str = "S027") -> int:
    """A grid leader's report about a resident of their grid (独居老人), waiting for the
    dispatcher (街道呼叫), as tests/test_admin_cases.py makes one."""
    async with linli.sessions() as session:
        leader = (await session.exec(select(Staff).where(Staff.code == reporter))).one()
    return await new_case(
        linli,
        kind=CaseKind.GRID_REPORT,
        category_code="elderly-care",
        summary="独居老人家里没人应门",
        resident_id=resident,
        reporter_staff_id=leader.id,
        grid_id=leader.grid_id,
        details={"answers": {"place": "南街社区5栋2单元"}},
        to_dispatch=True,
    )


async def civil_case(linli: Linli, resident: int | None = None) -> int:
    """A civil-affairs proxy case nobody has accepted yet."""
    return await new_case(
        linli,
        kind=CaseKind.PROXY,
        category_code="ca-elderly-allowance",
        summary="代办高龄补贴",
        resident_id=resident,
    )


async def todays_appointment(linli: Linli, resident: int, clerk: str = "S001") -> int:
    """A social-security card appointment this morning, with the clerk on the roster today."""
    starts = datetime(2026, 11, 27, 9, 30, tzinfo=SHANGHAI)
    number = await book(
        linli, resident, starts, ReminderRules(), service_code="ss-card-reissue", ref="LCY-T-1"
    )
    person = (await staff_ids(linli, clerk))[clerk]
    async with linli.sessions() as session, session.begin():
        on_duty = await session.exec(
            select(func.count()).where(
                col(RosterShift.staff_id) == person, col(RosterShift.day) == starts.date()
            )
        )
        if not on_duty.one():
            session.add(
                RosterShift(
                    staff_id=person,
                    day=starts.date(),
                    starts_at=starts.replace(hour=8, minute=0),
                    ends_at=starts.replace(hour=18, minute=0),
                    window=4,
                )
            )
    return number


async def need_item(linli: Linli, title: str = "加装电梯") -> int:
    """A need item of 南街社区 with two residents behind it."""
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        community = (await session.exec(select(Community).where(Community.code == "C01"))).one()
        people = [Resident(community_id=community.id, created_at=now) for _ in range(2)]
        session.add_all(people)
        await session.flush()
        first, _ = await submit_need(
            session,
            resident_id=people[0].id or 0,
            text=f"{title}，老人上下楼太难",
            now=now,
            category="neighbourhood",
            community_id=community.id,
        )
        item = await new_item(session, first, title, now)
        return item.id or 0


# ─────────────────────────── what the outbox holds ───────────────────────────


async def news(linli: Linli) -> list[tuple[int | None, int | None, str]]:
    """Every message in the outbox as (resident id, staff id, catalogue key of its first line)."""
    async with linli.sessions() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    found = []
    for row in rows:
        line = Message.from_payload(row.payload).lines[0]
        found.append((row.resident_id, row.staff_id, line.key if isinstance(line, Say) else ""))
    return found


async def told(linli: Linli, key: str) -> set[tuple[int | None, int | None]]:
    """Who was sent a message with this key: (resident id, staff id) pairs."""
    return {(r, s) for r, s, k in await news(linli) if k == key}


WATCHED: tuple[type[SQLModel], ...] = (
    Case,
    CaseEvent,
    CaseHandler,
    OutboxMessage,
    Appointment,
    NeedItem,
    Notice,
    RosterShift,
    BindCode,
    HolidayOverride,
)


async def everything(linli: Linli) -> dict[str, list[str]]:
    """Every row of the tables a desk form could change, in a comparable form."""
    found: dict[str, list[str]] = {}
    async with linli.sessions() as session:
        for table in WATCHED:
            rows = (await session.exec(select(table))).all()
            found[table.__name__] = sorted(repr(row.model_dump()) for row in rows)
    return found


# ─────────────────────────── in the browser ───────────────────────────


async def nav_links(page: Page) -> list[str]:
    """The navigation's addresses, in order."""
    links: list[str] = await page.locator("header nav a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    return links


async def no_sideways_scroll(page: Page) -> None:
    """Neither the document nor the body is wider than the viewport."""
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    assert max(widths[:2]) <= widths[2], (page.url, widths)


async def opened(page: Page, url: str, status: int = 200) -> None:
    """Go to a desk page and check its status."""
    response = await page.goto(url)
    assert response is not None, url
    assert response.status == status, (url, response.status)


async def submit_crafted(page: Page, path: str, fields: dict[str, str]) -> int:
    """Build a form in the page (the session's CSRF token taken from the logout form), post it
    to `path` as a browser would, and return the answer's status."""
    async with page.expect_navigation() as navigation:
        await page.evaluate(
            """([path, fields]) => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = path;
                const csrf = document.querySelector('input[name=csrf]').value;
                for (const [name, value] of Object.entries({csrf, ...fields})) {
                    const input = document.createElement('input');
                    input.type = 'hidden';
                    input.name = name;
                    input.value = value;
                    form.appendChild(input);
                }
                document.body.appendChild(form);
                form.submit();
            }""",
            [path, fields],
        )
    response = await navigation.value
    assert response is not None
    return response.status


async def choose_co_handlers(form: Locator, chosen: dict[str, str]) -> None:
    """Tick exactly these co-handling departments (code: name) on a dispatch form: boxes by
    their labels in a fieldset, or the options of a multiple select."""
    group = form.get_by_role("group", name=t(ZH, "desk.dispatch_co"))
    if not await group.count():
        select = form.get_by_label(t(ZH, "desk.dispatch_co"), exact=True)
        await select.select_option(list(chosen))
        return
    boxes = group.get_by_role("checkbox")
    for index in range(await boxes.count()):
        if await boxes.nth(index).get_attribute("value") not in chosen:
            await boxes.nth(index).uncheck()
    for name in chosen.values():
        await group.get_by_label(name).check()


def button(page: Page, key: str, **values: Any) -> Locator:
    """The button labelled with this catalogue text."""
    return page.get_by_role("button", name=t(ZH, key, **values), exact=True)


REFUSED = re.compile(
    r"console: Failed to load resource: the server responded with a status of (\d+)"
)


def surprises(errors: Sequence[str], *refused: int) -> list[str]:
    """The page errors, less the browser's notes of the refusals (4xx answers) a test asked for."""
    found = [(error, REFUSED.match(error)) for error in errors]
    return [error for error, match in found if match is None or int(match.group(1)) not in refused]


def expected_nav(role: StaffRole) -> list[str]:
    """The navigation a role should see: the pages models.policy.DESK_PAGES opens to it."""
    return [entry.href for entry in NAV if entry.page in DESK_PAGES[role]]


# ─────────────────────────── 1. every role, every page ───────────────────────────


def test_every_desk_page_has_a_place_in_the_navigation() -> None:
    """Each page of models.policy.DeskPage is served by a module listed in PAGES (so that the
    navigation and the screenshots below cover it)."""
    assert {entry.page for entry in NAV} == set(DeskPage)


async def test_each_role_sees_exactly_its_pages(
    linli: Linli,
    base_url: str,
    desks: DeskOpener,
    page_errors: list[str],
    screenshots: Path,
) -> None:
    resident = await resident_with_phone(linli)
    report = await grid_report(linli, resident)
    await dispatch(linli, report, "social_security", "civil_affairs")
    await todays_appointment(linli, resident)
    await need_item(linli)
    for role, code in ROLES.items():
        page = await desks(code)
        assert page.url == base_url + expected_nav(role)[0], role  # the first page it opens
        await expect(page.locator(".me")).to_contain_text(code)
        assert await nav_links(page) == expected_nav(role), role
        for entry in NAV:
            if entry.href not in expected_nav(role):
                continue
            await opened(page, base_url + entry.href)
            current = page.locator(f'header nav a[href="{entry.href}"]')
            await expect(current).to_have_attribute("aria-current", "page")
            await expect(current).to_have_text(t(ZH, entry.label))
            name = f"{role.value}-{entry.href.rsplit('/', 1)[1]}.png"
            await page.screenshot(path=screenshots / name, full_page=True)
        await opened(page, f"{base_url}/admin/cases/{report}")
        await expect(page.locator("h1")).to_contain_text("LC-")
        await page.screenshot(path=screenshots / f"{role.value}-case.png", full_page=True)
        if role == StaffRole.CLERK:
            await page.set_viewport_size(PHONE)
            for name, path in (("cases", "/admin/cases"), ("case", f"/admin/cases/{report}")):
                await opened(page, base_url + path)
                await no_sideways_scroll(page)
                await page.screenshot(path=screenshots / f"phone-{name}.png", full_page=True)
    assert page_errors == []


# ─────────────────────────── 2. dispatch to resolution ───────────────────────────


async def test_a_grid_report_from_dispatch_to_resolution_across_two_departments(
    linli: Linli, base_url: str, desks: DeskOpener, page_errors: list[str]
) -> None:
    resident = await resident_with_phone(linli)
    ids = await staff_ids(linli, "S027", "S042", "S021", "S025", "S017")
    for code in ("S027", "S021", "S025"):
        await bind_staff(linli, code, "telegram", f"tg-{code}")
    number = await grid_report(linli, resident)
    both = {(resident, None), (None, ids["S027"])}  # the resident and the reporting grid leader
    case_url = f"{base_url}/admin/cases/{number}"
    async with linli.sessions() as session:
        ref = (await session.exec(select(Case.ref).where(Case.id == number))).one()

    # 街道呼叫: the dispatcher calls civil affairs to lead and health to help, in four days.
    dispatcher = await desks("S042")
    await dispatcher.get_by_role("link", name=t(ZH, "desk.nav_dispatch")).click()
    waiting = dispatcher.locator("article").filter(has_text=ref)
    await expect(waiting).to_contain_text("独居老人家里没人应门")
    await waiting.get_by_label(t(ZH, "desk.dispatch_lead")).select_option("civil_affairs")
    await choose_co_handlers(waiting, {"health": "卫生健康科"})
    await waiting.get_by_label(t(ZH, "desk.dispatch_days")).fill("4")
    await waiting.get_by_role("button", name=t(ZH, "desk.action_dispatch")).click()
    await expect(dispatcher.locator(".flash")).to_have_text(t(ZH, "desk.done_dispatch", ref=ref))
    await expect(dispatcher.locator("article").filter(has_text=ref)).to_have_count(0)
    assert await told(linli, "dispatch.news_dispatched") == both
    async with linli.sessions() as session:
        case = await session.get(Case, number)
        assert case is not None and case.due_at is not None
        parts = (await session.exec(select(CaseHandler).where(CaseHandler.case_id == number))).all()
    assert case.department_id is not None
    assert sorted((p.lead, p.department_id == case.department_id) for p in parts) == [
        (False, False),
        (True, True),
    ]

    # The co-handling department (health) takes its part; the phone stays masked for it.
    co = await desks("S025")
    await opened(co, case_url)
    await expect(co.locator("main")).to_contain_text(MASKED)
    await button(co, "desk.action_co_accept").click()
    await expect(co.locator(".flash")).to_be_visible()
    await expect(button(co, "desk.action_co_accept")).to_have_count(0)
    await expect(button(co, "desk.action_accept")).to_have_count(0)  # leading is not theirs
    assert await told(linli, "dispatch.news_co_accepted") == both

    # The lead department accepts (首问责任) and now sees the resident's full phone.
    lead = await desks("S021")
    await opened(lead, case_url)
    await expect(lead.locator("main")).to_contain_text(MASKED)
    await button(lead, "desk.action_accept").click()
    await expect(lead.locator(".flash")).to_be_visible()
    await expect(lead.get_by_role("link", name=RESIDENT_PHONE)).to_have_attribute(
        "href", f"tel:{RESIDENT_PHONE}"
    )
    await expect(lead.locator("main")).to_contain_text("王小明")
    assert await told(linli, "cases.notice_accepted") == {(resident, None)}
    assert await told(linli, "dispatch.reporter_accepted") == {(None, ids["S027"])}
    await co.reload()
    await expect(co.locator("main")).to_contain_text(MASKED)
    assert RESIDENT_PHONE not in await co.content()
    other = await desks("S017")  # social security: not called, so not theirs to see at all
    await opened(other, case_url, 404)
    assert RESIDENT_PHONE not in await other.content() and ref not in await other.content()

    # Resolving waits for the co-handler's part; once it is done the lead resolves.
    await lead.reload()
    await button(lead, "desk.step_resolved").click()
    await expect(lead.locator("main [role=alert]")).to_contain_text("协同部门还没有全部完成")
    assert await told(linli, "cases.notice_resolved") == set()
    await co.reload()
    await button(co, "desk.action_co_done").click()
    await expect(co.locator(".flash")).to_be_visible()
    assert await told(linli, "dispatch.news_co_done") == both
    await opened(lead, case_url)
    await button(lead, "desk.step_resolved").click()
    await expect(lead.locator(".flash")).to_be_visible()
    assert await told(linli, "cases.notice_resolved") == {(resident, None)}
    assert await told(linli, "dispatch.reporter_resolved") == {(None, ids["S027"])}
    async with linli.sessions() as session:
        case = await session.get(Case, number)
        assert case is not None and case.status == CaseStatus.RESOLVED
    timeline = lead.locator("ol.timeline")
    for words in ("街道派单", "协办部门接手", "受理，负责到底", "协办部门完成", "已办结"):
        await expect(timeline).to_contain_text(words)
    await expect(lead.get_by_role("link", name=RESIDENT_PHONE)).to_have_count(0)  # closed now
    reporter_news = [k for r, s, k in await news(linli) if s == ids["S027"]]
    resident_news = [k for r, s, k in await news(linli) if r == resident]
    steps = [
        "dispatch.news_dispatched",
        "dispatch.news_co_accepted",
        "cases.notice_accepted",
        "dispatch.news_co_done",
        "cases.notice_resolved",
    ]
    assert [k for k in resident_news if k in steps] == steps
    # The grid leader hears the same steps in a reporter's words (REPORTER_WORDS).
    for_reporter = [REPORTER_WORDS.get(k, k) for k in steps]
    assert [k for k in reporter_news if k in for_reporter] == for_reporter
    assert surprises(page_errors, 404, 409) == []


# ─────────────────────────── 3. the roster CSV ───────────────────────────

ROSTER_HEADER = "date,staff,start,end,window,skills"
IMPORT_DAY = date(2026, 12, 14)  # a Monday; neither S011 nor S012 is on the seeded roster


async def shifts_on(linli: Linli, day: date) -> list[tuple[str, str, str, int | None]]:
    """A day's shifts as (staff code, local start, local end, window)."""
    stmt = (
        select(Staff.code, RosterShift)
        .join(Staff, col(Staff.id) == col(RosterShift.staff_id))
        .where(RosterShift.day == day)
    )
    async with linli.sessions() as session:
        found = (await session.exec(stmt)).all()
    return sorted(
        (
            code,
            f"{s.starts_at.astimezone(SHANGHAI):%H:%M}",
            f"{s.ends_at.astimezone(SHANGHAI):%H:%M}",
            s.window,
        )
        for code, s in found
    )


async def upload_roster(page: Page, text: str) -> None:
    """Choose a CSV file in the roster page's import form and send it."""
    form = page.locator("#import")
    await form.get_by_label(t(ZH, "desk_admin.field_file")).set_input_files(
        {"name": "roster.csv", "mimeType": "text/csv", "buffer": text.encode("utf-8")}
    )
    await form.get_by_role("button", name=t(ZH, "desk_admin.import_submit")).click()


async def test_a_roster_csv_is_imported_from_the_roster_page(
    linli: Linli, base_url: str, desks: DeskOpener, page_errors: list[str], screenshots: Path
) -> None:
    supervisor = await desks("S037")
    week = f"{base_url}/admin/roster?week={IMPORT_DAY}"
    await opened(supervisor, week)
    day = supervisor.locator(f"#day-{IMPORT_DAY}")
    await expect(day).not_to_contain_text("何建国")
    before = await everything(linli)

    bad = "\n".join(
        [
            ROSTER_HEADER,
            f"{IMPORT_DAY},S011,13:00,15:00,,",  # good, but the file has problems: not imported
            "2026-12-32,S011,13:00,15:00,,",
            "2026-12-15,S999,13:00,12:00,,",
        ]
    )
    await upload_roster(supervisor, bad)
    problems = supervisor.locator("main > .error[role=alert]")
    await expect(problems).to_contain_text("排班表没有导入，排班没有任何修改")
    await expect(problems).to_contain_text("第 3 行：bad date '2026-12-32'")
    await expect(problems).to_contain_text("第 4 行：unknown staff code 'S999'")
    await expect(problems).not_to_contain_text("第 2 行")
    await supervisor.screenshot(path=screenshots / "roster-import-refused.png", full_page=True)
    assert await everything(linli) == before

    good = (
        f"\ufeff{ROSTER_HEADER}\r\n{IMPORT_DAY},S011,13:00,15:00,7,\r\n"
        f"{IMPORT_DAY},S012,9:00,12:00,,\r\n"
    )
    await upload_roster(supervisor, good)
    await supervisor.wait_for_url(re.compile(rf"/admin/roster\?week={IMPORT_DAY}"))
    await expect(supervisor.locator(".flash")).to_contain_text(
        "排班表已导入：共 2 行，新增 2 个班次"
    )
    day = supervisor.locator(f"#day-{IMPORT_DAY}")
    await day.locator("summary").click()
    rows = day.locator("tbody tr")
    await expect(rows.filter(has_text="（S011）")).to_contain_text(["13:00–15:00"])
    await expect(rows.filter(has_text="（S011）").locator("td").nth(2)).to_have_text("7")
    await expect(rows.filter(has_text="（S012）")).to_contain_text(["09:00–12:00"])
    await expect(rows.filter(has_text="（S011）")).to_be_visible()
    await supervisor.screenshot(path=screenshots / "roster-imported.png", full_page=True)
    found = await shifts_on(linli, IMPORT_DAY)
    assert ("S011", "13:00", "15:00", 7) in found and ("S012", "09:00", "12:00", None) in found
    assert surprises(page_errors, 400) == []


# ─────────────────────────── 4. a notice's progress ───────────────────────────

NOTICE = "明天上午9点到12点停水，请提前储水。"


async def test_a_notices_progress_moves_to_done_while_the_worker_delivers(
    linli: Linli,
    clock: ManualClock,
    base_url: str,
    desks: DeskOpener,
    page_errors: list[str],
    screenshots: Path,
) -> None:
    await street_of_two_grids(linli)  # grid 1 of 南街社区: 5 residents, 4 reachable accounts
    leader = await desks("S027")
    await leader.get_by_role("link", name=t(ZH, "desk_work.nav_notices")).click()
    await leader.get_by_label(t(ZH, "desk_work.notice_text")).fill(NOTICE)
    await leader.get_by_role("button", name=t(ZH, "desk_work.preview")).click()
    await expect(leader.locator("#preview-text")).to_contain_text(NOTICE)
    await expect(leader.locator('[data-count="accounts"]')).to_have_text("4")
    await leader.get_by_role("button", name=t(ZH, "desk_work.send_now", count=4)).click()
    await leader.wait_for_url(re.compile(r"/admin/notices/\d+$"))
    async with linli.sessions() as session:
        [notice] = (await session.exec(select(Notice))).all()
    assert leader.url == f"{base_url}/admin/notices/{notice.id}"
    bar = leader.locator("#notice-progress")
    await expect(bar).to_have_attribute("max", "5")
    await expect(bar).to_have_attribute("value", "1")  # the resident without any account
    await expect(leader.locator('[data-count="pending"]')).to_have_text("4")

    work = worker(linli, RecordingChannel(clock, name="web"), bulk=2)
    assert await work.deliver_due() == 2
    await expect(bar).to_have_attribute("value", "3")  # polled, without a reload
    await expect(leader.locator('[data-count="pending"]')).to_have_text("2")
    await deliver_all(work)
    await expect(bar).to_have_attribute("value", "5")
    await expect(leader.locator('[data-count="pending"]')).to_have_text("0")
    await expect(leader.locator('[data-count="sent"]')).to_have_text("4")
    await expect(leader.locator("#progress-text")).to_contain_text("待发送 0")
    ctx = JobContext(linli.engine, linli.sessions, linli.clock, linli.settings)
    assert await run_notices(ctx) == 1  # the notice is done (the author's summary queued)
    await leader.reload()
    await expect(leader.locator("[data-status]")).to_have_text(t(ZH, "notices.status_done"))
    await leader.screenshot(path=screenshots / "notice-done.png", full_page=True)
    assert page_errors == []


# ─────────────────────────── 5. my stars ───────────────────────────


async def accepted_by(linli: Linli, code: str, *numbers: int) -> None:
    """The staff member accepts these cases (受理), as from the chat."""
    async with linli.sessions() as session, session.begin():
        person = (await session.exec(select(Staff).where(Staff.code == code))).one()
        for number in numbers:
            case = await session.get(Case, number)
            assert case is not None
            assert await accept_case(session, case, person, linli.clock.now()) is None


async def test_everyone_sees_their_own_stars_and_how_they_are_counted(
    linli: Linli, base_url: str, desks: DeskOpener, page_errors: list[str], screenshots: Path
) -> None:
    await accepted_by(linli, "S021", await civil_case(linli), await civil_case(linli))
    social = await new_case(
        linli, kind=CaseKind.PROXY, category_code="ss-card", summary="代办社保卡"
    )
    await accepted_by(linli, "S001", social)
    ids = await staff_ids(linli, "S001", "S021", "S027", "S037")
    # A grid leader takes no cases: the count is scored as no data (data/stars.toml).
    accepted: dict[str, int | None] = {"S001": 1, "S021": 2, "S027": None}
    this_month, last_month = date(2026, 11, 1), date(2026, 10, 1)  # the clock: 27 Nov 2026
    month_titles = {
        this_month: t(ZH, "desk_numbers.month_so_far", month="2026年11月"),
        last_month: t(ZH, "desk_numbers.month_done", month="2026年10月"),
    }
    for code in ("S001", "S021", "S027", "S037"):
        page = await desks(code)
        await page.get_by_role("link", name=t(ZH, "desk_numbers.nav_stars")).click()
        await expect(page.locator("h2").first).to_have_text(t(ZH, "desk_numbers.my_stars"))
        for month, title in month_titles.items():
            async with linli.sessions() as session:
                card = await scorecard(session, ids[code], month, DATA)
            section = page.locator("section.card").filter(
                has=page.get_by_role("heading", name=title, exact=True)
            )
            result = t(ZH, "desk_numbers.stars_result", stars=card.stars, total=f"{card.total:.1f}")
            await expect(section).to_contain_text(result)
        if code in accepted:
            mine = page.locator("section.card").filter(
                has=page.get_by_role("heading", name=month_titles[this_month], exact=True)
            )
            if accepted[code] is not None:
                count = t(ZH, "desk_numbers.accepted_data", count=accepted[code], target=8)
                row = mine.locator("tbody tr").filter(has_text="受理件数")
                await expect(row).to_contain_text(count)
            await expect(page.get_by_text(t(ZH, "desk_numbers.not_scored"))).to_have_count(0)
            await expect(
                page.locator("table.numbers caption", has_text="全员星级排行")
            ).to_have_count(0)
        else:  # a supervisor is not scored, and sees everyone's ranking
            await expect(page.get_by_text(t(ZH, "desk_numbers.not_scored"))).to_be_visible()
            ranking = page.locator("section.card").filter(
                has=page.get_by_role(
                    "heading", name=t(ZH, "desk_numbers.ranking_title", month="2026年10月")
                )
            )
            await expect(ranking.locator("tbody tr").filter(has_text="S021")).to_have_count(1)
        formula = page.locator("section.card").filter(
            has=page.get_by_role("heading", name=t(ZH, "desk_numbers.formula_title"))
        )
        await expect(formula).to_contain_text(t(ZH, "desk_numbers.formula_intro"))
        await expect(formula).to_contain_text(
            "受理件数（权重 20）：当月接单件数 ÷ 8，最多计 1 分。"
        )
        await expect(formula).to_contain_text("达到 90 分为五星")
        await page.screenshot(path=screenshots / f"stars-{code}.png", full_page=True)
    assert page_errors == []


# ─────────────────────────── 6. refusals ───────────────────────────


def desk_routes(linli: Linli) -> set[tuple[str, str]]:
    """Every (method, path template) the desk serves, read from its route table."""
    app = desk_app(linli)
    return {
        (route.method, "/admin" + resource.canonical)
        for resource in app.router.resources()
        for route in resource
        if route.method != "HEAD"
    }


def page_of(path: str) -> DeskPage:
    """The desk page a static address belongs to: the navigation entry it lies under (the
    desk's home is the case queue's)."""
    if path == "/admin/":
        return DeskPage.CASES
    under = [e for e in NAV if path == e.href or path.startswith((e.href + "/", e.href + "."))]
    assert under, f"{path}: which desk page is it? (add it to the navigation or here)"
    return max(under, key=lambda e: len(e.href)).page


async def csrf_of(page: Page) -> str:
    """The session's CSRF token, from the page's logout form."""
    token = await page.locator("header input[name=csrf]").get_attribute("value")
    assert token
    return token


async def answer(page: Page, method: str, path: str, fields: dict[str, str]) -> int:
    """A request from the staff member's browser (its cookies); forms carry the session's CSRF
    token (so that a refusal is the policy's, never the CSRF check's)."""
    url = page.url.split("/admin/", 1)[0] + path
    if method == "GET":
        return (await page.request.get(url, max_redirects=0)).status
    form: dict[str, str | float | bool] = {"csrf": await csrf_of(page), **fields}
    response = await page.request.post(url, form=form, max_redirects=0)
    assert t(ZH, "desk.csrf_failed") not in await response.text(), path
    return response.status


async def test_every_page_outside_a_role_is_refused(
    linli: Linli, base_url: str, desks: DeskOpener, page_errors: list[str], screenshots: Path
) -> None:
    """Each role, each static address of the desk (GET and POST, from the route table): 403
    unless models.policy.DESK_PAGES opens its page to the role; nothing changes."""
    static = sorted(
        (method, path)
        for method, path in desk_routes(linli)
        if "{" not in path and path not in ("/admin/login", "/admin/logout")
    )
    assert ("GET", "/admin/roster/export.csv") in static and (
        "POST",
        "/admin/roster/import",
    ) in static
    before = await everything(linli)
    for role, code in ROLES.items():
        page = await desks(code)
        for method, path in static:
            allowed = page_of(path) in DESK_PAGES[role]
            if method == "POST" and allowed:
                continue  # the pages' own tests post their forms
            status = await answer(page, method, path, {})
            opens = 303 if path == "/admin/" else 200  # the home sends on to the first page
            assert status == (opens if allowed else 403), (role, method, path, status)
        refused = [e.href for e in NAV if e.page not in DESK_PAGES[role]]
        if refused:
            await opened(page, base_url + refused[0], 403)
            await expect(page.locator("main [role=alert]")).to_have_text(
                t(ZH, "desk.page_not_yours")
            )
            await expect(page.locator(f'header nav a[href="{refused[0]}"]')).to_have_count(0)
            await page.screenshot(path=screenshots / f"refused-{role.value}.png", full_page=True)
    assert await everything(linli) == before
    assert surprises(page_errors, 403) == []


@dataclass(frozen=True)
class Probe:
    """A request by a staff member for a record and the answer it must get."""

    code: str
    method: str
    path: str
    status: int
    fields: tuple[tuple[str, str], ...] = ()


CASE_FORMS: dict[str, dict[str, str]] = {
    "accept": {},
    "note": {"note": "看一看"},
    "ask": {"question": "您方便周六上午在家吗？"},
    "step": {"step": "resolved"},
    "transfer": {"department": "social_security", "reason": "不归我们"},
    "co_accept": {},
    "co_done": {},
    "return": {"reason": "不归我们"},
}
NEED_FORMS: dict[str, dict[str, str]] = {
    "move": {"stage": "approved"},
    "reject": {"reason": "不在本街道职责范围内"},
    "rename": {"title": "小区加装电梯"},
    "merge": {"into": "1", "confirm": "yes"},
    "split": {"need": "1"},
}


async def test_records_outside_ones_scope_answer_404_and_forms_change_nothing(
    linli: Linli, base_url: str, desks: DeskOpener, page_errors: list[str]
) -> None:
    """Every record address of the desk, read from the route table (a new one fails here until
    it is given its probes): staff who open the page but may not see the record get 404 as if
    it did not exist, roles without the page 403, its rightful reader 200; no form changes a
    thing."""
    resident = await resident_with_phone(linli)
    civil = await civil_case(linli, resident)
    report = await grid_report(linli, resident)
    appointment = await todays_appointment(linli, resident)
    item = await need_item(linli)
    a, _ = await street_of_two_grids(linli)
    ids = await staff_ids(linli, "S021", "S027", "S040")
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        notice = Notice(
            author_staff_id=ids["S027"],
            text=NOTICE,
            audience={"street": False, "communities": [], "grids": [a.id], "filters": []},
            created_at=now,
        )
        session.add(notice)
        shift = RosterShift(
            staff_id=ids["S021"],
            day=date(2026, 12, 1),
            starts_at=datetime.combine(date(2026, 12, 1), time(13), SHANGHAI).astimezone(UTC),
            ends_at=datetime.combine(date(2026, 12, 1), time(15), SHANGHAI).astimezone(UTC),
        )
        session.add(shift)
        holiday = date(2026, 12, 31)
        session.add(HolidayOverride(day=holiday, day_kind=DayKind.HOLIDAY, name_zh="测试调休"))
        await session.flush()
        await issue_bind_code(
            session,
            secret=linli.settings.secret_key_value,
            now=now,
            ttl=timedelta(days=1),
            staff_id=ids["S021"],
        )
    async with linli.sessions() as session:
        code_id = (await session.exec(select(BindCode.id))).one()
    assert notice.id is not None and shift.id is not None and code_id is not None

    def probes(method: str, path: str, *who: tuple[str, int], **fields: str) -> list[Probe]:
        return [Probe(c, method, path, s, tuple(fields.items())) for c, s in who]

    cases = f"/admin/cases/{civil}"
    notices = f"/admin/notices/{notice.id}"
    table: dict[tuple[str, str], list[Probe]] = {
        ("GET", "/admin/cases/{number}"): probes(
            "GET", cases, ("S021", 200), ("S017", 404), ("S027", 404), ("S042", 404)
        ),
        ("POST", "/admin/cases/{number}/{action}"): [
            probe
            for action in case_actions.ACTIONS
            for probe in probes(
                "POST", f"{cases}/{action}", ("S017", 404), ("S042", 404), **CASE_FORMS[action]
            )
        ],
        ("POST", "/admin/dispatch/{number}"): [
            *probes("POST", f"/admin/dispatch/{civil}", ("S042", 404), lead="health", days="3"),
            *probes("POST", f"/admin/dispatch/{report}", ("S021", 403), lead="health", days="3"),
        ],
        ("POST", "/admin/dispatch/{number}/part/{department}"): [
            *probes("POST", f"/admin/dispatch/{civil}/part/1", ("S042", 404), helper="health"),
            *probes("POST", f"/admin/dispatch/{report}/part/1", ("S021", 403), helper="health"),
        ],
        ("POST", "/admin/appointments/{number}/{step}"): [
            probe
            for step in ("check_in", "complete", "no_show")
            for probe in probes(
                "POST", f"/admin/appointments/{appointment}/{step}", ("S021", 404), ("S042", 403)
            )
        ],
        # Need items carry no personal data: whoever opens the page reads every one of them.
        ("GET", "/admin/needs/{number}"): probes(
            "GET", f"/admin/needs/{item}", ("S001", 200), ("S042", 403)
        ),
        ("POST", "/admin/needs/{number}/{action}"): [
            probe
            for action in needs.ACTIONS
            for probe in probes(
                "POST",
                f"/admin/needs/{item}/{action}",
                ("S001", 403),
                ("S042", 403),
                **NEED_FORMS[action],
            )
        ],
        ("GET", "/admin/notices/{number}"): probes(
            "GET", notices, ("S027", 200), ("S028", 404), ("S001", 403)
        ),
        ("GET", "/admin/notices/{number}/progress"): probes(
            "GET", f"{notices}/progress", ("S027", 200), ("S028", 404), ("S001", 403)
        ),
        ("POST", "/admin/notices/{number}/withdraw"): probes(
            "POST", f"{notices}/withdraw", ("S028", 404), ("S001", 403), confirm="yes"
        ),
        ("GET", "/admin/stars/{number}"): probes(
            "GET", f"/admin/stars/{ids['S021']}", ("S021", 200), ("S001", 404), ("S027", 404)
        ),
        # Roster, holidays and bind codes are street-wide: their roles see all of them.
        ("POST", "/admin/roster/shifts/{number}/remove"): probes(
            "POST", f"/admin/roster/shifts/{shift.id}/remove", ("S001", 403), ("S021", 403)
        ),
        ("POST", "/admin/holidays/{day}/remove"): probes(
            "POST", f"/admin/holidays/{holiday}/remove", ("S001", 403), ("S027", 403)
        ),
        ("POST", "/admin/bind-codes/{number}/void"): probes(
            "POST", f"/admin/bind-codes/{code_id}/void", ("S037", 403), ("S021", 403)
        ),
    }
    records = {(m, p) for m, p in desk_routes(linli) if "{" in p}
    assert records == set(table), "a record route without probes (or probes for none)"

    pages: dict[str, Page] = {}
    for code in sorted({probe.code for found in table.values() for probe in found}):
        pages[code] = await desks(code)
    assert len(pages) <= 9  # the desk's login limit: ten a minute from one address
    before = await everything(linli)
    for found in table.values():
        for probe in found:
            status = await answer(pages[probe.code], probe.method, probe.path, dict(probe.fields))
            assert status == probe.status, probe
    assert await everything(linli) == before
    # In the browser, a record not theirs reads exactly as a missing one.
    outsider = pages["S017"]
    await opened(outsider, f"{base_url}{cases}", 404)
    theirs = await outsider.locator("main").inner_text()
    await opened(outsider, f"{base_url}/admin/cases/999999", 404)
    assert theirs == await outsider.locator("main").inner_text()
    assert surprises(page_errors, 404) == []


async def test_forms_crafted_in_the_page_are_refused_and_logout_closes_the_desk(
    linli: Linli, base_url: str, desks: DeskOpener, page_errors: list[str]
) -> None:
    resident = await resident_with_phone(linli)
    number = await grid_report(linli, resident)
    await dispatch(linli, number, "civil_affairs", "health")
    await street_of_two_grids(linli)
    case_url = f"{base_url}/admin/cases/{number}"

    # The co-handler points its own 接受协办 form at the lead's 受理: refused, nothing changes.
    co = await desks("S025")
    await opened(co, case_url)
    form = co.locator(f'form[action="/admin/cases/{number}/co_accept"]')
    before = await everything(linli)
    await form.evaluate("(f, path) => { f.action = path; }", f"/admin/cases/{number}/accept")
    async with co.expect_navigation() as navigation:
        await button(co, "desk.action_co_accept").click()
    refused = await navigation.value
    assert refused is not None and refused.status == 403
    await expect(co.locator("main [role=alert]")).to_have_text(t(ZH, "desk.refused_not_yours"))
    assert await everything(linli) == before

    # The lead accepts; a colleague turns the note form into 办结 with a hidden field: refused.
    lead = await desks("S021")
    await opened(lead, case_url)
    await button(lead, "desk.action_accept").click()
    await expect(lead.get_by_role("link", name=RESIDENT_PHONE)).to_be_visible()
    colleague = await desks("S022")
    await opened(colleague, case_url)
    await expect(button(colleague, "desk.step_resolved")).to_have_count(0)
    note = colleague.locator(f'form[action="/admin/cases/{number}/note"]')
    await note.evaluate(
        """(f, path) => {
            f.action = path;
            const step = document.createElement('input');
            step.type = 'hidden'; step.name = 'step'; step.value = 'resolved';
            f.appendChild(step);
            f.querySelector('textarea').removeAttribute('required');
        }""",
        f"/admin/cases/{number}/step",
    )
    before = await everything(linli)
    async with colleague.expect_navigation() as navigation:
        await button(colleague, "desk.save_note").click()
    refused = await navigation.value
    assert refused is not None and refused.status == 403
    assert await everything(linli) == before
    assert RESIDENT_PHONE not in await colleague.content()
    # … and posting to a case the colleague cannot see at all reads as a missing one.
    assert await submit_crafted(colleague, "/admin/cases/999999/accept", {}) == 404

    # A grid leader edits the previewed notice's hidden area to the whole street: refused.
    leader = await desks("S027")
    await opened(leader, f"{base_url}/admin/notices")
    await leader.get_by_label(t(ZH, "desk_work.notice_text")).fill(NOTICE)
    await leader.get_by_role("button", name=t(ZH, "desk_work.preview")).click()
    send = leader.locator('form[action="/admin/notices/send"]')
    await send.locator('input[name="area"]').evaluate("input => { input.value = 'street'; }")
    before = await everything(linli)
    async with leader.expect_navigation() as navigation:
        await send.get_by_role("button").click()
    refused = await navigation.value
    assert refused is not None and refused.status == 403
    await expect(leader.locator("main")).to_contain_text(t(ZH, "desk_work.notice_outside_scope"))
    assert await everything(linli) == before

    # Logging out: the back button, and the desk's addresses typed again, find the login page.
    await opened(lead, case_url)
    await lead.get_by_role("button", name=t(ZH, "desk.logout")).click()
    await lead.wait_for_url(re.compile(r"/admin/login$"))
    await expect(lead.locator(".flash")).to_have_text(t(ZH, "desk.logged_out"))
    await lead.go_back()
    await expect(lead.get_by_label(t(ZH, "desk.login_password"))).to_be_visible()
    assert RESIDENT_PHONE not in await lead.content()
    await lead.goto(case_url)
    await expect(lead).to_have_url(re.compile(r"/admin/login\?next="))
    assert surprises(page_errors, 403, 404) == []


async def test_the_cookie_from_before_logout_no_longer_opens_the_desk(
    linli: Linli, base_url: str, browser: Browser, desks: DeskOpener
) -> None:
    resident = await resident_with_phone(linli)
    number = await civil_case(linli, resident)
    await accepted_by(linli, "S021", number)
    case_url = f"{base_url}/admin/cases/{number}"
    lead = await desks("S021")
    await opened(lead, case_url)
    await expect(lead.get_by_role("link", name=RESIDENT_PHONE)).to_be_visible()
    before_logout = await lead.context.storage_state()  # the session cookie, copied
    await lead.get_by_role("button", name=t(ZH, "desk.logout")).click()
    await lead.wait_for_url(re.compile(r"/admin/login$"))
    stale = await browser.new_context(locale="zh-CN", storage_state=before_logout)
    try:
        replay = await stale.new_page()
        await replay.goto(case_url)
        assert "/admin/login" in replay.url, "the old cookie still opens the case"
        assert RESIDENT_PHONE not in await replay.content()
    finally:
        await stale.close()
