"""The staff desk's front door (/admin): login, logout, the session cookie, CSRF, the login rate
limit, deactivation, argon2 password hashes, and `linli staff add` / `linli staff passwd`."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession, CookieJar, web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlmodel import select

from bot.app import Linli
from bot.config import Settings
from bot.web.admin.auth import ADDRESS_RULE, CODE_RULE, COOKIE
from bot.web.admin.passwords import hash_password
from models.cases import Case, CaseHandler, CaseStatus
from models.org import Department, Staff
from tests.conftest import DATA, ROOT
from tests.scheduler_data import open_case

Client = TestClient[web.Request, web.Application]
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def set_password(linli: Linli, code: str, password: str = PASSWORD) -> int:
    """Give a staff member a desk password; their id."""
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == code))).one()
        staff.password_hash = hash_password(password)
        session.add(staff)
        assert staff.id is not None
        return staff.id


async def civil_affairs_case(linli: Linli, resident_id: int | None = None) -> int:
    """An open civil-affairs proxy case nobody has accepted, with its lead department on record."""
    number = await open_case(
        linli, assignee=None, status=CaseStatus.ASSIGNED, resident_id=resident_id
    )
    async with linli.sessions() as session, session.begin():
        lead = (
            await session.exec(select(Department).where(Department.code == "civil_affairs"))
        ).one()
        session.add(CaseHandler(case_id=number, department_id=lead.id or 0, lead=True))
    return number


class Browser:
    """One browser at the desk, with its own cookies."""

    def __init__(self, client: Client) -> None:
        self.base = f"http://{client.host}:{client.port}"
        self.http = ClientSession(cookie_jar=CookieJar(unsafe=True))

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.http.close()

    async def get(self, path: str) -> ClientResponse:
        """GET without following redirects; the body is read."""
        response = await self.http.get(self.base + path, allow_redirects=False)
        await response.read()
        return response

    async def post(self, path: str, data: Any) -> ClientResponse:
        """POST a form without following redirects; the body is read."""
        response = await self.http.post(self.base + path, data=data, allow_redirects=False)
        await response.read()
        return response

    async def csrf(self, path: str = "/admin/login") -> str:
        """The CSRF token in a page's forms."""
        found = CSRF.search(await (await self.get(path)).text())
        assert found is not None, path
        return found.group(1)

    async def log_in(self, code: str, password: str = PASSWORD) -> ClientResponse:
        """Fill in the login form."""
        token = await self.csrf()
        form = {"csrf": token, "code": code, "password": password}
        return await self.post("/admin/login", form)

    async def act(self, path: str, **fields: Any) -> ClientResponse:
        """Post a desk form with this session's CSRF token."""
        return await self.post(path, {"csrf": await self.csrf("/admin/cases"), **fields})

    def cookie(self) -> str | None:
        """The desk session cookie's value."""
        for morsel in self.http.cookie_jar:
            if morsel.key == COOKIE:
                return morsel.value
        return None


@pytest.fixture
async def browser(client: Client) -> AsyncIterator[Browser]:
    """A browser at the desk."""
    async with Browser(client) as one:
        yield one


def without_tokens(html: str) -> str:
    """A page with its per-session tokens taken out, to compare two answers."""
    return CSRF.sub('name="csrf" value=""', html)


async def test_login_page_is_chinese_by_default_and_english_on_request(browser: Browser) -> None:
    page = await browser.get("/admin/login")
    text = await page.text()
    assert page.status == 200
    assert '<html lang="zh-CN">' in text and "工作人员登录" in text
    assert 'name="viewport"' in text and 'href="#main"' in text and '<label for="code">' in text
    assert page.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    english = await (await browser.get("/admin/login?lang=en")).text()
    assert '<html lang="en">' in english and "Staff login" in english
    kept = await (await browser.get("/admin/login")).text()
    assert "Staff login" in kept  # the switch is kept in the session


async def test_log_in_open_pages_and_log_out(linli: Linli, browser: Browser) -> None:
    await set_password(linli, "S021")
    answer = await browser.log_in("S021")
    assert answer.status == 303 and answer.headers["Location"] == "/admin/"
    home = await browser.get("/admin/")
    assert home.status == 303 and home.headers["Location"] == "/admin/cases"
    page = await browser.get("/admin/cases")
    text = await page.text()
    assert page.status == 200 and "邓秀英" in text
    assert 'href="/admin/appointments"' in text  # department staff serve appointments
    assert 'href="/admin/dispatch"' not in text  # the dispatch desk is not theirs
    refused = await browser.post("/admin/logout", {})
    assert refused.status == 403
    assert (await browser.get("/admin/cases")).status == 200  # still logged in
    out = await browser.post("/admin/logout", {"csrf": await browser.csrf("/admin/cases")})
    assert out.status == 303 and out.headers["Location"] == "/admin/login"
    again = await browser.get("/admin/cases")
    assert again.status == 303 and again.headers["Location"].startswith("/admin/login")


