"""Several streets in one deployment: each street's application under its own host names, each
on its own database and WeChat account, and a streets file that refuses to mix them up."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import ClientResponse, ClientSession, CookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel, func, select

from bot.app import Linli
from bot.cli import main
from bot.cli_streets import chosen_settings
from bot.clock import ManualClock, local_today
from bot.config import ConfigurationError, Settings, check_settings
from bot.messages import Reply
from bot.streets import load_streets
from bot.web.admin.passwords import hash_password
from bot.web.district import STREETS_KEY, create_district_app
from models.booking import Appointment
from models.conversation import open_conversation
from models.db import make_engine, make_session_factory
from models.intents import load_intent_model
from models.messaging import InboundMessage, queue_message
from models.migrate import upgrade
from models.org import Staff
from models.people import ChannelIdentity
from models.seed import seed_street
from tests.conftest import DATA, PG_URL, START, run_in_own_loop
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.fakes.wechat_sender import WeChatAccount, WeChatServer

YN_DATA = DATA / "streets" / "yn"
HOSTS = {"LC": "lc.test", "YN": "yn.test"}
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
Client = TestClient[web.Request, web.Application]


# ---------------------------------------------------------------- YN's own database


async def _prepare(url: str, data_dir: Path, *, migrate: bool, reset: bool = False) -> None:
    """Migrate (optionally from an empty schema) and seed a street's database."""
    engine = make_engine(url)
    if reset:
        async with engine.begin() as connection:
            await connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            await connection.execute(sa.text("CREATE SCHEMA public"))
    if migrate:
        await upgrade(engine)
    else:  # PostgreSQL between tests: the same database emptied
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    async with make_session_factory(engine)() as session, session.begin():
        await seed_street(session, data_dir, local_today(ManualClock(START)), START)
    await engine.dispose()


async def _create_database(admin_url: str, name: str) -> None:
    """CREATE DATABASE name (next to the test database) unless it exists."""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        found = await connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        )
        if not found:
            await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()


@pytest.fixture(scope="session")
def yn_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file seeded with 永宁街道, copied by each test."""
    path = tmp_path_factory.mktemp("yn") / "yn.db"
    run_in_own_loop(_prepare(f"sqlite+aiosqlite:///{path}", YN_DATA, migrate=True))
    return path


@pytest.fixture(scope="session")
def yn_pg_database() -> str:
    """A PostgreSQL database of YN's own beside the test database (`<name>_yn`), migrated."""
    assert PG_URL is not None
    given = make_url(PG_URL)
    url = given.set(database=f"{given.database}_yn").render_as_string(hide_password=False)
    run_in_own_loop(_create_database(PG_URL, f"{given.database}_yn"))
    run_in_own_loop(_prepare(url, YN_DATA, migrate=True, reset=True))
    return url


