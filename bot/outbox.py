"""The delivery worker: claims due outbox rows, sends them through the channel's sender, and
records the outcome — retried with back-off and jitter, never re-sent once accepted.

A row is addressed to one chat account, or to a person (a resident or a staff member), who is
reached on the account they used last, falling back to their others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import secrets
import socket
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from aiolimiter import AsyncLimiter
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.metrics import OUTBOX_RESULTS
from bot.outbound import Recipient, Sender, SendResult, SendStatus
from bot.outgoing.message import payload_replies
from bot.outgoing.tell import OFFER_KEY, notice_message, pass_on_offers
from models.appointments import lapse_offer
from models.messaging import OutboxMessage, OutboxStatus, remember_options
from models.notice_ops import UNREACHABLE_PREFIX
from models.notices import Notice, NoticeStatus
from models.people import ChannelIdentity

logger = logging.getLogger(__name__)

PARTS_KEY = "_parts_sent"
OUTBOX_ID_KEY = "_outbox_id"
PARTS_ACCOUNT_KEY = "_parts_account"  # which chat account the counted parts went to
STOP_GRACE = 8.0  # seconds a stopping worker may finish its batch (`linli serve` allows 10)
RECORD_EVERY = 0.05  # seconds: results are written in small groups while a batch runs

_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_IDENTITY = ChannelIdentity.__table__  # type: ignore[attr-defined]
_NOTICE = Notice.__table__  # type: ignore[attr-defined]
_EARLIER = _OUTBOX.alias("earlier")


@dataclass(frozen=True)
class Account:
    """A chat account the worker can push to."""

    id: int
    channel: str
    recipient: Recipient


@dataclass(frozen=True)
class Claimed:
    """A claimed row, with the accounts to try in order, ready to send outside a transaction."""

    row_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    accounts: tuple[Account, ...]
    notice_id: int | None = None
    recipient: tuple[Any, ...] = ()  # whose rows go out one at a time, in order


@dataclass
class Delivered:
    """What one claimed row came to."""

    item: Claimed
    result: SendResult
    account: Account | None = None
    unreachable: list[int] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)  # as worded for that account
    deferred: bool = False  # not tried: an earlier row for the same person is to be retried


@dataclass(frozen=True)
class WorkerPolicy:
    """How hard the worker tries."""

    batch: int = 200
    bulk_batch: int = 3  # notice deliveries claimed per pass, about a tenth of a second's worth
    max_attempts: int = 12  # with the back-off below, about 68 minutes of trying
    claim_timeout: timedelta = timedelta(minutes=5)
    base_backoff: float = 2.0
    max_backoff: float = 3600.0
    poll_seconds: float = 0.5


class OutboxWorker:
    """Delivers committed outbox rows; claims are atomic (SKIP LOCKED on PostgreSQL)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        clock: Clock,
        *,
        rates: Mapping[str, float] | None = None,
        policy: WorkerPolicy | None = None,
        name: str | None = None,
        notice_rate: float | None = None,
        offer_minutes: int = 30,
    ) -> None:
        self.sessions, self.senders, self.clock = sessions, dict(senders), clock
        self.offer_minutes = offer_minutes
        self.policy = policy or WorkerPolicy()
        if notice_rate:
            # A tenth of a second's worth a pass: a reply queued meanwhile waits no longer.
            self.policy = replace(self.policy, bulk_batch=max(1, math.ceil(notice_rate / 10)))
        # Notices share each platform's limits with replies, and on top keep to their own rate.
        # The bucket holds one pass's worth (a tenth of a second): a broadcast starts without a
        # burst, and the pause between passes is made up. The rate is per worker process.
        batch = self.policy.bulk_batch
        self.notice_limiter = AsyncLimiter(batch, batch / notice_rate) if notice_rate else None
        # Unique across machines and restarts: a claim is recorded only by the worker that
        # holds it, and process ids repeat in every container and after a restart.
        self.name = name or f"w-{socket.gethostname()[:32]}-{os.getpid()}-{secrets.token_hex(4)}"
        self.limiters = {ch: AsyncLimiter(rate, 1.0) for ch, rate in (rates or {}).items()}
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()

    def wake(self) -> None:
        """Look for due rows now instead of at the next poll."""
        self._wakeup.set()

    def stop(self) -> None:
        """Finish the batch in hand, record it, and return from ``run``."""
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        """Deliver until ``stop`` (graceful) or cancellation (a claimed batch is redone later)."""
        self._stopping.clear()
        while not self._stopping.is_set():
            try:
                delivered = await self.deliver_due()
            except Exception:
                logger.exception("outbox pass failed")
                delivered = 0
            if delivered == 0 and not self._stopping.is_set():
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.policy.poll_seconds)

    async def stop_and_wait(self, task: asyncio.Task[None], grace: float = STOP_GRACE) -> None:
        """Stop the worker running in task, cancelling it if its batch outlasts grace seconds."""
        self.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            logger.warning("outbox worker cancelled mid-batch; claimed rows are retried later")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def deliver_due(self) -> int:
        """Claim one batch of due rows and deliver them; returns how many were claimed.

        Outcomes are written as they arrive, a few at a time, so that a crash loses the record
        of at most a moment's sends rather than of the whole batch.
        """
        claimed = await self._claim()
        if not claimed:
            return 0
        results: list[Delivered] = []
        pending = {
            asyncio.ensure_future(self._deliver_in_order(items, results))
            for items in _by_recipient(claimed)
        }
        recording: list[Delivered] = []
        try:
            while pending:
                _done, pending = await asyncio.wait(pending, timeout=RECORD_EVERY)
                recording, results[:] = list(results), []
                await self._record(recording)
                recording = []
        except asyncio.CancelledError:
            # Stopped past the grace: what the channel already accepted is still recorded (again,
            # harmlessly, if the cancelled record had committed), or it would be sent twice once
            # the claim goes stale. Only sends cut off mid-call are left to be retried.
            await self._record(recording + results)
            raise
        finally:
            for task in pending:  # cancelled mid-batch: these rows are claimed, retried later
                task.cancel()
        return len(claimed)

    async def _claim(self) -> list[Claimed]:
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            connection = await session.connection()
            rows = await _claim_rows(connection, self.policy, self.name, now)
            rows += await _claim_rows(connection, self.policy, self.name, now, bulk=True)
            notices = await notice_payloads(connection, rows)
            accounts = await _accounts_for(connection, rows, set(self.senders))
        return [
            Claimed(
                row.id,
                row.kind,
                notices.get(row.notice_id) or dict(row.payload),
                row.attempts,
                accounts.get(row.id, ()),
                row.notice_id,
                (row.identity_id,) if row.identity_id else (None, row.resident_id, row.staff_id),
            )
            for row in rows
            if row.notice_id is None or row.notice_id in notices
        ]

    async def _deliver_in_order(self, items: list[Claimed], out: list[Delivered]) -> None:
        """One person's rows, oldest first; after one to be retried, the rest wait for it."""
        for index, item in enumerate(items):
            one = await self._deliver(item)
            out.append(one)
            if one.result.status is SendStatus.RETRY:
                out.extend(_deferred(rest) for rest in items[index + 1 :])
                return

    async def _deliver(self, item: Claimed) -> Delivered:
        if not item.accounts:
            return Delivered(item, SendResult(SendStatus.FAILED, "no reachable chat account"))
        unreachable: list[int] = []
        result = SendResult(SendStatus.FAILED, "no reachable chat account")
        replies: list[dict[str, Any]] = []
        for account in item.accounts:
            # Put into words in the reader's language, once: sent, and its options remembered.
            replies = payload_replies(item.payload, account.recipient.lang)
            result = await self._send(item, account, replies)
            if result.status is not SendStatus.UNREACHABLE:
                return Delivered(item, result, account, unreachable, replies)
            unreachable.append(account.id)  # fall back to the person's next account
        return Delivered(item, result, item.accounts[-1], unreachable, replies)

    async def _send(
        self, item: Claimed, account: Account, replies: list[dict[str, Any]]
    ) -> SendResult:
        sender = self.senders[account.channel]
        done = _parts_done(item.payload, account)
        limiter = self.limiters.get(account.channel)
        if item.notice_id is not None and self.notice_limiter is not None:
            await self.notice_limiter.acquire()
        try:
            # The row id lets a channel that stores messages (the web inbox) store each once.
            payload = {**item.payload, "replies": replies, OUTBOX_ID_KEY: item.row_id}
            if limiter is None:
                return await sender.send(account.recipient, payload, done)
            async with limiter:
                return await sender.send(account.recipient, payload, done)
        except Exception:
            logger.exception("sender crashed", extra={"outbox_id": item.row_id})
            return SendResult(SendStatus.RETRY, "sender error", done)

    async def _record(self, delivered: Sequence[Delivered]) -> None:
        if not delivered:
            return
        now = self.clock.now()
        updates = [self._row_update(one, now) for one in delivered]
        lost = sorted({account for one in delivered for account in one.unreachable})
        async with self.sessions() as session, session.begin():
            connection = await session.connection()
            await connection.execute(_RECORD, updates)
            if lost:
                await connection.execute(
                    sa.update(_IDENTITY).where(_IDENTITY.c.id.in_(lost)).values(unreachable=True)
                )
        for one, values in zip(delivered, updates, strict=True):
            if not one.deferred:
                self._count(one, str(values["new_status"]))
        await self._remember_pushed_options(delivered, now)
        lapsed = [
            int(one.item.payload[OFFER_KEY])
            for one, values in zip(delivered, updates, strict=True)
            if values["new_status"] == OutboxStatus.DEAD.value and OFFER_KEY in one.item.payload
        ]
        if lapsed:
            await self._pass_on(lapsed, now)

    async def _remember_pushed_options(self, delivered: Sequence[Delivered], now: datetime) -> None:
        """Let a typed number answer a delivered push's options; apart from the record, so
        that a clash with a conversation never undoes the record of what was sent."""
        pushed = _pushed_options(delivered)
        if not pushed:
            return
        try:
            async with self.sessions() as session, session.begin():
                connection = await session.connection()
                for account_id, options, labels in pushed:
                    await remember_options(connection, account_id, options, now, labels)
        except Exception:
            logger.exception("remembering a push's options failed; a typed number may miss it")

    async def _pass_on(self, entry_ids: list[int], now: datetime) -> None:
        """Offers nobody could be told of end now, and their places go to the next in line
        (if this fails, the waitlist tick passes them on when they lapse)."""
        try:
            async with self.sessions() as session, session.begin():
                for entry_id in entry_ids:
                    await lapse_offer(session, entry_id, now)
                await session.flush()
                offered = await pass_on_offers(session, now, self.offer_minutes)
        except Exception:
            logger.exception("passing on undeliverable offers failed")
            return
        logger.info("undeliverable offers passed on", extra={"count": len(entry_ids)})
        if offered:
            self.wake()

    def _row_update(self, one: Delivered, now: datetime) -> dict[str, Any]:
        item, result = one.item, one.result
        # A notice row keeps naming its notice rather than storing the text filled in for it.
        stored = {"notice": item.notice_id} if item.notice_id is not None else item.payload
        payload = {**stored, PARTS_KEY: result.parts_sent}
        if one.account is not None:
            payload[PARTS_ACCOUNT_KEY] = one.account.id
        values: dict[str, Any] = {
            "row_id": item.row_id,
            "me": self.name,
            "new_payload": payload,
            "new_error": result.detail[:300] or None,
            "new_sent_at": None,
            "new_due": now,
            "new_attempts": item.attempts,
        }
        if one.deferred:  # not tried, so not an attempt
            pending = OutboxStatus.PENDING.value
            return values | {"new_status": pending, "new_attempts": item.attempts - 1}
        if result.status is SendStatus.SENT:
            return values | {"new_status": OutboxStatus.SENT.value, "new_sent_at": now}
        if result.status is SendStatus.RETRY and item.attempts < self.policy.max_attempts:
            delay = timedelta(seconds=self._backoff(item.attempts, result))
            return values | {"new_status": OutboxStatus.PENDING.value, "new_due": now + delay}
        if result.status is SendStatus.UNREACHABLE and item.notice_id is not None:
            values["new_error"] = (UNREACHABLE_PREFIX + result.detail)[:300]
        return values | {"new_status": OutboxStatus.DEAD.value}

    def _count(self, one: Delivered, status: str) -> None:
        channel = one.account.channel if one.account else "none"
        OUTBOX_RESULTS.labels(channel, one.item.kind, status).inc()
        if status == OutboxStatus.DEAD.value:
            logger.warning(
                "outbox message given up",
                extra={
                    "outbox_id": one.item.row_id,
                    "status": one.result.status.value,
                    "detail": one.result.detail,
                },
            )

    def _backoff(self, attempts: int, result: SendResult) -> float:
        delay = min(self.policy.base_backoff * 2 ** (attempts - 1), self.policy.max_backoff)
        delay *= random.uniform(0.5, 1.5)  # jitter, so a recovered platform is not hit all at once
        return float(max(delay, result.retry_after or 0.0))


