"""schemathesis against the running app: every operation in /openapi.json is called with
generated requests (the schema's examples, coverage cases at each constraint's edges, and
fuzzing; deterministic, from a fixed seed), and every answer must be a documented status with a
documented content type, a body and headers that match the description, and never a server
error.

The real app (the `linli` fixture, on the seeded demo street) is served over loopback with
WeChat and Telegram configured, so that their webhooks are there too, and schemathesis's own
command line runs against it, as anyone would run it against a deployment. The desk is called
logged in as the street's administrator, each form with the session's CSRF token (this module is
also the run's hooks module, SCHEMATHESIS_HOOKS), so that its pages and forms are reached rather
than the login page; requests that need a platform's signature or secret mostly get their
documented 403. (The command line rather than schemathesis's pytest plugin: the plugin's
schema-from-fixture mode sets Node._nodeid, which pytest 9.2 no longer has.)
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import ClientResponse, ClientSession, ClientTimeout, CookieJar, web
from aiohttp.test_utils import TestClient
from sqlmodel import select

from bot.app import Linli
from bot.config import Settings
from bot.web.admin.auth import COOKIE
from bot.web.admin.passwords import hash_password
from models.cases import CaseStatus
from models.intents import load_intent_model
from models.org import Staff
from tests.scheduler_data import open_case

Client = TestClient[web.Request, web.Application]
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
ADMIN, PASSWORD = "S040", "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# Generated cases per operation in the fuzzing phase (the examples and coverage phases add
# their own): enough to reach each form's branches, few enough for a run of under a minute.
MAX_EXAMPLES = 15
SEED = 21
RUN_SECONDS = 300  # the run is stopped (and fails) if it hangs
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
STREAM_HOLDER = "openapi-stream-holder-0001"
CLOSED_PORT = "http://127.0.0.1:9"  # the platforms' APIs: nothing is ever sent out
# How the run's hooks learn the desk sessions (environment variables of the schemathesis process).
DESK_COOKIE, DESK_CSRF = "OPENAPI_TEST_DESK_COOKIE", "OPENAPI_TEST_DESK_CSRF"
LOGIN_COOKIE, LOGIN_CSRF = "OPENAPI_TEST_LOGIN_COOKIE", "OPENAPI_TEST_LOGIN_CSRF"


# ───────────────────────────── the run's hooks ─────────────────────────────


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: Any
) -> None:
    """Desk requests go with a desk session; forms with its CSRF token (in the run only)."""
    cookie, csrf = os.environ.get(DESK_COOKIE), os.environ.get(DESK_CSRF)
    if case.path == "/admin/login":  # an anonymous session, as the login page gives one
        cookie, csrf = os.environ.get(LOGIN_COOKIE), os.environ.get(LOGIN_CSRF)
    if not case.path.startswith("/admin") or cookie is None or case.path == "/admin/logout":
        return  # a logout would end the session the rest of the run uses (test_admin_auth)
    case.cookies = {**(case.cookies or {}), COOKIE: cookie}
    if case.method.upper() == "POST" and isinstance(case.body, dict) and csrf is not None:
        case.body = {**case.body, "csrf": csrf}


# ───────────────────────────── the served app ─────────────────────────────


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Demo settings with every route registered and limits a fuzzer does not drown in."""
    return Settings(
        database_url=db_url,
        data_dir=DATA,
        secret_key="test-secret",
        # Far above what the run sends, so that the answers are the operations' own; the
        # 429s are described, and tested where the limits are (test_web_api, test_admin_auth).
        chat_rate_limit="100000/minute",
        # One live stream per address, held by the test: a generated id that names an account
        # gets its 429 at once instead of a stream that never ends.
        web_push_streams_per_address=1,
        wechat_app_id="wx-openapi",
        wechat_token="openapi-token",
        wechat_app_secret="openapi-app-secret",
        wechat_api_base=CLOSED_PORT,
        telegram_token="123:openapi",
        telegram_secret="openapi-telegram-secret",
        telegram_api_base=CLOSED_PORT,
    )