@pytest.fixture
async def yn_url(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """YN's database on the same engine as this test's LC database (db_url), fresh."""
    if db_url.startswith("sqlite"):
        path = tmp_path / "yn.db"
        shutil.copy(request.getfixturevalue("yn_sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("yn_pg_database")
    await _prepare(url, YN_DATA, migrate=False)
    return url


# ---------------------------------------------------------------- the district


def toml(entries: list[dict[str, Any]]) -> str:
    """A streets file (JSON strings, numbers and lists are TOML too)."""
    lines = []
    for entry in entries:
        lines.append("[[street]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in entry.items()]
    return "\n".join(lines) + "\n"


def entry(code: str, url: str, data_dir: Path, platform: FakeWeChatAPI | None) -> dict[str, Any]:
    """One street of the streets file, on its own WeChat account (the fake's)."""
    values: dict[str, Any] = {
        "code": code,
        "hosts": [HOSTS[code]],
        "database_url": url,
        "data_dir": str(data_dir),
        "public_url": f"http://{HOSTS[code]}",
    }
    if platform is not None:
        values |= {
            "wechat_app_id": platform.appid,
            "wechat_app_secret": platform.secret,
            "wechat_token": f"token-{code.lower()}",
            "wechat_api_base": platform.base_url,
            "wechat_api_timeout": 1.0,
        }
    return values


def base_settings(path: Path, entries: list[dict[str, Any]], **extra: Any) -> Settings:
    """The deployment's settings with a streets file of these entries."""
    path.write_text(toml(entries), encoding="utf-8")
    values: dict[str, Any] = {"secret_key": "test-secret", "state_dir": path.parent} | extra
    return check_settings(Settings(streets_file=path, **values))


@pytest.fixture
async def platforms() -> AsyncIterator[dict[str, FakeWeChatAPI]]:
    """One fake WeChat platform per street's Official Account."""
    fakes = {code: FakeWeChatAPI(f"wx-{code.lower()}", f"{code}-app-secret") for code in HOSTS}
    for fake in fakes.values():
        await fake.start()
    yield fakes
    for fake in fakes.values():
        await fake.close()


@dataclass
class District:
    """The served district and what its streets talk to."""

    client: Client
    streets: dict[str, Linli]
    platforms: dict[str, FakeWeChatAPI]

    async def request(self, code: str, method: str, path: str, **kw: Any) -> ClientResponse:
        """A request to the street's host name (or any host name given as code)."""
        headers = {"Host": HOSTS.get(code, code), **kw.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kw)

    async def wechat(self, code: str, account: str, xml_of: Callable[[WeChatServer], str]) -> Any:
        """POST a message to `code`'s /wechat, signed as the Official Account of `account`."""
        server = WeChatServer(WeChatAccount(f"token-{account.lower()}", f"wx-{account.lower()}"))
        query, body = server.request(xml_of(server))
        response = await self.request(code, "POST", "/wechat", params=query, data=body)
        return response, server


@pytest.fixture
async def district(
    tmp_path: Path,
    db_url: str,
    yn_url: str,
    platforms: dict[str, FakeWeChatAPI],
    clock: ManualClock,
) -> AsyncIterator[District]:
    """柳城 (LC) and 永宁 (YN) served by one application over loopback, workers running."""
    entries = [
        entry("LC", db_url, DATA, platforms["LC"]),
        entry("YN", yn_url, YN_DATA, platforms["YN"]),
    ]
    streets = load_streets(base_settings(tmp_path / "streets.toml", entries))
    for data_dir in (DATA, YN_DATA):  # trained before WeChat's reply budget starts
        await asyncio.to_thread(load_intent_model, data_dir)
    app = create_district_app(streets, run_worker=True, run_scheduler=False, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield District(client, app[STREETS_KEY], platforms)


async def count(linli: Linli, table: type[SQLModel]) -> int:
    """Rows in a table of one street's database."""
    async with linli.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


# ---------------------------------------------------------------- serving


async def test_wechat_is_answered_by_the_street_of_the_host(district: District) -> None:
    for code, name, other in (("LC", "柳城街道", "永宁街道"), ("YN", "永宁街道", "柳城街道")):
        response, server = await district.wechat(code, code, lambda s: s.text("菜单"))
        assert response.status == 200
        reply = server.read_reply(await response.read())["Content"]
        assert name in reply and other not in reply, reply


async def test_a_message_signed_for_one_street_is_refused_by_another(district: District) -> None:
    yn = district.streets["YN"]
    before = (await count(yn, InboundMessage), await count(yn, ChannelIdentity))
    response, _server = await district.wechat("YN", "LC", lambda s: s.text("菜单"))
    assert response.status == 403
    assert (await count(yn, InboundMessage), await count(yn, ChannelIdentity)) == before
    assert await count(district.streets["LC"], InboundMessage) == 0  # nor did it reach LC


async def test_a_booking_on_yn_has_yn_reference_and_stays_in_yn(district: District) -> None:
    async def press(payload: str) -> list[dict[str, Any]]:
        body = {"user": "web-resident-1", "payload": payload}
        response = await district.request("YN", "POST", "/api/chat", json=body)
        assert response.status == 200
        replies: list[dict[str, Any]] = (await response.json())["replies"]
        return replies

    def first(replies: list[dict[str, Any]]) -> str:
        return str(replies[0]["buttons"][0]["payload"])

    days = await press("book:svc:ss-card-reissue")
    slots = await press(first(days))
    confirm = await press(first(slots))
    done = await press(first(confirm))
    found = re.search(r"\b([A-Z]+)Y-20261127-\d{4}\b", done[0]["text"])
    assert found is not None and found.group(1) == "YN", done[0]["text"]
    ref = found.group()
    for code, expected in (("YN", 1), ("LC", 0)):
        async with district.streets[code].sessions() as session:
            rows = (await session.exec(select(Appointment).where(Appointment.ref == ref))).all()
        assert len(rows) == expected, code


async def test_the_web_chat_page_names_the_street_of_the_host(district: District) -> None:
    for code, name, other in (("YN", "永宁街道", "柳城"), ("LC", "柳城街道", "永宁街道")):
        page = await district.request(code, "GET", "/")
        text = await page.text()
        assert page.status == 200 and name in text and other not in text


async def test_an_unknown_host_gets_a_plain_404(district: District) -> None:
    for path in ("/", "/healthz", "/wechat", "/admin/login"):
        response = await district.request("other.test", "GET", path)
        body = await response.text()
        assert response.status == 404, path
        assert not any(word in body for word in ("LC", "YN", "柳城", "永宁", "test")), body
    for code in HOSTS:
        health = await district.request(code, "GET", "/healthz")
        assert health.status == 200 and (await health.json())["database"] is True


async def test_staff_of_one_street_cannot_use_the_others_desk(district: District) -> None:
    async with district.streets["YN"].sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == "S021"))).one()
        staff.password_hash = hash_password(PASSWORD)
    base = f"http://{district.client.host}:{district.client.port}"
    # One browser, one cookie jar for both: it sends YN's desk cookie to LC as well.
    async with ClientSession(base, cookie_jar=CookieJar(unsafe=True)) as browser:

        async def call(code: str, method: str, path: str, **kw: Any) -> ClientResponse:
            headers = {"Host": HOSTS[code]}
            response = await browser.request(
                method, path, headers=headers, allow_redirects=False, **kw
            )
            await response.read()
            return response

        async def log_in(code: str) -> ClientResponse:
            found = CSRF.search(await (await call(code, "GET", "/admin/login")).text())
            assert found is not None
            form = {"csrf": found.group(1), "code": "S021", "password": PASSWORD}
            return await call(code, "POST", "/admin/login", data=form)

        assert (await log_in("YN")).headers["Location"] == "/admin/"
        assert (await call("YN", "GET", "/admin/cases")).status == 200
        replayed = await call("LC", "GET", "/admin/cases")
        assert replayed.status == 303 and replayed.headers["Location"].startswith("/admin/login")
        assert (await log_in("LC")).status == 401  # LC's S021 is another person, no password


def heading(page: str) -> str:
    """The page's <h1>."""
    found = re.search(r"<h1>(.*?)</h1>", page)
    assert found is not None, page[:2000]
    return found.group(1)


def title(page: str) -> str:
    """The page's <title>."""
    found = re.search(r"<title>(.*?)</title>", page)
    assert found is not None, page[:2000]
    return found.group(1)


async def test_each_streets_desk_names_its_street(district: District) -> None:
    names = {
        "LC": ("柳城街道", "Liucheng Sub-district"),
        "YN": ("永宁街道", "Yongning Sub-district"),
    }
    for code, (zh, en) in names.items():
        other_zh, other_en = names["YN" if code == "LC" else "LC"]
        page = await (await district.request(code, "GET", "/admin/login")).text()
        assert heading(page) == f"{zh}工作人员登录"
        assert title(page) == f"工作人员登录 · {zh} · 邻里 · 工作台"
        assert other_zh not in page and other_en not in page
        english = await (await district.request(code, "GET", "/admin/login?lang=en")).text()
        assert heading(english) == f"Staff login: {en}"
        assert title(english) == f"Staff login · {en} · Linli · Staff desk"
    async with district.streets["YN"].sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == "S021"))).one()
        staff.password_hash = hash_password(PASSWORD)
    base = f"http://{district.client.host}:{district.client.port}"
    headers = {"Host": HOSTS["YN"]}
    async with ClientSession(base, cookie_jar=CookieJar(unsafe=True), headers=headers) as browser:
        found = CSRF.search(await (await browser.get("/admin/login")).text())
        assert found is not None
        form = {"csrf": found.group(1), "code": "S021", "password": PASSWORD}
        cases = await browser.post("/admin/login", data=form)  # on to the desk's first page
        assert cases.status == 200 and str(cases.url).endswith("/admin/cases")
        assert " · 永宁街道 · 邻里 · 工作台" in title(await cases.text())


