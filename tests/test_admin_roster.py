"""The duty roster at /admin/roster: a week by day with the gaps in cover, single shifts added
and removed, the roster CSV imported all-or-nothing (as `linli roster import`) and exported
with a byte-order mark; only for the roles models.policy lets in, every form with its CSRF
token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time

import pytest
from aiohttp import FormData
from sqlmodel import col, select

from bot.app import Linli
from bot.web.admin import roster
from models.base import SHANGHAI
from models.booking import RosterShift
from models.org import Staff
from tests.test_admin_auth import Browser, Client, set_password

SUPERVISOR = "S037"  # 沈国平
CLERK = "S001"
MONDAY = date(2026, 11, 30)  # a working day in the seeded four weeks (the clock: Fri 27 Nov)
UNPLANNED_MONDAY = date(2027, 3, 1)  # far beyond the seeded roster: nobody is on duty
HEADER = "date,staff,start,end,window,skills"

Shift = tuple[str, date, str, str, int | None]


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


async def shifts(linli: Linli, day: date | None = None) -> list[Shift]:
    """Every shift (of a day) as (staff code, day, local start, local end, window)."""
    stmt = select(Staff.code, RosterShift).join(Staff, col(Staff.id) == col(RosterShift.staff_id))
    if day is not None:
        stmt = stmt.where(RosterShift.day == day)
    async with linli.sessions() as session:
        found = (await session.exec(stmt)).all()
    return sorted(
        (
            code,
            s.day,
            f"{s.starts_at.astimezone(SHANGHAI):%H:%M}",
            f"{s.ends_at.astimezone(SHANGHAI):%H:%M}",
            s.window,
        )
        for code, s in found
    )


async def shift_id(linli: Linli, code: str, day: date) -> int:
    """The id of a staff member's (first) shift on a day."""
    stmt = (
        select(RosterShift.id)
        .join(Staff, col(Staff.id) == col(RosterShift.staff_id))
        .where(Staff.code == code, RosterShift.day == day)
        .order_by(col(RosterShift.starts_at))
    )
    async with linli.sessions() as session:
        found = (await session.exec(stmt)).first()
    assert found is not None
    return found


async def put_on_duty(linli: Linli, code: str, day: date, start: time, end: time) -> int:
    """A shift written straight into the roster; its id."""
    async with linli.sessions() as session, session.begin():
        person = (await session.exec(select(Staff).where(Staff.code == code))).one()
        shift = RosterShift(
            staff_id=person.id or 0,
            day=day,
            starts_at=datetime.combine(day, start, SHANGHAI).astimezone(UTC),
            ends_at=datetime.combine(day, end, SHANGHAI).astimezone(UTC),
        )
        session.add(shift)
        await session.flush()
        assert shift.id is not None
        return shift.id


def csv_file(text: str, *, token: str | None, name: str = "roster.csv", **fields: str) -> FormData:
    """The import form: the file (and the CSRF token, unless None)."""
    form = FormData()
    if token is not None:
        form.add_field("csrf", token)
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field("file", text.encode("utf-8"), filename=name, content_type="text/csv")
    return form


