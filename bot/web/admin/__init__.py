"""The staff desk at /admin: an aiohttp sub-application with its own session cookie.

How a page is added
-------------------
Write a module in this package that exposes

    routes = web.RouteTableDef()       # paths relative to /admin, e.g. "/numbers"
    NAV = (NavEntry(DeskPage.NUMBERS, "/admin/numbers", "desk.nav_numbers"),)   # or ()

and add the module to PAGES below. Every handler is wrapped in `auth.staff_page(DeskPage.X)`:

    @routes.get("/numbers")
    @staff_page(DeskPage.NUMBERS)
    async def numbers(desk: DeskRequest) -> web.StreamResponse:
        return desk.render("numbers.html", rows=...)

The wrapper checks the CSRF token of every POST, loads the logged-in staff member from the
database (so a deactivated one is out at once), refuses a page their role does not open
(models.policy.may_open_page) and runs the handler in one transaction, committed unless the
answer is an error. Records on a page are checked one by one with the policy (can_view_case
and the like); a record the staff member may not see answers 404, as if it did not exist.
Templates go in bot/web/templates/admin/ and extend base.html; every text is `t("desk.…")`
from bot/locales/{zh-CN,en}/desk.toml (or a feature file of its own); forms carry
`<input type="hidden" name="csrf" value="{{ csrf }}">`. The navigation shows an entry only
to the staff whose role opens its page.
"""

from __future__ import annotations

import secrets
from types import ModuleType

import aiohttp_session
from aiohttp import web

from bot.app import Linli
from bot.web.admin import (
    access_log,
    appointments,
    auth,
    bind_codes,
    case_actions,
    cases,
    dispatch,
    holidays,
    needs,
    notices,
    numbers,
    roster,
    stars,
)
from bot.web.admin.auth import DESK, DeskRequest, DeskState, cookie_storage, see_other, staff_page
from bot.web.admin.layout import NAV, NavEntry, nav_for, setup_templates
from bot.web.ratelimit import ClientRateLimit
from models.policy import DeskPage

__all__ = ["NAV", "PAGES", "NavEntry", "setup_admin"]

# The desk's page modules, in navigation order.
PAGES: tuple[ModuleType, ...] = (
    cases,
    case_actions,
    dispatch,
    appointments,
    needs,
    notices,
    roster,
    holidays,
    bind_codes,
    access_log,
    numbers,
    stars,
)

home_routes = web.RouteTableDef()


@home_routes.get("/")
@staff_page(DeskPage.CASES)
async def home(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/: the first page this staff member's role opens."""
    entries = nav_for(desk.request, desk.staff)
    return see_other(entries[0].href if entries else "/admin/cases")


async def _to_desk(_request: web.Request) -> web.StreamResponse:
    return see_other("/admin/")


def desk_app(linli: Linli) -> web.Application:
    """The /admin sub-application: session cookie, templates, login and every page."""
    settings = linli.settings
    secure = settings.env == "production" or settings.public_url.startswith("https://")
    # Checked settings always have a key (demo mode makes one); settings built by hand may not,
    # and then desk sessions last as long as this process.
    secret = settings.secret_key_value if settings.secret_key else secrets.token_urlsafe(32)
    app = web.Application()
    aiohttp_session.setup(app, cookie_storage(secret, secure))
    limits = ClientRateLimit(auth.ADDRESS_RULE), ClientRateLimit(auth.CODE_RULE)
    app[DESK] = DeskState(linli, secret, *limits)
    nav: tuple[NavEntry, ...] = tuple(entry for module in PAGES for entry in module.NAV)
    setup_templates(app, nav)
    app.add_routes(auth.routes)
    app.add_routes(home_routes)
    for module in PAGES:
        app.add_routes(module.routes)
    return app


def setup_admin(app: web.Application, linli: Linli) -> None:
    """Mount the staff desk at /admin on the main application."""
    # Before the sub-application: its prefix answers /admin itself (404) once it is mounted.
    app.router.add_get("/admin", _to_desk)
    app.add_subapp("/admin", desk_app(linli))
