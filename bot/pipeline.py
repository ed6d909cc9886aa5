"""The channel-neutral message pipeline.

dedupe by (channel, message id) → per-user lock → one transaction covering identity, state,
the handler's domain writes and outbox rows → replies stored for redeliveries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.context import Context
from bot.group_commit import GroupCommit
from bot.i18n import LANGS, normalize_lang, split_command, t
from bot.language import written_language
from bot.locks import KeyedLocks
from bot.messages import Inbound, Reply
from bot.metrics import MESSAGE_SECONDS, MESSAGES
from bot.reference import ReferenceData
from bot.render import option_by_label, option_by_start, option_number
from bot.router import Router
from bot.unit import UnitOfWork
from models.conversation import (
    ChatAccount,
    Conversation,
    FlowState,
    adopt_language,
    bind_signed_request,
    inbound_row,
    open_conversation,
)
from models.db import connection_lock, database_unreachable
from models.intents import fold, load_lexicon
from models.messaging import forget_callbacks, queue_message

logger = logging.getLogger(__name__)

InflightKey = tuple[str, str, str]
CALLBACK_PURGE_SECONDS = 60.0
PROMPT_KEPT = 400  # characters of a flow's last question kept in its state
QUESTION_STEPS = ("ask.",)  # steps whose text is a question, as at no step
# Pauses before each new try of a message whose database was out of reach: about 8 s in all,
# after which the person gets an apology. A reply past a channel's deadline goes out by push.
DATABASE_RETRY_PAUSES = (0.25, 0.5, 1.0, 2.0, 4.0)


@cache
def _ways_out(*keys: str) -> frozenset[str]:
    """The labels, folded, in every language, of options that decline a choice."""
    return frozenset(fold(t(lang, key)) for lang in LANGS for key in keys)


NONE_OF_THESE, MAIN_MENU = "match.none_of_these", "menu.back"


@cache
def _way_out_labels() -> tuple[str, ...]:
    """The labels, as shown, of the options that decline a choice, in every language."""
    return tuple(t(lang, key) for lang in LANGS for key in (NONE_OF_THESE, MAIN_MENU))


def chat_lock_name(channel: str, user_ref: str) -> str:
    """The lock a message's transaction holds on its chat account (PostgreSQL instances)."""
    return f"chat:{channel}\0{user_ref}"


class ReplayedError(Exception):
    """A signed request's key already carried another message or sender: refuse, do nothing."""


@dataclass
class Deadline:
    """When a channel must have its answer; a reply ready later goes out through the outbox."""

    at: float  # time.monotonic()
    missed: bool = False

    def passed(self) -> bool:
        """Whether the moment has come."""
        return time.monotonic() >= self.at


@dataclass(frozen=True)
class Delivery:
    """How the channel a message came from can answer it."""

    # Whether replies, as the channel draws them, fit its direct answer; those that do not
    # go out through the outbox, where the channel's sender splits them.
    fits: Callable[[Sequence[Reply]], bool] | None = None
    deadline: Deadline | None = None
    via_outbox: bool = False  # push channel: replies are queued in the message's own transaction


