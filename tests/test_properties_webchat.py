"""Property-based: the web chat's POST /api/chat with JSON of any shape, and button payloads of
any make (every route's prefix with hostile arguments), over real HTTP. Never a 5xx or a logged
failure; a refused request writes nothing; after accepted ones the database is consistent and
the person still gets the menu."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from bot.app import Linli
from bot.clock import ManualClock
from tests.hypothesis_setup import HTTP, assert_consistent, logged_failures, row_counts
from tests.security.web_rig import Client, demo_settings, web_client

USERS = itertools.count(1)
TEXT = st.text(st.characters(codec="utf-8"), max_size=300)
ANY_TEXT = st.text(max_size=50)  # lone surrogates too: JSON can escape them
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
ARGUMENT = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", "0", "-1", "1e9", "١٢", "x", "1:2", "::", "9" * 5000, "NaN"]),
    TEXT,
)
Json = dict[str, Any]
Web = tuple[Linli, Client]


@pytest.fixture
async def web(db_url: str, clock: ManualClock) -> AsyncIterator[Web]:
    """The whole system behind real HTTP, with no per-address rate limit in the way."""
    async with web_client(demo_settings(db_url), clock) as pair:
        yield pair


def _prefixes(linli: Linli) -> list[str]:
    """Every button payload prefix a route answers."""
    return sorted({prefix for route in linli.pipeline.router.walk() for prefix in route.prefixes})


def _payload(prefixes: list[str]) -> st.SearchStrategy[str]:
    with_args = st.tuples(st.sampled_from(prefixes), st.lists(ARGUMENT, max_size=3))
    return st.one_of(
        with_args.map(lambda parts: ":".join([parts[0], *parts[1]])[:200]), TEXT, ANY_TEXT
    )


def _request(user: str, prefixes: list[str]) -> st.SearchStrategy[Any]:
    """Mostly the contract's shape with hostile values; sometimes any JSON at all."""
    message = st.one_of(
        st.fixed_dictionaries({"text": st.one_of(TEXT, ANY_TEXT, JSON)}),
        st.fixed_dictionaries({"payload": _payload(prefixes)}),
        st.fixed_dictionaries({"text": TEXT, "payload": TEXT}),
    )
    optional = st.fixed_dictionaries(
        {},
        optional={
            "message_id": st.one_of(st.from_regex(r"[A-Za-z0-9_.:-]{1,128}", fullmatch=True), JSON),
            "lang": st.one_of(st.sampled_from(["en", "zh-CN", "zh-TW", "xx"]), ANY_TEXT, JSON),
        },
    )
    who = st.one_of(st.just(user), st.just(user), st.just(user), JSON)
    shaped = st.tuples(who, message, optional).map(lambda p: {"user": p[0]} | p[1] | p[2])
    return st.one_of(shaped, shaped, shaped, JSON)


async def _post(client: Client, body: bytes) -> tuple[int, Any]:
    response = await client.post(
        "/api/chat", data=body, headers={"Content-Type": "application/json"}
    )
    text = await response.text()
    return response.status, json.loads(text) if text else None


async def _menu(client: Client, user: str, word: str = "菜单") -> Any:
    status, body = await _post(client, json.dumps({"user": user, "text": word}).encode())
    assert status == 200
    return body["replies"][0]


_FIRST_MENUS: dict[int, tuple[Any, Any]] = {}


async def _first_menus(web: Web) -> tuple[Any, Any]:
    """The menu as newcomers get it in Chinese and English (what went before may have set the
    account's language: "A:S" is two English words)."""
    key = id(web[0])
    if key not in _FIRST_MENUS:
        chinese = await _menu(web[1], f"prop-web-{next(USERS):010d}")
        english = await _menu(web[1], f"prop-web-{next(USERS):010d}", "menu")
        _FIRST_MENUS[key] = (chinese, english)
    return _FIRST_MENUS[key]


@HTTP
@given(data=st.data())
@example(data=None)
async def test_hostile_chat_requests(web: Web, data: st.DataObject | None) -> None:
    """A few requests by one person: no 5xx, refusals write nothing, the menu still comes."""
    linli, client = web
    user = f"prop-web-{next(USERS):010d}"
    if data is None:  # the example: a case number no database integer holds
        steps: list[Any] = [{"user": user, "payload": "case:view:" + "9" * 30}]
    else:
        steps = data.draw(st.lists(_request(user, _prefixes(linli)), min_size=1, max_size=3))
    for step in steps:
        before = await row_counts(linli.engine)
        with logged_failures() as failures:
            status, _ = await _post(client, json.dumps(step).encode())
        event(f"HTTP {status}")
        assert status < 500 and not failures, (status, failures)
        if status != 200:
            assert await row_counts(linli.engine) == before
    await assert_consistent(linli.engine)
    assert await _menu(client, user) in await _first_menus(web)


@HTTP
@given(body=st.binary(max_size=3_000))
async def test_bodies_that_are_not_json(web: Web, body: bytes) -> None:
    """Bytes of any kind: a 4xx (or an answer, if they happen to be a request) below 500."""
    linli, client = web
    before = await row_counts(linli.engine)
    with logged_failures() as failures:
        status, _ = await _post(client, body)
    assert status < 500 and not failures
    if status != 200:
        assert await row_counts(linli.engine) == before