async def test_a_one_street_deployments_login_page_names_its_street(client: Client) -> None:
    page = await (await client.get("/admin/login")).text()
    assert heading(page) == "柳城街道工作人员登录" and "· 柳城街道 ·" in title(page)
    english = await (await client.get("/admin/login?lang=en")).text()
    assert heading(english) == "Staff login: Liucheng Sub-district"


async def test_each_streets_worker_pushes_through_its_own_account(district: District) -> None:
    for code in HOSTS:
        linli = district.streets[code]
        now = linli.clock.now()
        async with linli.engine.connect() as connection, connection.begin():
            talk = await open_conversation(connection, "wechat", f"o-{code}", None, now, None)
            await talk.save(connection)
            await queue_message(
                connection,
                kind="alert",
                payload={"replies": [Reply(f"致{code}居民").to_dict()]},
                now=now,
                identity_id=talk.identity.id,
                channel="wechat",
            )
        linli.worker.wake()
    for _ in range(200):  # the workers started with the district deliver on their own
        if all(fake.sent for fake in district.platforms.values()):
            break
        await asyncio.sleep(0.05)
    for code, fake in district.platforms.items():
        assert [(m.touser, m.text) for m in fake.sent] == [(f"o-{code}", f"致{code}居民")]
        assert fake.token_requests == 1  # the token was issued for this street's app id


