"""Issue 18, item 2: the duty roster rolls forward; operators hear of services left unstaffed."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col, func, select

from bot.app import Linli
from bot.cli_roster import roster_extend, roster_gaps
from bot.clock import ManualClock, local_today
from models.base import SHANGHAI
from models.booking import RosterShift
from models.org import Staff, StaffSkill
from models.roster_csv import import_roster
from models.roster_gaps import unstaffed_services
from models.roster_plan import planned_by, roll_forward
from models.services import DayKind, HolidayOverride, OpeningRule, Service
from models.slots import plan_day
from scheduler.roster import keep_roster_ahead
from tests.test_roster_csv import csv_text, run_import
from tests.test_scheduler import job_context

SEEDED_UNTIL = date(2026, 12, 24)  # the seed's four weeks from Friday 27 November
# The hall's clerks, and one member of each department whose services no clerk is trained for.
WEEKDAY_STAFF = {f"S{n:03d}" for n in range(1, 11)} | {"S013", "S015", "S019", "S023", "S025"}
MONDAY_AFTER = datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI)  # past the seeded weeks
FIRST_UNSEEDED = datetime(2026, 12, 25, 10, 0, tzinfo=SHANGHAI)  # a Friday

Duty = set[tuple[str, str, str]]


async def duty(linli: Linli, day: date) -> Duty:
    """Who is on the roster on a day, from when to when (local)."""
    stmt = (
        select(Staff.code, RosterShift)
        .join(Staff, col(Staff.id) == col(RosterShift.staff_id))
        .where(RosterShift.day == day)
    )
    async with linli.sessions() as session:
        found = (await session.exec(stmt)).all()
    return {
        (
            code,
            f"{s.starts_at.astimezone(SHANGHAI):%H:%M}",
            f"{s.ends_at.astimezone(SHANGHAI):%H:%M}",
        )
        for code, s in found
    }


def weekday_duty() -> Duty:
    return {(code, "08:00", "18:00") for code in WEEKDAY_STAFF}


async def shift_count(linli: Linli) -> int:
    async with linli.sessions() as session:
        return (await session.exec(select(func.count()).select_from(RosterShift))).one()


async def roll(linli: Linli, weeks: int | None = None) -> int:
    """One run of the scheduler's roster tick."""
    if weeks is not None:
        linli.settings.roster_weeks_ahead = weeks
    return await keep_roster_ahead(job_context(linli))


async def test_the_roster_runs_out_after_the_seeded_weeks_until_the_job_rolls_it_on(
    linli: Linli, clock: ManualClock
) -> None:
    assert await duty(linli, SEEDED_UNTIL) == weekday_duty()  # Thursday, the last seeded day
    friday = date(2027, 1, 8)  # six weeks after the seed
    assert await duty(linli, friday) == set()
    clock.set(MONDAY_AFTER)
    assert await roll(linli) > 0
    assert await duty(linli, friday) == weekday_duty()
    end = local_today(clock) + timedelta(weeks=linli.settings.roster_weeks_ahead)
    assert await duty(linli, end - timedelta(days=1)) != set()  # the last day kept (a Sunday)
    assert await duty(linli, end) == set()  # and no further
    assert await duty(linli, SEEDED_UNTIL + timedelta(days=1)) == set()  # the past stays past


async def test_after_the_roster_ran_out_for_weeks_it_resumes_without_holes(
    linli: Linli, clock: ManualClock
) -> None:
    for moment in (datetime(2027, 1, 20, 10, tzinfo=SHANGHAI), datetime(2027, 3, 22, 10)):
        clock.set(moment.replace(tzinfo=SHANGHAI))
        await roll(linli)
        today = local_today(clock)
        for day in (today + timedelta(days=n) for n in range(42)):
            expected = len(WEEKDAY_STAFF) if day.weekday() < 5 else 3
            assert len(await duty(linli, day)) == expected, day


async def test_weekend_teams_keep_their_four_week_rotation(
    linli: Linli, clock: ManualClock
) -> None:
    clock.set(FIRST_UNSEEDED)
    await roll(linli)
    saturdays = (date(2027, 1, 2), date(2027, 1, 9), date(2027, 1, 16), date(2027, 1, 30))
    for saturday in saturdays:
        team = await duty(linli, saturday)
        assert len(team) == 3 and {(s, e) for _, s, e in team} == {("09:00", "12:00")}
        assert team == await duty(linli, saturday - timedelta(days=28))  # same team, 4 weeks on
    teams = {frozenset(await duty(linli, saturday)) for saturday in saturdays[:3]}
    assert len(teams) == 3  # not one team every Saturday


