"""A fake of the WeChat Official Account HTTP API, served by aiohttp on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

Failure = int | str

APIS: Final = frozenset({"token", "custom", "template", "subscribe", "menu"})
TRANSPORT_FAILURES: Final = frozenset({"5xx", "timeout", "close"})
SEND_PATHS: Final[dict[str, str]] = {
    "message/custom/send": "custom",
    "message/template/send": "template",
    "message/subscribe/bizsend": "subscribe",
    "menu/create": "menu",
}
ERRMSG: Final[dict[int, str]] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40017: "invalid button type",
    40125: "invalid appsecret",
    42001: "access_token expired",
    43004: "require subscribe",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}
TIMEOUT_SECONDS: Final = 30.0
MAX_BUTTONS: Final = 3
MAX_SUB_BUTTONS: Final = 5


@dataclass(frozen=True)
class SentMessage:
    """One message the fake accepted: which API, the posted JSON body and the token used."""

    api: str
    body: dict[str, Any]
    access_token: str

    @property
    def touser(self) -> str | None:
        """The recipient's openid, if the body names one."""
        value = self.body.get("touser")
        return value if isinstance(value, str) else None

    @property
    def text(self) -> str | None:
        """The content of a customer-service text message."""
        text = self.body.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        return content if isinstance(content, str) else None


def error(errcode: int) -> web.Response:
    """WeChat's error answer: HTTP 200 with errcode and errmsg."""
    return web.json_response({"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error")})


def menu_is_valid(body: dict[str, Any]) -> bool:
    """Whether a menu has 1-3 top-level buttons, each with at most 5 sub-buttons."""
    buttons = body.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        return False
    return all(_button_is_valid(button) for button in buttons)


def _button_is_valid(button: object) -> bool:
    if not isinstance(button, dict):
        return False
    subs = button.get("sub_button", [])
    return isinstance(subs, list) and len(subs) <= MAX_SUB_BUTTONS


class FakeWeChatAPI:
    """Answers WeChat's /cgi-bin/ token, message and menu APIs, and records what it was sent."""

    def __init__(
        self, appid: str = "wx-test-app", secret: str = "test-app-secret", token_ttl: int = 7200
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.token_ttl = token_ttl
        self.base_url = ""
        self.token_requests = 0
        self.sent: list[SentMessage] = []
        self.calls: list[str] = []
        self.delay = 0.0
        self.cs_window_closed: set[str] = set()
        self.unsubscribed: set[str] = set()
        self._issued: dict[str, float] = {}
        self._expired: set[str] = set()
        self._revoked: set[str] = set()
        self._failures: dict[str, deque[Failure]] = {api: deque() for api in APIS}
        self._msg_ids = itertools.count(2_000_000_001)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1 and return the base URL."""
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        for path in SEND_PATHS:
            app.router.add_post(f"/cgi-bin/{path}", self._send)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def close(self) -> None:
        """Wake any stalled answer and stop listening."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def fail_next(self, api: str, failure: Failure, times: int = 1) -> None:
        """Fail the next `times` calls of `api`: an errcode, "5xx", "timeout" or "close"."""
        if api not in APIS:
            raise ValueError(f"unknown api {api!r}; expected one of {sorted(APIS)}")
        if isinstance(failure, str) and failure not in TRANSPORT_FAILURES:
            raise ValueError(f"unknown failure {failure!r}")
        self._failures[api].extend([failure] * times)

    def expire_tokens(self) -> None:
        """Make every token issued so far answer 42001 (expired)."""
        self._expired.update(self._issued)

    def revoke_tokens(self) -> None:
        """Make every token issued so far answer 40001 (invalid credential)."""
        self._revoked.update(self._issued)

    async def _token(self, request: web.Request) -> web.StreamResponse:
        await self._arrive(request)
        self.token_requests += 1
        failed = await self._armed_failure("token", request)
        if failed is not None:
            return failed
        query = request.query
        if query.get("grant_type") != "client_credential":
            return error(40002)
        if query.get("appid") != self.appid or query.get("secret") != self.secret:
            return error(40125)
        token = secrets.token_urlsafe(48)
        self._issued[token] = time.monotonic()
        return web.json_response({"access_token": token, "expires_in": self.token_ttl})

    async def _send(self, request: web.Request) -> web.StreamResponse:
        await self._arrive(request)
        api = SEND_PATHS[request.path.removeprefix("/cgi-bin/")]
        token = request.query.get("access_token", "")
        token_error = self._token_error(token)
        if token_error is not None:
            return error(token_error)
        failed = await self._armed_failure(api, request)
        if failed is not None:
            return failed
        body = await _json_body(request)
        if body is None:
            return error(47001)
        refusal = self._refusal(api, body)
        if refusal is not None:
            return error(refusal)
        self.sent.append(SentMessage(api=api, body=body, access_token=token))
        return self._accepted(api)

    async def _arrive(self, request: web.Request) -> None:
        self.calls.append(request.path.removeprefix("/cgi-bin/"))
        if self.delay > 0:
            await self._pause(self.delay)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _token_error(self, token: str) -> int | None:
        issued = self._issued.get(token)
        if issued is None:
            return 40001
        if token in self._expired or time.monotonic() - issued >= self.token_ttl:
            return 42001
        if token in self._revoked:
            return 40001
        return None

    async def _armed_failure(self, api: str, request: web.Request) -> web.StreamResponse | None:
        queue = self._failures[api]
        if not queue:
            return None
        failure = queue.popleft()
        if isinstance(failure, int):
            return error(failure)
        if failure == "5xx":
            return web.Response(status=503, text="Service Unavailable")
        if failure == "timeout":
            await self._pause(TIMEOUT_SECONDS)
            return error(-1)
        return _drop(request)

    def _refusal(self, api: str, body: dict[str, Any]) -> int | None:
        if api == "menu" and not menu_is_valid(body):
            return 40017
        touser = body.get("touser")
        if not isinstance(touser, str):
            return None
        if touser in self.unsubscribed:
            return 43004
        if api == "custom" and touser in self.cs_window_closed:
            return 45015
        return None

    def _accepted(self, api: str) -> web.Response:
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if api == "template":
            answer["msgid"] = next(self._msg_ids)
        return web.json_response(answer)


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    """The request body parsed as UTF-8 JSON, or None if it is not a JSON object."""
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without answering."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)