class Pipeline:
    """Turns an Inbound into replies, exactly once per message id."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        router: Router,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.router = router
        self.clock = clock
        self.settings = settings
        self.state_timeout = timedelta(minutes=settings.state_timeout_minutes)
        self.reference = ReferenceData()
        self.data_dir = Path(settings.data_dir)
        self._user_locks = KeyedLocks()
        self._inflight: dict[InflightKey, asyncio.Future[list[Reply]]] = {}
        self.replay_window = timedelta(seconds=settings.wechat_timestamp_window_seconds)
        self._callbacks_purged_at = 0.0
        # SQLite's one writer: messages waiting together share a commit (bot/group_commit.py).
        self._group = GroupCommit(engine) if engine.dialect.name == "sqlite" else None

    async def handle(self, inbound: Inbound, delivery: Delivery | None = None) -> list[Reply]:
        """Handle one message; concurrent or later redeliveries get the first answer."""
        delivery = delivery or Delivery()
        if not inbound.message_id:
            return await self._handle_one(inbound, delivery)
        key = (inbound.channel, inbound.user_ref, inbound.message_id)
        running = self._inflight.get(key)
        if running is not None:
            MESSAGES.labels(inbound.channel, "duplicate").inc()
            return await asyncio.shield(running)
        future: asyncio.Future[list[Reply]] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            replies = await self._handle_one(inbound, delivery)
            future.set_result(replies)
            return replies
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            del self._inflight[key]

    async def _handle_one(self, inbound: Inbound, delivery: Delivery) -> list[Reply]:
        started = time.perf_counter()
        async with self._user_locks.hold((inbound.channel, inbound.user_ref)):
            try:
                replies = await self._transaction_retried(inbound, delivery)
                outcome = "ok"
            except ReplayedError:
                MESSAGES.labels(inbound.channel, "replayed").inc()
                raise
            except Exception:
                # The trace goes to the log; the person gets a polite text, never the exception.
                logger.exception(
                    "handler failed",
                    extra={"channel": inbound.channel, "message_id": inbound.message_id},
                )
                # The account rolled back with the rest: the text itself is the best guess.
                lang = (
                    written_language(inbound.text or "")
                    or normalize_lang(inbound.lang)
                    or self.settings.default_lang
                )
                replies = [Reply(t(lang, "error.polite"))]
                outcome = "error"
        elapsed = time.perf_counter() - started
        MESSAGES.labels(inbound.channel, outcome).inc()
        MESSAGE_SECONDS.labels(inbound.channel).observe(elapsed)
        logger.info(
            "message handled",
            extra={"channel": inbound.channel, "outcome": outcome, "ms": round(elapsed * 1000, 1)},
        )
        return replies

    async def _transaction_retried(self, inbound: Inbound, delivery: Delivery) -> list[Reply]:
        """The message's transaction, tried again while the database is out of reach (a
        restart, a cut network) instead of answering with an apology at once, as long as the
        channel's deadline allows. Only a message
        with an id is tried again: if a lost connection hid a commit that went through, the
        second try finds the stored replies and does nothing twice."""
        deadline = delivery.deadline
        for pause in DATABASE_RETRY_PAUSES if inbound.message_id else ():
            try:
                return await self._transaction(inbound, delivery)
            except Exception as error:
                # A channel that waits for its answer (WeChat) gets the apology in time rather
                # than silence: its later push would need the database that is still away.
                if not database_unreachable(error) or (
                    deadline is not None and time.monotonic() + pause >= deadline.at
                ):
                    raise
                logger.warning(
                    "database out of reach, trying the message again",
                    extra={"channel": inbound.channel, "seconds": pause},
                )
            await asyncio.sleep(pause)
        return await self._transaction(inbound, delivery)

    async def _transaction(self, inbound: Inbound, delivery: Delivery) -> list[Reply]:
        job = partial(self._unit_of_work, inbound, delivery)
        if self._group is not None:
            return await self._group.run(job)
        async with self.engine.connect() as connection, connection.begin():
            return await job(connection)

    async def _unit_of_work(
        self, inbound: Inbound, delivery: Delivery, connection: AsyncConnection
    ) -> list[Reply]:
        unit = UnitOfWork(connection)
        try:
            return await self._in_transaction(unit, inbound, delivery)
        finally:
            await unit.close()

    async def _in_transaction(
        self, unit: UnitOfWork, inbound: Inbound, delivery: Delivery
    ) -> list[Reply]:
        connection = unit.connection
        # PostgreSQL instances take a transaction-scoped lock per chat account.
        lock = chat_lock_name(inbound.channel, inbound.user_ref)
        if inbound.replay_key is None:
            await connection_lock(connection, lock)
        else:  # the same round trip binds the signed request's key
            await self._bind_replay_key(
                connection, inbound.replay_key, inbound.user_ref, inbound.message_id or "", lock
            )
        conversation = await open_conversation(
            connection,
            inbound.channel,
            inbound.user_ref,
            inbound.message_id,
            self.clock.now(),
            normalize_lang(inbound.lang),
        )
        if conversation.stored_replies is not None:
            MESSAGES.labels(inbound.channel, "duplicate").inc()
            return [Reply.from_dict(item) for item in conversation.stored_replies]
        identity, replies = await self._run_handlers(unit, conversation, inbound)
        late = delivery.deadline is not None and delivery.deadline.passed()
        too_long = delivery.fits is not None and not delivery.fits(replies)
        if late or too_long or delivery.via_outbox:
            # The outbox sends these replies, and a redelivery answers nothing: exactly once.
            if delivery.deadline is not None:
                delivery.deadline.missed = late
            await self._queue_replies(connection, identity, replies)
            replies = []
        await unit.flush()
        handled = None
        if inbound.message_id:
            handled = inbound_row(
                channel=inbound.channel,
                user_ref=inbound.user_ref,
                message_id=inbound.message_id,
                identity_id=identity.id,
                received_at=self.clock.now(),
                replies=[reply.to_dict() for reply in replies],
            )
        await conversation.save(connection, handled)
        return replies

    async def admit_signed_request(self, key: tuple[str, str, str], marker: str) -> bool:
        """Bind the key of a signed request that carries no message (a URL check) to a marker
        no sender has, so that it cannot carry one later; False if it already did."""
        async with self.engine.begin() as connection:
            try:
                await self._bind_replay_key(connection, key, "", marker)
            except ReplayedError:
                return False
        return True

    async def _bind_replay_key(
        self,
        connection: AsyncConnection,
        key: tuple[str, str, str],
        sender: str,
        message_id: str,
        lock: str | None = None,
    ) -> None:
        """The same signed request may come again only with the same message (a retry)."""
        now = datetime.now(UTC)  # the platform signs with real time, not the demo clock
        first = await bind_signed_request(
            connection, key, sender=sender, message_id=message_id, now=now, lock=lock
        )
        if first != (sender, message_id):
            raise ReplayedError(key)
        if time.monotonic() - self._callbacks_purged_at > CALLBACK_PURGE_SECONDS:
            self._callbacks_purged_at = time.monotonic()
            # Twice the window: a timestamp may lie up to one window in the future.
            await forget_callbacks(connection, now - 2 * self.replay_window)

    async def _run_handlers(
        self,
        unit: UnitOfWork,
        conversation: Conversation,
        inbound: Inbound,
    ) -> tuple[ChatAccount, list[Reply]]:
        now = self.clock.now()
        identity, state = conversation.identity, conversation.state
        before = (state.name, dict(state.data))
        expired = state.expired(now, self.state_timeout)
        if expired:  # a half-finished flow starts over; options shown at the menu stay usable
            state.name, state.data = "", {}
        # Answer in the language the person writes in, from this very message on.
        # A flow waits for this text: a name is no language. After a question, though, the
        # next message is another question (handlers/inquiry.py's "ask." steps), not a name.
        answering = bool(state.name) and not state.name.startswith(QUESTION_STEPS)
        adopt_language(identity, written_language(inbound.text or "", answering=answering))
        ctx = Context(
            unit=unit,
            inbound=inbound,
            identity=identity,
            state=state,
            clock=self.clock,
            settings=self.settings,
            redirect=self._redirect,
            reference=self.reference,
            payload=inbound.payload or self._chosen_option(state.data, inbound.text),
            state_expired=expired,
        )
        if identity.staff_id is not None:  # only staff accounts pay for this lookup
            await ctx.reload_staff()
        replies = self._warn_of_danger(ctx, await self.router.dispatch(ctx) or [])
        if replies:  # a silent event (a menu link opened) leaves the options on screen usable
            self._remember_options(state, replies)
        # An idle, unchanged state costs no write; a flow's timestamp moves on every message.
        if state.name or (state.name, state.data) != before:
            state.updated_at = now
        return identity, replies

    def _warn_of_danger(self, ctx: Context, replies: list[Reply]) -> list[Reply]:
        """A resident's words of danger to people (着火, 困了人 …; `emergency` in
        data/intents.toml) put 119 / 110 / 120 on top of whatever answers them, in any flow:
        the street office cannot send help in minutes."""
        text = ctx.inbound.text
        if not replies or not text or ctx.payload is not None or ctx.identity.staff_id:
            return replies
        if not load_lexicon(self.data_dir).has("emergency", fold(text)):
            return replies
        first, warning = replies[0], ctx.t("ask.emergency")
        return [Reply(f"{warning}\n{first.text}", first.buttons, first.link), *replies[1:]]

    @staticmethod
    def _remember_options(state: FlowState, replies: list[Reply]) -> None:
        """Keep the options just shown, in order, with their labels, so that typing a number or
        what an option says chooses it; in a flow, keep its question too, so that a flow a
        question interrupted can be offered again as it stood."""
        buttons = [button for reply in replies for button in reply.buttons]
        data = {k: v for k, v in state.data.items() if k not in ("options", "labels", "prompt")}
        if buttons:
            data["options"] = [button.payload for button in buttons]
            data["labels"] = [button.label for button in buttons]
        if state.name and replies:
            data["prompt"] = replies[-1].text[:PROMPT_KEPT]
        state.data = data

    async def _queue_replies(
        self,
        connection: AsyncConnection,
        identity: ChatAccount,
        replies: list[Reply],
    ) -> None:
        if replies:
            await queue_message(
                connection,
                kind="reply",
                payload={"replies": [reply.to_dict() for reply in replies]},
                now=self.clock.now(),
                identity_id=identity.id,
                channel=identity.channel,
            )

    async def send_later(self, inbound: Inbound, replies: list[Reply]) -> None:
        """Queue replies for an inbound message whose channel could no longer wait for them."""
        async with self.engine.connect() as connection, connection.begin():
            conversation = await open_conversation(
                connection, inbound.channel, inbound.user_ref, None, self.clock.now(), None
            )
            await conversation.save(connection)
            await self._queue_replies(connection, conversation.identity, replies)

    async def _redirect(self, ctx: Context, payload: str) -> list[Reply]:
        """Handle the current message again as if the person had pressed payload."""
        ctx.payload, ctx.args = payload, ""
        return await self.router.dispatch(ctx) or []

    def _chosen_option(self, data: dict[str, object], text: str | None) -> str | None:
        """A typed option number ("2", "２", "二", "第二个") or an option's label ("确认",
        "很满意", "Confirm") stands for that option's payload, as pressing it would."""
        options = data.get("options")
        if not text or not isinstance(options, list):
            return None
        number = option_number(text)
        if number is not None:
            index = number - 1
            return str(options[index]) if 0 <= index < len(options) else None
        labels = data.get("labels")
        if not isinstance(labels, list) or len(labels) != len(options):
            return None
        shown = [str(label) for label in labels]
        found = option_by_label(text, shown)
        if found is None:
            found = self._agreeing_option(text, shown)
        on_yes = data.get("on_yes")  # a yes-or-no question's step says what "yes" chooses
        if found is None and on_yes in options and self._all_agree(text):
            found = options.index(on_yes)
        if found is None and data.get("by_start") is True and split_command(text)[0] is None:
            # Only where a step allows it: elsewhere a short start chooses what acts at once
            # ("态度" would rate 态度差). A command word keeps its meaning ("取消", "返回").
            found = option_by_start(text, shown, _way_out_labels())
        return None if found is None else str(options[found])

    def _agreeing_option(self, text: str, labels: list[str]) -> int | None:
        """ "好的", "确定", "OK, confirm" answer a question whose one agreeing option is 确认 or
        Confirm, as that option would; "对", "是这个" at "您说的可能是：[A] [都不是]" choose A."""
        agree = self._agree_words()
        if not self._all_agree(text):
            return None
        agreeing = [i for i, label in enumerate(labels) if fold(label) in agree]
        if agreeing:
            return agreeing[0] if len(agreeing) == 1 else None
        if not any(fold(label) in _ways_out(NONE_OF_THESE) for label in labels):
            return None  # no "which one?" asked: "好的" may just say it was read
        ways_out = _ways_out(NONE_OF_THESE, MAIN_MENU)
        candidates = [i for i, label in enumerate(labels) if fold(label) not in ways_out]
        return candidates[0] if len(candidates) == 1 else None

    def _all_agree(self, text: str) -> bool:
        return load_lexicon(self.data_dir).only_agrees(text)

    def _agree_words(self) -> frozenset[str]:
        # Folded when the lexicon was read, and read again when data/intents.toml changes.
        return load_lexicon(self.data_dir).agreeing_words()
