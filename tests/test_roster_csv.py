"""The duty roster as CSV: import (all or nothing), export, round trips, and calendar coverage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from sqlmodel import col, select

from bot.app import Linli
from bot.cli_roster import calendar_check, roster_export, roster_import
from bot.clock import ManualClock, local_today
from models.base import SHANGHAI
from models.booking import RosterShift
from models.org import Staff, StaffSkill
from models.roster_csv import ImportReport, export_roster, import_roster
from models.services import DayKind, HolidayOverride, Service

HEADER = "date,staff,start,end,window,skills"
MONDAY = date(2026, 11, 30)  # a working day inside the seeded four weeks

Shift = tuple[date, str, str, int | None]
Snapshot = tuple[list[tuple[str, Shift]], list[tuple[str, str]]]


def csv_text(*rows: str, header: str = HEADER, newline: str = "\n") -> str:
    return newline.join([header, *rows]) + newline


async def run_import(linli: Linli, text: str) -> ImportReport:
    """Import and commit whatever import_roster left in the transaction."""
    async with linli.sessions() as session, session.begin():
        return await import_roster(session, text)


async def export(linli: Linli, start: date, end: date) -> str:
    async with linli.sessions() as session:
        return await export_roster(session, start, end)


async def shifts_of(linli: Linli, code: str, day: date) -> list[Shift]:
    """One person's shifts on a day as (day, local start, local end, window)."""
    stmt = (
        select(RosterShift)
        .join(Staff, col(Staff.id) == col(RosterShift.staff_id))
        .where(Staff.code == code, RosterShift.day == day)
        .order_by(col(RosterShift.starts_at))
    )
    async with linli.sessions() as session:
        found = (await session.exec(stmt)).all()
    return [
        (
            s.day,
            f"{s.starts_at.astimezone(SHANGHAI):%H:%M}",
            f"{s.ends_at.astimezone(SHANGHAI):%H:%M}",
            s.window,
        )
        for s in found
    ]


async def skills_of(linli: Linli, code: str) -> set[str]:
    stmt = (
        select(Service.code)
        .join(StaffSkill, col(StaffSkill.service_id) == col(Service.id))
        .join(Staff, col(Staff.id) == col(StaffSkill.staff_id))
        .where(Staff.code == code)
    )
    async with linli.sessions() as session:
        return set((await session.exec(stmt)).all())


async def snapshot(linli: Linli) -> Snapshot:
    """Every shift and every skill, comparable before and after an import."""
    async with linli.sessions() as session:
        shifts = (
            await session.exec(
                select(Staff.code, RosterShift).join(
                    RosterShift, col(Staff.id) == col(RosterShift.staff_id)
                )
            )
        ).all()
        skills = (
            await session.exec(
                select(Staff.code, Service.code)
                .join(StaffSkill, col(StaffSkill.staff_id) == col(Staff.id))
                .join(Service, col(Service.id) == col(StaffSkill.service_id))
            )
        ).all()
    return (
        sorted(
            (code, (s.day, s.starts_at.isoformat(), s.ends_at.isoformat(), s.window))
            for code, s in shifts
        ),
        sorted(skills),
    )


async def set_active(linli: Linli, code: str, active: bool) -> None:
    async with linli.sessions() as session, session.begin():
        person = (await session.exec(select(Staff).where(Staff.code == code))).one()
        person.active = active


