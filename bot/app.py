"""The running system: settings, clock, database, router and pipeline, built once."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.telegram_api import TelegramSender
from bot.channels.telegram_bot import TelegramBot
from bot.channels.web_inbox import InboxBell, WebInboxSender
from bot.channels.wechat_api import TemplateSpec, WeChatApi, WeChatSender
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.outbound import Sender
from bot.outbox import OutboxWorker, WorkerPolicy
from bot.pipeline import Pipeline
from bot.router import Router
from models.db import make_engine, make_session_factory
from models.sealed import use_keys
from scheduler.context import JobContext
from scheduler.runner import Ticker


@dataclass
class Linli:
    """Everything a channel or a command needs to talk to the system."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    pipeline: Pipeline
    worker: OutboxWorker
    wechat_api: WeChatApi | None = None
    telegram: TelegramBot | None = None
    ticker: Ticker | None = None
    inbox_bell: InboxBell = field(default_factory=InboxBell)  # wakes open web chat pages

    async def database_ok(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        """Release the database connections and the platform clients' threads."""
        if self.wechat_api is not None:
            await self.wechat_api.close()
        if self.telegram is not None:
            await self.telegram.close()
        await self.engine.dispose()


def build_linli(
    settings: Settings,
    *,
    clock: Clock | None = None,
    router: Router | None = None,
    telegram_polling: bool = False,
) -> Linli:
    """Wire the system together; the router defaults to every feature in handlers/."""
    if router is None:
        from handlers import build_router

        router = build_router()
    clock = clock or SystemClock(settings.now)
    if settings.data_keys is not None or settings.secret_key is not None:
        use_keys(settings.data_key_list)  # else sealing says clearly that no key is configured
    engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
    sessions = make_session_factory(engine)
    pipeline = Pipeline(engine, sessions, router, clock, settings)
    wechat_api = _wechat_api(settings, sessions, clock)
    inbox_bell = InboxBell()
    senders: dict[str, Sender] = {"web": WebInboxSender(sessions, clock, inbox_bell)}
    if wechat_api is not None:
        senders["wechat"] = WeChatSender(wechat_api, clock, *wechat_templates(settings))
    policy = WorkerPolicy(
        batch=settings.outbox_batch,
        max_attempts=settings.outbox_max_attempts,
        claim_timeout=timedelta(seconds=settings.outbox_claim_timeout_seconds),
    )
    worker = OutboxWorker(
        sessions,
        senders,
        clock,
        rates=SEND_RATES,
        policy=policy,
        notice_rate=settings.notice_rate,
        offer_minutes=settings.waitlist_offer_minutes,
    )
    telegram = _telegram(settings, pipeline, worker, telegram_polling)
    if telegram is not None:
        worker.senders["telegram"] = TelegramSender(telegram.bot, telegram.ready, clock)
    ticker = Ticker(JobContext(engine, sessions, clock, settings), on_effects=worker.wake)
    parts = (pipeline, worker, wechat_api, telegram, ticker, inbox_bell)
    return Linli(settings, clock, engine, sessions, *parts)


# Send calls a second per channel for the delivery worker (the platforms' documented ceilings).
# Telegram's sender keeps its own per-message, per-chat and per-group limits.
SEND_RATES = {"wechat": 200.0}


def _telegram(
    settings: Settings, pipeline: Pipeline, worker: OutboxWorker, polling: bool
) -> TelegramBot | None:
    if settings.telegram_token is None:
        return None
    return TelegramBot(
        settings.telegram_token.get_secret_value(),
        settings.telegram_api_base,
        settings.telegram_api_timeout,
        pipeline,
        polling=polling,
        on_queued=worker.wake,
    )


def _wechat_api(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Clock
) -> WeChatApi | None:
    if not settings.wechat_enabled or settings.wechat_app_secret is None:
        return None
    return WeChatApi(
        settings.wechat_app_id or "",
        settings.wechat_app_secret.get_secret_value(),
        settings.wechat_api_base,
        settings.wechat_api_timeout,
        sessions,
        clock,
    )


def wechat_templates(settings: Settings) -> tuple[TemplateSpec | None, TemplateSpec | None]:
    """The template and subscription messages configured for outside the 48-hour window."""
    path = settings.data_dir / "wechat.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    specs = []
    for template_id, section in (
        (settings.wechat_template_id, "template"),
        (settings.wechat_subscribe_template_id, "subscription"),
    ):
        fields = data.get(section, {}).get("fields", {})
        specs.append(TemplateSpec(template_id, dict(fields)) if template_id else None)
    return specs[0], specs[1]
