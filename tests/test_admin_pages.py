"""The desk's administration pages: holiday overrides (/admin/holidays), staff bind codes
(/admin/bind-codes) and the access log of personal data (/admin/access-log); each only for the
roles models.policy lets in, every form with its CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from models.access_log import log_view
from models.binding import BindOutcome, redeem_bind_code
from models.calendar import classify_day, load_overrides
from models.cases import Case
from models.messaging import BindCode
from models.org import Staff
from models.people import ChannelIdentity
from models.services import DayKind
from tests.test_admin_auth import Browser, Client, civil_affairs_case, set_password

SUPERVISOR = "S037"
ADMIN = "S040"
CLERK = "S001"
DEPARTMENT_STAFF = "S021"  # 邓秀英
LEADER = "S043"
DISPATCHER = "S042"
WORKING_MONDAY = date(2026, 12, 7)
SHOWN_CODE = re.compile(r'id="issued-code">([A-Z2-9]{4}-[A-Z2-9]{4})<')


@pytest.fixture
async def browser(client: Client) -> AsyncIterator[Browser]:
    """A browser at the desk."""
    async with Browser(client) as one:
        yield one


async def logged_in(linli: Linli, browser: Browser, code: str) -> Browser:
    """The browser, with this staff member logged in at the desk."""
    await set_password(linli, code)
    assert (await browser.log_in(code)).status == 303
    return browser


async def overrides(linli: Linli) -> dict[date, tuple[str, str, str]]:
    """Every holiday override as (kind, Chinese name, English name), by date."""
    async with linli.sessions() as session:
        rows = await load_overrides(session)
    return {day: (str(row.day_kind), row.name_zh, row.name_en) for day, row in rows.items()}


async def kind_of(linli: Linli, day: date) -> DayKind:
    """What the calendar, with the street's overrides, makes of a day."""
    async with linli.sessions() as session:
        return classify_day(day, await load_overrides(session)).kind


async def staff_id(linli: Linli, code: str) -> int:
    async with linli.sessions() as session:
        found = (await session.exec(select(Staff.id).where(Staff.code == code))).one()
    assert found is not None
    return found


async def bind_codes(linli: Linli) -> list[tuple[int | None, bool]]:
    """Every bind code as (staff id, still usable now)."""
    now = linli.clock.now()
    async with linli.sessions() as session:
        rows = (await session.exec(select(BindCode).order_by(col(BindCode.id)))).all()
    return [(row.staff_id, row.used_at is None and row.expires_at > now) for row in rows]


async def redeem(linli: Linli, typed: str, external_id: str) -> tuple[BindOutcome, int | None]:
    """Redeem a code from a new Telegram account; the outcome and whom the account acts for."""
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        account = ChannelIdentity(
            channel="telegram", external_id=external_id, created_at=now, last_seen_at=now
        )
        session.add(account)
        await session.flush()
        outcome = await redeem_bind_code(
            session, account, typed, secret=linli.settings.secret_key_value, now=now
        )
        session.add(account)
        return outcome, account.staff_id


# ───────────── Holiday overrides ─────────────


