"""The delivery worker: addressing people, falling back, two workers, outages, metrics."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from prometheus_client import REGISTRY
from sqlmodel import col, select

from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.messages import Reply
from bot.outbox import OutboxWorker, WorkerPolicy
from models.messaging import OutboxMessage, OutboxStatus, queue_message
from models.people import ChannelIdentity
from scheduler.context import JobContext
from scheduler.outbox_stats import measure_outbox
from tests.fakes.recording_channel import RecordingChannel
from tests.scheduler_data import resident_with_accounts


def worker_for(linli: Linli, channel: RecordingChannel, name: str = "w1") -> OutboxWorker:
    return OutboxWorker(linli.sessions, {"fake": channel.for_worker(name)}, linli.clock, name=name)


async def queue_for_resident(linli: Linli, resident_id: int, text: str) -> int:
    async with linli.engine.begin() as connection:
        return await queue_message(
            connection,
            kind="notice",
            payload={"replies": [Reply(text).to_dict()]},
            now=linli.clock.now(),
            resident_id=resident_id,
        )


async def rows(linli: Linli) -> list[OutboxMessage]:
    async with linli.sessions() as session:
        stmt = select(OutboxMessage).order_by(col(OutboxMessage.id))
        return list((await session.exec(stmt)).all())


async def test_a_person_is_reached_on_the_account_used_last(
    linli: Linli, clock: ManualClock
) -> None:
    channel = RecordingChannel(clock)
    resident = await resident_with_accounts(
        linli, ("fake", "old", timedelta(days=3)), ("fake", "recent", timedelta(minutes=5))
    )
    await queue_for_resident(linli, resident, "通知一")
    await worker_for(linli, channel).deliver_due()
    assert [(a.to, a.text) for a in channel.accepted] == [("recent", "通知一")]


async def test_a_blocked_account_falls_back_to_the_next_and_is_marked(
    linli: Linli, clock: ManualClock
) -> None:
    channel = RecordingChannel(clock, blocked={"recent"})
    resident = await resident_with_accounts(
        linli, ("fake", "old", timedelta(days=3)), ("fake", "recent", timedelta(minutes=5))
    )
    await queue_for_resident(linli, resident, "通知二")
    await worker_for(linli, channel).deliver_due()
    assert [a.to for a in channel.accepted] == ["old"]
    async with linli.sessions() as session:
        marked = {
            i.external_id: i.unreachable
            for i in (await session.exec(select(ChannelIdentity))).all()
        }
    assert marked == {"old": False, "recent": True}
    await queue_for_resident(linli, resident, "通知三")  # the next one skips it at once
    await worker_for(linli, channel).deliver_due()
    assert [a.to for a in channel.accepted] == ["old", "old"]


async def test_a_person_with_no_reachable_account_is_given_up_visibly(
    linli: Linli, clock: ManualClock
) -> None:
    resident = await resident_with_accounts(linli)  # no chat account at all
    await queue_for_resident(linli, resident, "无处可送")
    await worker_for(linli, RecordingChannel(clock)).deliver_due()
    [row] = await rows(linli)
    assert row.status == OutboxStatus.DEAD and row.last_error == "no reachable chat account"


async def test_two_workers_deliver_disjoint_sets(linli: Linli, clock: ManualClock) -> None:
    channel = RecordingChannel(clock, delay=0.001)
    residents = [
        await resident_with_accounts(linli, ("fake", f"p{n}", timedelta(hours=1)))
        for n in range(100)  # more people than a batch: a person's rows go one at a time
    ]
    for n in range(400):
        await queue_for_resident(linli, residents[n % 100], f"消息{n:03d}")
    second = build_linli(linli.settings, clock=clock)  # another server: its own engine
    policy = WorkerPolicy(batch=50)
    workers = [
        OutboxWorker(
            linli.sessions, {"fake": channel.for_worker("a")}, clock, policy=policy, name="a"
        ),
        OutboxWorker(
            second.sessions, {"fake": channel.for_worker("b")}, clock, policy=policy, name="b"
        ),
    ]
    try:

        async def drain(worker: OutboxWorker) -> None:
            while await worker.deliver_due():
                pass

        await asyncio.gather(*(drain(worker) for worker in workers))
    finally:
        await second.close()
    texts = [a.text for a in channel.accepted]
    assert sorted(texts) == [f"消息{n:03d}" for n in range(400)]  # all, each exactly once
    by = {name: {a.text for a in channel.accepted if a.by == name} for name in ("a", "b")}
    assert by["a"] and by["b"] and not by["a"] & by["b"]
    assert {row.status for row in await rows(linli)} == {OutboxStatus.SENT}


async def test_a_channel_outage_delays_delivery_and_loses_nothing(
    linli: Linli, clock: ManualClock
) -> None:
    outage = timedelta(minutes=30)
    channel = RecordingChannel(clock, down_until=clock.now() + outage)
    resident = await resident_with_accounts(linli, ("fake", "p", timedelta(hours=1)))
    for n in range(50):
        await queue_for_resident(linli, resident, f"停机期间{n}")
    worker = worker_for(linli, channel)
    start = clock.now()
    while clock.now() - start < timedelta(hours=2):
        await worker.deliver_due()
        clock.advance(timedelta(minutes=1))
    assert channel.refused > 0  # the oldest is tried; the rest wait behind it, in order
    assert sorted(a.text for a in channel.accepted) == sorted(f"停机期间{n}" for n in range(50))
    states = await rows(linli)
    assert {row.status for row in states} == {OutboxStatus.SENT}
    assert all(row.sent_at is not None and row.sent_at >= start + outage for row in states)


async def test_outbox_gauges_and_counters(linli: Linli, clock: ManualClock) -> None:
    resident = await resident_with_accounts(linli, ("fake", "p", timedelta(hours=1)))
    await queue_for_resident(linli, resident, "一")
    clock.advance(timedelta(seconds=90))
    await queue_for_resident(linli, resident, "二")
    ctx = JobContext(linli.engine, linli.sessions, clock, linli.settings)
    assert await measure_outbox(ctx) == 2
    assert REGISTRY.get_sample_value("linli_outbox_oldest_pending_seconds") == 90.0
    before = REGISTRY.get_sample_value(
        "linli_outbox_results_total", {"channel": "fake", "kind": "notice", "outcome": "sent"}
    )
    await worker_for(linli, RecordingChannel(clock)).deliver_due()
    after = REGISTRY.get_sample_value(
        "linli_outbox_results_total", {"channel": "fake", "kind": "notice", "outcome": "sent"}
    )
    assert (after or 0) - (before or 0) == 2
    assert await measure_outbox(ctx) == 0
    assert REGISTRY.get_sample_value("linli_outbox_depth") == 0