# A claim that another worker took over after the claim timeout is not overwritten.
_RECORD = (
    sa.update(_OUTBOX)
    .where(_OUTBOX.c.id == sa.bindparam("row_id"), _OUTBOX.c.claimed_by == sa.bindparam("me"))
    .values(
        status=sa.bindparam("new_status"),
        payload=sa.bindparam("new_payload", type_=_OUTBOX.c.payload.type),
        last_error=sa.bindparam("new_error"),
        sent_at=sa.bindparam("new_sent_at", type_=_OUTBOX.c.sent_at.type),
        next_attempt_at=sa.bindparam("new_due", type_=_OUTBOX.c.next_attempt_at.type),
        attempts=sa.bindparam("new_attempts"),
    )
)


def _by_recipient(claimed: Sequence[Claimed]) -> list[list[Claimed]]:
    """Claimed rows grouped by whom they are for, each group oldest first (notice deliveries,
    one per person anyway, are each their own group)."""
    groups: dict[tuple[Any, ...], list[Claimed]] = defaultdict(list)
    for item in sorted(claimed, key=lambda one: one.row_id):
        key = item.recipient if item.notice_id is None else ("notice", item.row_id)
        groups[key].append(item)
    return list(groups.values())


def _deferred(item: Claimed) -> Delivered:
    """A row put back untried behind an earlier row of the same person's."""
    parts = int(item.payload.get(PARTS_KEY, 0))
    waiting = SendResult(SendStatus.RETRY, "waits for an earlier message", parts)
    return Delivered(item, waiting, deferred=True)