@dataclass(frozen=True)
class DeskSession:
    """A desk session cookie and its CSRF token."""

    cookie: str
    csrf: str


async def give_password(linli: Linli) -> None:
    """The administrator may log in at the desk."""
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == ADMIN))).one()
        staff.password_hash = hash_password(PASSWORD)
        session.add(staff)


async def desk_session(base: str, *, log_in: bool) -> DeskSession:
    """A fresh desk session: the login page's anonymous one, or the administrator's."""
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:  # an IP address
        page = await http.get(f"{base}/admin/login")
        csrf = _csrf(await page.text())
        if log_in:
            form = {"csrf": csrf, "code": ADMIN, "password": PASSWORD}
            answer = await http.post(f"{base}/admin/login", data=form, allow_redirects=False)
            assert answer.status == 303, await answer.text()
            csrf = _csrf(await (await http.get(f"{base}/admin/cases")).text())
        cookie = next(morsel.value for morsel in http.cookie_jar if morsel.key == COOKIE)
        return DeskSession(cookie, csrf)


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found is not None, page[:500]
    return found.group(1)


@asynccontextmanager
async def held_stream(base: str) -> AsyncIterator[ClientResponse]:
    """The one live stream this address may have, open for an account that exists."""
    async with ClientSession(timeout=ClientTimeout(total=None, sock_connect=30)) as http:
        said = await http.post(f"{base}/api/chat", json={"user": STREAM_HOLDER, "text": "你好"})
        assert said.status == 200, await said.text()
        stream = await http.get(f"{base}/api/chat/events", params={"user": STREAM_HOLDER})
        try:
            yield stream
        finally:
            stream.close()


@dataclass(frozen=True)
class Run:
    """What the schemathesis command said."""

    code: int
    output: str


async def schemathesis_run(base: str, desk: DeskSession, login: DeskSession, report: Path) -> Run:
    """schemathesis's command line against the app's /openapi.json."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base}/openapi.json",
        f"--checks={','.join(CHECKS)}",
        "--phases=examples,coverage,fuzzing",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--generation-deterministic",
        "--workers=1",
        "--request-timeout=30",
        "--no-color",
        "--report=junit",
        f"--report-dir={report / 'report'}",
    ]
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "SCHEMATHESIS_HOOKS": "tests.test_openapi",
        DESK_COOKIE: desk.cookie,
        DESK_CSRF: desk.csrf,
        LOGIN_COOKIE: login.cookie,
        LOGIN_CSRF: login.csrf,
    }
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=report,  # schemathesis keeps its crash files where it runs
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), RUN_SECONDS)
    except TimeoutError:
        process.kill()
        out, _ = await process.communicate()
        return Run(-1, "the run did not finish in time\n" + out.decode(errors="replace"))
    return Run(process.returncode or 0, out.decode(errors="replace"))


async def test_the_app_answers_as_described(linli: Linli, client: Client, tmp_path: Path) -> None:
    # The first message that needs the understanding model waits for its training, holding
    # the server's loop; trained here beforehand, no request of the run waits minutes for it.
    await asyncio.to_thread(load_intent_model, DATA)
    await give_password(linli)
    await open_case(linli)  # case 1, accepted by S005: the examples' case (desk.json)
    await open_case(linli, assignee=None, status=CaseStatus.ASSIGNED)  # case 2, unaccepted
    base = str(client.make_url("")).rstrip("/")
    desk = await desk_session(base, log_in=True)
    login = await desk_session(base, log_in=False)
    async with held_stream(base) as stream:
        assert stream.status == 200 and stream.content_type == "text/event-stream"
        run = await schemathesis_run(base, desk, login, tmp_path)
    assert run.code == 0, run.output
    assert re.search(r"\b\d+ passed\b", run.output), run.output
