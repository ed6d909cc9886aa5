"""Property-based: Telegram updates of any shape, with the right secret, over real HTTP. Never a
5xx or a logged failure; a refused update writes nothing; after an accepted one the database is
consistent and the person still gets the menu."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import event, example, given
from hypothesis import strategies as st

from tests.fakes.telegram_api import text_update
from tests.hypothesis_setup import HTTP, assert_consistent, logged_failures, row_counts
from tests.telegram_fixtures import SECRET, TelegramRig, telegram, telegram_platform

__all__ = ["telegram", "telegram_platform"]

CHATS = itertools.count(7_100_000_001)
UPDATES = itertools.count(900_000_001)
TEXT = st.text(st.characters(codec="utf-8"), max_size=300)
HUGE = st.builds(lambda ch, n: ch * n, st.sampled_from("a中/@ "), st.integers(1, 5_000))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=10,
)
# Mostly what Telegram sends, sometimes anything: a field may be missing or of another type.
INTEGERISH = st.one_of(st.integers(-(2**63), 2**63), st.integers(-(10**30), 10**30), JSON)
CHAT_TYPE = st.one_of(st.just("private"), st.just("private"), st.sampled_from(["group", "x"]))
LANGUAGE = st.one_of(st.sampled_from(["zh-hans", "en", "zh-hant", "", "xx-yy"]), TEXT, JSON)
Json = dict[str, Any]


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually the value, sometimes anything at all."""
    return st.one_of(value, value, value, JSON)


def _message(chat_id: int) -> st.SearchStrategy[Json]:
    person = st.fixed_dictionaries(
        {"id": _maybe(st.just(chat_id)), "is_bot": _maybe(st.booleans())},
        optional={"first_name": _maybe(TEXT), "language_code": LANGUAGE},
    )
    return st.fixed_dictionaries(
        {
            "message_id": _maybe(st.integers(1, 2**31)),
            "date": _maybe(st.one_of(st.just(1_764_000_000), INTEGERISH)),
            "chat": _maybe(
                st.fixed_dictionaries({"id": _maybe(st.just(chat_id)), "type": CHAT_TYPE})
            ),
        },
        optional={
            "from": _maybe(person),
            "text": _maybe(st.one_of(TEXT, HUGE)),
            "caption": _maybe(TEXT),
            "entities": JSON,
            "photo": _maybe(st.lists(st.fixed_dictionaries({"file_id": TEXT}), max_size=2)),
            "location": _maybe(
                st.fixed_dictionaries({"latitude": st.floats(), "longitude": st.floats()})
            ),
            "edit_date": INTEGERISH,
            "reply_to_message": JSON,
        },
    )


def _callback(chat_id: int) -> st.SearchStrategy[Json]:
    presser = st.fixed_dictionaries({"id": st.just(chat_id), "is_bot": st.just(False)})
    return st.fixed_dictionaries(
        {
            "id": _maybe(TEXT),
            "from": _maybe(presser),
            "chat_instance": _maybe(TEXT),
        },
        optional={"data": _maybe(st.one_of(TEXT, HUGE)), "message": _message(chat_id) | JSON},
    )


def _update(chat_id: int) -> st.SearchStrategy[Json]:
    kinds = st.sampled_from(["message", "message", "edited_message", "callback_query", "poll"])
    return st.tuples(kinds, _message(chat_id), _callback(chat_id), JSON).map(
        lambda parts: (
            {parts[0]: parts[2] if parts[0] == "callback_query" else parts[1]}
            | ({} if parts[0] != "poll" else {"poll": parts[3]})
        )
    )


async def _menu(rig: TelegramRig, chat_id: int, word: str = "菜单") -> str:
    sent = await rig.say(chat_id, word, update_id=next(UPDATES))
    return sent[0].text


_FIRST_MENUS: dict[int, tuple[str, str]] = {}


async def _first_menus(rig: TelegramRig) -> tuple[str, str]:
    """The menu as newcomers get it in Chinese and English (what went before may have set the
    account's language)."""
    key = id(rig.linli)
    if key not in _FIRST_MENUS:
        chinese = await _menu(rig, next(CHATS))
        _FIRST_MENUS[key] = (chinese, await _menu(rig, next(CHATS), "menu"))
    return _FIRST_MENUS[key]


# Updates hypothesis found that crashed the webhook (a 500, or PTB's logged traceback).
FOUND: list[tuple[str, object]] = [
    ("date", 10**30),
    ("chat", None),
    ("chat", {"id": [], "type": "private"}),
]


@HTTP
@given(data=st.data(), found=st.none())
@example(data=None, found=0)
@example(data=None, found=1)
@example(data=None, found=2)
async def test_hostile_updates(
    telegram: TelegramRig, data: st.DataObject | None, found: int | None
) -> None:
    """No 5xx, refusals write nothing, and the person can always go on to the menu."""
    chat_id = next(CHATS)
    if data is None:
        assert found is not None
        update = text_update(chat_id, "你好", update_id=next(UPDATES))
        field, value = FOUND[found]
        update["message"][field] = value
    else:
        update = {"update_id": next(UPDATES)} | data.draw(_update(chat_id))
    before = await row_counts(telegram.linli.engine)
    with logged_failures() as failures:
        status = await telegram.post(update)
        await telegram.deliver()
    event(f"HTTP {status}")
    assert status < 500 and not failures, (status, failures)
    if status != 200:
        assert await row_counts(telegram.linli.engine) == before
        return
    await assert_consistent(telegram.linli.engine)
    assert await _menu(telegram, chat_id) in await _first_menus(telegram)


@HTTP
@given(body=JSON, secret=st.sampled_from([SECRET, None, "wrong", SECRET[:-1]]))
async def test_bodies_of_any_shape(telegram: TelegramRig, body: Any, secret: str | None) -> None:
    """Any JSON at all, with or without the secret: answered below 500; refused ones wrote
    nothing (and without the right secret everything is refused)."""
    before = await row_counts(telegram.linli.engine)
    with logged_failures() as failures:
        response = await telegram.client.post(
            "/telegram",
            json=body,
            headers={} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret},
        )
    assert response.status < 500 and not failures
    if secret != SECRET:
        assert response.status == 403
    if response.status != 200:
        assert await row_counts(telegram.linli.engine) == before
