"""One server for several streets: each street's whole application under its own host names.

aiohttp picks the street by the request's Host header (`add_domain`), so every path and every
absolute URL of a street (pages, the desk, /wechat, /telegram, /healthz) stays what it is on a
one-street deployment. A host no street answers on gets aiohttp's plain 404, naming no street.
The root application has no state of its own: starting it starts every street's worker and
scheduler, and cleaning it up drains each street's webhooks and closes each street's database.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_urldispatcher import Domain, MatchedSubAppResource

from bot.app import Linli, build_linli
from bot.clock import Clock
from bot.streets import Street
from bot.web.app import create_web_app

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
        first, *others = street.hosts
        root.add_domain(first, app)  # also ties the street's start-up and clean-up to the root's
        for host in others:  # the same application again: its signals must not run twice
            root.router.register_resource(MatchedSubAppResource(Domain(host), app))
    return root