async def test_unknown_code_wrong_password_and_inactive_get_the_same_answer(
    linli: Linli, browser: Browser
) -> None:
    await set_password(linli, "S021")
    await set_password(linli, "S022")
    async with linli.sessions() as session, session.begin():
        inactive = (await session.exec(select(Staff).where(Staff.code == "S022"))).one()
        inactive.active = False
        session.add(inactive)
    answers = []
    for code, password in (("S021", "wrong password!"), ("S999", PASSWORD), ("S022", PASSWORD)):
        response = await browser.log_in(code, password)
        body = without_tokens(await response.text()).replace(f'value="{code}"', 'value=""')
        answers.append((response.status, body))
    assert answers[0][0] == 401
    assert "工号或密码不正确" in answers[0][1]
    assert answers[0] == answers[1] == answers[2]
    assert browser.cookie() is not None
    assert (await browser.get("/admin/cases")).status == 303  # none of them logged in


async def test_login_rate_limit_per_staff_code_and_per_address(
    linli: Linli, browser: Browser
) -> None:
    assert (ADDRESS_RULE, CODE_RULE) == ("10/minute", "5 per 5 minutes")
    await set_password(linli, "S021")
    for _ in range(5):
        assert (await browser.log_in("S021", "guessing-wrong")).status == 401
    blocked = await browser.log_in("S021")  # the right password, but the code is locked for now
    assert blocked.status == 429
    assert "尝试次数太多" in await blocked.text()
    assert (await browser.get("/admin/cases")).status == 303
    # Other codes from the same address: refused by the address's limit after ten failures.
    statuses = [(await browser.log_in(f"S9{n:02d}", "nope-nope-nope")).status for n in range(6)]
    assert statuses == [401, 401, 401, 401, 401, 429]


async def test_successful_logins_do_not_spend_the_limit(linli: Linli, client: Client) -> None:
    # A morning of colleagues logging in behind one office address locks nobody out.
    await set_password(linli, "S021")
    for _ in range(12):
        async with Browser(client) as colleague:
            assert (await colleague.log_in("S021")).status == 303


async def test_session_is_rotated_at_login_and_the_cookie_is_strict(
    linli: Linli, client: Client, browser: Browser
) -> None:
    await set_password(linli, "S021")
    token = await browser.csrf()
    before = browser.cookie()
    assert before is not None
    answer = await browser.post(
        "/admin/login", {"csrf": token, "code": "S021", "password": PASSWORD}
    )
    after = browser.cookie()
    assert answer.status == 303 and after is not None and after != before
    header = SimpleCookie(answer.headers["Set-Cookie"])[COOKIE]
    assert header["httponly"] and header["samesite"] == "Strict" and header["path"] == "/admin"
    # The token of the page before the login is no longer good: the session is a new one.
    stale = await browser.post("/admin/logout", {"csrf": token})
    assert stale.status == 403
    # The cookie from before the login does not open the desk.
    async with Browser(client) as other:
        other.http.cookie_jar.update_cookies({COOKIE: before})
        assert (await other.get("/admin/cases")).status == 303


async def test_forms_without_the_right_csrf_token_change_nothing(
    linli: Linli, client: Client, browser: Browser
) -> None:
    await set_password(linli, "S021")
    number = await civil_affairs_case(linli)
    login_without = await browser.post("/admin/login", {"code": "S021", "password": PASSWORD})
    assert login_without.status == 403
    assert (await browser.log_in("S021")).status == 303
    async with Browser(client) as other:  # a token from somebody else's session
        foreign = await other.csrf()
    path = f"/admin/cases/{number}/accept"
    for form in ({}, {"csrf": ""}, {"csrf": "x" * 43}, {"csrf": foreign}):
        refused = await browser.post(path, form)
        assert refused.status == 403, form
        assert "没有做任何修改" in await refused.text()
    async with linli.sessions() as session:
        case = await session.get(Case, number)
        assert case is not None and case.assignee_staff_id is None
    assert (await browser.act(path)).status == 303
    async with linli.sessions() as session:
        case = await session.get(Case, number)
        assert case is not None and case.status == CaseStatus.ACCEPTED


