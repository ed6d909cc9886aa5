"""The aiohttp application: web chat, chat API, health, metrics, security headers."""

from __future__ import annotations

import asyncio
import html
import json
import logging
from pathlib import Path
from string import Template

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.app import Linli
from bot.channels.telegram_bot import TelegramWebhook
from bot.channels.web import BadChatRequestError, parse_chat_request, render_replies
from bot.channels.wechat import WeChatGatekeeper
from bot.channels.wechat_webhook import WeChatWebhook
from bot.i18n import normalize_lang, t
from bot.language import written_language
from bot.my_data_text import EXPORT_ROUTE as MY_DATA_EXPORT
from bot.web.admin import setup_admin
from bot.web.calendar import appointment_ics
from bot.web.client import TRUSTED_PROXIES, client_address
from bot.web.inbox_events import InboxStreams
from bot.web.metrics_access import metrics_endpoint
from bot.web.my_data import my_data_file
from bot.web.open311 import add_open311_routes
from bot.web.openapi_doc import openapi_handler
from bot.web.ratelimit import ClientRateLimit
from bot.web.staff_feed import ROUTE as STAFF_FEED
from bot.web.staff_feed import staff_feed
from models.intents import warm_intent_model
from models.org import get_street

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
LINLI_KEY = web.AppKey("linli", Linli)
CHAT_LIMITER = web.AppKey("chat_limiter", ClientRateLimit)
CHAT_PAGE = Template((HERE / "templates" / "chat.html").read_text(encoding="utf-8"))
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add the same protective headers to every response."""
    response: web.StreamResponse = await handler(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def page_lang(request: web.Request) -> str:
    """?lang=en wins, else the browser's first Accept-Language, else Chinese."""
    asked = request.query.get("lang") or request.headers.get("Accept-Language", "").split(",")[0]
    return normalize_lang(asked.split(";")[0]) or "zh-CN"


async def chat_page(request: web.Request) -> web.Response:
    """GET /: the web chat page."""
    linli = request.app[LINLI_KEY]
    lang = page_lang(request)
    async with linli.sessions() as session:
        street = await get_street(session)
    name = ""
    if street is not None:
        name = street.name_en if lang == "en" and street.name_en else street.name_zh
    values = {
        "lang": lang,
        "title": t(lang, "web.title", street=name),
        "intro": t(lang, "web.intro"),
        "placeholder": t(lang, "web.placeholder"),
        "send_label": t(lang, "web.send"),
        "error_text": t(lang, "web.network"),
        "forget_label": t(lang, "web.forget"),
        "forget_confirm": t(lang, "web.forget_confirm"),
        "new_label": t(lang, "web.new"),
        "static": "/static",
    }
    body = CHAT_PAGE.safe_substitute({k: html.escape(v, quote=True) for k, v in values.items()})
    return web.Response(text=body, content_type="text/html", charset="utf-8")


def _error(status: int, lang: str, reason: str, limit: int) -> web.Response:
    key = {"too_long": "error.too_long", "too_many": "error.too_many"}.get(
        reason, "error.bad_request"
    )
    return web.json_response({"error": t(lang, key, limit=limit)}, status=status, dumps=_dumps)


async def chat_api(request: web.Request) -> web.Response:
    """POST /api/chat: one message in, the replies out (see DESIGN.md for the contract)."""
    linli = request.app[LINLI_KEY]
    limit = linli.settings.chat_text_limit
    if not await request.app[CHAT_LIMITER].allow(client_address(request)):
        return _error(429, "zh-CN", "too_many", limit)
    try:
        body = json.loads(await request.read())
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "zh-CN", "too_long", limit)
    except (ValueError, RecursionError):
        return _error(400, "zh-CN", "bad_request", limit)
    lang = _error_lang(request, body)
    try:
        inbound = parse_chat_request(body, limit, strong_ids=linli.settings.env == "production")
    except BadChatRequestError as bad:
        return _error(413 if bad.reason == "too_long" else 400, lang, bad.reason, limit)
    replies = await linli.pipeline.handle(inbound)
    return web.json_response(render_replies(replies), dumps=_dumps)