async def test_a_failing_clean_up_does_not_stop_the_next_streets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    streets = load_streets(base_settings(tmp_path / "streets.toml", two(tmp_path)))
    for data_dir in (DATA, YN_DATA):
        await asyncio.to_thread(load_intent_model, data_dir)
    app = create_district_app(streets, run_worker=False, run_scheduler=False)
    lc, yn = app[STREETS_KEY]["LC"], app[STREETS_KEY]["YN"]
    closed: list[str] = []

    async def broken() -> None:
        raise RuntimeError("LC's database would not close")

    async def close_yn(close: Callable[[], Any] = yn.close) -> None:
        await close()
        closed.append("YN")

    lc.close = broken  # type: ignore[method-assign]
    yn.close = close_yn  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="bot.web.district"):
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            assert (await client.get("/healthz", headers={"Host": HOSTS["YN"]})).status == 200
    assert closed == ["YN"]  # LC's failure came first, and YN was still closed
    failed = [r for r in caplog.records if r.name == "bot.web.district"]
    assert len(failed) == 1 and "street LC" in failed[0].getMessage()
    assert failed[0].exc_info is not None and "would not close" in str(failed[0].exc_info[1])


# ---------------------------------------------------------------- the streets file


def two(tmp_path: Path) -> list[dict[str, Any]]:
    """A valid pair of streets on SQLite files (not opened by the checks)."""
    return [
        entry("LC", f"sqlite+aiosqlite:///{tmp_path}/lc.db", DATA, None),
        entry("YN", f"sqlite+aiosqlite:///{tmp_path}/yn.db", YN_DATA, None),
    ]