def _pushed_options(
    delivered: Sequence[Delivered],
) -> list[tuple[int, list[str], list[str]]]:
    """The options each delivered push offered, by account: a number typed next answers them.

    A conversation's own replies are left out (the pipeline remembered their options already).
    """
    found = []
    for one in delivered:
        if one.result.status is not SendStatus.SENT or one.account is None:
            continue
        if one.item.kind == "reply":
            continue
        # Worded as the reader got it, so typing what a button says chooses it.
        buttons = [b for r in one.replies for b in r.get("buttons", [])]
        if buttons:
            options = [str(b["payload"]) for b in buttons]
            labels = [str(b["label"]) for b in buttons]
            found.append((one.account.id, options, labels))
    return found


def _parts_done(payload: dict[str, Any], account: Account) -> int:
    """Parts already accepted on this account (parts sent to another account do not count)."""
    went_to = payload.get(PARTS_ACCOUNT_KEY)
    if went_to is not None and went_to != account.id:
        return 0
    return int(payload.get(PARTS_KEY, 0))


async def _claim_rows(
    connection: AsyncConnection, policy: WorkerPolicy, name: str, now: datetime, bulk: bool = False
) -> list[Any]:
    """Mark one batch of due rows as ours; two workers never get the same row.

    Conversation rows and notice deliveries (bulk) are claimed separately, each from its own
    partial index, so that replies are never queued behind a broadcast. Rows a vanished worker
    left claimed go first: behind 300,000 pending deliveries they would otherwise wait hours.
    """
    limit = policy.bulk_batch if bulk else policy.batch
    kind = (
        _OUTBOX.c.notice_id.is_not(None)
        if bulk
        else sa.and_(
            _OUTBOX.c.notice_id.is_(None), ~_an_earlier_row_waiting(now - policy.claim_timeout, now)
        )
    )
    abandoned = sa.and_(
        _OUTBOX.c.status == OutboxStatus.SENDING.value,
        _OUTBOX.c.claimed_at < now - policy.claim_timeout,
    )
    rows = await _claim_where(connection, sa.and_(kind, abandoned), limit, name, now)
    if len(rows) < limit:
        due = sa.and_(
            _OUTBOX.c.status == OutboxStatus.PENDING.value, _OUTBOX.c.next_attempt_at <= now
        )
        rows += await _claim_where(connection, sa.and_(kind, due), limit - len(rows), name, now)
    rows.sort(key=lambda row: row.id)
    return rows


