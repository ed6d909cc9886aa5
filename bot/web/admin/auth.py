"""Who is at the desk: login and logout, the encrypted session cookie, CSRF tokens, the login
rate limit, and the wrappers every desk page and action goes through.

The session cookie only says which staff member logged in (and a fingerprint of their password
hash); the staff row is read again on every request, so a deactivated staff member, or one whose
password was changed, is out at the next click.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.typedefs import Handler
from aiohttp_session import Session, get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet
from multidict import MultiDictProxy
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import Linli
from bot.i18n import normalize_lang, t
from bot.streets import street_table
from bot.web.admin import layout
from bot.web.admin.passwords import fingerprint, hash_password, needs_rehash, verify_password
from bot.web.client import client_address
from bot.web.ratelimit import ClientRateLimit
from models.org import Staff
from models.policy import DeskPage, has_powers, may_open_page

COOKIE = "linli_desk"
SESSION_SECONDS = 8 * 3600  # one working day; then log in again
ADDRESS_RULE = "10/minute"  # failed logins from one client address
CODE_RULE = "5 per 5 minutes"  # failed logins on one staff code, from anywhere
CODE_LIMIT = 16
NEXT_PATH = re.compile(r"/admin/[A-Za-z0-9/_-]{0,200}")
# What reading a posted form raises for a body that is not one (the parser's own errors).
UNREADABLE_FORM = (ValueError, BadHttpMessage)
Form = MultiDictProxy[str | bytes | bytearray | web.FileField]


@dataclass(frozen=True)
class DeskState:
    """What the desk keeps for the life of the application."""

    linli: Linli
    secret: str  # keys the session cookie and the password fingerprints
    by_address: ClientRateLimit
    by_code: ClientRateLimit


DESK = web.AppKey("desk", DeskState)


def desk_state(request: web.Request) -> DeskState:
    """The desk's state, from the sub-application that serves /admin."""
    return request.config_dict[DESK]


# The street's names by its data directory (street.toml), read once: the file is only read
# again after a restart, like every other data file.
_STREET_NAMES: dict[Path, tuple[str, str | None]] = {}


def street_name(request: web.Request, lang: str) -> str:
    """The name of the street this desk serves, in the desk's language ('' when its data
    directory's street.toml cannot be read): with several streets, what tells their desks apart."""
    data_dir = Path(desk_state(request).linli.settings.data_dir)
    if data_dir not in _STREET_NAMES:
        names = _read_street_names(data_dir)
        if names is None:
            return ""
        _STREET_NAMES[data_dir] = names
    return layout.localized(lang, *_STREET_NAMES[data_dir])


def _read_street_names(data_dir: Path) -> tuple[str, str | None] | None:
    """[street] name_zh and name_en of the data directory, or None when it cannot be read."""
    try:
        street = street_table(data_dir)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    zh, en = street.get("name_zh"), street.get("name_en")
    return (zh if isinstance(zh, str) else "", en if isinstance(en, str) else None)


def cookie_storage(secret_key: str, secure: bool) -> EncryptedCookieStorage:
    """The encrypted session cookie, its Fernet key derived from the settings' secret key."""
    digest = hashlib.sha256((secret_key + "admin-session").encode()).digest()
    return EncryptedCookieStorage(
        Fernet(base64.urlsafe_b64encode(digest)),
        cookie_name=COOKIE,
        path="/admin",
        max_age=SESSION_SECONDS,
        httponly=True,
        secure=secure,
        samesite="Strict",
    )


def csrf_token(web_session: Session) -> str:
    """The session's CSRF token, made on first use."""
    token = web_session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        web_session["csrf"] = token
    return token


async def posted_form(request: web.Request) -> Form | None:
    """The posted form, or None when the body cannot be read as one (a multipart body without
    its boundary, or a part whose header is not a header): it is then refused like a form
    without the CSRF token, which it is."""
    try:
        return await request.post()
    except UNREADABLE_FORM:
        return None


def csrf_ok(web_session: Session, form: Form) -> bool:
    """Whether a posted form carries this session's CSRF token."""
    sent, expected = form.get("csrf"), web_session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def desk_lang(request: web.Request, web_session: Session) -> str:
    """?lang= switches the language and the session keeps it; Chinese by default."""
    asked = normalize_lang(request.query.get("lang"))
    if asked is not None and web_session.get("lang") != asked:
        web_session["lang"] = asked
    kept = web_session.get("lang")
    return kept if isinstance(kept, str) and normalize_lang(kept) == kept else "zh-CN"


async def current_staff(request: web.Request, session: AsyncSession) -> Staff | None:
    """The logged-in staff member, read from the database now; None (and the session ended)
    when nobody is logged in, they were deactivated, or their password changed."""
    web_session = await get_session(request)
    staff_id = web_session.get("staff")
    if not isinstance(staff_id, int):
        return None
    staff = await session.get(Staff, staff_id)
    if staff is None or not _still_valid(web_session, staff, desk_state(request)):
        _end(web_session)
        return None
    return staff


