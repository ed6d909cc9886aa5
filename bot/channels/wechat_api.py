"""WeChat's outbound API: a shared access token, customer-service, template and subscription
messages, and the custom menu — wechatpy's client over an aiohttp transport."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, TypeVar

import aiohttp
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.clock import Clock
from bot.i18n import t
from bot.messages import Reply
from bot.outbound import Recipient, SendResult, SendStatus
from bot.render import numbered_text, paginate
from models.base import to_local
from models.messaging import lock_api_token, read_api_token, save_api_token

logger = logging.getLogger(__name__)

T = TypeVar("T")
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
BUSY_ERRORS = frozenset({-1, 45009, 45011, 45047})
UNREACHABLE_ERRORS = frozenset({40003, 43004, 43019})
OUT_OF_WINDOW = 45015
SERVICE_WINDOW = timedelta(hours=48) - timedelta(minutes=30)  # leave a margin before 48 h
SERVICE_TEXT_LIMIT = 600
TOKEN_MARGIN = timedelta(minutes=5)


class AioWeChatClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's client with an aiohttp transport: every API method returns a coroutine.

    wechatpy still builds each request and reads each answer (errcodes become its exceptions);
    only the HTTP call is ours. Measured against calling the synchronous client from threads
    (bench/wechat_outbound.py), this sends several times faster and does not slow the event
    loop that also answers WeChat's 5-second callbacks.
    """

    def __init__(self, app_id: str, secret: str, api_base: str, timeout: float) -> None:
        super().__init__(app_id, secret, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base.rstrip("/") + "/cgi-bin/"
        self.token: str | None = None  # set by WeChatApi before each call
        self._http_session: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        """The shared aiohttp session (made inside the running loop)."""
        if self._http_session is None or self._http_session.closed:
            self._http_session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
        return self._http_session

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        # Called synchronously by wechatpy's API methods; the token is taken now, not later.
        kwargs.setdefault("params", {}).setdefault("access_token", self.token)
        return self._send(method, url_or_endpoint, **kwargs)

    async def _send(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        url = url_or_endpoint
        if not url.startswith(("http://", "https://")):
            url = kwargs.pop("api_base_url", self.API_BASE_URL) + url_or_endpoint
        data = kwargs.pop("data", None)
        if isinstance(data, dict):
            data = json.dumps(data, ensure_ascii=False).encode("utf-8")
        processor = kwargs.pop("result_processor", None)
        answer = await self._http_answer(method, url, kwargs.get("params"), data)
        return self._handle_result(answer, method, url, processor, **kwargs)

    async def _http_answer(
        self, method: str, url: str, params: dict[str, Any] | None, data: bytes | None
    ) -> SimpleNamespace:
        try:
            async with self.http.request(method, url, params=params, data=data) as response:
                body = await response.read()
                status = response.status
        except aiohttp.ClientError as error:
            raise WeChatClientException(None, str(type(error).__name__), client=self) from None
        if status >= 400:
            raise WeChatClientException(None, f"HTTP {status}", client=self)
        # wechatpy reads answers from a requests-like object: .content, .request.
        return SimpleNamespace(content=body, request=None, status_code=status)

    async def fetch_access_token(self) -> dict[str, Any]:
        """GET token from our API base (wechatpy 1.8 hard-codes api.weixin.qq.com here)."""
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        answer = await self._http_answer("GET", self.API_BASE_URL + "token", params, None)
        result: dict[str, Any] = self._handle_result(answer, "GET", "token")
        return result

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._http_session is not None:
            await self._http_session.close()


class AccessTokens:
    """One access token per app, fetched once and shared by every caller and instance."""

    def __init__(
        self,
        name: str,
        fetch: Callable[[], Awaitable[dict[str, Any]]],
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        timeout: float,
    ) -> None:
        self.name, self._fetch, self.sessions, self.clock = name, fetch, sessions, clock
        self.timeout = timeout
        self._token: str | None = None
        self._expires_at: datetime | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    def _fresh(self, token: str | None, expires_at: datetime | None, stale: str | None) -> bool:
        return (
            token is not None
            and token != stale
            and expires_at is not None
            and expires_at - TOKEN_MARGIN > self.clock.now()
        )

    async def get(self) -> str:
        """A token valid for at least a few more minutes."""
        if self._token is not None and self._fresh(self._token, self._expires_at, None):
            return self._token
        return await self.refresh(stale=None)

    async def refresh(self, stale: str | None) -> str:
        """Replace a token the platform refused, unless someone already has."""
        async with self._lock:
            if self._token is not None and self._fresh(self._token, self._expires_at, stale):
                return self._token
            async with self.sessions() as session:
                row = await read_api_token(session, self.name)
            if row is not None and self._fresh(row.token, row.expires_at, stale):
                self._token, self._expires_at = row.token, row.expires_at
                return row.token
            return await self._fetch_and_share(stale)

    async def _fetch_and_share(self, stale: str | None) -> str:
        async with self.sessions() as session:
            shared_lock = session.get_bind().dialect.name == "postgresql"
        if shared_lock:
            # Another instance may be fetching: wait on its row lock, then reuse its token.
            async with self.sessions() as session, session.begin():
                row = await lock_api_token(session, self.name)
                if row is not None and self._fresh(row.token, row.expires_at, stale):
                    self._token, self._expires_at = row.token, row.expires_at
                    return row.token
                token, expires_at = await self._fetch_token()
                await save_api_token(session, self.name, token, expires_at)
        else:
            # SQLite has one writer for everything: never hold it across an HTTP call.
            token, expires_at = await self._fetch_token()
            async with self.sessions() as session, session.begin():
                await save_api_token(session, self.name, token, expires_at)
        self._token, self._expires_at = token, expires_at
        return token

    async def _fetch_token(self) -> tuple[str, datetime]:
        result = await asyncio.wait_for(self._fetch(), self.timeout + 1)
        self.fetches += 1
        logger.info("fetched a new platform access token", extra={"app": self.name})
        expires_in = int(result.get("expires_in", 7200))
        return str(result["access_token"]), self.clock.now() + timedelta(seconds=expires_in)


class WeChatApi:
    """Calls wechatpy's API with one shared token and a bounded token retry."""

    def __init__(
        self,
        app_id: str,
        secret: str,
        api_base: str,
        timeout: float,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
    ) -> None:
        self.client = AioWeChatClient(app_id, secret, api_base, timeout)
        self.timeout = timeout
        self.tokens = AccessTokens(
            f"wechat:{app_id}", self.client.fetch_access_token, sessions, clock, timeout
        )

    async def call(self, action: Callable[[AioWeChatClient], Awaitable[T]]) -> T:
        """Run one API call with a valid token; refresh once if the platform says it is stale."""
        for attempt in range(2):
            token = await self.tokens.get()
            try:
                self.client.token = token
                return await asyncio.wait_for(action(self.client), self.timeout + 1)
            except WeChatClientException as error:
                if error.errcode in TOKEN_ERRORS and attempt == 0:
                    await self.tokens.refresh(stale=token)
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.client.close()


@dataclass(frozen=True)
class TemplateSpec:
    """A template (or subscription) message: its id and how our text fills its fields."""

    template_id: str
    fields: dict[str, str] = field(default_factory=dict)


class WeChatSender:
    """Sends outbox messages: customer-service text inside the 48-hour window, else a template
    or subscription message; rate limits and outages become retries, never drops."""

    channel = "wechat"

    def __init__(
        self,
        api: WeChatApi,
        clock: Clock,
        template: TemplateSpec | None = None,
        subscription: TemplateSpec | None = None,
    ) -> None:
        self.api, self.clock = api, clock
        self.template, self.subscription = template, subscription

    async def send(
        self, recipient: Recipient, payload: dict[str, Any], parts_done: int
    ) -> SendResult:
        """Deliver one outbox payload to a WeChat follower."""
        replies = [Reply.from_dict(item) for item in payload.get("replies", [])]
        text = numbered_text(replies)
        in_window = self.clock.now() - recipient.last_seen_at < SERVICE_WINDOW
        try:
            if in_window:
                result = await self._service_messages(recipient, text, parts_done)
                if result.detail != "out_of_window":
                    return result
            return await self._template_message(recipient, text, payload)
        except TimeoutError as error:
            return SendResult(SendStatus.RETRY, type(error).__name__, parts_done)

    async def _service_messages(
        self, recipient: Recipient, text: str, parts_done: int
    ) -> SendResult:
        pages = paginate(text, SERVICE_TEXT_LIMIT)
        for index in range(parts_done, len(pages)):
            page = pages[index]
            try:
                await self.api.call(_service_text(recipient.external_id, page))
            except WeChatClientException as error:
                if error.errcode == OUT_OF_WINDOW and index == 0:
                    return SendResult(SendStatus.RETRY, "out_of_window", index)
                return classify(error, index)
        return SendResult(SendStatus.SENT, "customer_service", len(pages))

    async def _template_message(
        self, recipient: Recipient, text: str, payload: dict[str, Any]
    ) -> SendResult:
        spec = self.template or self.subscription
        if spec is None:
            return SendResult(SendStatus.UNREACHABLE, "outside the 48-hour window, no template")
        values = template_values(recipient, text, payload, self.clock.now())
        data = {name: {"value": fmt.format(**values)} for name, fmt in spec.fields.items()}
        kind = "template" if spec is self.template else "subscription"
        try:
            await self.api.call(_templated(kind, recipient.external_id, spec.template_id, data))
        except WeChatClientException as error:
            return classify(error, 0)
        return SendResult(SendStatus.SENT, kind, 1)


def _service_text(openid: str, text: str) -> Callable[[AioWeChatClient], Awaitable[Any]]:
    return lambda client: client.message.send_text(openid, text)


def _templated(
    kind: str, openid: str, template_id: str, data: dict[str, Any]
) -> Callable[[AioWeChatClient], Awaitable[Any]]:
    if kind == "template":
        return lambda client: client.message.send_template(openid, template_id, data)
    return lambda client: client.message.send_subscribe_message(openid, template_id, data)


def classify(error: WeChatClientException, parts_sent: int) -> SendResult:
    """Turn a platform error into retry, unreachable or failed."""
    code = error.errcode
    if code is None or code in BUSY_ERRORS or code in TOKEN_ERRORS:
        retry_after = 600.0 if code == 45009 else None  # the daily quota resets slowly
        return SendResult(SendStatus.RETRY, f"errcode {code}", parts_sent, retry_after)
    if code in UNREACHABLE_ERRORS:
        return SendResult(SendStatus.UNREACHABLE, f"errcode {code}", parts_sent)
    return SendResult(SendStatus.FAILED, f"errcode {code}", parts_sent)


def template_values(
    recipient: Recipient, text: str, payload: dict[str, Any], now: datetime
) -> dict[str, str]:
    """What a template's field formats may use: {title}, {summary}, {time}, {hint}."""
    lang = recipient.lang
    return {
        "title": str(payload.get("title") or t(lang, "wechat.notice_title")),
        "summary": " ".join(text.split()),
        "time": to_local(now).strftime("%Y-%m-%d %H:%M"),
        "hint": t(lang, "wechat.template_hint"),
    }
