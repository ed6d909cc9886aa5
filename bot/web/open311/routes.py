"""The Open311 GeoReport v2 routes under /open311/v2/, each in .json and .xml: discovery,
services, services/{code}, requests (GET and POST), requests/{id}, tokens/{token}."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.app import Linli
from bot.i18n import t
from bot.web.client import client_address
from bot.web.open311 import views
from bot.web.open311.formats import Format, answer, errors
from bot.web.open311.queries import Refusal, request_query
from bot.web.open311.submit import file_request, read_submission
from bot.web.open311.tokens import request_of, token_for
from bot.web.ratelimit import ClientRateLimit
from models.api_key_ops import key_in_use
from models.open311 import RequestQuery, Services, find_requests, open311_services
from models.org import get_street

logger = logging.getLogger(__name__)

BASE = "/open311/v2"
POSTS_PER_KEY = "60/minute"  # a hotline files a call a second at most; more is a runaway client
REFUSALS_PER_CLIENT = "20/minute"  # wrong or missing keys from one address before it must wait
# A list of up to 1000 requests reads and sorts a window of cases (0.3–1 s on SQLite with
# 300,000 cases, on the event loop): one address may not ask for it without pause.
LISTS_PER_CLIENT = "60/minute"


@dataclass(frozen=True)
class Open311Limits:
    """How fast a key may post, how many refused keys an address may try, and how often an
    address may list requests."""

    per_key: ClientRateLimit
    refused: ClientRateLimit
    lists: ClientRateLimit


LIMITS = web.AppKey("open311_limits", Open311Limits)
View = Callable[[web.Request, Format], Awaitable[web.Response]]


def add_open311_routes(app: web.Application, linli: Linli) -> None:
    """Register every Open311 route, in both formats, on the app."""
    app[LIMITS] = Open311Limits(
        ClientRateLimit(POSTS_PER_KEY),
        ClientRateLimit(REFUSALS_PER_CLIENT),
        ClientRateLimit(LISTS_PER_CLIENT),
    )
    api = Open311(linli)
    gets: dict[str, View] = {
        "discovery": api.discovery,
        "services": api.services,
        "services/{service_code}": api.definition,
        "requests": api.requests,
        "requests/{service_request_id}": api.one_request,
        "tokens/{token}": api.token,
    }
    for fmt in Format:
        for path, view in gets.items():
            app.router.add_get(f"{BASE}/{path}.{fmt}", _bound(view, fmt))
        app.router.add_post(f"{BASE}/requests.{fmt}", _bound(api.submit, fmt))


def _bound(view: View, fmt: Format) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return await view(request, fmt)

    handler.__name__ = f"open311_{getattr(view, '__name__', 'view')}_{fmt}"
    return handler


def _refused(request: web.Request, fmt: Format, status: int, refusal: Refusal) -> web.Response:
    return errors(fmt, status, t(views.reader_lang(request), refusal.key, **refusal.values))


def _not_found(request: web.Request, fmt: Format, what: str) -> web.Response:
    return _refused(request, fmt, 404, Refusal("open311.error_not_found", {"what": what[:80]}))


class Open311:
    """The views, over one system."""

    def __init__(self, linli: Linli) -> None:
        self.linli = linli

    @property
    def catalogue(self) -> Services:
        """The services of the data directory."""
        return open311_services(Path(self.linli.settings.data_dir))

    async def discovery(self, request: web.Request, fmt: Format) -> web.Response:
        """GET discovery: contact, key service and the endpoint."""
        async with self.linli.sessions() as session:
            street = await get_street(session)
        # The configured address, not the request's Host header (which a caller chooses).
        base = f"{self.linli.settings.public_url.rstrip('/')}{BASE}"
        document = views.discovery(base, street, views.reader_lang(request))
        return answer(document, fmt, "discovery")

    async def services(self, request: web.Request, fmt: Format) -> web.Response:
        """GET services: every service a resident can ask for."""
        lang = views.reader_lang(request)
        listed = [views.service(entry, lang) for entry in self.catalogue.listed()]
        return answer(listed, fmt, "services")

    async def definition(self, request: web.Request, fmt: Format) -> web.Response:
        """GET services/{code}: the service's attributes."""
        code = request.match_info["service_code"]
        entry = self.catalogue.find(code)
        if entry is None or not entry.requestable:
            return _not_found(request, fmt, code)
        document = views.definition(entry, views.reader_lang(request))
        return answer(document, fmt, "service_definition")

    async def requests(self, request: web.Request, fmt: Format) -> web.Response:
        """GET requests: by ids, or by services, dates and status (the last 90 days, at most
        1000, newest first)."""
        if not await request.app[LIMITS].lists.allow(client_address(request)):
            return _refused(request, fmt, 429, Refusal("open311.error_too_many", {}))
        try:
            query = request_query(request.query, self.catalogue, self.linli.clock.now())
        except Refusal as refusal:
            return _refused(request, fmt, 400, refusal)
        return await self._listed(request, fmt, query)

    async def one_request(self, request: web.Request, fmt: Format) -> web.Response:
        """GET requests/{id}: a list of one, or 404."""
        wanted = request.match_info["service_request_id"]
        return await self._listed(request, fmt, RequestQuery(ids=(wanted[:80],)), wanted)

    async def _listed(
        self, request: web.Request, fmt: Format, query: RequestQuery, one: str | None = None
    ) -> web.Response:
        async with self.linli.sessions() as session:
            found = await find_requests(session, self.catalogue, query)
        if one is not None and not found:
            return _not_found(request, fmt, one)
        lang = views.reader_lang(request)
        return answer([views.public_request(r, lang) for r in found], fmt, "service_requests")

    async def token(self, request: web.Request, fmt: Format) -> web.Response:
        """GET tokens/{token}: the request a token stands for; 404 for anything else."""
        given = request.match_info["token"]
        request_id = request_of(self.linli.settings.secret_key_value, given)
        if request_id is not None:
            async with self.linli.sessions() as session:
                found = await find_requests(
                    session, self.catalogue, RequestQuery(ids=(request_id,))
                )
            if found:
                listed = [{"service_request_id": found[0].request_id, "token": given}]
                return answer(listed, fmt, "service_requests")
        return _not_found(request, fmt, given)

    async def submit(self, request: web.Request, fmt: Format) -> web.Response:
        """POST requests: with a valid key, the case opened (or the need filed), its id, notice
        and token."""
        limits = request.app[LIMITS]
        address = client_address(request)
        if await limits.refused.spent(address):
            return _refused(request, fmt, 429, Refusal("open311.error_too_many", {}))
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            return _refused(request, fmt, 413, Refusal("open311.error_too_large", {}))
        except Exception:  # any body aiohttp cannot read as a form is the caller's mistake
            logger.info("open311: a POST body that is not a form", exc_info=True)
            return _refused(request, fmt, 400, Refusal("open311.error_bad_form", {}))
        # From the body only: a key in the query string ends up in every proxy's access log.
        presented = form.get("api_key") or ""
        now = self.linli.clock.now()
        key: tuple[int, str] | None = None  # its id and prefix
        if isinstance(presented, str) and presented:
            async with self.linli.sessions() as session, session.begin():
                row = await key_in_use(session, presented, now)
                key = (row.id or 0, row.prefix) if row is not None else None
        if key is None:
            await limits.refused.allow(address)
            missing = not isinstance(presented, str) or not presented
            why = "open311.error_no_key" if missing else "open311.error_bad_key"
            return _refused(request, fmt, 403, Refusal(why, {}))
        key_id, prefix = key
        if not await limits.per_key.allow(str(key_id)):
            return _refused(request, fmt, 429, Refusal("open311.error_too_many", {}))
        try:
            submission = read_submission(form, self.catalogue)
            async with self.linli.sessions() as session, session.begin():
                filed = await file_request(
                    session,
                    submission,
                    key_id=key_id,
                    now=now,
                    data_dir=Path(self.linli.settings.data_dir),
                )
                found = await find_requests(
                    session, self.catalogue, RequestQuery(ids=(filed.request_id,))
                )
        except Refusal as refusal:
            return _refused(request, fmt, 400, refusal)
        logger.info("open311: %s filed with key %s", filed.request_id, prefix)
        lang = views.reader_lang(request)
        secret = self.linli.settings.secret_key_value
        listed = [
            {
                "service_request_id": filed.request_id,
                "service_notice": views.notice(found[0], lang) if found else "",
                "account_id": None,
                "token": token_for(secret, filed.request_id),
            }
        ]
        return answer(listed, fmt, "service_requests", 201)
