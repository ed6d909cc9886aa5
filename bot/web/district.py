"""One server for several streets: each street's whole application under its own host names.

aiohttp picks the street by the request's Host header (`add_domain`), so every path and every
absolute URL of a street (pages, the desk, /wechat, /telegram, /healthz) stays what it is on a
one-street deployment. A host no street answers on gets aiohttp's plain 404, naming no street.
The root application has no state of its own: starting it starts every street's worker and
scheduler, and cleaning it up drains each street's webhooks and closes each street's database.
A street whose shutdown or clean-up raises is logged and the next street's still runs (aiohttp
would skip every handler after the one that raised).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_urldispatcher import Domain, MatchedSubAppResource

from bot.app import Linli, build_linli
from bot.clock import Clock
from bot.streets import Street
from bot.web.app import create_web_app

logger = logging.getLogger(__name__)
AppSignalHandler = Callable[[web.Application], Awaitable[object]]

# Each street's system by its code (for a caller that serves them, e.g. a test).
STREETS_KEY = web.AppKey("streets", dict[str, Linli])


def create_district_app(
    streets: list[Street],
    *,
    run_worker: bool = True,
    run_scheduler: bool = True,
    clock: Clock | None = None,
) -> web.Application:
    """The root application over every street's application, routed by host name."""
    # The root makes every request object, so its body limit is the one that holds; each
    # street's handlers still apply their own (the chat API's, the webhooks').
    limit = max(street.settings.chat_body_limit for street in streets)
    root = web.Application(client_max_size=limit)
    root[STREETS_KEY] = {}
    for street in streets:
        linli = build_linli(street.settings, clock=clock)
        root[STREETS_KEY][street.code] = linli
        app = create_web_app(linli, run_worker=run_worker, run_scheduler=run_scheduler)
        _mount(root, street, app)
    return root


def _mount(root: web.Application, street: Street, app: web.Application) -> None:
    """The street's application under its host names, its shutdown and clean-up guarded."""
    ends = (root.on_shutdown, root.on_cleanup)
    before = [len(signal) for signal in ends]
    first, *others = street.hosts
    root.add_domain(first, app)  # also ties the street's start-up and clean-up to the root's
    for signal, start in zip(ends, before, strict=True):
        for index in range(start, len(signal)):  # what add_domain just tied: this street's
            signal[index] = _guarded(signal[index], street.code)
    for host in others:  # the same application again: its signals must not run twice
        root.router.register_resource(MatchedSubAppResource(Domain(host), app))


def _guarded(handler: AppSignalHandler, code: str) -> AppSignalHandler:
    """The handler, its failure logged instead of raised, so the streets after it still end."""

    async def run(app: web.Application) -> None:
        try:
            await handler(app)
        except Exception:
            logger.exception("street %s: shutting down or cleaning up failed", code)

    return run