async def test_a_supervisor_lists_adds_and_removes_an_override_and_the_calendar_follows(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    page = await browser.get("/admin/holidays")
    text = await page.text()
    assert page.status == 200 and "年终集中办理日（演示）" in text  # seeded (data/opening.toml)
    assert '<label for="holiday-day">日期</label>' in text
    assert await kind_of(linli, WORKING_MONDAY) is DayKind.WORKDAY
    added = await browser.act(
        "/admin/holidays", day=str(WORKING_MONDAY), kind="holiday", name_zh="停电检修", name_en=""
    )
    assert added.status == 303 and added.headers["Location"] == "/admin/holidays"
    assert await kind_of(linli, WORKING_MONDAY) is DayKind.HOLIDAY
    listed = await (await browser.get("/admin/holidays")).text()
    assert "已添加：2026-12-07 按休息日办理。" in listed and "停电检修" in listed
    changed = await browser.act(
        "/admin/holidays", day=str(WORKING_MONDAY), kind="workday", name_zh="照常上班"
    )
    assert changed.status == 303
    assert (await overrides(linli))[WORKING_MONDAY] == ("workday", "照常上班", "")
    removed = await browser.act(f"/admin/holidays/{WORKING_MONDAY}/remove")
    assert removed.status == 303
    assert WORKING_MONDAY not in await overrides(linli)
    assert await kind_of(linli, WORKING_MONDAY) is DayKind.WORKDAY
    assert "已删除 2026-12-07 的调整" in await (await browser.get("/admin/holidays")).text()
    gone = await browser.act(f"/admin/holidays/{WORKING_MONDAY}/remove")
    assert gone.status == 404 and "没有找到这一天的调整" in await gone.text()


async def test_a_weekend_made_a_working_day_is_treated_as_one(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, ADMIN)
    saturday = date(2026, 12, 12)
    assert await kind_of(linli, saturday) is DayKind.HOLIDAY
    answer = await browser.act(
        "/admin/holidays",
        day=str(saturday),
        kind="workday",
        name_zh="调休上班",
        name_en="Make-up day",
    )
    assert answer.status == 303
    assert await kind_of(linli, saturday) is DayKind.WORKDAY


async def test_bad_override_input_is_explained_and_nothing_is_lost_or_changed(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    before = await overrides(linli)
    for day in ("2026-02-30", "30/12/2026", "", "2026-12-3"):
        answer = await browser.act("/admin/holidays", day=day, kind="holiday", name_zh="元旦调休")
        text = await answer.text()
        assert answer.status == 400, day
        assert "请按“年-月-日”填写日期" in text and 'value="元旦调休"' in text, day
    past = await browser.act("/admin/holidays", day="2026-11-20", kind="holiday", name_zh="过去")
    assert past.status == 400 and "2026-11-20 已经过去" in await past.text()
    nameless = await browser.act(
        "/admin/holidays", day=str(WORKING_MONDAY), kind="weekend", name_zh=""
    )
    text = await nameless.text()
    assert nameless.status == 400 and "请选择这一天按工作日还是休息日办理" in text
    assert "请填写名称" in text and f'value="{WORKING_MONDAY}"' in text
    broken = await browser.act(
        "/admin/holidays", day=str(WORKING_MONDAY), kind="holiday", name_zh="元旦\x00调休"
    )
    assert broken.status == 400 and "名称只能是一行文字" in await broken.text()
    assert await overrides(linli) == before
    english = await browser.act(
        "/admin/holidays?lang=en", day="2026-02-30", kind="holiday", name_zh="x"
    )
    assert "Please enter the date as year-month-day" in await english.text()


async def test_holidays_refuse_other_roles_and_forms_without_the_token(
    linli: Linli, client: Client, browser: Browser
) -> None:
    before = await overrides(linli)
    seeded = min(before)
    form = {"day": str(WORKING_MONDAY), "kind": "holiday", "name_zh": "停电检修"}
    for code in (CLERK, LEADER, DISPATCHER):
        async with Browser(client) as other:
            await logged_in(linli, other, code)
            assert (await other.get("/admin/holidays")).status == 403, code
            assert (await other.act("/admin/holidays", **form)).status == 403, code
            assert (await other.act(f"/admin/holidays/{seeded}/remove")).status == 403, code
    await logged_in(linli, browser, SUPERVISOR)
    assert (await browser.post("/admin/holidays", form)).status == 403
    assert (await browser.post(f"/admin/holidays/{seeded}/remove", {})).status == 403
    assert await overrides(linli) == before


# ───────────── Bind codes ─────────────


async def test_an_issued_code_is_shown_once_and_binds_a_chat_account(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, ADMIN)
    page = await browser.get("/admin/bind-codes")
    assert page.status == 200 and "没有未使用的绑定码" in await page.text()
    issued = await browser.act("/admin/bind-codes", staff=DEPARTMENT_STAFF)
    assert issued.status == 303 and issued.headers["Location"] == "/admin/bind-codes"
    shown = await (await browser.get("/admin/bind-codes")).text()
    found = SHOWN_CODE.search(shown)
    assert found is not None and "邓秀英（S021）的绑定码" in shown
    assert f"绑定 {found.group(1)}" in shown
    again = await (await browser.get("/admin/bind-codes")).text()
    assert SHOWN_CODE.search(again) is None and found.group(1) not in again  # once only
    assert "未使用的绑定码（1 个）" in again and "邓秀英（S021）" in again
    outcome, bound_to = await redeem(linli, found.group(1), "tg-100")
    assert outcome is BindOutcome.STAFF_BOUND
    assert bound_to == await staff_id(linli, DEPARTMENT_STAFF)
    assert "没有未使用的绑定码" in await (await browser.get("/admin/bind-codes")).text()


async def test_a_voided_code_binds_nobody(linli: Linli, browser: Browser) -> None:
    await logged_in(linli, browser, ADMIN)
    await browser.act("/admin/bind-codes", staff=DEPARTMENT_STAFF)
    found = SHOWN_CODE.search(await (await browser.get("/admin/bind-codes")).text())
    assert found is not None
    async with linli.sessions() as session:
        number = (await session.exec(select(BindCode.id))).one()
    voided = await browser.act(f"/admin/bind-codes/{number}/void")
    assert voided.status == 303
    assert "已作废 邓秀英（S021）的绑定码" in await (await browser.get("/admin/bind-codes")).text()
    assert await bind_codes(linli) == [(await staff_id(linli, DEPARTMENT_STAFF), False)]
    outcome, bound_to = await redeem(linli, found.group(1), "tg-200")
    assert outcome is BindOutcome.EXPIRED and bound_to is None
    twice = await browser.act(f"/admin/bind-codes/{number}/void")
    assert twice.status == 409 and "没有做任何修改" in await twice.text()
    assert (await browser.act("/admin/bind-codes/999999/void")).status == 404


async def test_a_new_code_voids_the_earlier_one_and_a_bad_choice_issues_none(
    linli: Linli, browser: Browser, clock: ManualClock
) -> None:
    await logged_in(linli, browser, ADMIN)
    await browser.act("/admin/bind-codes", staff=DEPARTMENT_STAFF)
    await browser.act("/admin/bind-codes", staff=DEPARTMENT_STAFF)
    someone = await staff_id(linli, DEPARTMENT_STAFF)
    assert await bind_codes(linli) == [(someone, False), (someone, True)]
    for chosen in ("", "S999", "'; DROP TABLE staff; --", "S0\x0021"):
        answer = await browser.act("/admin/bind-codes", staff=chosen)
        assert answer.status == 400 and "请选择一位在岗的工作人员" in await answer.text()
    async with linli.sessions() as session, session.begin():
        await session.exec(sa.update(Staff).where(col(Staff.code) == "S022").values(active=False))
    assert (await browser.act("/admin/bind-codes", staff="S022")).status == 400
    assert len(await bind_codes(linli)) == 2


async def test_bind_codes_are_for_administrators_only(
    linli: Linli, client: Client, browser: Browser
) -> None:
    await logged_in(linli, browser, ADMIN)
    await browser.act("/admin/bind-codes", staff=DEPARTMENT_STAFF)
    before = await bind_codes(linli)
    async with linli.sessions() as session:
        number = (await session.exec(select(BindCode.id))).one()
    for code in (SUPERVISOR, CLERK, LEADER):
        async with Browser(client) as other:
            await logged_in(linli, other, code)
            page = await other.get("/admin/bind-codes")
            assert page.status == 403 and "您的岗位不能打开这个页面" in await page.text(), code
            assert 'href="/admin/bind-codes"' not in await (await other.get("/admin/cases")).text()
            assert (await other.act("/admin/bind-codes", staff=code)).status == 403, code
            assert (await other.act(f"/admin/bind-codes/{number}/void")).status == 403, code
    assert (await browser.post("/admin/bind-codes", {"staff": "S021"})).status == 403
    assert (await browser.post(f"/admin/bind-codes/{number}/void", {})).status == 403
    assert await bind_codes(linli) == before


# ───────────── Access log ─────────────


async def logged_view(linli: Linli, viewer: str, why: str) -> int:
    """A view of a resident's phone on a case, written as the case page writes it; the case."""
    number = await civil_affairs_case(linli)
    who = await staff_id(linli, viewer)
    async with linli.sessions() as session, session.begin():
        case = await session.get(Case, number)
        assert case is not None
        log_view(
            session,
            staff_id=who,
            resident_id=case.resident_id,
            subject=f"case:{number}",
            field_name="phone",
            why=why,
            place="desk",
            now=linli.clock.now(),
        )
    return number


async def test_supervisors_read_the_access_log_and_filter_it_by_staff_code(
    linli: Linli, browser: Browser
) -> None:
    number = await logged_view(linli, DEPARTMENT_STAFF, "case accepted: call the resident")
    async with linli.sessions() as session:
        case = await session.get(Case, number)
        assert case is not None
    await logged_in(linli, browser, SUPERVISOR)
    page = await browser.get("/admin/access-log")
    text = await page.text()
    assert page.status == 200
    assert "邓秀英（S021）" in text and "case accepted: call the resident" in text
    assert f'href="/admin/cases/{number}">事项 {case.ref}</a>' in text
    assert "完整电话" in text and "工作台" in text and "2026-11-27 10:00" in text
    mine = await (await browser.get("/admin/access-log?staff=S021")).text()
    assert "只显示 邓秀英（S021）的记录" in mine and "call the resident" in mine
    others = await (await browser.get("/admin/access-log?staff=S001")).text()
    assert "call the resident" not in others and "没有查看记录" in others
    unknown = await browser.get("/admin/access-log?staff=NOPE")
    assert unknown.status == 404 and "没有工号为“NOPE”的工作人员" in await unknown.text()
    assert (await browser.get("/admin/access-log?staff=S0%0001")).status == 404
    english = await (await browser.get("/admin/access-log?lang=en")).text()
    assert "full phone number" in english and f"Case {case.ref}" in english


async def test_the_access_log_is_hidden_from_everyone_but_supervisors_and_admins(
    linli: Linli, client: Client
) -> None:
    await logged_view(linli, DEPARTMENT_STAFF, "case accepted: call the resident")
    for code in (DEPARTMENT_STAFF, CLERK, LEADER, DISPATCHER):
        async with Browser(client) as browser:
            await logged_in(linli, browser, code)
            page = await browser.get("/admin/access-log")
            text = await page.text()
            assert page.status == 403, code
            assert (
                "call the resident" not in text
                and "邓秀英（S021）" not in text.split("</header>")[1]
            )
    async with Browser(client) as browser:
        await logged_in(linli, browser, ADMIN)
        assert (await browser.get("/admin/access-log")).status == 200
