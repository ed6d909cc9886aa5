"""Retention per kind (scheduler/retention_kinds.py): a finished record just inside its period
keeps its personal data, one just outside loses it, open records never do; the access log
goes after its own period; a second tick finds nothing; a backlog goes on at the next tick;
and the numbers leaders read (models/kpis.py) are the same before and after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import col, select

import scheduler.retention_kinds
from bot.app import Linli
from bot.clock import ManualClock, local_today
from bot.config import Settings
from models.access_log import PersonalDataView, log_view
from models.booking import Appointment, AppointmentStatus
from models.cases import Case, CaseEvent, CaseStatus, Rating
from models.kpis import KpiScope, Period, kpi_report
from models.messaging import ConversationState
from models.needs import Need, NeedStage
from models.org import Staff
from models.people import ChannelIdentity
from scheduler.context import JobContext
from scheduler.runner import JOBS, Ticker
from tests.personal_records import (
    PERSONAL,
    WORDS,
    Records,
    make_records,
    personal_data_left,
    shape,
)

DAYS = 100
KINDS_PER_RECORDS = 5  # a case, a need, a rating, an appointment, an account


def every_period(settings: Settings, days: int = DAYS) -> Settings:
    """The settings with every kind's period the same."""
    fields = [name for name in type(settings).model_fields if name.startswith("retention_")]
    return settings.model_copy(update=dict.fromkeys(fields, days))


async def tick(linli: Linli, settings: Settings | None = None, batch: int = 500) -> int | None:
    """One retention tick, as the scheduler runs it (with the advisory lock on PostgreSQL)."""
    [job] = [job for job in JOBS if job.name == "personal_data_retention"]
    ctx = JobContext(
        linli.engine, linli.sessions, linli.clock, settings or linli.settings, batch=batch
    )
    return await Ticker(ctx, jobs=[job]).tick(job)


async def holds_personal_data(linli: Linli, records: Records) -> dict[str, bool]:
    """For each kind, whether this resident's record of it still holds personal data."""
    async with linli.sessions() as session:
        case = await session.get(Case, records.case_id)
        need = await session.get(Need, records.need_id)
        rating = await session.get(Rating, records.rating_id)
        appointment = await session.get(Appointment, records.appointment_id)
        account = await session.get(ChannelIdentity, records.identity_id)
        state = await session.get(ConversationState, records.identity_id)
        events = await personal_data_left(
            session, CaseEvent, col(CaseEvent.case_id) == records.case_id
        )
    assert case and need and rating and appointment and account
    return {
        "case": case.summary == WORDS and bool(case.attachments),
        "events": bool(events),
        "need": need.latitude is not None and bool(need.attachments),
        "rating": rating.comment == WORDS,
        "appointment": appointment.identity_id is not None,
        "account": account.display_name is not None and state is not None,
    }


ALL = dict.fromkeys(("case", "events", "need", "rating", "appointment", "account"), True)
NONE = dict.fromkeys(ALL, False)


async def test_just_inside_the_period_stays_just_outside_goes(
    linli: Linli, clock: ManualClock
) -> None:
    inside = await make_records(linli, ago=timedelta(days=DAYS) - timedelta(hours=1))
    outside = await make_records(linli, ago=timedelta(days=DAYS) + timedelta(hours=1))
    settings = every_period(linli.settings)
    assert await tick(linli, settings) == KINDS_PER_RECORDS
    assert await holds_personal_data(linli, inside) == ALL
    assert await holds_personal_data(linli, outside) == NONE
    assert await tick(linli, settings) == 0  # a record is counted once

    clock.advance(timedelta(hours=2))
    assert await tick(linli, settings) == KINDS_PER_RECORDS
    assert await holds_personal_data(linli, inside) == NONE


async def test_each_kind_keeps_its_own_period(linli: Linli) -> None:
    """The defaults differ per kind: at 400 days only the kinds kept a year have gone."""
    records = await make_records(linli, ago=timedelta(days=400))
    settings = linli.settings
    assert settings.retention_cases_days == 1095 and settings.retention_needs_days == 730
    assert settings.retention_ratings_days == settings.retention_appointments_days == 365
    assert await tick(linli) == 2
    held = await holds_personal_data(linli, records)
    assert held == {**ALL, "rating": False, "appointment": False}


