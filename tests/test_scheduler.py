"""The scheduler's jobs with an injected clock, each job's effect, and idempotence."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.outgoing import payload_replies
from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus
from models.cases import Case, CaseEvent, CaseStatus, Rating, RatingLevel
from models.messaging import JobRun, OutboxMessage, Reminder
from models.org import Staff
from models.reminders import ReminderRules
from scheduler.appointments import send_due_reminders
from scheduler.cases import send_follow_ups, sweep_case_deadlines
from scheduler.context import JobContext
from scheduler.digests import send_daily_digests, send_weekly_kpis
from scheduler.runner import JOBS, Job, Ticker
from tests.scheduler_data import bind_staff, book, open_case, resident_with_accounts

RULES = ReminderRules()
SATURDAY_0930 = datetime(2026, 11, 28, 9, 30, tzinfo=SHANGHAI)


def job_context(linli: Linli) -> JobContext:
    return JobContext(linli.engine, linli.sessions, linli.clock, linli.settings)


async def outbox(linli: Linli, kind: str | None = None) -> list[OutboxMessage]:
    async with linli.sessions() as session:
        stmt = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if kind is not None:
            stmt = stmt.where(OutboxMessage.kind == kind)
        return list((await session.exec(stmt)).all())


def text_of(row: OutboxMessage, lang: str = "zh-CN") -> str:
    return str(payload_replies(row.payload, lang)[0]["text"])


@pytest.fixture
async def resident(linli: Linli) -> int:
    return await resident_with_accounts(linli, ("fake", "r-1", timedelta(hours=1)))


async def test_appointment_reminders_go_the_evening_before_and_an_hour_before(
    linli: Linli, clock: ManualClock, resident: int
) -> None:
    await book(linli, resident, SATURDAY_0930, RULES)
    ctx = job_context(linli)
    clock.set(datetime(2026, 11, 27, 17, 59, tzinfo=SHANGHAI))
    assert await send_due_reminders(ctx) == 0
    clock.set(datetime(2026, 11, 27, 18, 0, tzinfo=SHANGHAI))
    assert await send_due_reminders(ctx) == 1
    assert await send_due_reminders(ctx) == 0  # done is done
    [evening] = await outbox(linli, "reminder")
    assert evening.resident_id == resident and evening.identity_id is None
    assert "明天（11月28日）09:30" in text_of(evening)
    assert "tomorrow (28 Nov) at 09:30" in text_of(evening, "en")
    clock.set(datetime(2026, 11, 28, 8, 30, tzinfo=SHANGHAI))
    assert await send_due_reminders(ctx) == 1
    assert "今天 09:30" in text_of((await outbox(linli, "reminder"))[1])


async def test_a_cancelled_appointment_gets_no_reminder(
    linli: Linli, clock: ManualClock, resident: int
) -> None:
    appointment_id = await book(linli, resident, SATURDAY_0930, RULES)
    async with linli.sessions() as session, session.begin():
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None
        appointment.status = AppointmentStatus.CANCELLED
        session.add(appointment)
    clock.set(datetime(2026, 11, 28, 9, 0, tzinfo=SHANGHAI))
    assert await send_due_reminders(job_context(linli)) == 0
    async with linli.sessions() as session:
        outcomes = {r.outcome for r in (await session.exec(select(Reminder))).all()}
    assert outcomes == {"cancelled"}


async def test_a_moved_appointment_is_reminded_at_its_new_time(
    linli: Linli, clock: ManualClock, resident: int
) -> None:
    appointment_id = await book(linli, resident, SATURDAY_0930, RULES)
    sunday = SATURDAY_0930 + timedelta(days=1)
    async with linli.sessions() as session, session.begin():
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None
        appointment.starts_at = sunday  # moved without its reminders being told
        session.add(appointment)
    ctx = job_context(linli)
    clock.set(datetime(2026, 11, 27, 18, 0, tzinfo=SHANGHAI))
    assert await send_due_reminders(ctx) == 0
    clock.set(datetime(2026, 11, 28, 18, 0, tzinfo=SHANGHAI))
    assert await send_due_reminders(ctx) == 1
    assert "11月29日" in text_of((await outbox(linli, "reminder"))[0])


@pytest.mark.parametrize(
    ("back_at", "expected"),
    [
        (datetime(2026, 11, 28, 8, 0, tzinfo=SHANGHAI), ["明天"]),  # the evening one, late
        (datetime(2026, 11, 28, 8, 45, tzinfo=SHANGHAI), ["今天"]),  # only the newer one
        (datetime(2026, 11, 28, 9, 40, tzinfo=SHANGHAI), []),  # too late for either
    ],
)
async def test_reminders_due_while_down_are_sent_if_still_useful(
    linli: Linli, clock: ManualClock, resident: int, back_at: datetime, expected: list[str]
) -> None:
    await book(linli, resident, SATURDAY_0930, RULES)
    clock.set(back_at)
    await send_due_reminders(job_context(linli))
    texts = [text_of(row) for row in await outbox(linli, "reminder")]
    assert len(texts) == len(expected)
    for text, word in zip(texts, expected, strict=True):
        assert word in text


async def test_reminder_times_come_from_the_settings(
    linli: Linli, clock: ManualClock, resident: int
) -> None:
    linli.settings.reminder_before_minutes = 120
    rules = ReminderRules(linli.settings.reminder_evening_at, linli.settings.reminder_before)
    await book(linli, resident, SATURDAY_0930, rules)
    clock.set(datetime(2026, 11, 28, 7, 30, tzinfo=SHANGHAI))
    assert await send_due_reminders(job_context(linli)) == 1


async def supervisor_ids(linli: Linli, *codes: str) -> set[int]:
    async with linli.sessions() as session:
        rows = (await session.exec(select(Staff.id).where(col(Staff.code).in_(codes)))).all()
    return {int(row) for row in rows if row}


async def test_the_sla_sweep_warns_escalates_and_flags_each_once(
    linli: Linli, clock: ManualClock
) -> None:
    soon = await open_case(linli, created_ago=timedelta(days=2), due_in=timedelta(hours=20))
    overdue = await open_case(linli, due_in=timedelta(hours=-2))
    left = await open_case(
        linli, status=CaseStatus.ASSIGNED, created_ago=timedelta(hours=30), due_in=None
    )
    fresh = await open_case(linli, status=CaseStatus.ASSIGNED, created_ago=timedelta(hours=1))
    ctx = job_context(linli)
    first = await sweep_case_deadlines(ctx)
    assert await sweep_case_deadlines(ctx) == 0  # a second sweep repeats nothing
    alerts = await outbox(linli, "alert")
    assert first == len(alerts)
    supervisors = await supervisor_ids(linli, "S037", "S038")  # hall + civil affairs
    async with linli.sessions() as session:
        assignee = (await session.exec(select(Staff.id).where(Staff.code == "S005"))).one()
        events = {(e.case_id, e.kind) for e in (await session.exec(select(CaseEvent))).all()}
        escalated = await session.get(Case, overdue)
    warn = [a for a in alerts if "办理提醒" in text_of(a)]
    assert [a.staff_id for a in warn] == [assignee]
    assert {a.staff_id for a in alerts if "超期督办" in text_of(a)} == supervisors
    assert {a.staff_id for a in alerts if "推诿风险" in text_of(a)} == supervisors
    assert events == {(soon, "sla_warning"), (overdue, "overdue"), (left, "unaccepted")}
    assert fresh not in {case for case, _ in events}
    assert escalated is not None and escalated.escalated_at == clock.now()


async def test_unaccepted_time_counts_working_days_only(linli: Linli, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 27, 17, 0, tzinfo=SHANGHAI))  # Friday evening
    await open_case(linli, status=CaseStatus.ASSIGNED, created_ago=timedelta(0), due_in=None)
    ctx = job_context(linli)
    clock.set(datetime(2026, 11, 29, 18, 0, tzinfo=SHANGHAI))  # Sunday: two days, no workday
    assert await sweep_case_deadlines(ctx) == 0
    clock.set(datetime(2026, 11, 30, 17, 1, tzinfo=SHANGHAI))  # Monday, one workday later
    assert await sweep_case_deadlines(ctx) == 2  # both supervisors


async def test_a_case_filed_at_night_is_flagged_by_closing_time_not_at_night(
    linli: Linli, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=SHANGHAI))  # Monday night
    await open_case(linli, status=CaseStatus.ASSIGNED, created_ago=timedelta(0), due_in=None)
    ctx = job_context(linli)
    clock.set(datetime(2026, 12, 1, 17, 59, tzinfo=SHANGHAI))
    assert await sweep_case_deadlines(ctx) == 0
    clock.set(datetime(2026, 12, 1, 18, 0, tzinfo=SHANGHAI))  # closing time, not 23:30
    assert await sweep_case_deadlines(ctx) == 2  # both supervisors


async def test_resolved_cases_get_a_follow_up_then_one_nudge(
    linli: Linli, clock: ManualClock, resident: int
) -> None:
    case_id = await open_case(
        linli, status=CaseStatus.RESOLVED, resident_id=resident, resolved_ago=timedelta(hours=3)
    )
    ctx = job_context(linli)
    assert await send_follow_ups(ctx) == 1
    assert await send_follow_ups(ctx) == 0
    [ask] = await outbox(linli, "follow_up")
    assert ask.resident_id == resident and "已办结" in text_of(ask)
    assert (
        payload_replies(ask.payload, "zh-CN")[0]["buttons"][0]["payload"] == f"rate:case:{case_id}"
    )
    clock.advance(timedelta(hours=48))
    assert await send_follow_ups(ctx) == 1
    clock.advance(timedelta(hours=48))
    assert await send_follow_ups(ctx) == 0  # one nudge only
    assert "再次打扰" in text_of((await outbox(linli, "follow_up"))[1])


async def test_a_rated_case_is_not_nudged(linli: Linli, clock: ManualClock, resident: int) -> None:
    case_id = await open_case(
        linli, status=CaseStatus.RESOLVED, resident_id=resident, resolved_ago=timedelta(days=3)
    )
    async with linli.sessions() as session, session.begin():
        session.add(
            Rating(
                subject_kind="case",
                subject_id=case_id,
                resident_id=resident,
                level=RatingLevel.SATISFIED,
                created_at=clock.now(),
            )
        )
    assert await send_follow_ups(job_context(linli)) == 0


async def test_the_daily_digest_goes_once_on_working_mornings(
    linli: Linli, clock: ManualClock
) -> None:
    staff_id = await bind_staff(linli, "S005", "fake", "staff-5")
    await open_case(linli, due_in=timedelta(hours=3))
    await open_case(linli, due_in=timedelta(hours=-1))
    ctx = job_context(linli)
    clock.set(datetime(2026, 11, 27, 7, 59, tzinfo=SHANGHAI))
    assert await send_daily_digests(ctx) == 0
    clock.set(datetime(2026, 11, 27, 9, 15, tzinfo=SHANGHAI))  # started late: still sent
    assert await send_daily_digests(ctx) == 1
    assert await send_daily_digests(ctx) == 0
    [digest] = await outbox(linli, "digest")
    assert digest.staff_id == staff_id
    assert "在办事项 2 件，今天到期 1 件，已超期 1 件" in text_of(digest)
    clock.set(datetime(2026, 11, 28, 8, 30, tzinfo=SHANGHAI))  # Saturday
    assert await send_daily_digests(ctx) == 0


async def test_the_weekly_kpi_reaches_supervisors_on_monday(
    linli: Linli, clock: ManualClock
) -> None:
    await bind_staff(linli, "S037", "fake", "boss-37")
    await open_case(linli, status=CaseStatus.RESOLVED, resolved_ago=timedelta(hours=5))
    ctx = job_context(linli)
    assert await send_weekly_kpis(ctx) == 0  # Friday
    clock.set(datetime(2026, 11, 30, 8, 30, tzinfo=SHANGHAI))
    assert await send_weekly_kpis(ctx) == 1
    assert await send_weekly_kpis(ctx) == 0
    [kpi] = await outbox(linli, "digest")
    assert "上周（11月23日–11月29日）" in text_of(kpi)
    assert "办结 1 件" in text_of(kpi)


async def test_the_ticker_runs_jobs_on_apscheduler_and_records_them(linli: Linli) -> None:
    assert {job.name for job in JOBS} >= {"appointment_reminders", "case_deadlines"}
    ran = asyncio.Event()

    async def note(_ctx: JobContext) -> int:
        ran.set()
        return 0

    ticker = Ticker(job_context(linli), [Job("probe", note, 3600)])
    ticker.start()
    try:
        await asyncio.wait_for(ran.wait(), 5)  # first run at start-up, not after an hour
        run = None
        for _ in range(100):  # the tick records its end just after the work
            async with linli.sessions() as session:
                run = await session.get(JobRun, "probe")
            if run is not None and run.last_finished_at is not None:
                break
            await asyncio.sleep(0.02)
    finally:
        ticker.shutdown()
    assert run is not None and run.last_finished_at == linli.clock.now()


async def test_a_failing_tick_is_counted_and_does_not_stop_the_others(linli: Linli) -> None:
    async def broken(_ctx: JobContext) -> int:
        raise RuntimeError("boom")

    ticker = Ticker(job_context(linli))
    assert await ticker.tick(Job("broken", broken, 60)) is None
    assert await ticker.tick(JOBS[-1]) == 0  # outbox_stats still works


async def test_on_postgresql_only_one_instance_runs_a_tick(linli: Linli) -> None:
    if linli.engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite serves one process")
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(_ctx: JobContext) -> int:
        started.set()
        await release.wait()
        return 1

    job = Job("exclusive", slow, 60)
    first = asyncio.create_task(Ticker(job_context(linli)).tick(job))
    await started.wait()
    other = build_linli(linli.settings, clock=linli.clock)  # a second server, own engine
    try:
        assert await Ticker(job_context(other)).tick(job) is None  # the lock is held
        release.set()
        assert await first == 1
        assert await Ticker(job_context(other)).tick(job) == 1  # and free again afterwards
    finally:
        release.set()
        await other.close()


async def test_a_case_due_within_the_warning_window_is_warned_at_half_time(
    linli: Linli, clock: ManualClock
) -> None:
    short = await open_case(linli, created_ago=timedelta(hours=1), due_in=timedelta(hours=23))
    ctx = job_context(linli)
    await sweep_case_deadlines(ctx)
    assert [a for a in await outbox(linli, "alert") if "办理提醒" in text_of(a)] == []
    clock.advance(timedelta(hours=11))  # half of the 24 hours it was given
    await sweep_case_deadlines(ctx)
    warned = [a for a in await outbox(linli, "alert") if "办理提醒" in text_of(a)]
    assert len(warned) == 1 and short
