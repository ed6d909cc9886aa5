"""Fault: the clock jumps forward three days and back two hours, twice, around due reminders,
case deadlines and a waitlist offer, with every scheduler tick and the delivery worker run after
each move. Nothing may be queued or sent twice, no deadline escalated twice, no tick may fail.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from sqlmodel import col, select

from bench.chaos_report import FaultResult, duplicates
from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.config import Settings
from bot.outbox import OutboxWorker
from models.booking import Appointment, BookingSlot, WaitlistEntry, WaitlistStatus
from models.cases import Case
from models.messaging import OutboxMessage
from models.reminders import ReminderRules
from scheduler.runner import JOBS
from tests.conftest import DATA, START
from tests.fakes.recording_channel import RecordingChannel
from tests.scheduler_data import bind_staff, book, open_case, resident_with_accounts

STEP = timedelta(minutes=30)
# (what happens, how the clock moves, how many steps of STEP follow)
MOVES = (
    ("start", timedelta(0), 4),
    ("jump forward 3 days", timedelta(days=3), 2),
    ("jump back 2 hours", timedelta(hours=-2), 6),
    ("jump back 2 hours again", timedelta(hours=-2), 6),
    ("jump forward 3 days again", timedelta(days=3), 4),
)


async def clock_jumps(db_url: str) -> FaultResult:
    """Run the jumps on the database at db_url (migrated and seeded)."""
    clock = ManualClock(START)
    linli = build_linli(
        Settings(database_url=db_url, data_dir=DATA, secret_key="chaos"), clock=clock
    )
    channel = RecordingChannel(clock)
    worker = OutboxWorker(linli.sessions, {"fake": channel}, clock, name="chaos-clock")
    result = FaultResult("clock jumps", "+3 d, -2 h, -2 h, +3 d around due work; every tick")
    try:
        cases = await _due_work(linli)
        for label, jump, steps in MOVES:
            clock.advance(jump)
            for _ in range(steps):
                result.notes += await _tick_all(linli, label)
                while await worker.deliver_due():
                    pass
                clock.advance(STEP)
        await _judge(linli, channel, cases, result)
    finally:
        await linli.close()
    result.lost += [note for note in result.notes if "failed" in note]
    return result


async def _due_work(linli: Linli) -> list[int]:
    """Appointments with reminders, cases with deadlines and a waitlist offer; the case ids."""
    now = linli.clock.now()
    rules = ReminderRules()
    await bind_staff(linli, "S005", "fake", "staff-S005")
    aheads = timedelta(hours=1, minutes=30), timedelta(days=1), timedelta(days=4)
    for n, ahead in enumerate(aheads):
        resident = await resident_with_accounts(linli, ("fake", f"appt-{n}", timedelta(0)))
        await book(linli, resident, now + ahead, rules, ref=f"LCY-CHAOS-{n}")
    cases = []
    for n, due in enumerate((timedelta(hours=2), timedelta(days=1), timedelta(days=5))):
        resident = await resident_with_accounts(linli, ("fake", f"case-{n}", timedelta(0)))
        cases.append(await open_case(linli, due_in=due, resident_id=resident))
    await _waitlist(linli)
    return cases


async def _waitlist(linli: Linli) -> None:
    """A full one-place slot in five days, offered to the first of three waiting residents."""
    now = linli.clock.now()
    holder = await resident_with_accounts(linli, ("fake", "wait-holder", timedelta(0)))
    slot_at = now + timedelta(days=5)
    appointment = await book(linli, holder, slot_at, ReminderRules(), ref="LCY-CHAOS-W")
    waiting = [
        await resident_with_accounts(linli, ("fake", f"wait-{n}", timedelta(0))) for n in range(3)
    ]
    async with linli.sessions() as session, session.begin():
        booked = await session.get(Appointment, appointment)
        assert booked is not None
        slot = await session.get(BookingSlot, booked.slot_id)
        assert slot is not None
        slot.capacity, slot.booked = 1, 1
        for n, resident in enumerate(waiting):
            offered = n == 0
            session.add(
                WaitlistEntry(
                    slot_id=slot.id or 0,
                    resident_id=resident,
                    status=WaitlistStatus.OFFERED if offered else WaitlistStatus.WAITING,
                    offer_expires_at=now + timedelta(minutes=30) if offered else None,
                    created_at=now + timedelta(seconds=n),
                )
            )


async def _tick_all(linli: Linli, label: str) -> list[str]:
    """Every periodic job once; a failed tick is named."""
    assert linli.ticker is not None
    failed = []
    for job in JOBS:
        if await linli.ticker.tick(job) is None:
            at = f"{linli.clock.now():%m-%d %H:%M}"
            failed.append(f"tick {job.name} failed after '{label}' at {at}")
    return failed


async def _judge(
    linli: Linli, channel: RecordingChannel, cases: list[int], result: FaultResult
) -> None:
    async with linli.sessions() as session:
        stmt = select(OutboxMessage).order_by(col(OutboxMessage.id))
        rows = list((await session.exec(stmt)).all())
        entries = list((await session.exec(select(WaitlistEntry))).all())
        escalated = [
            case.escalated_at
            for case in (await session.exec(select(Case).where(col(Case.id).in_(cases)))).all()
        ]
    queued = [
        (row.kind, row.resident_id, row.staff_id, json.dumps(row.payload.get("message")))
        for row in rows
    ]
    result.acknowledged = len(rows)
    result.duplicated += [f"queued twice: {key}" for key in duplicates(queued)]
    result.duplicated += [
        f"sent twice: {key}" for key in duplicates((a.to, a.text) for a in channel.accepted)
    ]
    kinds = Counter(row.kind for row in rows)
    result.notes.append("queued " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    if sum(1 for at in escalated if at is not None) < 2:
        result.lost.append(f"overdue cases not escalated: {escalated}")
    offered = [e for e in entries if e.status != WaitlistStatus.WAITING]
    if len(offered) < 2:
        result.lost.append("the lapsed waitlist offer was not passed on")
    if kinds.get("reminder", 0) == 0:
        result.lost.append("no reminder was sent")