def published(year: int) -> bool:
    """What the installed chinesecalendar itself says about a year."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


# ───────────── import ─────────────


async def test_a_good_file_replaces_the_listed_shifts_and_skills(linli: Linli) -> None:
    s002 = await shifts_of(linli, "S002", MONDAY)
    s003_before = await shifts_of(linli, "S003", MONDAY)
    s001_tuesday = await shifts_of(linli, "S001", MONDAY + timedelta(days=1))
    s002_skills = await skills_of(linli, "S002")
    assert len(s002) == 1 and s003_before and s001_tuesday
    text = csv_text(
        "2026-11-30,S001,08:00,12:00,4,ss-card-reissue;hl-chronic-register",
        "2026-11-30,S001,13:00,18:00,7,",
        f"2026-11-30,S002,08:00,18:00,{s002[0][3]},",
        "2026-11-29,S011,09:00,12:00,,",
    )

    report = await run_import(linli, text)

    assert report.ok, report.problems
    assert (report.added, report.removed, report.unchanged, report.skills_changed) == (3, 1, 1, 1)
    assert "shifts added: 3" in report.summary()
    assert await shifts_of(linli, "S001", MONDAY) == [
        (MONDAY, "08:00", "12:00", 4),
        (MONDAY, "13:00", "18:00", 7),
    ]
    assert await shifts_of(linli, "S011", date(2026, 11, 29)) == [
        (date(2026, 11, 29), "09:00", "12:00", None)
    ]
    assert await shifts_of(linli, "S002", MONDAY) == s002
    # Staff and days the file does not list are left alone.
    assert await shifts_of(linli, "S003", MONDAY) == s003_before
    assert await shifts_of(linli, "S001", MONDAY + timedelta(days=1)) == s001_tuesday
    assert await skills_of(linli, "S001") == {"ss-card-reissue", "hl-chronic-register"}
    assert await skills_of(linli, "S002") == s002_skills


async def test_local_times_are_stored_as_utc(linli: Linli) -> None:
    assert (await run_import(linli, csv_text("2026-11-30,S011,08:30,17:00,,"))).ok
    async with linli.sessions() as session:
        shift = (
            await session.exec(
                select(RosterShift)
                .join(Staff, col(Staff.id) == col(RosterShift.staff_id))
                .where(Staff.code == "S011", RosterShift.day == MONDAY)
            )
        ).one()
    assert shift.starts_at == datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    assert shift.ends_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def test_export_import_export_round_trips(linli: Linli) -> None:
    today = local_today(linli.clock)
    last = today + timedelta(days=28)
    before = await snapshot(linli)
    first = await export(linli, today, last)
    assert first.startswith(HEADER + "\n")
    assert len(first.splitlines()) - 1 == sum(
        1 for _, shift in before[0] if today <= shift[0] <= last
    )

    report = await run_import(linli, first)

    assert report.ok, report.problems
    assert (report.added, report.removed, report.skills_changed) == (0, 0, 0)
    assert report.unchanged == report.rows == len(first.splitlines()) - 1
    assert await export(linli, today, last) == first
    assert await snapshot(linli) == before


async def test_importing_an_export_restores_what_was_changed_since(linli: Linli) -> None:
    first = await export(linli, MONDAY, MONDAY)
    changed = csv_text(
        "2026-11-30,S001,10:00,11:00,9,ca-meal-card",
        "2026-11-30,S002,08:00,12:00,4,",
        "2026-11-30,S002,12:00,18:00,5,",
    )
    assert (await run_import(linli, changed)).ok
    assert await export(linli, MONDAY, MONDAY) != first

    report = await run_import(linli, first)

    assert report.ok, report.problems
    assert (report.added, report.removed, report.skills_changed) == (2, 3, 1)
    assert await export(linli, MONDAY, MONDAY) == first


GOOD_BEFORE = [
    "2026-11-30,S001,08:00,12:00,4,ss-card-reissue",
    "2026-11-29,S011,09:00,12:00,,",
]
GOOD_AFTER = ["2026-12-01,S003,10:00,11:00,,"]
BAD_ROWS = [
    ("2026-11-30,S999,08:00,18:00,,", "unknown staff code 'S999'"),
    ("2026-11-30,S012,08:00,18:00,,", "staff S012 is not active"),
    ("2026-11-30,,08:00,18:00,,", "the staff code is missing"),
    ("2026-02-30,S003,08:00,18:00,,", "bad date '2026-02-30': there is no such day"),
    ("30/11/2026,S003,08:00,18:00,,", "bad date '30/11/2026': expected YYYY-MM-DD"),
    ("1026-11-30,S003,08:00,18:00,,", "bad date '1026-11-30': the year must be"),
    ("2026-11-30,S003,8h00,18:00,,", "bad start time '8h00'"),
    ("2026-11-30,S003,08:00,24:00,,", "bad end time '24:00'"),
    ("2026-11-30,S003,12:00,08:00,,", "end 08:00 is not after start 12:00"),
    ("2026-11-30,S003,08:00,08:00,,", "end 08:00 is not after start 08:00"),
    ("2026-11-30,S003,08:00,18:00,0,", "window must be a positive integer"),
    ("2026-11-30,S003,08:00,18:00,-2,", "window must be a positive integer"),
    ("2026-11-30,S003,08:00,18:00,1.5,", "window must be a positive integer"),
    ("2026-11-30,S003,08:00,18:00,abc,", "window must be a positive integer"),
    ("2026-11-30,S003,08:00,18:00,,ca-meal-card;no-such", "unknown service code(s) in skills"),
    ("2026-11-30,S003,08:00,18:00,", "expected 6 columns"),
    ("2026-11-30,S003,08:00,18:00,,,", "expected 6 columns"),
]


async def test_one_bad_row_among_good_ones_changes_nothing(linli: Linli) -> None:
    await set_active(linli, "S012", False)
    before = await snapshot(linli)
    for bad, reason in BAD_ROWS:
        report = await run_import(linli, csv_text(*GOOD_BEFORE, bad, *GOOD_AFTER))
        assert not report.ok, bad
        assert len(report.problems) == 1, report.problems
        assert report.problems[0].startswith("row 4: "), report.problems
        assert reason in report.problems[0], (bad, report.problems)
        assert (report.added, report.removed, report.skills_changed) == (0, 0, 0)
        assert "NOT imported" in report.summary() and reason in report.summary()
    assert await snapshot(linli) == before
    assert (await run_import(linli, csv_text(*GOOD_BEFORE, *GOOD_AFTER))).ok
    assert await snapshot(linli) != before


async def test_every_problem_is_reported_in_row_order(linli: Linli) -> None:
    text = csv_text(
        "2026-11-30,S001,08:00,12:00,4,",
        "2026-13-01,S999,9:00,8:00,x,",
        "2026-11-30,S002,08:00,12:00,4,",
        "2026-11-30,S003,08:00,12:00,",
    )
    report = await run_import(linli, text)
    assert not report.ok
    assert [p.split(":")[0] for p in report.problems] == ["row 3"] * 4 + ["row 5"]
    assert "bad date" in report.problems[0]
    assert "unknown staff code" in report.problems[1]
    assert "not after start" in report.problems[2]
    assert "window" in report.problems[3]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-11-30,S001,08:00,12:00,4,\n",  # no header at all
        "day,staff,start,end,window,skills\n2026-11-30,S001,08:00,12:00,4,\n",
        "date,staff,start,end,window\n2026-11-30,S001,08:00,12:00,4\n",
    ],
)
async def test_a_missing_or_wrong_header_is_refused(linli: Linli, text: str) -> None:
    before = await snapshot(linli)
    report = await run_import(linli, text)
    assert not report.ok
    assert report.problems[0].startswith("row 1: missing or wrong header")
    assert await snapshot(linli) == before


async def test_overlapping_shifts_of_one_person_are_refused(linli: Linli) -> None:
    before = await snapshot(linli)
    text = csv_text(
        "2026-11-30,S001,08:00,12:00,4,",
        "2026-11-30,S002,08:00,12:00,4,",
        "2026-11-30,S002,12:00,18:00,4,",  # touching is not overlapping
        "2026-11-30,S001,11:00,14:00,4,",
        "2026-12-01,S001,11:00,14:00,4,",  # another day
        "2026-12-01,S001,11:00,14:00,4,",  # the same shift twice
    )
    report = await run_import(linli, text)
    assert not report.ok
    assert report.problems == [
        "row 5: S001's shift 11:00–14:00 on 2026-11-30 overlaps row 2 (08:00–12:00)",
        "row 7: S001's shift 11:00–14:00 on 2026-12-01 overlaps row 6 (11:00–14:00)",
    ]
    assert await snapshot(linli) == before


async def test_differing_skills_for_one_person_are_refused(linli: Linli) -> None:
    text = csv_text(
        "2026-11-30,S001,08:00,12:00,4,ss-card-reissue;ca-meal-card",
        "2026-12-01,S001,08:00,12:00,4,",  # empty: no say about skills
        "2026-12-02,S001,08:00,12:00,4,ca-meal-card; ss-card-reissue",  # same set
        "2026-12-03,S001,08:00,12:00,4,ca-meal-card",
    )
    report = await run_import(linli, text)
    assert report.problems == ["row 5: skills for S001 differ from those on row 2"]


async def test_a_bom_windows_line_endings_and_excel_times_are_accepted(linli: Linli) -> None:
    text = "\ufeff" + csv_text(
        "2026-11-30,S001,8:00,12:00,4,ca-meal-card",
        ",,,,,",  # an empty spreadsheet row
        "",
        header="Date,Staff,Start,End,Window,Skills",
        newline="\r\n",
    )
    report = await run_import(linli, text)
    assert report.ok, report.problems
    assert await shifts_of(linli, "S001", MONDAY) == [(MONDAY, "08:00", "12:00", 4)]
    assert await skills_of(linli, "S001") == {"ca-meal-card"}


async def test_files_over_the_limits_are_refused(linli: Linli) -> None:
    rows = ["2026-11-30,S001,08:00,12:00,4,"] * 20_001
    report = await run_import(linli, csv_text(*rows))
    assert report.problems == ["file: more than 20000 rows"]
    huge = csv_text("2026-11-30,S001,08:00,12:00,4," + "x" * (5 * 1024 * 1024))
    report = await run_import(linli, huge)
    assert report.problems == ["file: larger than 5 MB"]


async def test_a_header_without_rows_changes_nothing(linli: Linli) -> None:
    before = await snapshot(linli)
    report = await run_import(linli, csv_text())
    assert report.ok and (report.rows, report.added, report.removed) == (0, 0, 0)
    assert await snapshot(linli) == before


async def test_export_leaves_out_inactive_staff(linli: Linli) -> None:
    await set_active(linli, "S001", False)
    text = await export(linli, MONDAY, MONDAY)
    assert ",S002," in text and ",S001," not in text


# ───────────── commands ─────────────


async def test_roster_import_command(
    linli: Linli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(csv_text("2026-11-30,S001,08:00,12:00,4,", newline="\r\n").encode("utf-8-sig"))
    assert await roster_import(linli, path) == 0
    assert "Roster imported: 1 row(s)." in capsys.readouterr().out
    assert await shifts_of(linli, "S001", MONDAY) == [(MONDAY, "08:00", "12:00", 4)]


async def test_roster_import_command_refuses_bad_files(
    linli: Linli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = await snapshot(linli)
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text("2026-11-30,S001,08:00,12:00,4,", "2026-11-30,S999,08:00,12:00,,"))
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(
        csv_text("2026-11-30,S001,08:00,12:00,4,").replace("date", "日期").encode("gbk")
    )

    assert await roster_import(linli, bad) == 1
    assert "row 3: unknown staff code 'S999'" in capsys.readouterr().out
    assert await roster_import(linli, tmp_path / "missing.csv") == 1
    assert "file: cannot read" in capsys.readouterr().out
    assert await roster_import(linli, gbk) == 1
    assert "is not UTF-8 text" in capsys.readouterr().out
    assert await snapshot(linli) == before


async def test_roster_export_command(
    linli: Linli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    today = local_today(linli.clock)
    expected = await export(linli, today, today + timedelta(days=28))
    out = tmp_path / "roster.csv"

    assert await roster_export(linli, None, None, out) == 0
    assert out.read_text(encoding="utf-8") == expected
    capsys.readouterr()
    assert await roster_export(linli, MONDAY, MONDAY, None) == 0
    assert capsys.readouterr().out == await export(linli, MONDAY, MONDAY)
    assert await roster_export(linli, MONDAY, MONDAY - timedelta(days=1), None) == 1

    await set_active(linli, "S001", False)
    assert await roster_export(linli, MONDAY, MONDAY, None) == 0
    assert "inactive staff not exported: S001" in capsys.readouterr().err


# ───────────── holiday calendar coverage ─────────────


def first_unknown_year(since: int) -> int:
    """The first year from `since` on that the installed package does not know."""
    for year in range(since, since + 100):
        if not published(year):
            return year
    pytest.skip("the installed chinesecalendar knows the next hundred years")


async def override_years(linli: Linli) -> set[int]:
    async with linli.sessions() as session:
        return {day.year for day in (await session.exec(select(col(HolidayOverride.day)))).all()}


async def test_calendar_check_passes_for_the_years_the_package_covers(
    linli: Linli, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    today = local_today(clock)
    unknown = first_unknown_year(today.year)
    covered = await override_years(linli)
    ahead = max(0, unknown - today.year - 1)
    years = range(today.year, today.year + ahead + 1)
    expected = 1 if any(not published(y) and y not in covered for y in years) else 0
    assert await calendar_check(linli, years_ahead=ahead) == expected
    if expected == 0:
        assert f"covers statutory holidays up to {unknown - 1}" in capsys.readouterr().out


async def test_calendar_check_warns_about_an_unpublished_year(
    linli: Linli, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    today = local_today(clock)
    covered = await override_years(linli)
    year = first_unknown_year(today.year)
    while year in covered:
        year = first_unknown_year(year + 1)

    assert await calendar_check(linli, years_ahead=year - today.year) == 1
    out = capsys.readouterr().out
    assert f"statutory holidays for {year} are not published" in out
    assert "ordinary weekends" in out and "opening.toml" in out

    # An operator's overrides for that year silence the warning for it.
    async with linli.sessions() as session, session.begin():
        session.add(HolidayOverride(day=date(year, 1, 1), day_kind=DayKind.HOLIDAY))
    await calendar_check(linli, years_ahead=year - today.year)
    assert f"holidays for {year} are not published" not in capsys.readouterr().out