async def test_open_records_never_lose_their_data(linli: Linli) -> None:
    ancient = timedelta(days=10 * 365)
    records = await make_records(
        linli,
        ago=ancient,
        case_status=CaseStatus.WAITING_RESIDENT,
        item_stage=NeedStage.IMPLEMENTING,
    )
    ready = await make_records(linli, ago=ancient, case_status=CaseStatus.READY_FOR_PICKUP)
    ahead = await make_records(
        linli,
        ago=-timedelta(days=3),
        case_status=CaseStatus.ACCEPTED,
        appointment_status=AppointmentStatus.BOOKED,
        item_stage=NeedStage.COLLECTING,
    )
    await tick(linli, every_period(linli.settings))
    held = await holds_personal_data(linli, records)
    assert held["case"] and held["events"] and held["need"]
    assert not held["rating"] and not held["appointment"]  # over long ago, whatever the case
    held = await holds_personal_data(linli, ready)
    assert held["case"] and held["events"] and not held["need"]
    assert await holds_personal_data(linli, ahead) == ALL


async def test_the_numbers_are_the_same_afterwards(linli: Linli) -> None:
    for days in (30, 150, 200, 400):
        await make_records(linli, ago=timedelta(days=days))
    await make_records(linli, ago=timedelta(days=300), case_status=CaseStatus.CANCELLED)
    await make_records(linli, ago=timedelta(days=250), case_status=CaseStatus.RESOLVED)
    today = local_today(linli.clock)
    period = Period(today - timedelta(days=500), today + timedelta(days=1))

    async def numbers() -> object:
        async with linli.sessions() as session:
            report = await kpi_report(
                session,
                period,
                KpiScope.street(),
                now=linli.clock.now(),
                data_dir=linli.settings.data_dir,
            )
            return report, await shape(session)

    before = await numbers()
    assert await tick(linli, every_period(linli.settings)) == 5 * KINDS_PER_RECORDS
    assert await numbers() == before
    async with linli.sessions() as session:
        left = await personal_data_left(session, Case)
    assert left == list(PERSONAL)  # the 30-day-old case only


async def test_a_backlog_goes_on_at_the_next_tick(
    linli: Linli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler.retention_kinds, "BATCHES_PER_TICK", 2)
    old = [await make_records(linli, ago=timedelta(days=DAYS + 1)) for _ in range(5)]
    settings = every_period(linli.settings)
    assert await tick(linli, settings, batch=2) == 4 * KINDS_PER_RECORDS  # two batches of two
    assert await tick(linli, settings, batch=2) == 1 * KINDS_PER_RECORDS
    assert await tick(linli, settings, batch=2) == 0
    for records in old:
        assert await holds_personal_data(linli, records) == NONE


async def test_the_access_log_goes_after_its_own_period(linli: Linli, clock: ManualClock) -> None:
    now = clock.now()
    days = linli.settings.retention_access_log_days
    assert days == 3 * 365
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == "S005"))).one()
        for n, age in enumerate((days + 2, days + 1, days - 1, 10)):
            log_view(
                session,
                staff_id=staff.id or 0,
                resident_id=None,
                subject=f"case:{n}",
                field_name="phone",
                why="test",
                place="desk",
                now=now - timedelta(days=age),
            )
    assert await tick(linli, batch=1) == 2
    async with linli.sessions() as session:
        kept = (await session.exec(select(PersonalDataView.subject))).all()
    assert sorted(kept) == ["case:2", "case:3"]


def test_a_period_of_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo must not mean "remove everything now"."""
    monkeypatch.setenv("LINLI_RETENTION_CASES_DAYS", "0")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("LINLI_RETENTION_CASES_DAYS", "30")
    monkeypatch.setenv("LINLI_RETENTION_ACCESS_LOG_DAYS", "-1")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("LINLI_RETENTION_ACCESS_LOG_DAYS")
    assert Settings().retention_cases_days == 30
