"""The Telegram bot: python-telegram-bot's Application, fed by our webhook or by long polling.

Every update goes through the pipeline with its replies queued in the outbox inside the same
transaction, so a redelivered update_id finds them already queued and sends nothing twice.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from typing import cast

from aiohttp import web
from telegram import Bot, BotCommand, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from bot.channels.telegram import readable, to_inbound
from bot.i18n import LANGS, t
from bot.messages import Inbound
from bot.pipeline import Delivery, Pipeline

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MENU_COMMANDS = ("start", "menu", "book", "need", "track", "rate", "help", "cancel", "bind")
POLL_TIMEOUT = 30  # seconds a getUpdates call waits on the platform


class TelegramBot:
    """One bot account: the PTB Application, its Bot, and what to do with each update."""

    def __init__(
        self,
        token: str,
        api_base: str,
        timeout: float,
        pipeline: Pipeline,
        *,
        polling: bool = False,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        builder = (
            ApplicationBuilder()
            .token(token)
            .base_url(f"{api_base.rstrip('/')}/bot")
            .base_file_url(f"{api_base.rstrip('/')}/file/bot")
            .request(_request(timeout))
            .get_updates_request(_request(timeout + POLL_TIMEOUT))
            .job_queue(None)
        )
        if not polling:
            builder = builder.updater(None)
        self.application: Application = builder.build()  # type: ignore[type-arg]
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self._wake = on_queued
        self._polling = polling
        self._failures: dict[int, BaseException] = {}
        self._ready = asyncio.Lock()

    @property
    def bot(self) -> Bot:
        """The Bot that sends; call ``ready`` before the first use."""
        return cast(Bot, self.application.bot)

    async def ready(self) -> None:
        """Initialise the Application once (it asks getMe); a failure is retried next time."""
        if self.application._initialized:
            return
        async with self._ready:
            if not self.application._initialized:
                await self.application.initialize()

    def parse(self, data: Mapping[str, object]) -> Update:
        """The Update in a webhook body; ValueError when it is not one."""
        try:
            update = Update.de_json(dict(data), self.application.bot)
        # ValueError, OverflowError and OSError: a "date" no datetime can hold (10**30, NaN).
        except (
            TelegramError,
            KeyError,
            TypeError,
            AttributeError,
            ValueError,
            OverflowError,
            OSError,
        ) as error:
            raise ValueError(f"not a usable update: {type(error).__name__}") from None
        if not readable(update):
            raise ValueError("not a usable update: no chat or sender")
        return update

    async def feed(self, update: Update) -> None:
        """Handle one update; raises when it could not be handled (nothing was committed)."""
        await self.application.process_update(update)
        failure = self._failures.pop(update.update_id, None)
        if failure is not None:
            raise failure

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        inbound = to_inbound(update)
        if inbound is None:
            return
        handled = self._handle(update.update_id, inbound)
        if update.callback_query is not None:
            await asyncio.gather(self._stop_spinner(update), handled)
        else:
            await handled

    async def _handle(self, update_id: int, inbound: Inbound) -> None:
        try:
            leftover = await self.pipeline.handle(inbound, Delivery(via_outbox=True))
            if leftover:  # the transaction failed; only the apology came back, unsent
                await self.pipeline.send_later(inbound, leftover)
        except Exception as error:
            if self._polling:  # the update is already confirmed; all we can do is say so
                logger.exception("telegram update failed", extra={"update_id": update_id})
            else:  # PTB would swallow it; the webhook answers 500 and Telegram retries
                self._failures[update_id] = error
            return
        if self._wake is not None:
            self._wake()

    async def _stop_spinner(self, update: Update) -> None:
        """Answer the button press at once, so the person's client stops waiting."""
        assert update.callback_query is not None
        try:
            await update.callback_query.answer()
        except TelegramError as error:
            logger.info("callback query not answered", extra={"error": type(error).__name__})

    async def register_commands(self) -> int:
        """setMyCommands in Chinese (the default list) and English; returns how many lists."""
        await self.ready()
        for lang in LANGS:
            commands = [BotCommand(name, t(lang, f"telegram.{name}")) for name in MENU_COMMANDS]
            language_code = None if lang == "zh-CN" else lang
            await self.application.bot.set_my_commands(
                commands, scope=BotCommandScopeDefault(), language_code=language_code
            )
        return len(LANGS)

    async def set_webhook(self, url: str, secret: str) -> None:
        """Point Telegram at our /telegram URL with the secret it must send back."""
        await self.ready()
        await self.application.bot.set_webhook(
            url, secret_token=secret, allowed_updates=["message", "callback_query"]
        )

    async def run_polling(self, stop: asyncio.Event) -> None:
        """Long polling until stop is set (for a machine without a public URL)."""
        await self.ready()
        updater = self.application.updater
        if updater is None:
            raise RuntimeError("this bot was built for the webhook; build it with polling=True")
        await self.application.bot.delete_webhook()
        await updater.start_polling(
            timeout=POLL_TIMEOUT, allowed_updates=["message", "callback_query"]
        )
        await self.application.start()
        try:
            await stop.wait()
        finally:
            await updater.stop()
            await self.application.stop()

    async def close(self) -> None:
        """Release the HTTP clients."""
        if self.application._initialized:
            await self.application.shutdown()


def _request(timeout: float) -> HTTPXRequest:
    return HTTPXRequest(
        connection_pool_size=32,
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
        pool_timeout=timeout,
    )


class TelegramWebhook:
    """POST /telegram: check the secret header, hand the update to the bot, answer 200."""

    def __init__(self, bot: TelegramBot, secret: str, body_limit: int) -> None:
        self.bot, self.secret, self.body_limit = bot, secret, body_limit

    async def receive(self, request: web.Request) -> web.Response:
        """Refuse a wrong or missing secret (403) and bad bodies (400/413); handle the rest."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            logger.warning("telegram webhook refused: wrong or missing secret")
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > self.body_limit:
            return web.Response(status=413, text="too large")
        body = await request.content.read(self.body_limit + 1)
        if len(body) > self.body_limit:
            return web.Response(status=413, text="too large")
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
        except (ValueError, RecursionError):
            return web.Response(status=400, text="bad update")
        try:
            await self.bot.ready()
        except TelegramError as error:
            logger.warning("telegram bot not ready", extra={"error": type(error).__name__})
            return web.Response(status=503, text="not ready")
        try:
            update = self.bot.parse(data)
        except ValueError as error:
            logger.warning("telegram update not usable", extra={"error": str(error)})
            return web.Response(status=400, text="bad update")
        try:
            await self.bot.feed(update)
        except Exception:
            # Nothing was committed: a 500 makes Telegram deliver the update again later.
            logger.exception("telegram update failed")
            return web.Response(status=500, text="try again")
        return web.Response(text="ok")
