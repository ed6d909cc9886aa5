"""The /wechat callback: answer inside WeChat's 5-second deadline, or via the outbox."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

from aiohttp import web

from bot.channels.wechat import (
    WeChatGatekeeper,
    WeChatRejectedError,
    check_sender,
    draw,
    fits_passive,
    parse,
    render_text,
    to_inbound,
)
from bot.messages import Inbound, Reply
from bot.metrics import REFUSED, SHED
from bot.pipeline import Deadline, Delivery, Pipeline, ReplayedError

logger = logging.getLogger(__name__)

# How long past the pipeline's own deadline we still wait for a commit already under way.
GRACE_SECONDS = 0.5
ECHO_LIMIT = 128


class WeChatWebhook:
    """aiohttp handlers for GET (URL verification) and POST (messages) on /wechat."""

    def __init__(
        self,
        pipeline: Pipeline,
        gatekeeper: WeChatGatekeeper,
        *,
        budget_seconds: float,
        body_limit: int,
        max_pending: int = 500,
    ) -> None:
        self.pipeline = pipeline
        self.gatekeeper = gatekeeper
        self.budget = budget_seconds
        self.body_limit = body_limit
        self.max_pending = max_pending
        self.pending = 0
        self._late: set[asyncio.Task[None]] = set()

    async def verify(self, request: web.Request) -> web.Response:
        """GET /wechat: echo echostr when the signature is right (the platform's URL check)."""
        query = dict(request.query)
        try:
            self.gatekeeper.check_query(query)
            # A URL check's signature must not be reused for a message: bind it to no sender.
            if not await self.pipeline.admit_signed_request(_replay_key(query), "url-check"):
                raise WeChatRejectedError(403, "a URL check's signature reused", "replay")
        except WeChatRejectedError as rejected:
            return _refused(rejected)
        return web.Response(text=query.get("echostr", "")[:ECHO_LIMIT])

    async def receive(self, request: web.Request) -> web.Response:
        """POST /wechat: verify, decrypt, handle, answer in the mode the message came in."""
        if self.pending >= self.max_pending:
            # Overloaded: taking more would only make every answer late. Refusing (nothing was
            # done) lets WeChat deliver the message again; the dedupe makes that safe.
            SHED.labels("wechat").inc()  # counted, not logged: a log line each would add load
            return web.Response(status=503, text="busy")
        body = await self._read_body(request)
        if body is None:
            return web.Response(status=413, text="too large")
        query = dict(request.query)
        try:
            opened = self.gatekeeper.open(query, body)
            message = parse(opened.xml)
            check_sender(query, message)
            inbound = replace(to_inbound(message), replay_key=_replay_key(query))
        except WeChatRejectedError as rejected:
            return _refused(rejected)
        try:
            replies = await self._answer(inbound)
        except ReplayedError:
            return _refused(
                WeChatRejectedError(403, "signed URL reused for another message", "replay")
            )
        if not replies:
            return web.Response(text="success")
        xml = render_text(message, draw(replies))
        return web.Response(text=self.gatekeeper.seal(xml, opened), content_type="application/xml")

    async def _read_body(self, request: web.Request) -> bytes | None:
        if request.content_length is not None and request.content_length > self.body_limit:
            return None
        body = await request.content.read(self.body_limit + 1)
        return None if len(body) > self.body_limit else body

    async def _answer(self, inbound: Inbound) -> list[Reply]:
        """The replies if they are ready in time; otherwise none now and the rest via the outbox."""
        deadline = Deadline(time.monotonic() + self.budget)
        delivery = Delivery(fits=fits_passive, deadline=deadline)
        task = asyncio.ensure_future(self.pipeline.handle(inbound, delivery))
        self.pending += 1
        task.add_done_callback(self._one_less)
        try:
            replies = await asyncio.wait_for(asyncio.shield(task), self.budget + GRACE_SECONDS)
        except TimeoutError:
            self._deliver_when_done(task, inbound, deadline)
            return []
        return [] if deadline.missed else replies

    def _one_less(self, _task: asyncio.Future[list[Reply]]) -> None:
        self.pending -= 1

    def _deliver_when_done(
        self, task: asyncio.Future[list[Reply]], inbound: Inbound, deadline: Deadline
    ) -> None:
        # Rare: the pipeline decided "in time" but its commit outlived the grace period. The
        # platform has been told "success", so the replies must go out as customer-service messages.
        async def finish() -> None:
            try:
                replies = await task
                if replies and not deadline.missed:
                    await self.pipeline.send_later(inbound, replies)
            except ReplayedError:
                return  # refused in the transaction: nothing happened, nothing to send
            except Exception:
                # Past the platform's wait, with nobody to answer: the log is the last resort.
                logger.exception("late reply not queued", extra={"channel": inbound.channel})

        late = asyncio.ensure_future(finish())
        self._late.add(late)
        late.add_done_callback(self._late.discard)

    async def drain(self) -> None:
        """Wait for late replies still being handed to the outbox (graceful shutdown)."""
        if self._late:
            await asyncio.gather(*self._late, return_exceptions=True)


def _refused(rejected: WeChatRejectedError) -> web.Response:
    """A 4xx that did nothing, counted by reason and logged without the request's content."""
    REFUSED.labels("wechat", rejected.code).inc()
    logger.warning("wechat callback refused", extra={"reason": str(rejected)})
    return web.Response(status=rejected.status, text="refused")


def _replay_key(query: dict[str, str]) -> tuple[str, str, str]:
    """What identifies one signed request of the platform's."""
    return (query.get("timestamp", ""), query.get("nonce", ""), query.get("signature", ""))