async def test_a_supervisor_sees_the_week_by_day_with_staff_windows_and_no_gaps(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    page = await browser.get(f"/admin/roster?week={MONDAY}")
    text = await page.text()
    assert page.status == 200
    assert "排班：11月30日 – 12月6日" in text
    assert "11月30日 周一" in text and "12月5日 周六" in text
    assert "办公时间 08:00–18:00" in text and "办公时间 09:00–12:00" in text
    assert "08:00–18:00" in text and "（S001）" in text
    assert "无人值班" not in text  # the seeded roster covers every open hour
    assert 'href="/admin/roster"' in text  # in the navigation
    default = await (await browser.get("/admin/roster")).text()
    assert "排班：11月23日 – 11月29日" in default  # this week
    english = await (await browser.get(f"/admin/roster?week={MONDAY}&lang=en")).text()
    assert "Roster: 30 Nov – 6 Dec" in english and "Open 08:00–18:00" in english


async def test_gaps_in_cover_and_unstaffed_services_are_shown(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    await put_on_duty(linli, "S001", UNPLANNED_MONDAY, time(8), time(12))
    text = await (await browser.get(f"/admin/roster?week={UNPLANNED_MONDAY}")).text()
    assert "无人值班：12:00–18:00" in text  # Monday: S001 only in the morning
    assert "无人值班：08:00–18:00" in text  # Tuesday: nobody at all
    unstaffed = text.split("本周无人可办的服务")[1].split("</section>")[0]
    assert "家庭医生签约" in unstaffed  # nobody trained for it is on duty
    assert "社保卡补办" not in unstaffed  # S001 is, on Monday morning


async def test_a_bad_week_is_answered_politely_with_this_week(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    for asked in ("2026-13-01", "next-week", "1999-01-01"):
        page = await browser.get(f"/admin/roster?week={asked}")
        text = await page.text()
        assert page.status == 400, asked
        assert "日期没看懂" in text and "排班：11月23日 – 11月29日" in text


async def test_a_role_outside_is_refused_the_page_and_every_form(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, CLERK)
    before = await shifts(linli)
    page = await browser.get("/admin/roster")
    assert page.status == 403 and "您的岗位不能打开这个页面" in await page.text()
    assert (await browser.get(f"/admin/roster/export.csv?week={MONDAY}")).status == 403
    assert 'href="/admin/roster"' not in await (await browser.get("/admin/cases")).text()
    token = await browser.csrf("/admin/cases")
    number = await shift_id(linli, "S002", MONDAY)
    add = {"csrf": token, "day": "2026-12-01", "staff": "S011", "start": "13:00", "end": "15:00"}
    assert (await browser.post("/admin/roster/shifts", add)).status == 403
    assert (
        await browser.post(f"/admin/roster/shifts/{number}/remove", {"csrf": token})
    ).status == 403
    upload = csv_file(f"{HEADER}\n2026-12-01,S011,13:00,15:00,,\n", token=token)
    assert (await browser.post("/admin/roster/import", upload)).status == 403
    assert await shifts(linli) == before


async def test_forms_without_the_csrf_token_change_nothing(linli: Linli, browser: Browser) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    before = await shifts(linli)
    number = await shift_id(linli, "S002", MONDAY)
    add = {"day": "2026-12-01", "staff": "S011", "start": "13:00", "end": "15:00"}
    for form in (add, {**add, "csrf": "forged"}):
        refused = await browser.post("/admin/roster/shifts", form)
        assert refused.status == 403 and "没有做任何修改" in await refused.text()
    assert (await browser.post(f"/admin/roster/shifts/{number}/remove", {})).status == 403
    upload = csv_file(f"{HEADER}\n2026-12-01,S011,13:00,15:00,,\n", token=None)
    assert (await browser.post("/admin/roster/import", upload)).status == 403
    assert await shifts(linli) == before


async def test_a_shift_is_added_and_removed(linli: Linli, browser: Browser) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    day = date(2026, 12, 1)
    form = {"day": day.isoformat(), "staff": "S011", "start": "13:00", "end": "15:00"}
    added = await browser.act("/admin/roster/shifts", **form, window="7")
    shown = f"/admin/roster?week={MONDAY}&open={day}#day-{day}"  # the day's week, the day open
    assert added.status == 303 and added.headers["Location"] == shown
    assert ("S011", day, "13:00", "15:00", 7) in await shifts(linli, day)
    page = await (await browser.get(added.headers["Location"])).text()
    assert "已为" in page and "（S011）添加 2026-12-01 13:00–15:00 的班次" in page
    assert f'<details class="card" id="day-{day}" open>' in page
    number = await shift_id(linli, "S011", day)
    removed = await browser.act(f"/admin/roster/shifts/{number}/remove", week=MONDAY.isoformat())
    assert removed.status == 303
    assert [s for s in await shifts(linli, day) if s[0] == "S011"] == []
    assert "已移除" in await (await browser.get(removed.headers["Location"])).text()
    gone = await browser.act(f"/admin/roster/shifts/{number}/remove")
    assert gone.status == 404 and "没有找到这个班次" in await gone.text()


async def test_bad_shifts_are_explained_and_nothing_is_lost_or_changed(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    before = await shifts(linli)
    # S001 is on duty 08:00-18:00 that Monday: a shift inside it overlaps.
    overlap = await browser.act(
        "/admin/roster/shifts", day="2026-11-30", staff="S001", start="13:30", end="15:00"
    )
    text = await overlap.text()
    assert overlap.status == 400 and "已有 08:00–18:00 的班次" in text
    assert 'value="13:30"' in text and '<option value="S001" selected>' in text  # kept
    wrong = await browser.act(
        "/admin/roster/shifts", day="2026-02-30", staff="S999", start="25:00", end="", window="0"
    )
    text = await wrong.text()
    assert wrong.status == 400
    for message in (
        "请按“年-月-日”填写日期",
        "请选择一位在岗的工作人员",
        "请填写开始时间",
        "请填写结束时间",
    ):
        assert message in text, message
    assert "窗口号请填 1–999" in text and 'value="2026-02-30"' in text
    backwards = await browser.act(
        "/admin/roster/shifts", day="2026-12-02", staff="S011", start="15:00", end="13:00"
    )
    assert backwards.status == 400 and "结束时间要晚于开始时间" in await backwards.text()
    past = await browser.act(
        "/admin/roster/shifts", day="2026-11-26", staff="S011", start="13:00", end="15:00"
    )
    assert past.status == 400 and "2026-11-26 已经过去" in await past.text()
    assert await shifts(linli) == before
    yesterday = await put_on_duty(linli, "S011", date(2026, 11, 26), time(9), time(12))
    kept = await browser.act(f"/admin/roster/shifts/{yesterday}/remove")
    assert kept.status == 409 and "已经过去" in await kept.text()
    assert ("S011", date(2026, 11, 26), "09:00", "12:00", None) in await shifts(linli)


async def test_removing_the_last_shift_of_a_day_says_the_roll_forward_may_fill_it(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    number = await put_on_duty(linli, "S011", UNPLANNED_MONDAY, time(9), time(12))
    removed = await browser.act(f"/admin/roster/shifts/{number}/remove")
    assert removed.status == 303
    assert "这一天现在没有人值班" in await (await browser.get(removed.headers["Location"])).text()
    assert await shifts(linli, UNPLANNED_MONDAY) == []


async def test_a_csv_import_adds_the_shifts(linli: Linli, browser: Browser) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    day = date(2026, 12, 14)
    text = f"\ufeff{HEADER}\r\n{day},S011,13:00,15:00,7,\r\n{day},S012,9:00,12:00,,\r\n"
    token = await browser.csrf("/admin/roster")
    answer = await browser.post("/admin/roster/import", csv_file(text, token=token, week=str(day)))
    assert answer.status == 303 and answer.headers["Location"] == "/admin/roster?week=2026-12-14"
    found = await shifts(linli, day)
    assert ("S011", day, "13:00", "15:00", 7) in found
    assert ("S012", day, "09:00", "12:00", None) in found
    page = await (await browser.get(answer.headers["Location"])).text()
    assert "排班表已导入：共 2 行，新增 2 个班次" in page


async def test_a_bad_csv_changes_nothing_and_names_its_lines(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    before = await shifts(linli)
    text = "\n".join(
        [
            HEADER,
            "2026-12-14,S011,13:00,15:00,,",  # good, but the file has problems: not imported
            "2026-12-32,S011,13:00,15:00,,",
            "2026-12-15,S999,13:00,12:00,,",
        ]
    )
    token = await browser.csrf("/admin/roster")
    answer = await browser.post("/admin/roster/import", csv_file(text, token=token))
    page = await answer.text()
    assert answer.status == 400
    assert "排班表没有导入，排班没有任何修改" in page
    assert "第 3 行：bad date &#39;2026-12-32&#39;" in page
    assert "第 4 行：unknown staff code &#39;S999&#39;" in page
    assert "第 2 行" not in page
    assert await shifts(linli) == before
    for data, message in (
        ("日期,工号\n".encode("gbk"), "不是 UTF-8 文本"),
        (b"", "这个文件是空的"),
    ):
        form = FormData()
        form.add_field("csrf", token)
        form.add_field("file", data, filename="roster.csv", content_type="text/csv")
        refused = await browser.post("/admin/roster/import", form)
        assert refused.status == 400 and message in await refused.text()
    no_file = await browser.post("/admin/roster/import", {"csrf": token})
    assert no_file.status == 400 and "请选择要导入的 CSV 文件" in await no_file.text()
    assert await shifts(linli) == before


async def test_the_export_has_a_bom_and_imports_again_unchanged_even_when_large(
    linli: Linli, browser: Browser
) -> None:
    await logged_in(linli, browser, SUPERVISOR)
    answer = await browser.get(f"/admin/roster/export.csv?week={MONDAY}&weeks=4")
    body = await answer.read()
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in answer.headers["Content-Disposition"]
    assert body.startswith(b"\xef\xbb\xbf" + HEADER.encode())
    assert "2026-11-30,S001,08:00,18:00" in body.decode("utf-8-sig")
    assert len(body) > 16_384  # more than the application's own body limit
    before = await shifts(linli)
    token = await browser.csrf("/admin/roster")
    form = FormData()
    form.add_field("csrf", token)
    form.add_field("file", body, filename="roster.csv", content_type="text/csv")
    again = await browser.post("/admin/roster/import", form)
    assert again.status == 303
    page = await (await browser.get(again.headers["Location"])).text()
    assert re.search(r"新增 0 个班次，移除 0 个，不变 [0-9]+ 个", page)
    assert await shifts(linli) == before
    for query in ("week=2026-99-01", f"week={MONDAY}&weeks=9", f"week={MONDAY}&weeks=x"):
        bad = await browser.get(f"/admin/roster/export.csv?{query}")
        assert bad.status == 400 and "没有导出任何内容" in await bad.text(), query


async def test_who_may_only_read_the_roster_gets_no_forms_and_no_changes(
    linli: Linli, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(roster, "may_edit_roster", lambda staff: False)
    await logged_in(linli, browser, SUPERVISOR)
    before = await shifts(linli)
    text = await (await browser.get(f"/admin/roster?week={MONDAY}")).text()
    assert "添加、移除班次和导入排班表需要督查或管理员" in text
    assert 'action="/admin/roster/shifts"' not in text and "/remove" not in text
    assert 'action="/admin/roster/import"' not in text
    assert "/admin/roster/export.csv" in text  # reading includes the export
    number = await shift_id(linli, "S002", MONDAY)
    add = {"day": "2026-12-01", "staff": "S011", "start": "13:00", "end": "15:00"}
    assert (await browser.act("/admin/roster/shifts", **add)).status == 403
    assert (await browser.act(f"/admin/roster/shifts/{number}/remove")).status == 403
    token = await browser.csrf("/admin/roster")
    upload = csv_file(f"{HEADER}\n2026-12-01,S011,13:00,15:00,,\n", token=token)
    assert (await browser.post("/admin/roster/import", upload)).status == 403
    assert await shifts(linli) == before