async def test_running_twice_or_on_two_servers_at_once_adds_nothing_twice(
    linli: Linli, clock: ManualClock
) -> None:
    clock.set(MONDAY_AFTER)
    today = local_today(clock)

    async def once() -> int:
        async with linli.sessions() as session, session.begin():
            return await roll_forward(session, today, 6)

    if linli.engine.dialect.name == "postgresql":
        first = sum(await asyncio.gather(once(), once()))  # two servers racing
    else:
        first = await once()
    assert first == await shift_count(linli) - await _seeded_count(linli)
    before = await shift_count(linli)
    assert await once() == 0
    assert await roll(linli) == 0  # the scheduler's tick: nothing more to add or warn of
    assert await shift_count(linli) == before


async def _seeded_count(linli: Linli) -> int:
    async with linli.sessions() as session:
        stmt = (
            select(func.count())
            .select_from(RosterShift)
            .where(col(RosterShift.day) <= SEEDED_UNTIL)
        )
        return (await session.exec(stmt)).one()


async def test_a_day_a_clerk_imported_stays_exactly_as_imported(
    linli: Linli, clock: ManualClock
) -> None:
    friday = date(2027, 1, 8)
    imported = await run_import(
        linli,
        csv_text(f"{friday},S001,13:00,18:00,3,", f"{friday},S011,08:00,12:00,,"),
    )
    assert imported.ok, imported.summary()
    clock.set(MONDAY_AFTER)
    assert await roll(linli) > 0  # the days around it are filled from the pattern
    assert await duty(linli, friday) == {("S001", "13:00", "18:00"), ("S011", "08:00", "12:00")}
    assert await duty(linli, friday - timedelta(days=1)) == weekday_duty()


async def _remove_shift(linli: Linli, code: str, day: date) -> None:
    """A clerk takes a staff member off the roster for a day (leave)."""
    async with linli.sessions() as session, session.begin():
        staff = select(Staff.id).where(Staff.code == code)
        await session.exec(
            sa.delete(RosterShift).where(
                col(RosterShift.day) == day, col(RosterShift.staff_id).in_(staff)
            )
        )


async def test_a_shift_removed_for_leave_stays_removed_at_the_next_ticks(
    linli: Linli, clock: ManualClock
) -> None:
    start = datetime(2026, 12, 21, 10, 0, tzinfo=SHANGHAI)
    clock.set(start)
    await roll(linli)
    seeded, rolled = date(2026, 12, 22), date(2027, 1, 8)
    await _remove_shift(linli, "S002", seeded)
    await _remove_shift(linli, "S001", rolled)
    for hours in (1, 2, 24):
        clock.set(start + timedelta(hours=hours))
        await roll(linli)
        assert await duty(linli, seeded) == weekday_duty() - {("S002", "08:00", "18:00")}, hours
        assert await duty(linli, rolled) == weekday_duty() - {("S001", "08:00", "18:00")}, hours


async def test_holidays_get_the_holiday_team_and_make_up_saturdays_the_weekday_staff(
    linli: Linli, clock: ManualClock
) -> None:
    holiday = date(2027, 1, 5)  # a Tuesday the operator declared a holiday
    async with linli.sessions() as session, session.begin():
        session.add(HolidayOverride(day=holiday, day_kind=DayKind.HOLIDAY, name_zh="演示假日"))
    clock.set(FIRST_UNSEEDED)
    await roll(linli)
    team = await duty(linli, holiday)
    assert len(team) == 3 and {(s, e) for _, s, e in team} == {("09:00", "12:00")}
    assert team == await duty(linli, date(2027, 1, 3))  # the latest holiday team before it
    assert await duty(linli, holiday + timedelta(weeks=4)) == weekday_duty()  # a plain Tuesday
    assert await duty(linli, date(2026, 12, 26)) == weekday_duty()  # 调休: a working Saturday
    saturday = date(2027, 1, 23)  # four weeks on it is a weekend again: last Saturday's team
    assert await duty(linli, saturday) == await duty(linli, saturday - timedelta(weeks=1))


async def test_no_opening_hours_on_a_kind_of_day_means_no_shifts_on_it(
    linli: Linli, clock: ManualClock
) -> None:
    async with linli.sessions() as session, session.begin():
        await session.exec(sa.delete(OpeningRule).where(col(OpeningRule.day_kind) == "holiday"))
    clock.set(MONDAY_AFTER)
    await roll(linli)
    assert await duty(linli, date(2027, 1, 9)) == set()  # Saturday: the centre is closed
    assert await duty(linli, date(2027, 1, 8)) == weekday_duty()


def gap_warnings(records: list[logging.LogRecord]) -> dict[str, str]:
    """The services warned of in the log, with the last staffed day each warning gave."""
    fields = [vars(r) for r in records if r.levelno == logging.WARNING]
    return {str(f["service"]): str(f["last_staffed"]) for f in fields if "service" in f}


async def _deactivate_trained_for(linli: Linli, code: str) -> None:
    """Everyone trained for a service leaves (their shifts already on the roster stay)."""
    async with linli.sessions() as session, session.begin():
        service = (await session.exec(select(Service).where(Service.code == code))).one()
        trained = select(StaffSkill.staff_id).where(StaffSkill.service_id == service.id)
        await session.exec(sa.update(Staff).where(col(Staff.id).in_(trained)).values(active=False))


