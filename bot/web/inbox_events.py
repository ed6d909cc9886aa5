"""Live pushes to the web chat page: GET /api/chat/events (server-sent events) and
POST /api/chat/seen.

A stream first sends every delivery the page has not marked shown (a reconnecting page gets
them again and skips those it has by id), then waits on the account's bell, which this
process's web sender rings and, for deliveries another process stored, the bell's one watcher
of the inbox table. Open streams are capped per client address, per account and in all, and
all end when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any, TypeGuard

from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response

from bot.app import Linli
from bot.channels.web import valid_user_id
from bot.i18n import t
from bot.web.client import client_address
from bot.web.ratelimit import ClientRateLimit
from models.inbox import PAGE, mark_shown, unshown_items, web_account_id

logger = logging.getLogger(__name__)

PING_SECONDS = 15.0  # keep-alive comment, so proxies and the browser keep the stream open
RETRY_MS = 5000  # how soon the browser comes back after the stream drops
SEEN_BODY_LIMIT = 4096
SEEN_IDS_LIMIT = 100
DISCONNECT_CHECK_SECONDS = 0.5
SAFETY_SECONDS = 60.0  # how soon a closed page's stream is let go
ITEM_ID_MAX = 2**31 - 1  # the inbox table's ids are INTEGER: a larger number names no item


class StreamLimitError(Exception):
    """Too many streams are open for this address, this account or the server."""


class InboxStreams:
    """The two endpoints, the count of open streams, and stopping them all at shutdown."""

    def __init__(self, linli: Linli, headers: dict[str, str]) -> None:
        self.linli, self.headers = linli, headers
        self.limiter = ClientRateLimit(linli.settings.chat_rate_limit)
        self.by_address: Counter[str] = Counter()
        self.by_account: Counter[int] = Counter()
        self.closing = asyncio.Event()

    def close(self) -> None:
        """End every open stream now (the server is stopping)."""
        self.closing.set()

    async def events(self, request: web.Request) -> web.StreamResponse:
        """GET /api/chat/events?user=<id>: the account's unshown deliveries, then live ones."""
        address = client_address(request)
        if not await self.limiter.allow(address):
            return _error(429, "error.too_many")
        user = request.query.get("user")
        if not valid_user_id(user, strong_ids=self._strong_ids):
            return _error(400, "error.bad_request")
        account = await self._account(str(user))
        if account is None or self.closing.is_set():
            return web.Response(status=204)  # nothing to stream, and no account is made
        try:
            with self._slot(address, account):
                return await self._stream(request, account)
        except StreamLimitError:
            return _error(429, "error.too_many")

    async def seen(self, request: web.Request) -> web.Response:
        """POST /api/chat/seen {"user", "ids": [...]}: the caller's deliveries with these ids
        have been shown."""
        if not await self.limiter.allow(client_address(request)):
            return _error(429, "error.too_many")
        body = await _json_body(request)
        user = body.get("user") if body else None
        ids = body.get("ids") if body else None
        valid = valid_user_id(user, strong_ids=self._strong_ids)
        if not valid or not _item_ids(ids):
            return _error(400, "error.bad_request")
        account = await self._account(str(user))
        marked = 0
        if account is not None:
            async with self.linli.sessions() as session, session.begin():
                connection = await session.connection()
                marked = await mark_shown(connection, account, ids, self.linli.clock.now())
        return web.json_response({"marked": marked})

    @property
    def _strong_ids(self) -> bool:
        return self.linli.settings.env == "production"

    async def _account(self, user: str) -> int | None:
        async with self.linli.sessions() as session:
            return await web_account_id(await session.connection(), user)

    @contextlib.contextmanager
    def _slot(self, address: str, account: int) -> Iterator[None]:
        """Count one open stream for the address and the account, refusing one over a cap."""
        settings = self.linli.settings
        if (
            self.by_address[address] >= settings.web_push_streams_per_address
            or self.by_account[account] >= settings.web_push_streams_per_account
            or self.by_address.total() >= settings.web_push_streams_total
        ):
            raise StreamLimitError
        self.by_address[address] += 1
        self.by_account[account] += 1
        try:
            yield
        finally:
            self.by_address[address] -= 1
            self.by_account[account] -= 1
            self.by_address += Counter()  # drop the zero counts
            self.by_account += Counter()

    async def _stream(self, request: web.Request, account: int) -> EventSourceResponse:
        # Every unshown delivery, each once per stream: not "after the last id", because on
        # PostgreSQL a lower id can commit after a higher one. The page skips what it has.
        sent: set[int] = set()
        async with sse_response(
            request, headers=self.headers, ping_interval=PING_SECONDS
        ) as stream:
            gone = asyncio.Event()
            watch = asyncio.create_task(_watch_disconnect(request, gone))
            try:
                with self.linli.inbox_bell.listen(account) as rung:
                    while stream.is_connected() and not (self.closing.is_set() or gone.is_set()):
                        rung.clear()  # a ring while the database is read is not lost
                        try:
                            if await self._send_unshown(stream, account, sent) == PAGE:
                                continue  # a backlog: the next page at once

                        except (ConnectionResetError, TimeoutError):
                            break
                        # The bell rings for this process's deliveries and, through its one
                        # watcher of the inbox table, for other processes'; the timeout is a
                        # safety net, not the way news arrives.
                        await _first_of(rung, self.closing, gone, seconds=SAFETY_SECONDS)
            finally:
                watch.cancel()
        return stream

    async def _send_unshown(self, stream: EventSourceResponse, account: int, sent: set[int]) -> int:
        """Send the unshown deliveries this stream has not sent yet; how many were sent."""
        async with self.linli.sessions() as session:
            connection = await session.connection()
            items = await unshown_items(connection, account, skip=sent)
        for item in items:
            data = json.dumps({"replies": item.replies}, ensure_ascii=False)
            await stream.send(data, id=str(item.id), retry=RETRY_MS)
            sent.add(item.id)
        return len(items)


async def _watch_disconnect(request: web.Request, gone: asyncio.Event) -> None:
    """Set gone once the client has closed the connection (so its place is freed at once)."""
    # aiohttp offers no event for a lost connection while a handler waits, so it is looked at.
    while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(DISCONNECT_CHECK_SECONDS)
    gone.set()


async def _first_of(*events: asyncio.Event, seconds: float) -> None:
    """Wait until one of the events is set, or the timeout passes."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def _item_ids(ids: object) -> TypeGuard[list[int]]:
    """Whether ids is a short list of item numbers."""
    return (
        isinstance(ids, list)
        and 0 < len(ids) <= SEEN_IDS_LIMIT
        and all(type(i) is int and 0 < i <= ITEM_ID_MAX for i in ids)
    )


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON object, or None for anything else (too big, not JSON, not an object)."""
    try:
        raw = await request.content.read(SEEN_BODY_LIMIT + 1)
        body = json.loads(raw) if len(raw) <= SEEN_BODY_LIMIT else None
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def _error(status: int, key: str) -> web.Response:
    text = t("zh-CN", key, limit=0)
    return web.json_response({"error": text}, status=status, dumps=_dumps)


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)