def spoil(key: str, value: Any, index: int = 1) -> Callable[[list[dict[str, Any]]], None]:
    """Set one key of one street's entry (None: remove it)."""

    def change(entries: list[dict[str, Any]]) -> None:
        if value is None:
            del entries[index][key]
        else:
            entries[index][key] = value

    return change


def same(key: str) -> Callable[[list[dict[str, Any]]], None]:
    """Give YN LC's value of a key."""

    def change(entries: list[dict[str, Any]]) -> None:
        entries[1][key] = entries[0][key]

    return change


def both(key: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    """The same value for both streets."""

    def change(entries: list[dict[str, Any]]) -> None:
        for one in entries:
            one[key] = value

    return change


def same_code(entries: list[dict[str, Any]]) -> None:
    entries[1] |= {"code": "LC", "data_dir": str(DATA)}


def one_postgresql_database(entries: list[dict[str, Any]]) -> None:
    """Both streets on one PostgreSQL database, spelled two ways."""
    entries[0]["database_url"] = "postgresql+asyncpg://linli@db.internal/linli"
    entries[1]["database_url"] = "postgresql+asyncpg://linli:pw@DB.internal:5432/linli"


def one_official_account(entries: list[dict[str, Any]]) -> None:
    """Both streets on one WeChat Official Account, each with a token of its own."""
    for n, one in enumerate(entries):
        one |= {"wechat_app_id": "wx-one", "wechat_token": f"token-{n}"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (same_code, "streets LC and LC have the same code"),
        (same("hosts"), "the same host"),
        (same("database_url"), "the same database (two streets on one database"),
        (one_postgresql_database, "the same database (two streets"),
        (same("data_dir"), "is the street 'LC'"),
        (spoil("database_url", None), "street YN: missing database_url"),
        (spoil("hosts", "yn.test"), "hosts must be a list"),
        (spoil("hosts", ["*.yn.test"]), "is not a host name"),
        (spoil("code", "yn"), "code must be"),
        (spoil("code", "lc"), "streets 'LC' and 'lc' differ only by case"),
        (spoil("code", "YX"), "is the street 'YN'"),
        (spoil("data_keys", Fernet.generate_key().decode()), "one for the whole deployment"),
        (spoil("wechat_tokn", "x"), "unknown settings ['wechat_tokn']"),
        (one_official_account, "same wechat_app_id"),
        (both("wechat_token", "one-token"), "same wechat_token"),
        (both("telegram_token", "1:x"), "same telegram_token"),
        (spoil("chat_body_limit", "lots"), "street YN: 1 validation error"),
    ],
)
def test_the_streets_file_refuses_mixed_up_streets(
    tmp_path: Path, change: Callable[[list[dict[str, Any]]], None], message: str
) -> None:
    entries = two(tmp_path)
    change(entries)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        load_streets(base_settings(tmp_path / "streets.toml", entries))


def test_production_needs_each_streets_own_secrets(tmp_path: Path) -> None:
    strong = {"secret_key": secrets.token_urlsafe(32), "data_keys": Fernet.generate_key().decode()}
    entries = two(tmp_path)
    entries[1] |= {"wechat_app_id": "wx-yn-real"}
    with pytest.raises(ConfigurationError, match=r"street YN: LINLI_ENV=production .*WECHAT_TOKEN"):
        load_streets(base_settings(tmp_path / "s.toml", entries, env="production", **strong))
    entries[1] |= {
        "wechat_token": secrets.token_hex(12),
        "wechat_app_secret": secrets.token_hex(16),
    }
    streets = load_streets(base_settings(tmp_path / "s.toml", entries, env="production", **strong))
    assert [s.settings.wechat_enabled for s in streets] == [False, True]