def _error_lang(request: web.Request, body: object) -> str:
    """The language to refuse a chat request in: what the text is written in, else what the
    page says, else the browser's."""
    fields = body if isinstance(body, dict) else {}
    text, asked = fields.get("text"), fields.get("lang")
    written = written_language(text[:2000]) if isinstance(text, str) else None
    return (
        written or (normalize_lang(asked) if isinstance(asked, str) else None) or page_lang(request)
    )


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: 200 when the database answers, 503 otherwise."""
    ok = await request.app[LINLI_KEY].database_ok()
    return web.json_response(
        {"status": "ok" if ok else "unavailable", "database": ok}, status=200 if ok else 503
    )


def wechat_webhook(linli: Linli) -> WeChatWebhook | None:
    """The /wechat handlers when WeChat is configured (demo mode configures a demo account)."""
    settings = linli.settings
    if not settings.wechat_enabled or settings.wechat_token is None:
        return None
    keys = tuple(
        key.get_secret_value()
        for key in (settings.wechat_aes_key, settings.wechat_aes_key_previous)
        if key is not None
    )
    gatekeeper = WeChatGatekeeper(
        settings.wechat_token.get_secret_value(),
        settings.wechat_app_id or "",
        keys,
        mode=settings.wechat_mode,
        window_seconds=settings.wechat_timestamp_window_seconds,
    )
    return WeChatWebhook(
        linli.pipeline,
        gatekeeper,
        budget_seconds=settings.wechat_reply_budget,
        body_limit=settings.wechat_body_limit,
        max_pending=settings.wechat_max_pending,
    )


def telegram_webhook(linli: Linli) -> TelegramWebhook | None:
    """The /telegram handler when a bot token (and so a webhook secret) is configured."""
    secret = linli.settings.telegram_secret
    if linli.telegram is None or secret is None:
        return None
    return TelegramWebhook(
        linli.telegram, secret.get_secret_value(), linli.settings.telegram_body_limit
    )


def create_web_app(
    linli: Linli, *, run_worker: bool = False, run_scheduler: bool = False
) -> web.Application:
    """The HTTP application over a built Linli; closing the app closes the database.

    With run_worker the outbox delivery worker runs beside the server, and with run_scheduler
    the periodic ticks (reminders, SLA sweep, follow-ups, digests).
    """
    app = web.Application(
        middlewares=[security_headers], client_max_size=linli.settings.chat_body_limit
    )
    app[LINLI_KEY] = linli
    app[CHAT_LIMITER] = ClientRateLimit(linli.settings.chat_rate_limit)
    app[TRUSTED_PROXIES] = tuple(linli.settings.trusted_proxies)
    app.router.add_get("/", chat_page)
    app.router.add_post("/api/chat", chat_api)
    streams = InboxStreams(linli, SECURITY_HEADERS)
    app.router.add_get("/api/chat/events", streams.events)
    app.router.add_post("/api/chat/seen", streams.seen)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_endpoint(linli.settings.metrics_token))
    app.router.add_get("/openapi.json", openapi_handler())
    app.router.add_static("/static", HERE / "static", append_version=False)

    async def ics(request: web.Request) -> web.Response:
        return await appointment_ics(request, linli)

    app.router.add_get("/ics/{ref}.ics", ics)

    async def feed(request: web.Request) -> web.Response:
        return await staff_feed(request, linli)

    app.router.add_get(STAFF_FEED, feed)

    async def my_data(request: web.Request) -> web.Response:
        return await my_data_file(request, linli)

    app.router.add_get(MY_DATA_EXPORT, my_data)
    setup_admin(app, linli)
    add_open311_routes(app, linli)
    wechat = wechat_webhook(linli)
    if wechat is not None:
        app.router.add_get("/wechat", wechat.verify)
        app.router.add_post("/wechat", wechat.receive)
    telegram = telegram_webhook(linli)
    if telegram is not None:
        app.router.add_post("/telegram", telegram.receive)
    background = Background(linli, run_worker, run_scheduler)

    async def close_linli(_app: web.Application) -> None:
        if wechat is not None:
            await wechat.drain()
        await background.stop()
        await linli.close()

    async def stop_streams(_app: web.Application) -> None:
        streams.close()  # open pages reconnect to whichever server is up next

    app.on_startup.append(lambda _app: background.start())
    app.on_startup.append(lambda _app: warm_understanding(linli))
    app.on_shutdown.append(stop_streams)
    app.on_cleanup.append(close_linli)
    return app


async def warm_understanding(linli: Linli) -> None:
    """Start training the understanding model in the background, so that it is ready (or
    nearly) by the first message while the server already answers its health checks."""
    warm_intent_model(Path(linli.settings.data_dir))


class Background:
    """The delivery worker and the scheduler, started and stopped with whatever hosts them."""

    def __init__(self, linli: Linli, run_worker: bool, run_scheduler: bool) -> None:
        self.linli, self.run_worker, self.run_scheduler = linli, run_worker, run_scheduler
        self._worker: asyncio.Task[None] | None = None
        self._bell: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start what was asked for on the running loop."""
        every = self.linli.settings.web_push_poll_seconds
        watch = self.linli.inbox_bell.watch_database(self.linli.sessions, every)
        self._bell = asyncio.create_task(watch)
        if self.run_worker:
            self._worker = asyncio.create_task(self.linli.worker.run())
        if self.run_scheduler and self.linli.ticker is not None:
            self.linli.ticker.start()

    async def stop(self) -> None:
        """Stop ticking, then let the worker finish the batch in hand so nothing is sent twice."""
        if self._bell is not None:
            self._bell.cancel()
            await asyncio.gather(self._bell, return_exceptions=True)
        if self.linli.ticker is not None:
            await self.linli.ticker.stop()
        if self._worker is not None:
            await self.linli.worker.stop_and_wait(self._worker)