def _still_valid(web_session: Session, staff: Staff, desk: DeskState) -> bool:
    """Active, the same password as at login, logged in less than a working day ago and not
    logged out since."""
    since = web_session.get("since")
    if not has_powers(staff) or not isinstance(since, int | float):
        return False
    if not 0 <= desk.linli.clock.now().timestamp() - since < SESSION_SECONDS:
        return False
    if web_session.get("epoch") != staff.desk_epoch:
        return False  # logged out since: every copy of this cookie is over
    expected = fingerprint(desk.secret, staff.password_hash)
    return hmac.compare_digest(str(web_session.get("pw", "")), expected)


def _end(web_session: Session) -> None:
    """Forget who was logged in, keeping only the chosen language."""
    lang = web_session.get("lang")
    web_session.invalidate()
    if isinstance(lang, str):
        web_session["lang"] = lang


@dataclass
class DeskRequest:
    """One request at the desk by a logged-in staff member allowed on the page."""

    request: web.Request
    session: AsyncSession
    web_session: Session
    staff: Staff
    lang: str
    now: datetime
    form: Form | None = None

    @property
    def linli(self) -> Linli:
        """The running system."""
        return desk_state(self.request).linli

    def t(self, key: str, **values: Any) -> str:
        """Text in this staff member's desk language."""
        return t(self.lang, key, **values)

    def text(self, name: str) -> str:
        """A posted text field, trimmed, without NUL characters ('' when absent)."""
        value = self.form.get(name) if self.form is not None else None
        return without_nul(value).strip() if isinstance(value, str) else ""

    def texts(self, name: str) -> list[str]:
        """Every value of a repeated text field, trimmed, without NUL characters."""
        values = self.form.getall(name, []) if self.form is not None else []
        return [without_nul(value).strip() for value in values if isinstance(value, str)]

    def flash(self, key: str, **values: str | int) -> None:
        """A message for the next page shown (after a redirect)."""
        self.web_session["flash"] = {"key": key, "values": values}

    def render(self, template: str, *, status: int = 200, **context: Any) -> web.Response:
        """A desk page in the common layout."""
        return layout.page(
            self.request,
            template,
            lang=self.lang,
            staff=self.staff,
            csrf=csrf_token(self.web_session),
            flash=self.web_session.pop("flash", None),
            status=status,
            desk_street=street_name(self.request, self.lang),
            **context,
        )

    def refuse(self, status: int, key: str, back: str | None = None, **values: Any) -> web.Response:
        """An error page: 403 not yours, 404 not found (or not yours to see), 409 not now."""
        message = self.t(key, **values)
        return self.render("refused.html", status=status, message=message, back=back)


PageHandler = Callable[[DeskRequest], Awaitable[web.StreamResponse]]


def staff_page(page: DeskPage) -> Callable[[PageHandler], Handler]:
    """Wrap a desk handler: CSRF on POST first, then a logged-in staff member allowed on the
    page; one database transaction, committed only when the answer is not an error."""

    def wrap(handler: PageHandler) -> Handler:
        @functools.wraps(handler)
        async def serve(request: web.Request) -> web.StreamResponse:
            return await _serve(request, page, handler)

        return serve

    return wrap


async def _serve(request: web.Request, page: DeskPage, handler: PageHandler) -> web.StreamResponse:
    web_session = await get_session(request)
    lang = desk_lang(request, web_session)
    form: Form | None = None
    if request.method == "POST":
        form = await posted_form(request)
        if form is None or not csrf_ok(web_session, form):
            return forbidden(request, web_session, lang)
    linli = desk_state(request).linli
    async with linli.sessions() as session:
        staff = await current_staff(request, session)
        if staff is None:
            return to_login(request)
        now = linli.clock.now()
        visit = DeskRequest(request, session, web_session, staff, lang, now, form)
        if not may_open_page(staff, page):
            return visit.refuse(403, "desk.page_not_yours")
        response = await handler(visit)
        if response.status < 400:
            await session.commit()
        return response


def forbidden(request: web.Request, web_session: Session, lang: str) -> web.Response:
    """The answer to a form without this session's CSRF token: nothing was done."""
    return refused_unread(request, web_session, lang, 403, t(lang, "desk.csrf_failed"))


def refused_unread(
    request: web.Request,
    web_session: Session,
    lang: str,
    status: int,
    message: str,
    back: str | None = None,
) -> web.Response:
    """The refusal page for a request answered before anyone was known (no staff member on
    the page): nothing was done."""
    return layout.page(
        request,
        "refused.html",
        lang=lang,
        staff=None,
        csrf=csrf_token(web_session),
        flash=None,
        status=status,
        desk_street=street_name(request, lang),
        message=message,
        back=back,
    )


def see_other(location: str) -> web.Response:
    """Redirect after a form (303), or to the login page."""
    return web.Response(status=303, headers={"Location": location})


def to_login(request: web.Request) -> web.Response:
    """Off to the login page, coming back here afterwards (for a page, not a form)."""
    if request.method == "GET" and NEXT_PATH.fullmatch(request.path):
        return see_other(f"/admin/login?next={request.path}")
    return see_other("/admin/login")


def _next(value: object) -> str:
    """Where to go after logging in: a desk path only (never another site)."""
    return value if isinstance(value, str) and NEXT_PATH.fullmatch(value) else "/admin/"


