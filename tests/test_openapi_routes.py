"""The OpenAPI description (/openapi.json) covers every route of the app and nothing else, and
its fragments merge the way bot/web/openapi_doc.py says: every file picked up, a clash refused.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import AsyncIterator, Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import select

from bot.app import Linli, build_linli
from bot.config import Settings
from bot.web.admin.passwords import hash_password
from bot.web.app import create_web_app
from bot.web.openapi_doc import (
    FRAGMENTS,
    METHODS,
    FragmentError,
    assemble,
    openapi_document,
    package_version,
    read_fragments,
)
from models.org import Staff
from tests.conftest import DATA
from tests.scheduler_data import open_case

Client = TestClient[web.Request, web.Application]
Operation = tuple[str, str]  # (method, path template)


def every_platform(tmp_path: Path) -> Settings:
    """Settings under which every route is registered: WeChat and Telegram configured too."""
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'routes.db'}",
        data_dir=DATA,
        secret_key="test-secret",
        wechat_app_id="wx-routes",
        wechat_token="routes-token",
        telegram_token="123:routes",
        telegram_secret="routes-secret",
    )


@pytest.fixture
async def full_linli(tmp_path: Path) -> AsyncIterator[Linli]:
    """The system with every platform configured (no database is touched)."""
    linli = build_linli(every_platform(tmp_path))
    yield linli
    await linli.close()


def routed(app: web.Application) -> set[Operation]:
    """Every (method, path template) the app's router answers; HEAD comes with each GET."""
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        resource = route.resource
        assert resource is not None
        path = resource.canonical
        if isinstance(resource, web.StaticResource):
            path += "/{filename}"
        found.add((route.method.lower(), path))
    return found