def _an_earlier_row_waiting(stale: datetime, now: datetime) -> sa.Exists:
    """An older conversation row for the same recipient waits for its retry, or is being sent.

    Such a row is not claimed, so a person's messages arrive in the order they were queued:
    otherwise, after an outage, each row's own back-off decides which goes first. (Rows due
    together are claimed together and sent one after another, see ``_deliver_in_order``.)
    It reads only unsent rows (the partial index on status).
    """
    earlier, row = _EARLIER.c, _OUTBOX.c
    same_recipient = sa.or_(
        sa.and_(row.identity_id.is_not(None), earlier.identity_id == row.identity_id),
        sa.and_(row.resident_id.is_not(None), earlier.resident_id == row.resident_id),
        sa.and_(row.staff_id.is_not(None), earlier.staff_id == row.staff_id),
    )
    waiting = sa.or_(
        sa.and_(earlier.status == OutboxStatus.PENDING.value, earlier.next_attempt_at > now),
        sa.and_(earlier.status == OutboxStatus.SENDING.value, earlier.claimed_at >= stale),
    )
    return sa.exists().where(
        waiting, earlier.notice_id.is_(None), earlier.id < row.id, same_recipient
    )


async def _claim_where(
    connection: AsyncConnection,
    condition: sa.ColumnElement[bool],
    limit: int,
    name: str,
    now: datetime,
) -> list[Any]:
    """Claim up to limit rows meeting the condition, oldest due first, in one statement."""
    pick = sa.select(_OUTBOX.c.id).where(condition).order_by(_OUTBOX.c.next_attempt_at)
    pick = pick.limit(limit)
    if connection.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    claim = (
        sa.update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(pick.scalar_subquery()))
        .values(
            status=OutboxStatus.SENDING.value,
            claimed_by=name,
            claimed_at=now,
            attempts=_OUTBOX.c.attempts + 1,
        )
        .returning(
            _OUTBOX.c.id,
            _OUTBOX.c.kind,
            _OUTBOX.c.payload,
            _OUTBOX.c.attempts,
            _OUTBOX.c.identity_id,
            _OUTBOX.c.resident_id,
            _OUTBOX.c.staff_id,
            _OUTBOX.c.channel,
            _OUTBOX.c.notice_id,
        )
    )
    return list((await connection.execute(claim)).all())


