"""APScheduler 3 with periodic ticks only; every timed thing lives in the database.

Choices made on purpose:
- interval ticks, first run at start-up, so what fell due while the server was down is done
  at once (the sweeps decide from the tables what is still useful);
- ``coalesce=True`` and ``max_instances=1``: a tick that falls behind runs once, never twice at
  the same time;
- ``misfire_grace_time=None``: a late tick still runs, since every sweep is idempotent;
- on PostgreSQL each tick first takes a transaction advisory lock named after the job, so of
  several servers sharing a database only one runs it at a time, and a scheduled tick is skipped
  when another server started the job less than an interval ago (JobRun), so that the job runs
  once per interval however many servers tick (SQLite: one process runs the scheduler). The
  lock ends with its transaction, so a tick cancelled or a connection lost cannot keep it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.metrics import TICK_ERRORS, TICK_SECONDS
from models.base import SHANGHAI
from models.messaging import JobRun
from scheduler.appointments import send_due_reminders
from scheduler.cases import send_follow_ups, sweep_case_deadlines
from scheduler.context import JobContext
from scheduler.digests import send_daily_digests, send_weekly_kpis
from scheduler.notices import run_notices
from scheduler.outbox_stats import measure_outbox
from scheduler.retention import forget_old_messages
from scheduler.retention_kinds import remove_expired_personal_data
from scheduler.roster import keep_roster_ahead
from scheduler.waitlist import pass_on_expired_offers

logger = logging.getLogger(__name__)

Work = Callable[[JobContext], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    """A periodic tick: what it does and how often."""

    name: str
    work: Work
    every_seconds: float


STOP_GRACE = 5.0  # seconds ticks still running may take to finish when the process stops
# A scheduled tick runs if the job last started at least this share of its interval ago: the
# servers' timers drift apart by milliseconds, not by a tenth of an interval.
ONCE_PER_INTERVAL = 0.9

JOBS: tuple[Job, ...] = (
    Job("appointment_reminders", send_due_reminders, 30),
    Job("case_deadlines", sweep_case_deadlines, 300),
    Job("case_follow_ups", send_follow_ups, 600),
    Job("daily_digest", send_daily_digests, 300),
    Job("weekly_kpi", send_weekly_kpis, 900),
    Job("waitlist_offers", pass_on_expired_offers, 60),
    Job("outbox_stats", measure_outbox, 15),
    Job("notices", run_notices, 5),
    Job("roster", keep_roster_ahead, 3600),
    Job("inbound_retention", forget_old_messages, 3600),
    Job("personal_data_retention", remove_expired_personal_data, 3600),
)


class Ticker:
    """Runs the jobs on an AsyncIOScheduler; ``tick`` can also be called directly (tests, CLI)."""

    def __init__(
        self,
        ctx: JobContext,
        jobs: Sequence[Job] = JOBS,
        on_effects: Callable[[], None] | None = None,
    ) -> None:
        self.ctx, self.jobs = ctx, tuple(jobs)
        self.on_effects = on_effects  # e.g. wake the delivery worker when messages were queued
        self.scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        """Schedule every job (first runs now) on the running event loop."""
        scheduler = AsyncIOScheduler(
            timezone=SHANGHAI,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        for job in self.jobs:
            scheduler.add_job(
                self.tick_on_schedule,
                IntervalTrigger(seconds=job.every_seconds, timezone=SHANGHAI),
                args=[job],
                id=job.name,
                next_run_time=datetime.now(SHANGHAI),
            )
        scheduler.start()
        self.scheduler = scheduler

    def shutdown(self) -> None:
        """Stop scheduling; a tick already running finishes on its own."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop scheduling and give ticks still running a moment to finish (each sweep is one
        transaction, so one cut short is simply done again at the next start)."""
        self.shutdown()
        running = [task for task in self._running if not task.done()]
        if running:
            await asyncio.wait(running, timeout=grace)

    async def tick_on_schedule(self, job: Job) -> int | None:
        """A timer's tick: as ``tick``, but skipped if any server started the job within the
        interval (several servers tick each job, and it should run once per interval)."""
        return await self.tick(job, once_per_interval=True)

    async def tick(self, job: Job, *, once_per_interval: bool = False) -> int | None:
        """Run one job once, if no other instance is running it; returns its effect count."""
        started = time.perf_counter()
        current = asyncio.current_task()
        if current is not None:
            self._running.add(current)
        try:
            effects = await self._run_alone(job, once_per_interval)
        except asyncio.CancelledError:
            # Stopped with the process: the sweep's transaction rolled back and runs again next
            # time; not an error worth a traceback.
            logger.info("scheduler tick cancelled", extra={"job": job.name})
            return None
        except Exception:
            TICK_ERRORS.labels(job.name).inc()
            logger.exception("scheduler tick failed", extra={"job": job.name})
            return None
        finally:
            if current is not None:
                self._running.discard(current)
        if effects is None:
            return None
        TICK_SECONDS.labels(job.name).observe(time.perf_counter() - started)
        if effects and job.name != "outbox_stats":
            logger.info("scheduler tick", extra={"job": job.name, "effects": effects})
            if self.on_effects is not None:
                self.on_effects()
        return effects

    async def _run_alone(self, job: Job, once_per_interval: bool) -> int | None:
        if self.ctx.engine.dialect.name != "postgresql":
            return await self._run(job)  # one process per SQLite file
        async with self.ctx.engine.connect() as lock_connection, lock_connection.begin():
            taken = await lock_connection.execute(_TRY_LOCK, {"key": _lock_key(job.name)})
            if not taken.scalar_one():
                return None  # another instance is running this tick
            if once_per_interval and await self._ran_lately(lock_connection, job):
                return None  # another instance ran it within this interval
            return await self._run(job)

    async def _ran_lately(self, connection: AsyncConnection, job: Job) -> bool:
        last = await connection.scalar(
            sa.select(_JOB_RUN.c.last_started_at).where(_JOB_RUN.c.name == job.name)
        )
        if last is None:
            return False
        since = (self.ctx.clock.now() - last).total_seconds()
        # A start "in the future" means the clock went back: run rather than wait it out.
        return bool(0 <= since < job.every_seconds * ONCE_PER_INTERVAL)

    async def _run(self, job: Job) -> int:
        await self._record(job.name, started=True)
        effects = await job.work(self.ctx)
        await self._record(job.name, started=False)
        return effects

    async def _record(self, name: str, *, started: bool) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.sessions() as session, session.begin():
            run = await session.get(JobRun, name) or JobRun(name=name)
            if started:
                run.last_started_at = now
            else:
                run.last_finished_at = now
            session.add(run)


_TRY_LOCK = sa.text("SELECT pg_try_advisory_xact_lock(:key)")
_JOB_RUN = JobRun.__table__  # type: ignore[attr-defined]


def _lock_key(name: str) -> int:
    digest = hashlib.blake2b(f"linli-tick:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
