"""`linli worker` killed with SIGKILL mid-batch, then restarted: every committed outbox row and
every due reminder reaches the (fake) Telegram platform exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlmodel import func, select

from bot.app import Linli, build_linli
from bot.clock import SystemClock
from bot.config import Settings
from bot.messages import Reply
from models.messaging import OutboxMessage, OutboxStatus, Reminder, queue_message
from models.reminders import APPOINTMENT, HOUR_BEFORE, ReminderRules
from tests.conftest import DATA, ROOT
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.scheduler_data import book, resident_with_accounts
from tests.telegram_fixtures import telegram_platform

__all__ = ["telegram_platform"]

DIRECT, REMINDED = 60, 20


def worker_env(db_url: str, platform: FakeTelegramAPI, state_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    return env | {
        "LINLI_DATABASE_URL": db_url,
        "LINLI_DATA_DIR": str(DATA),
        "LINLI_STATE_DIR": state_dir,
        "LINLI_SECRET_KEY": "crash-test",
        "LINLI_TELEGRAM_TOKEN": platform.token,
        "LINLI_TELEGRAM_SECRET": "crash-test-secret",
        "LINLI_TELEGRAM_API_BASE": platform.base_url,
        "LINLI_OUTBOX_CLAIM_TIMEOUT_SECONDS": "1",
        "LINLI_OUTBOX_BATCH": "25",
    }


async def start_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "worker",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


async def sent_rows(linli: Linli) -> int:
    async with linli.sessions() as session:
        stmt = select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT)
        return int((await session.exec(stmt)).one())


async def prepare(linli: Linli) -> None:
    """Committed outbox rows for DIRECT chats, and REMINDED appointments whose reminder is due."""
    now = linli.clock.now()
    rules = ReminderRules()
    for n in range(REMINDED):
        resident = await resident_with_accounts(
            linli, ("telegram", str(81_000 + n), timedelta(minutes=5))
        )
        starts = now + timedelta(minutes=50, seconds=n)  # each its own slot
        appointment = await book(linli, resident, starts, rules)
        async with linli.sessions() as session, session.begin():  # due ten minutes ago
            due = rules.due_at(HOUR_BEFORE, starts)
            session.add(
                Reminder(
                    subject_kind=APPOINTMENT, subject_id=appointment, kind=HOUR_BEFORE, due_at=due
                )
            )
    for n in range(DIRECT):
        resident = await resident_with_accounts(
            linli, ("telegram", str(80_000 + n), timedelta(minutes=5))
        )
        async with linli.engine.begin() as connection:
            await queue_message(
                connection,
                kind="notice",
                payload={"replies": [Reply(f"通知{n:03d}").to_dict()]},
                now=now,
                resident_id=resident,
            )


async def test_sigkill_mid_batch_then_restart_delivers_everything_exactly_once(
    db_url: str, telegram_platform: FakeTelegramAPI, tmp_path: Path
) -> None:
    clock = SystemClock(None)  # the worker runs on real time, so the test does too
    settings = Settings(database_url=db_url, data_dir=DATA, secret_key="crash-test")
    settings_linli = build_linli(settings, clock=clock)
    env = worker_env(db_url, telegram_platform, str(tmp_path))
    try:
        await prepare(settings_linli)
        first = await start_worker(env)
        await until(lambda: _at_least(telegram_platform, 20))
        telegram_platform.hold_sends()  # what is in flight now is never accepted
        await until(lambda: _held(telegram_platform))
        await until(lambda: _recorded(settings_linli, telegram_platform))
        accepted_before_kill = len(telegram_platform.sent_messages)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        assert accepted_before_kill < DIRECT + REMINDED  # it really died mid-way

        telegram_platform.release_sends()
        second = await start_worker(env)
        try:
            await until(lambda: _at_least(telegram_platform, DIRECT + REMINDED), 60)
            await until(lambda: _all_sent(settings_linli), 30)
            await asyncio.sleep(1.5)  # past the claim timeout: anything resent would show now
        finally:
            second.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 0, stderr.decode()
    finally:
        await settings_linli.close()
    texts = Counter(message.text for message in telegram_platform.sent_messages)
    notices = {text for text in texts if text.startswith("通知")}
    assert notices == {f"通知{n:03d}" for n in range(DIRECT)}
    reminders = [text for text in texts if text.startswith("预约提醒")]
    assert len(reminders) == REMINDED
    assert set(texts.values()) == {1}, [t for t, c in texts.items() if c > 1]


async def _at_least(platform: FakeTelegramAPI, count: int) -> bool:
    return len(platform.sent_messages) >= count


async def _held(platform: FakeTelegramAPI) -> bool:
    return platform.held > 0


async def _recorded(linli: Linli, platform: FakeTelegramAPI) -> bool:
    return await sent_rows(linli) == len(platform.sent_messages)


async def _all_sent(linli: Linli) -> bool:
    return await sent_rows(linli) == DIRECT + REMINDED