async def _accounts_for(
    connection: AsyncConnection, rows: list[Any], channels: set[str]
) -> dict[int, tuple[Account, ...]]:
    """Each row's accounts to try: its own account, or the person's, most recently used first."""
    identity_ids = {row.identity_id for row in rows if row.identity_id is not None}
    residents = {row.resident_id for row in rows if row.identity_id is None and row.resident_id}
    staff = {row.staff_id for row in rows if row.identity_id is None and row.staff_id}
    wanted = []
    if identity_ids:
        wanted.append(_IDENTITY.c.id.in_(identity_ids))
    people = sa.and_(_IDENTITY.c.active.is_(True), _IDENTITY.c.unreachable.is_(False))
    if residents:
        wanted.append(sa.and_(people, _IDENTITY.c.resident_id.in_(residents)))
    if staff:
        wanted.append(sa.and_(people, _IDENTITY.c.staff_id.in_(staff)))
    if not wanted:
        return {}
    stmt = sa.select(_IDENTITY).where(sa.or_(*wanted)).order_by(_IDENTITY.c.last_seen_at.desc())
    found = list((await connection.execute(stmt)).all())
    by_id = {identity.id: identity for identity in found}
    # Grouped once, most recently used first, so a batch costs linear time, not quadratic.
    of_staff: dict[int, list[Any]] = defaultdict(list)
    of_resident: dict[int, list[Any]] = defaultdict(list)
    for identity in found:
        if identity.active and not identity.unreachable:
            if identity.staff_id is not None:
                of_staff[identity.staff_id].append(identity)
            if identity.resident_id is not None:
                of_resident[identity.resident_id].append(identity)
    result: dict[int, tuple[Account, ...]] = {}
    for row in rows:
        if row.identity_id is not None:
            candidates = [by_id[row.identity_id]] if row.identity_id in by_id else []
        elif row.staff_id:
            candidates = of_staff.get(row.staff_id, [])
        else:
            candidates = of_resident.get(row.resident_id, [])
        if row.channel and row.identity_id is None:
            candidates = [i for i in candidates if i.channel == row.channel]
        result[row.id] = tuple(
            Account(i.id, i.channel, Recipient(i.external_id, i.lang, i.last_seen_at, i.id))
            for i in candidates
            if i.channel in channels
        )
    return result


async def notice_payloads(
    connection: AsyncConnection, rows: list[Any]
) -> dict[int, dict[str, Any]]:
    """The payload of each notice among the claimed rows; rows of a notice cancelled meanwhile
    are marked cancelled here and left out (a retry must not revive them)."""
    ids = sorted({row.notice_id for row in rows if row.notice_id is not None})
    if not ids:
        return {}
    found = (await connection.execute(sa.select(_NOTICE).where(_NOTICE.c.id.in_(ids)))).all()
    live = {n.id: n for n in found if n.status != NoticeStatus.CANCELLED.value}
    withdrawn = [row.id for row in rows if row.notice_id is not None and row.notice_id not in live]
    if withdrawn:
        await connection.execute(
            sa.update(_OUTBOX)
            .where(_OUTBOX.c.id.in_(withdrawn))
            .values(status=OutboxStatus.CANCELLED.value)
        )
    return {
        notice_id: notice_message(Notice.model_validate(dict(n._mapping))).to_payload()
        for notice_id, n in live.items()
    }