async def test_operators_are_warned_once_a_day_about_services_without_staff(
    linli: Linli, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    await _deactivate_trained_for(linli, "hl-vaccination-booking")
    clock.set(datetime(2027, 1, 4, 10, 0, tzinfo=SHANGHAI))  # the job did not run for a while
    caplog.set_level(logging.WARNING, logger="scheduler.roster")
    await roll(linli)
    async with linli.sessions() as session:
        gaps = await unstaffed_services(session, local_today(clock))
    warned = gap_warnings(caplog.records)
    assert "hl-vaccination-booking" in warned
    assert set(warned) == {gap.service.code for gap in gaps}
    assert len(warned) > 1  # its staff were trained for others too
    assert warned["hl-vaccination-booking"] == "2026-12-24"  # its last seeded day
    assert not any("S0" in r.getMessage() + str(vars(r)) for r in caplog.records)  # no staff
    caplog.clear()
    clock.set(datetime(2027, 1, 4, 16, 0, tzinfo=SHANGHAI))
    await roll(linli)
    assert not gap_warnings(caplog.records)  # once a day, not at each tick
    clock.set(datetime(2027, 1, 5, 9, 0, tzinfo=SHANGHAI))
    await roll(linli)
    assert gap_warnings(caplog.records).keys() == warned.keys()


async def test_once_rolled_forward_no_service_is_warned_of(
    linli: Linli, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scheduler.roster")
    clock.set(MONDAY_AFTER)
    await roll(linli)
    assert not [r for r in caplog.records if r.levelno > logging.WARNING]
    assert gap_warnings(caplog.records) == {}  # every service has someone on the roster


async def test_the_gaps_report_lists_unstaffed_services_with_their_last_staffed_day(
    linli: Linli, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    clock.set(datetime(2026, 12, 21, 10, 0, tzinfo=SHANGHAI))
    assert await roster_gaps(linli) == 0  # the seeded weeks still cover the fortnight
    assert "every active service has a staffed slot" in capsys.readouterr().out
    await _deactivate_trained_for(linli, "hl-vaccination-booking")
    clock.set(datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI))
    assert await roster_gaps(linli) == 1  # the roster has run out: every service
    everything = capsys.readouterr().out
    assert "hl-vaccination-booking" in everything and "ss-card-reissue" in everything
    assert await roster_extend(linli) == 0
    assert "shift(s) added" in capsys.readouterr().out
    assert await roster_gaps(linli) == 1
    report = capsys.readouterr().out
    assert "hl-vaccination-booking" in report and "2026-12-24" in report
    assert "ss-card-reissue" not in report  # staffed again
    assert "S0" not in report  # services, not people


async def places(linli: Linli, code: str, day: date) -> int | None:
    """The places the roster gives a service on a day (None: not open that day)."""
    async with linli.sessions() as session, session.begin():
        service = (await session.exec(select(Service).where(Service.code == code))).one()
        plan = await plan_day(session, service, day, linli.clock.now(), horizon_days=366)
    return None if plan.closed else sum(slot.capacity for slot in plan.slots)


async def test_planned_by_is_the_first_day_the_roll_forward_staffs_a_day(
    linli: Linli, clock: ManualClock
) -> None:
    friday = date(2027, 2, 5)
    first = planned_by(friday, linli.settings.roster_weeks_ahead)
    clock.set(datetime.combine(first - timedelta(days=1), time(10), SHANGHAI))
    await roll(linli)
    assert await places(linli, "ss-employment-card", friday) == 0  # nobody on duty yet
    clock.set(datetime.combine(first, time(10), SHANGHAI))
    await roll(linli)
    assert (await places(linli, "ss-employment-card", friday) or 0) > 0
    assert await places(linli, "ss-employment-card", friday + timedelta(days=1)) is None
    assert planned_by(date(2027, 3, 1), 6) == date(2027, 1, 19)


async def test_an_import_and_the_roll_forward_at_the_same_moment_take_turns(
    linli: Linli, clock: ManualClock
) -> None:
    if linli.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one transaction at a time anyway")
    clock.set(MONDAY_AFTER)
    friday = date(2027, 1, 8)
    async with linli.sessions() as clerk, clerk.begin():
        imported = await import_roster(clerk, csv_text(f"{friday},S001,13:00,18:00,3,"))
        assert imported.ok
        rolling = asyncio.create_task(roll(linli))
        await asyncio.sleep(0.5)
        assert not rolling.done()  # waits for the import's transaction
    await rolling
    assert await duty(linli, friday) == {("S001", "13:00", "18:00")}  # the import's day, as is
    assert await duty(linli, friday + timedelta(days=3)) == weekday_duty()  # the rest rolled on
