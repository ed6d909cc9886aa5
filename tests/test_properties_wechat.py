"""Property-based: signed WeChat callbacks with hostile XML (any text, control characters, huge
sizes, nesting, malformed XML, DTDs and entities, odd MsgTypes and field types), plain and safe
mode, over real HTTP. Never a 5xx or a logged failure; a refused callback writes nothing; after
an accepted one the database is consistent and the sender still gets the menu."""

from __future__ import annotations

import itertools
import string
import time
from dataclasses import dataclass
from xml.sax.saxutils import escape

from hypothesis import event, example, given
from hypothesis import strategies as st

from bot.config import Settings
from tests.fakes.wechat_sender import WeChatServer
from tests.hypothesis_setup import HTTP, assert_consistent, logged_failures, row_counts
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]

SENDERS = itertools.count(1)
# The deadline a deployment answers WeChat within (the rig itself waits longer).
WECHAT_BUDGET = Settings.model_fields["wechat_reply_budget"].default
NO_SURROGATES = st.characters(codec="utf-8")
ANY_TEXT = st.text(NO_SURROGATES, max_size=300)
# What XML may carry (control characters, but tab and line breaks, make it no XML at all).
XML_CHARS = st.one_of(st.characters(exclude_categories=("Cs", "Cc")), st.sampled_from("\t\n\r"))
XML_TEXT = st.one_of(st.text(XML_CHARS, max_size=300), ANY_TEXT)
HUGE = st.builds(lambda ch, n: ch * n, st.sampled_from("a9中<&]\x01 "), st.integers(1, 70_000))
TAG = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,15}", fullmatch=True)
MSG_TYPES = ("text", "voice", "image", "location", "link", "shortvideo", "video", "event", "file")
EVENTS = ("subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN", "LOCATION", "MASSSENDJOBFINISH")
NUMBERISH = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats().map(str),
    st.sampled_from(["", "nan", "1e999", "0x10", " 12 ", "١٢"]),
)
# A field's content: text, a number-like string, or elements nested inside it.
CONTENT = st.recursive(
    st.one_of(XML_TEXT, NUMBERISH, HUGE),
    lambda inner: st.lists(st.tuples(TAG, inner), max_size=4),
    max_leaves=12,
)
FieldContent = str | list[tuple[str, "FieldContent"]]


@dataclass(frozen=True)
class Callback:
    """A hostile message as drawn: its fields, who it claims to be from, and how it is spoilt."""

    fields: list[tuple[str, FieldContent]]
    own_sender: bool
    spoil: str
    cut: int
    safe: bool
    raw: bool = False


def _element(tag: str, content: FieldContent, style: int, *, raw: bool) -> str:
    if isinstance(content, list):
        inner = "".join(_element(t, c, style + i, raw=raw) for i, (t, c) in enumerate(content))
        return f"<{tag}>{inner}</{tag}>"
    if raw:
        return f"<{tag}>{content}</{tag}>"  # unescaped: often not XML at all
    if style % 2 == 0:
        return f"<{tag}><![CDATA[{content.replace(']]>', ']]]]><![CDATA[>')}]]></{tag}>"
    return f"<{tag}>{escape(content)}</{tag}>"


def _fields(msg_type: str, event: str) -> st.SearchStrategy[list[tuple[str, FieldContent]]]:
    time_or_id = st.integers(1, 10**19).map(str)
    required: list[tuple[str, st.SearchStrategy[FieldContent]]] = [
        ("MsgType", st.just(msg_type)),
        ("CreateTime", st.one_of(time_or_id, time_or_id, time_or_id, NUMBERISH)),
        ("MsgId", st.one_of(time_or_id, time_or_id, time_or_id, NUMBERISH)),
    ]
    usual: list[tuple[str, st.SearchStrategy[FieldContent]]] = [
        ("Content", st.one_of(XML_TEXT, XML_TEXT, HUGE, CONTENT)),
        ("Event", st.just(event)),
        ("EventKey", XML_TEXT),
        ("Recognition", XML_TEXT),
        ("Location_X", NUMBERISH),
        ("Location_Y", NUMBERISH),
        ("Label", XML_TEXT),
        ("MediaId", XML_TEXT),
    ]
    chosen = st.lists(st.sampled_from(usual), unique_by=lambda pair: pair[0], max_size=len(usual))
    some_required = st.lists(st.sampled_from(required), unique_by=lambda pair: pair[0])
    kept = st.one_of(st.just(required), st.just(required), some_required)
    extra = st.lists(st.tuples(TAG, CONTENT), max_size=2)
    fields = st.tuples(kept.flatmap(_drawn), chosen.flatmap(_drawn), extra)
    return fields.map(lambda parts: parts[0] + parts[1] + parts[2])


def _drawn(
    chosen: list[tuple[str, st.SearchStrategy[FieldContent]]],
) -> st.SearchStrategy[list[tuple[str, FieldContent]]]:
    return st.tuples(*(st.tuples(st.just(name), values) for name, values in chosen)).map(list)


CALLBACKS = st.builds(
    Callback,
    fields=st.tuples(
        st.one_of(st.sampled_from(MSG_TYPES), st.sampled_from(MSG_TYPES), TAG),
        st.one_of(st.sampled_from(EVENTS), st.sampled_from(EVENTS), TAG),
    ).flatmap(lambda pair: _fields(*pair)),
    own_sender=st.sampled_from([True, True, True, False]),
    spoil=st.sampled_from(["none"] * 8 + ["cut", "dtd", "entity", "comment", "pi", "root", "bom"]),
    cut=st.integers(0, 10_000),
    safe=st.booleans(),
    raw=st.sampled_from([False, False, False, True]),
)