def described(document: dict[str, Any]) -> set[Operation]:
    """Every (method, path template) the document describes."""
    return {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


async def test_every_route_is_described_and_nothing_else(full_linli: Linli) -> None:
    app = create_web_app(full_linli)
    routes = routed(app)
    document = openapi_document()
    assert ("post", "/wechat") in routes and ("post", "/telegram") in routes
    assert ("get", "/admin/cases/{number}") in routes and ("get", "/static/{filename}") in routes
    assert routes - described(document) == set(), "routes the description leaves out"
    assert described(document) - routes == set(), "described, but no such route"


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1.")
    assert document["info"] == {"title": "Linli", "version": package_version()}
    assert document["servers"] == [{"url": "/"}]
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    assert all(references_resolve(document, document))


def references_resolve(document: dict[str, Any], node: object) -> Iterator[bool]:
    """For every $ref under node, whether it names something in the document."""
    if isinstance(node, dict):
        target = node.get("$ref")
        if isinstance(target, str):
            found: Any = document
            for part in target.removeprefix("#/").split("/"):
                found = found.get(part) if isinstance(found, dict) else None
            assert found is not None, f"{target} names nothing"
            yield True
        for value in node.values():
            yield from references_resolve(document, value)
    elif isinstance(node, list):
        for value in node:
            yield from references_resolve(document, value)


async def test_the_app_serves_it(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == openapi_document()


def test_each_area_has_its_own_file_and_a_new_file_is_picked_up(tmp_path: Path) -> None:
    names = [name for name, _ in read_fragments()]
    assert {"chat.json", "desk.json", "ops.json", "webhooks.json", "calendar.json"} <= set(names)
    for name in names:
        (tmp_path / name).write_bytes((FRAGMENTS / name).read_bytes())
    extra: dict[str, Any] = {
        "paths": {"/extra/{n}": {"get": {"responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {"ExtraThing": {"type": "object"}}},
    }
    (tmp_path / "zz_extra.json").write_text(json.dumps(extra), encoding="utf-8")
    document = openapi_document(tmp_path)
    assert document["paths"]["/extra/{n}"]["get"]["responses"]["200"] == {"description": "ok"}
    assert document["components"]["schemas"]["ExtraThing"] == {"type": "object"}
    assert document["paths"]["/api/chat"] == openapi_document()["paths"]["/api/chat"]


def ok(description: str = "ok") -> dict[str, Any]:
    """An operation with one answer."""
    return {"responses": {"200": {"description": description}}}


def test_two_methods_of_one_path_from_two_files_merge() -> None:
    document = assemble(
        [
            ("a.json", {"paths": {"/x": {"get": ok()}}}),
            ("b.json", {"paths": {"/x": {"post": ok()}}}),
        ]
    )
    assert set(document["paths"]["/x"]) == {"get", "post"}


def test_every_operation_admits_the_servers_own_refusal() -> None:
    """aiohttp answers 400 in plain text before any route for a request line over 8190 bytes
    (schemathesis found it on GET /open311/v2/requests.json): every operation says so."""
    json_400 = {"description": "bad", "content": {"application/json": {"schema": {}}}}
    document = assemble(
        [
            (
                "a.json",
                {
                    "paths": {
                        "/x": {"get": ok(), "post": {"responses": {"400": json_400}}},
                        "/y": {"get": {"responses": {"400": {"$ref": "#/components/responses/B"}}}},
                    },
                    "components": {"responses": {"B": json_400}},
                },
            )
        ]
    )
    for path, method in (("/x", "get"), ("/x", "post"), ("/y", "get")):
        content = document["paths"][path][method]["responses"]["400"]["content"]
        assert "text/plain" in content, (path, method)
    assert "application/json" in document["paths"]["/x"]["post"]["responses"]["400"]["content"]
    assert "application/json" in document["paths"]["/y"]["get"]["responses"]["400"]["content"]
    assert set(document["paths"]["/x"]["get"]["responses"]) == {"200", "400"}


def test_the_same_operation_in_two_files_is_refused() -> None:
    with pytest.raises(FragmentError, match=r"GET /x is described twice: in a.json and in b.json"):
        assemble(
            [
                ("a.json", {"paths": {"/x": {"get": ok()}}}),
                ("b.json", {"paths": {"/x": {"get": ok("other")}}}),
            ]
        )


def test_the_same_schema_name_in_two_files_is_refused() -> None:
    thing = {"components": {"schemas": {"Thing": {"type": "string"}}}}
    with pytest.raises(FragmentError, match=r"components.schemas.Thing is described twice"):
        assemble([("a.json", thing), ("b.json", thing)])


def test_a_fragment_holds_only_paths_and_components(tmp_path: Path) -> None:
    with pytest.raises(FragmentError, match=r"a.json: a fragment holds only paths and components"):
        assemble([("a.json", {"paths": {}, "info": {"title": "mine"}})])
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(FragmentError, match=r"broken.json: not readable JSON"):
        read_fragments(tmp_path)


def test_the_fragments_ship_with_the_package() -> None:
    """A wheel must hold them too (the tree is installed editable, so nothing else would tell)."""
    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["bot"]
    fragments = sorted(FRAGMENTS.glob("*.json"))
    assert fragments
    for path in fragments:
        inside = path.relative_to(root / "bot").as_posix()
        assert any(fnmatch(inside, pattern) for pattern in patterns), f"{inside} is left out"


async def test_the_desk_without_its_slash_leads_to_the_desk(client: Client) -> None:
    """GET /admin answers as described (303 to /admin/); it was shadowed by the desk's own
    sub-application and answered 404 (found by schemathesis)."""
    response = await client.get("/admin", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("path", ["/admin/login", "/admin/logout", "/admin/holidays"])
async def test_a_form_that_cannot_be_read_is_refused_not_a_server_error(
    client: Client, path: str
) -> None:
    """A multipart body without its boundary is refused like a form without the CSRF token
    (403, the refusal page); it was a 500 on every desk form (found by schemathesis)."""
    await client.get("/admin/login")  # a session, as a browser would have
    response = await client.post(
        path,
        data=b"csrf=anything",
        headers={"Content-Type": "multipart/form-data"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert response.content_type == "text/html"


BOUNDARY = "openapi-test-boundary"
# A part whose header holds a control character: not a header at all to aiohttp's parser.
BROKEN_PART = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a\x1db"\r\n\r\nx\r\n--{BOUNDARY}--\r\n'
).encode()


async def desk_login(linli: Linli, client: Client, code: str = "S040") -> None:
    """Log the client in at the desk as the staff member (given a password first)."""
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == code))).one()
        staff.password_hash = hash_password("correct horse battery")
        session.add(staff)
    page = await (await client.get("/admin/login")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    form = {"csrf": found.group(1), "code": code, "password": "correct horse battery"}
    assert (await client.post("/admin/login", data=form, allow_redirects=False)).status == 303


async def test_a_form_part_that_is_not_a_header_is_refused_not_a_server_error(
    linli: Linli, client: Client
) -> None:
    """A multipart part whose header aiohttp cannot parse: 403 on a desk form (as a form
    without its CSRF token) and 400 on the roster import, whose larger body is read before the
    desk's checks; both were a 500 (found by schemathesis)."""
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    await client.get("/admin/login")
    refused = await client.post("/admin/holidays", data=BROKEN_PART, headers=headers)
    assert refused.status == 403
    await desk_login(linli, client)
    unread = await client.post("/admin/roster/import", data=BROKEN_PART, headers=headers)
    assert unread.status == 400
    assert unread.content_type == "text/html"


async def test_seen_ids_beyond_the_inbox_table_are_refused_not_a_server_error(
    client: Client,
) -> None:
    """An id past INTEGER's range names no delivery: 400, where PostgreSQL's driver raised
    and the answer was a 500 (found by schemathesis: ids [9223372036854775806])."""
    user = "seen-ids-user-0001"
    assert (await client.post("/api/chat", json={"user": user, "text": "你好"})).status == 200
    largest = await client.post("/api/chat/seen", json={"user": user, "ids": [2**31 - 1]})
    assert largest.status == 200 and await largest.json() == {"marked": 0}
    beyond = await client.post("/api/chat/seen", json={"user": user, "ids": [2**63 - 2]})
    assert beyond.status == 400


async def test_nul_characters_in_desk_forms_are_stood_in_for_not_a_server_error(
    linli: Linli, client: Client
) -> None:
    """PostgreSQL takes no NUL character in text: a form field holding one is read with SUB in
    its place (still refused where a code or one line is wanted), where the desk answered 500
    (found by schemathesis: POST /admin/dispatch/1/part/34 with helper=%00…)."""
    case = await open_case(linli)
    page = await (await client.get("/admin/login")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    form = {"csrf": csrf.group(1), "code": "S040\x00", "password": "x"}
    assert (await client.post("/admin/login", data=form)).status == 401
    await desk_login(linli, client)
    page = await (await client.get("/admin/cases")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    helper = {"csrf": csrf.group(1), "helper": "\x00civil"}
    answer = await client.post(f"/admin/dispatch/{case}/part/1", data=helper)
    assert answer.status in (400, 403, 409)
    note = {"csrf": csrf.group(1), "note": "a\x00b"}
    noted = await client.post(f"/admin/cases/{case}/note", data=note, allow_redirects=False)
    assert noted.status == 303
