"""Fault: the WeChat API down for minutes (HTTP 503, then connection refused), with the
worker's clock injected so that minutes of back-off cost a second of real time.

Messages are queued for several residents before and during the outage; after it the outbox
must drain everything, once each, in the order it was queued for each person, and nothing may
have been given up while the platform was away.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlmodel import col, select

from bench.chaos_report import FaultResult, duplicates
from bench.chaos_switch import Mode, Switch
from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.messages import Reply
from models.messaging import OutboxMessage, OutboxStatus, queue_message
from tests.conftest import START
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.scheduler_data import resident_with_accounts
from tests.wechat_fixtures import wechat_settings

STEP = timedelta(seconds=30)  # the worker runs a pass every 30 s of the injected clock
PEOPLE, PER_PERSON = 6, 5


async def channel_outage(
    db_url: str,
    outage: timedelta = timedelta(minutes=12),
    drain_limit: timedelta = timedelta(hours=2),
) -> FaultResult:
    """Run the outage on the database at db_url (migrated and seeded) and say what came of it."""
    platform = FakeWeChatAPI()
    await platform.start()
    switch = Switch(int(platform.base_url.rsplit(":", 1)[1]))
    await switch.start()
    clock = ManualClock(START)
    settings = wechat_settings(db_url, platform, wechat_api_base=switch.base_url)
    linli = build_linli(settings, clock=clock)
    result = FaultResult(
        "channel API down",
        f"WeChat API 503 then refused for {outage.total_seconds() / 60:.0f} min (injected clock)",
    )
    try:
        openids = [f"oOutage{n:02d}" for n in range(PEOPLE)]
        people = {
            openid: await resident_with_accounts(linli, ("wechat", openid, timedelta(minutes=1)))
            for openid in openids
        }
        expected = await _run_outage(linli, clock, switch, people, outage, result)
        await switch.set(Mode.UP)
        up_at = clock.now()
        while await _unsettled(linli) and clock.now() - up_at < drain_limit:
            await linli.worker.deliver_due()
            clock.advance(STEP)
        result.recovery_seconds = (clock.now() - up_at).total_seconds()
        _judge(result, expected, platform)
        dead = await _rows(linli, OutboxStatus.DEAD)
        result.lost += [f"outbox row {row.id} dead: {row.last_error}" for row in dead]
        result.notes.append(
            f"drained {result.recovery_seconds / 60:.1f} min (clock) after the API came back"
        )
    finally:
        await linli.close()
        await switch.close()
        await platform.close()
    return result


async def _run_outage(
    linli: Linli,
    clock: ManualClock,
    switch: Switch,
    people: dict[str, int],
    outage: timedelta,
    result: FaultResult,
) -> dict[str, list[str]]:
    """Queue while the API fails; returns each person's texts in the order queued."""
    expected: dict[str, list[str]] = defaultdict(list)
    steps = int(outage / STEP)
    queue_every = max(1, steps // PER_PERSON)
    started = clock.now()
    for step in range(steps):
        if step == steps // 2:
            await switch.set(Mode.DOWN)
        elif step == 0:
            await switch.set(Mode.FAILING)
        if step % queue_every == 0 and len(next(iter(expected.values()), [])) < PER_PERSON:
            for openid, resident in people.items():
                text = f"停机{openid[-2:]}-{len(expected[openid])}"
                await _queue(linli, resident, text)
                expected[openid].append(text)
                result.acknowledged += 1
        await linli.worker.deliver_due()
        clock.advance(STEP)
    given_up = await _rows(linli, OutboxStatus.DEAD)
    if given_up:
        minutes = (clock.now() - started).total_seconds() / 60
        result.notes.append(f"{len(given_up)} rows given up during a {minutes:.0f} min outage")
    return expected


def _judge(result: FaultResult, expected: dict[str, list[str]], platform: FakeWeChatAPI) -> None:
    """Lost, twice, and out of order, per person, from what the fake platform accepted."""
    received: dict[str, list[str]] = defaultdict(list)
    for message in platform.sent:
        if message.touser is not None and message.text is not None:
            received[message.touser].append(message.text)
    for openid, texts in expected.items():
        got = received.get(openid, [])
        result.lost += [text for text in texts if text not in got]
        result.duplicated += duplicates(got)
        arrived = [text for text in dict.fromkeys(got) if text in texts]
        if arrived != [text for text in texts if text in got]:
            result.disordered.append(f"{openid}: {' '.join(arrived)}")


async def _queue(linli: Linli, resident: int, text: str) -> None:
    async with linli.engine.begin() as connection:
        await queue_message(
            connection,
            kind="notice",
            payload={"replies": [Reply(text).to_dict()]},
            now=linli.clock.now(),
            resident_id=resident,
        )


async def _rows(linli: Linli, status: OutboxStatus) -> list[OutboxMessage]:
    async with linli.sessions() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.status == status)
        return list((await session.exec(stmt.order_by(col(OutboxMessage.id)))).all())


async def _unsettled(linli: Linli) -> bool:
    waiting = OutboxStatus.PENDING, OutboxStatus.SENDING
    async with linli.sessions() as session:
        stmt = select(OutboxMessage.id).where(col(OutboxMessage.status).in_(waiting)).limit(1)
        return (await session.exec(stmt)).first() is not None