def _xml(callback: Callback, openid: str) -> str:
    sender = openid if callback.own_sender else "o" + "x" * 27
    header = "<ToUserName><![CDATA[gh_linli_test]]></ToUserName>"
    header += f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
    raw = callback.raw
    body = "".join(_element(t, c, i, raw=raw) for i, (t, c) in enumerate(callback.fields))
    xml = f"<xml>{header}{body}</xml>"
    return {
        "none": xml,
        "cut": xml[: callback.cut],
        "dtd": '<!DOCTYPE xml SYSTEM "file:///etc/passwd">' + xml,
        "entity": '<!DOCTYPE xml [<!ENTITY e "x">]>' + xml.replace("</xml>", "&e;</xml>"),
        "comment": xml.replace("<xml>", "<xml><!-- a comment -->"),
        "pi": '<?xml version="1.0" encoding="utf-8"?>' + xml,
        "root": f"<other>{xml}</other>",
        "bom": "\ufeff" + xml,
    }[callback.spoil]


async def _menu(rig: WeChatRig, server: WeChatServer, word: str = "菜单") -> str:
    query, body = server.request(server.text(word))
    response = await rig.client.post("/wechat", params=query, data=body)
    assert response.status == 200, await response.text()
    return server.read_reply(await response.read())["Content"]


_FIRST_MENUS: dict[int, tuple[str, str]] = {}


async def _first_menus(rig: WeChatRig) -> tuple[str, str]:
    """The menu as newcomers get it from this app in Chinese and English (asked once per test):
    what went before may have set the account's language ("A:S" is two English words)."""
    key = id(rig.linli)
    if key not in _FIRST_MENUS:
        chinese, english = (
            WeChatServer(rig.server.account, openid=f"oProp{next(SENDERS):023d}") for _ in range(2)
        )
        _FIRST_MENUS[key] = (await _menu(rig, chinese), await _menu(rig, english, "menu"))
    return _FIRST_MENUS[key]


async def _deliver(rig: WeChatRig, server: WeChatServer, xml: str, safe: bool) -> int:
    """Post one signed callback and check what it did; its HTTP status."""
    before = await row_counts(rig.linli.engine)
    query, body = server.request(xml, safe=safe)
    started = time.monotonic()
    with logged_failures() as failures:
        response = await rig.client.post("/wechat", params=query, data=body)
        await response.read()
    assert response.status < 500 and not failures, (response.status, failures)
    # Within WeChat's reply budget: a message that holds the event loop longer holds every
    # other request too (the webhook's own timeout cannot fire while it runs).
    assert time.monotonic() - started < WECHAT_BUDGET
    if response.status != 200:
        assert await row_counts(rig.linli.engine) == before
    else:
        await assert_consistent(rig.linli.engine)
    return response.status


@HTTP
@given(callback=CALLBACKS)
@example(Callback([("MsgType", "text"), ("Content", "中" * 20_000)], True, "none", 0, False))
@example(Callback([("MsgType", "text"), ("Content", "a-" * 30_000)], True, "none", 0, True))
@example(Callback([("MsgType", "location"), ("Location_X", "1e999")], True, "none", 0, False))
@example(Callback([("MsgType", "event"), ("Event", "CLICK")], True, "pi", 0, True))
# Markup inside a field the bot reads (an outside walkthrough: each was a 500).
@example(Callback([("MsgType", "text"), ("Content", [("a", "b")])], True, "none", 0, False))
@example(
    Callback(
        [("MsgType", "event"), ("Event", "click"), ("EventKey", [("a", "1")])],
        True,
        "none",
        0,
        False,
    )
)
@example(Callback([("MsgType", "voice"), ("Recognition", [("a", "1")])], True, "none", 0, True))
async def test_hostile_callbacks(rig: WeChatRig, callback: Callback) -> None:
    """No 5xx, refusals write nothing, and the sender can always go on to the menu."""
    openid = f"oProp{next(SENDERS):023d}"
    server = WeChatServer(rig.server.account, openid=openid)
    status = await _deliver(rig, server, _xml(callback, openid), callback.safe)
    event(f"HTTP {status}")
    if status == 200:
        assert await _menu(rig, server) in await _first_menus(rig)


@HTTP
@given(
    body=st.one_of(st.binary(max_size=2_000), ANY_TEXT.map(str.encode)),
    query=st.dictionaries(
        st.sampled_from(["signature", "timestamp", "nonce", "openid", "encrypt_type", "x"]),
        st.text(string.printable, max_size=50),
    ),
)
async def test_unsigned_or_garbled_callbacks_are_refused(
    rig: WeChatRig, body: bytes, query: dict[str, str]
) -> None:
    """Bodies and queries not signed by the platform: a 4xx that wrote nothing."""
    before = await row_counts(rig.linli.engine)
    with logged_failures() as failures:
        response = await rig.client.post("/wechat", params=query, data=body)
    assert 400 <= response.status < 500 and not failures
    assert await row_counts(rig.linli.engine) == before


@HTTP
@given(body=st.one_of(st.binary(max_size=2_000), HUGE.map(str.encode)), safe=st.booleans())
async def test_signed_garbage_is_refused(rig: WeChatRig, body: bytes, safe: bool) -> None:
    """Signed (even sealed) bytes that are no XML message: a 4xx that wrote nothing."""
    server = WeChatServer(rig.server.account, openid=f"oProp{next(SENDERS):023d}")
    if safe:
        query, body = server.request(body.decode("utf-8", "replace"), safe=True)
    else:
        query, _ = server.request("")
    before = await row_counts(rig.linli.engine)
    with logged_failures() as failures:
        response = await rig.client.post("/wechat", params=query, data=body)
    assert response.status < 500 and not failures
    if response.status != 200:
        assert await row_counts(rig.linli.engine) == before