async def test_deactivated_or_repassworded_staff_are_out_at_the_next_request(
    linli: Linli, browser: Browser
) -> None:
    await set_password(linli, "S021")
    assert (await browser.log_in("S021")).status == 303
    assert (await browser.get("/admin/cases")).status == 200
    await set_password(linli, "S021", "a brand new password")
    assert (await browser.get("/admin/cases")).status == 303  # a changed password ends it
    assert (await browser.log_in("S021", "a brand new password")).status == 303
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == "S021"))).one()
        staff.active = False
        session.add(staff)
    out = await browser.get("/admin/cases")
    assert out.status == 303 and out.headers["Location"].startswith("/admin/login")
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == "S021"))).one()
        staff.active = True
        session.add(staff)
    assert (await browser.get("/admin/cases")).status == 303  # the session stays ended


async def test_the_next_page_is_only_ever_a_desk_page(linli: Linli, client: Client) -> None:
    await set_password(linli, "S021")
    for target, expected in (
        ("/admin/cases?status=all", "/admin/"),
        ("//evil.example/admin/", "/admin/"),
        ("https://evil.example/", "/admin/"),
        ("/admin/appointments", "/admin/appointments"),
    ):
        async with Browser(client) as browser:
            token = await browser.csrf()
            form = {"csrf": token, "code": "S021", "password": PASSWORD, "next": target}
            answer = await browser.post("/admin/login", form)
            assert answer.headers["Location"] == expected, target
    async with Browser(client) as browser:
        asked = await browser.get("/admin/cases/12")
        assert asked.headers["Location"] == "/admin/login?next=/admin/cases/12"
        assert (
            'name="next" value="/admin/cases/12"'
            in await (await browser.get(asked.headers["Location"])).text()
        )


def cli(
    settings: Settings, *args: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`linli …` in a subprocess against this test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {"LINLI_DATABASE_URL": settings.database_url, "LINLI_DATA_DIR": str(DATA)}
    env |= {"LINLI_SECRET_KEY": "test-secret", "LINLI_STATE_DIR": str(Path(ROOT, "var"))}
    if password is not None:
        env["LINLI_STAFF_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


async def _run(
    settings: Settings, *args: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(cli, settings, *args, password=password)


async def test_linli_staff_add_and_passwd_store_argon2_hashes(
    linli: Linli, settings: Settings, browser: Browser
) -> None:
    add = ["staff", "add", "T901", "--name", "测试员", "--role", "department_staff"]
    add += ["--department", "civil_affairs", "--window", "6"]
    short = await _run(settings, *add, password="short")
    assert short.returncode == 2 and "10" in short.stderr
    made = await _run(settings, *add, password=PASSWORD)
    assert made.returncode == 0, made.stderr
    again = await _run(settings, *add, password=PASSWORD)
    assert again.returncode == 2 and "T901" in again.stderr
    grid = ["staff", "add", "T902", "--name", "网格员", "--role", "grid_leader"]
    placed = await _run(settings, *grid, "--community", "C01", "--grid", "1", password=PASSWORD)
    assert placed.returncode == 0, placed.stderr
    wrong = await _run(
        settings, "staff", "add", "T903", "--name", "x", "--role", "chief", password=PASSWORD
    )
    assert wrong.returncode == 2
    async with linli.sessions() as session:
        staff = (await session.exec(select(Staff).where(Staff.code == "T901"))).one()
        leader = (await session.exec(select(Staff).where(Staff.code == "T902"))).one()
    assert staff.role == "department_staff" and staff.window == 6 and staff.department_id
    assert leader.grid_id is not None and leader.community_id is not None
    assert staff.password_hash is not None and staff.password_hash.startswith("$argon2id$")
    assert PASSWORD not in staff.password_hash
    assert PasswordHasher().verify(staff.password_hash, PASSWORD)
    assert (await browser.log_in("T901")).status == 303
    changed = await _run(settings, "staff", "passwd", "T901", password="another long one")
    assert changed.returncode == 0, changed.stderr
    assert (await browser.get("/admin/cases")).status == 303  # the old session ended
    assert (await browser.log_in("T901")).status == 401
    assert (await browser.log_in("T901", "another long one")).status == 303
    missing = await _run(settings, "staff", "passwd", "T999", password="another long one")
    assert missing.returncode == 2


async def test_the_language_switch_keeps_what_the_page_was_asked(
    linli: Linli, browser: Browser
) -> None:
    await set_password(linli, "S021")
    await browser.log_in("S021")
    text = await (await browser.get("/admin/cases?status=accepted&page=2")).text()
    assert 'href="/admin/cases?status=accepted&amp;page=2&amp;lang=en"' in text, text[:2000]