routes = web.RouteTableDef()


@routes.get("/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/login: the login form (or on to the desk when already logged in)."""
    web_session = await get_session(request)
    lang = desk_lang(request, web_session)
    async with desk_state(request).linli.sessions() as session:
        if await current_staff(request, session) is not None:
            return see_other("/admin/")
    return _login_form(request, web_session, lang, next_path=_next(request.query.get("next")))


def _login_form(
    request: web.Request,
    web_session: Session,
    lang: str,
    *,
    next_path: str,
    error: str | None = None,
    code: str = "",
    status: int = 200,
) -> web.Response:
    return layout.page(
        request,
        "login.html",
        lang=lang,
        staff=None,
        csrf=csrf_token(web_session),
        flash=web_session.pop("flash", None),
        status=status,
        desk_street=street_name(request, lang),
        error=error,
        code=code,
        next_path=next_path,
    )


def _field(form: Form, name: str, limit: int) -> str:
    value = form.get(name)
    return without_nul(value)[:limit] if isinstance(value, str) else ""


NUL_STANDS_IN = "\x1a"


def without_nul(text: str) -> str:
    """Text as posted, each NUL (which PostgreSQL refuses even in a comparison) turned into
    SUB, the substitute character: still not printable, so a field that must be one line of
    text or a code is refused as before ("S0\\x0021" is not S021), and nothing reaches the
    database that it cannot take."""
    return text.replace("\x00", NUL_STANDS_IN)


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    """POST /admin/login: staff code and password; the same answer for every wrong pair."""
    web_session = await get_session(request)
    lang = desk_lang(request, web_session)
    form = await posted_form(request)
    if form is None or not csrf_ok(web_session, form):
        return forbidden(request, web_session, lang)
    code = _field(form, "code", 64).strip()[:CODE_LIMIT]
    password = _field(form, "password", 1024)
    next_path = _next(form.get("next"))
    again = functools.partial(
        _login_form, request, web_session, lang, next_path=next_path, code=code
    )
    if await _limit_spent(request, code):
        return again(error=t(lang, "desk.login_too_many"), status=429)
    staff = await _check_password(request, code, password)
    if staff is None:
        await _count_failure(request, code)
        return again(error=t(lang, "desk.login_failed"), status=401)
    await _start(request, web_session, staff)
    return see_other(next_path)


async def _limit_spent(request: web.Request, code: str) -> bool:
    """Whether failed logins from this address, or on this staff code, used up their limit
    (then even the right password waits, so guessing gains nothing)."""
    desk = desk_state(request)
    by_address = await desk.by_address.spent(client_address(request))
    return by_address or await desk.by_code.spent(code.upper() or "-")


async def _count_failure(request: web.Request, code: str) -> None:
    """A failed login counts against the address and the staff code; a successful one does
    not, so a morning of colleagues logging in behind one office address locks nobody out."""
    desk = desk_state(request)
    await desk.by_address.allow(client_address(request))
    await desk.by_code.allow(code.upper() or "-")


async def _check_password(request: web.Request, code: str, password: str) -> Staff | None:
    """The active staff member with this code and password, else None (in the same time)."""
    async with desk_state(request).linli.sessions() as session:
        found = (
            (await session.exec(select(Staff).where(Staff.code == code))).first() if code else None
        )
        stored = found.password_hash if found is not None else None
        if not await verify_password(stored, password) or found is None or not has_powers(found):
            return None
        if stored is not None and needs_rehash(stored):
            found.password_hash = hash_password(password)
            session.add(found)
            await session.commit()
        return found


async def _start(request: web.Request, old: Session, staff: Staff) -> None:
    """A brand-new session for the staff member (never the one from before the login)."""
    lang = old.get("lang")
    web_session = await new_session(request)
    desk = desk_state(request)
    web_session["staff"] = staff.id
    web_session["since"] = desk.linli.clock.now().timestamp()
    web_session["epoch"] = staff.desk_epoch
    web_session["pw"] = fingerprint(desk.secret, staff.password_hash)
    web_session["csrf"] = secrets.token_urlsafe(32)
    if isinstance(lang, str):
        web_session["lang"] = lang


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    """POST /admin/logout: the session ends (the form carries the CSRF token)."""
    web_session = await get_session(request)
    lang = desk_lang(request, web_session)
    form = await posted_form(request)
    if form is None or not csrf_ok(web_session, form):
        return forbidden(request, web_session, lang)
    staff_id = web_session.get("staff")
    if isinstance(staff_id, int):
        await _log_out_everywhere(desk_state(request).linli, staff_id)
    _end(web_session)
    web_session["flash"] = {"key": "desk.logged_out", "values": {}}
    return see_other("/admin/login")


async def _log_out_everywhere(linli: Linli, staff_id: int) -> None:
    """Every desk session of this staff member begun until now is over, whatever copy of the
    cookie is still around."""
    async with linli.sessions() as session, session.begin():
        staff = await session.get(Staff, staff_id)
        if staff is not None:
            staff.desk_epoch += 1
            session.add(staff)