def test_a_street_takes_nothing_that_makes_a_street_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINLI_WECHAT_TOKEN", "the-environment-token")
    monkeypatch.setenv("LINLI_PUBLIC_URL", "https://one.example")
    monkeypatch.setenv("LINLI_SLA_WARN_HOURS", "12")
    lc, yn = load_streets(base_settings(tmp_path / "streets.toml", two(tmp_path)))
    tokens = {
        s.settings.wechat_token.get_secret_value() for s in (lc, yn) if s.settings.wechat_token
    }
    assert len(tokens) == 2 and "the-environment-token" not in tokens
    assert (lc.settings.public_url, yn.settings.public_url) == ("http://lc.test", "http://yn.test")
    assert lc.settings.sla_warn_hours == yn.settings.sla_warn_hours == 12  # the rest is shared
    assert lc.settings.secret_key_value != yn.settings.secret_key_value
    assert lc.settings.data_key_list == yn.settings.data_key_list  # one keyring per process


# ---------------------------------------------------------------- the command line


def test_commands_name_their_street(tmp_path: Path) -> None:
    base = base_settings(tmp_path / "streets.toml", two(tmp_path))
    with pytest.raises(ConfigurationError, match=r"linli --street CODE seed .*LC, YN"):
        chosen_settings(base, None, "seed")
    with pytest.raises(
        ConfigurationError, match=re.escape("no street 'XX' in the streets file (streets: LC, YN)")
    ):
        chosen_settings(base, "XX", "seed")
    for spelled in ("yn", "Yn", " YN"):
        (found,), _ = chosen_settings(base, spelled, "seed")
        assert found.data_dir == YN_DATA
    (yn,), hidden = chosen_settings(base, "YN", "staff")
    assert yn.data_dir == YN_DATA and yn.streets_file is None
    assert yn.wechat_token is not None and yn.wechat_token.get_secret_value() in hidden.values()
    every, _ = chosen_settings(base, None, "db")
    assert [s.data_dir for s in every] == [DATA, YN_DATA]
    (served,), _ = chosen_settings(base, None, "serve")
    assert served.streets_file is not None  # the district
    alone = check_settings(Settings(secret_key="test-secret"))
    with pytest.raises(ConfigurationError, match="--street needs LINLI_STREETS_FILE"):
        chosen_settings(alone, "YN", "seed")


@pytest.fixture
def two_streets_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment of a deployment of two streets on SQLite files in tmp_path."""
    path = tmp_path / "streets.toml"
    path.write_text(toml(two(tmp_path)), encoding="utf-8")
    monkeypatch.setenv("LINLI_STREETS_FILE", str(path))
    monkeypatch.setenv("LINLI_STATE_DIR", str(tmp_path))
    return tmp_path


def test_db_upgrade_upgrades_every_street_and_seed_asks_which(
    two_streets_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path = two_streets_env
    assert main(["seed"]) == 2
    assert "--street CODE seed" in capsys.readouterr().err
    assert main(["db", "upgrade"]) == 0
    assert main(["--street", "YN", "seed"]) == 0
    names: dict[str, str | None] = {}
    for code in HOSTS:
        run_in_own_loop(_street_name(f"sqlite+aiosqlite:///{tmp_path}/{code.lower()}.db", names))
    assert names == {"lc": None, "yn": "永宁街道"}  # LC upgraded, not seeded


def test_street_codes_on_the_command_line_match_without_case(
    two_streets_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path = two_streets_env
    assert main(["--street", "xx", "db", "upgrade"]) == 2
    assert "no street 'xx' in the streets file (streets: LC, YN)" in capsys.readouterr().err
    assert main(["--street", "yn", "db", "upgrade"]) == 0
    assert (tmp_path / "yn.db").exists() and not (tmp_path / "lc.db").exists()


async def _street_name(url: str, names: dict[str, str | None]) -> None:
    engine = make_engine(url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert "street" in tables
        name = await connection.scalar(sa.text("SELECT name_zh FROM street"))
    await engine.dispose()
    names[Path(make_url(url).database or "").stem] = name
