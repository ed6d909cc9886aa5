"""/wechat over real HTTP: verification, plain and safe mode, hostile input, message types,
retries and the 5-second deadline, driven by a second implementation of WeChat's side."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, func, select

from bot.channels.wechat import parse, to_inbound
from bot.channels.wechat_api import SERVICE_TEXT_LIMIT
from bot.context import Context
from bot.messages import INPUT_LIMIT, Reply
from bot.router import HandlerResult, Router
from handlers import menu
from models.messaging import ConversationState, InboundMessage, OutboxMessage
from models.people import ChannelIdentity, Resident
from tests.fakes.wechat_sender import (
    PUBLISHED_SAMPLE,
    WeChatAccount,
    WeChatServer,
    signature,
)
from tests.wechat_fixtures import (
    OLD_AES_KEY,
    TOKEN,
    OpenRig,
    WeChatRig,
    open_rig,
    platform,
    rig,
)

__all__ = ["open_rig", "platform", "rig"]


async def identities(rig: WeChatRig) -> list[ChannelIdentity]:
    async with rig.linli.sessions() as session:
        return list((await session.exec(select(ChannelIdentity))).all())


async def test_url_verification(rig: WeChatRig) -> None:
    query = rig.server.verify_query("echo-4711")
    response = await rig.client.get("/wechat", params=query)
    assert (response.status, await response.text()) == (200, "echo-4711")
    forged = {**query, "signature": "0" * 40}
    assert (await rig.client.get("/wechat", params=forged)).status == 403
    assert (await rig.client.get("/wechat")).status == 403


async def test_plain_text_gets_the_menu_as_numbered_text(rig: WeChatRig) -> None:
    reply = await rig.post(rig.server.text("菜单"))
    assert reply["MsgType"] == "text"
    assert reply["ToUserName"] == rig.server.openid
    assert reply["Content"].startswith("您好！这里是柳城街道便民服务中心")
    assert "\n1. 预约办事\n" in reply["Content"] and "\n8. 我的" in reply["Content"]
    hours = await rig.post(rig.server.text("7"))  # the number chooses 办公时间
    assert "08:00–18:00" in hours["Content"]


async def test_wrong_or_missing_signature_is_refused_and_nothing_happens(rig: WeChatRig) -> None:
    query, body = rig.server.request(rig.server.text("菜单"))
    for bad in (
        {**query, "signature": "f" * 40},
        {k: v for k, v in query.items() if k != "signature"},
    ):
        response = await rig.client.post("/wechat", params=bad, data=body)
        assert response.status == 403
    safe_query, safe_body = rig.server.request(rig.server.text("菜单"), safe=True)
    forged = {**safe_query, "msg_signature": "0" * 40}
    assert (await rig.client.post("/wechat", params=forged, data=safe_body)).status == 403
    assert await identities(rig) == []


async def test_safe_mode_is_answered_encrypted(rig: WeChatRig) -> None:
    query, body = rig.server.request(rig.server.text("办公时间"), safe=True)
    response = await rig.client.post("/wechat", params=query, data=body)
    raw = await response.read()
    assert b"<Encrypt>" in raw and b"08:00" not in raw
    reply = rig.server.read_reply(raw, safe=True)
    assert "08:00–18:00" in reply["Content"]


async def test_previous_aes_key_still_works_during_a_key_change(rig: WeChatRig) -> None:
    old = WeChatServer(WeChatAccount(TOKEN, rig.platform.appid, OLD_AES_KEY), openid="oOld-1")
    query, body = old.request(old.text("菜单"), safe=True)
    response = await rig.client.post("/wechat", params=query, data=body)
    assert old.read_reply(await response.read(), safe=True)["Content"].startswith("您好")
    stranger = WeChatServer(WeChatAccount(TOKEN, rig.platform.appid, "A" * 43), openid="oX")
    query, body = stranger.request(stranger.text("菜单"), safe=True)
    assert (await rig.client.post("/wechat", params=query, data=body)).status == 400


@pytest.fixture
async def sample_rig(open_rig: OpenRig) -> WeChatRig:
    return await open_rig(
        wechat_token=PUBLISHED_SAMPLE["token"],
        wechat_app_id=PUBLISHED_SAMPLE["app_id"],
        wechat_aes_key=PUBLISHED_SAMPLE["encoding_aes_key"],
        aes_key=PUBLISHED_SAMPLE["encoding_aes_key"],
        wechat_timestamp_window_seconds=10**10,  # the sample was signed in 2014
    )


async def test_wechats_published_safe_mode_sample(sample_rig: WeChatRig) -> None:
    s = PUBLISHED_SAMPLE
    query = {
        "signature": signature(s["token"], s["timestamp"], s["nonce"]),
        "timestamp": s["timestamp"],
        "nonce": s["nonce"],
        "encrypt_type": "aes",
        "msg_signature": s["msg_signature"],
    }
    body = (
        f"<xml><ToUserName><![CDATA[{s['to_user_name']}]]></ToUserName>"
        f"<Encrypt><![CDATA[{s['encrypt']}]]></Encrypt></xml>"
    ).encode()
    response = await sample_rig.client.post("/wechat", params=query, data=body)
    assert response.status == 200
    account = WeChatAccount(s["token"], s["app_id"], s["encoding_aes_key"])
    reply = WeChatServer(account).read_reply(await response.read(), safe=True)
    assert reply["ToUserName"] == s["from_user_name"]
    assert reply["FromUserName"] == s["to_user_name"]
    assert "没有听懂" in reply["Content"]  # the sample's text "abcdteT" is not a command
    found = await identities(sample_rig)
    assert [i.external_id for i in found] == [s["from_user_name"]]


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]>'
        b"<xml><MsgType>&a;</MsgType></xml>",
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml></xml>',
        b"<xml><ToUserName>unclosed",
        b"not xml at all",
        b"<xml><MsgType><![CDATA[text]]></MsgType></xml>",  # no sender
        b"<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType><Content>\x01</Content></xml>",
    ],
)
async def test_hostile_or_malformed_xml_is_refused_with_400(rig: WeChatRig, body: bytes) -> None:
    query, _ = rig.server.request(rig.server.text("x"))
    response = await rig.client.post("/wechat", params=query, data=body)
    assert response.status == 400
    assert await identities(rig) == []


async def test_oversized_body_is_refused_with_413(rig: WeChatRig) -> None:
    query, _ = rig.server.request(rig.server.text("x"))
    response = await rig.client.post("/wechat", params=query, data=b"<xml>" + b"a" * 70_000)
    assert response.status == 413


async def test_echoed_text_cannot_break_the_reply_xml(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("我的"))
    await rig.post(rig.server.text("1"))  # now asking for a community; unknown names are echoed
    reply = await rig.post(rig.server.text("]]><evil/>\x7f东"))
    assert "没有找到名为“]] ><evil/>东”的社区" in reply["Content"]


async def test_voice_uses_the_platforms_recognition(rig: WeChatRig) -> None:
    heard = await rig.post(rig.server.voice("办公时间"))
    assert "08:00–18:00" in heard["Content"]
    unclear = await rig.post(rig.server.voice(None))
    assert "没有听清" in unclear["Content"]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda s: s.image(), "图片和位置目前只在提需求"),
        (lambda s: s.location(30.68, 103.85, "柳城街道办事处"), "图片和位置目前只在提需求"),
        (lambda s: s.event("subscribe"), "感谢关注柳城街道"),
        (lambda s: s.event("CLICK", "hours"), "08:00–18:00"),
        (lambda s: s.event("SCAN", "42"), "感谢关注柳城街道"),
        (lambda s: s.shortvideo(), "暂时不支持这种消息"),
        (lambda s: s.link("t", "d", "https://example.invalid"), "暂时不支持这种消息"),
        (lambda s: s.event("LOCATION_SELECT", "x"), "暂时不支持这种消息"),
    ],
)
async def test_message_types_and_events(rig: WeChatRig, make: object, expected: str) -> None:
    reply = await rig.post(make(rig.server))  # type: ignore[operator]
    assert expected in reply["Content"]


async def test_view_is_silent_and_unsubscribe_marks_the_account_inactive(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("菜单"))
    assert await rig.post(rig.server.event("VIEW", "https://example.invalid/page")) == {}
    assert await rig.post(rig.server.event("unsubscribe")) == {}
    [identity] = await identities(rig)
    assert identity.active is False
    await rig.post(rig.server.event("subscribe"))
    [identity] = await identities(rig)
    assert identity.active is True


async def test_redelivered_message_has_one_effect_and_the_same_reply(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("我的"))
    query, body = rig.server.request(rig.server.text("1", msg_id=777))
    responses = await asyncio.gather(
        *(rig.client.post("/wechat", params=query, data=body) for _ in range(3))
    )
    replies = [rig.server.read_reply(await r.read()) for r in responses]
    assert replies[0]["Content"] == replies[1]["Content"] == replies[2]["Content"]
    assert "请选择您所在的社区" in replies[0]["Content"]
    async with rig.linli.sessions() as session:
        count = (await session.exec(select(func.count()).select_from(InboundMessage))).one()
    assert count == 2


async def test_events_are_deduplicated_by_sender_time_and_event(rig: WeChatRig) -> None:
    xml = rig.server.event("subscribe", create_time=1_790_000_000)
    first = await rig.post(xml)
    second = await rig.post(xml)
    assert first["Content"] == second["Content"]
    async with rig.linli.sessions() as session:
        ids = (await session.exec(select(InboundMessage.message_id))).all()
    assert ids == [f"{rig.server.openid}:1790000000:subscribe"]


async def test_two_menu_buttons_pressed_within_a_second_are_two_messages(
    rig: WeChatRig,
) -> None:
    hours = rig.server.event("CLICK", "hours", create_time=1_790_000_100)
    menu = rig.server.event("CLICK", "menu", create_time=1_790_000_100)
    first, again, other = await rig.post(hours), await rig.post(hours), await rig.post(menu)
    assert first["Content"] == again["Content"] and "08:00–18:00" in first["Content"]
    assert "08:00–18:00" not in other["Content"] and "1. 预约办事" in other["Content"]
    async with rig.linli.sessions() as session:
        ids = (await session.exec(select(InboundMessage.message_id))).all()
    assert len(ids) == 2 and all(len(i) <= 128 for i in ids)


def long_router(seconds: float = 0.0, length: int = 1500) -> Router:
    """A feature with a long (and optionally slow) answer, beside the real menu."""
    router = Router("long")

    @router.keyword("长文")
    async def long_answer(ctx: Context) -> HandlerResult:
        await asyncio.sleep(seconds)
        body = "\n".join(f"第{n:03d}行：便民服务说明文字。" for n in range(length // 16))
        return Reply(body)

    return Router("root").include(router, menu.router)


@pytest.fixture
async def long_rig(open_rig: OpenRig) -> WeChatRig:
    return await open_rig(router=long_router())


async def test_a_long_answer_goes_as_service_messages_split_once(long_rig: WeChatRig) -> None:
    await long_rig.post(long_rig.server.text("菜单"))  # opens the 48-hour window
    answer = await long_rig.post_raw(long_rig.server.text("长文", msg_id=777))
    assert answer == "success"  # too long for one passive answer: nothing half-said here
    await long_rig.linli.worker.deliver_due()
    pages = [m.text or "" for m in long_rig.platform.sent]
    assert len(pages) > 1 and all(len(page) <= SERVICE_TEXT_LIMIT for page in pages)
    lines = [line for page in pages for line in page.split("\n") if line.startswith("第")]
    assert lines == [f"第{n:03d}行：便民服务说明文字。" for n in range(1500 // 16)]
    await long_rig.linli.worker.deliver_due()
    assert len(long_rig.platform.sent) == len(pages)  # each page once


@pytest.fixture
async def slow_rig(open_rig: OpenRig) -> WeChatRig:
    return await open_rig(router=long_router(seconds=0.8, length=100), wechat_reply_budget=0.3)


async def test_slow_answer_says_success_now_and_arrives_through_the_outbox(
    slow_rig: WeChatRig,
) -> None:
    await slow_rig.post(slow_rig.server.text("菜单"))  # opens the 48-hour window
    query, body = slow_rig.server.request(slow_rig.server.text("长文", msg_id=4242))
    started = asyncio.get_running_loop().time()
    response = await slow_rig.client.post("/wechat", params=query, data=body)
    waited = asyncio.get_running_loop().time() - started
    assert (await response.text(), response.status) == ("success", 200)
    assert waited < 0.8 + 0.5
    # WeChat retries after its own timeout: the retry must not answer (or do) it again.
    retry = await slow_rig.client.post("/wechat", params=query, data=body)
    assert await retry.text() == "success"
    async with slow_rig.linli.sessions() as session:
        queued = (await session.exec(select(OutboxMessage))).all()
    assert [row.kind for row in queued] == ["reply"]
    await slow_rig.linli.worker.deliver_due()
    texts = [m.text for m in slow_rig.platform.sent]
    assert len(texts) == 1 and texts[0] is not None and texts[0].startswith("第000行")
    assert slow_rig.platform.sent[0].touser == slow_rig.server.openid
    await slow_rig.linli.worker.deliver_due()
    assert len(slow_rig.platform.sent) == 1


async def test_web_chat_and_wechat_reach_the_same_state(rig: WeChatRig) -> None:
    steps = ["我的", "1", "永宁路", "2"]
    for text in steps:
        await rig.post(rig.server.text(text))
        await rig.client.post("/api/chat", json={"user": "web-same-0001", "text": text})
    async with rig.linli.sessions() as session:
        accounts = (
            await session.exec(select(ChannelIdentity).order_by(col(ChannelIdentity.channel)))
        ).all()
        residents = [await session.get(Resident, a.resident_id) for a in accounts]
        states = [await session.get(ConversationState, a.id) for a in accounts]
    assert [a.channel for a in accounts] == ["web", "wechat"]
    assert residents[0] is not None and residents[1] is not None
    assert residents[0].grid_id == residents[1].grid_id is not None
    assert states[0] is not None and states[1] is not None
    assert states[0].name == states[1].name == ""
    assert states[0].data["options"] == states[1].data["options"]


@pytest.fixture
async def busy_rig(open_rig: OpenRig) -> WeChatRig:
    return await open_rig(router=long_router(seconds=0.5, length=100), wechat_max_pending=1)


async def test_an_overloaded_server_sheds_messages_for_wechat_to_retry(busy_rig: WeChatRig) -> None:
    slow = busy_rig.server.request(busy_rig.server.text("长文", msg_id=91))
    other = WeChatServer(WeChatAccount(TOKEN, busy_rig.platform.appid), openid="oOther-1")
    shed = other.request(other.text("菜单", msg_id=92))
    first = asyncio.create_task(busy_rig.client.post("/wechat", params=slow[0], data=slow[1]))
    await asyncio.sleep(0.1)
    refused = await busy_rig.client.post("/wechat", params=shed[0], data=shed[1])
    assert refused.status == 503
    assert (await first).status == 200
    retried = await busy_rig.client.post("/wechat", params=shed[0], data=shed[1])
    assert other.read_reply(await retried.read())["Content"].startswith("您好")


def test_a_long_text_is_passed_on_cut_to_the_input_limit() -> None:
    """WeChat caps no text: a 60 KB one reaches the handlers cut, as Telegram's does."""
    xml = (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]>"
        "</FromUserName><CreateTime>1764200000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{'办' * 60000}]]></Content><MsgId>42</MsgId></xml>"
    )
    inbound = to_inbound(parse(xml))
    assert inbound.text == "办" * INPUT_LIMIT


async def test_a_reported_location_or_an_opened_link_keeps_the_question_on_screen(
    rig: WeChatRig,
) -> None:
    """An outside walkthrough: WeChat's LOCATION report (sent on entering the chat) got
    "暂时不支持" and the menu, and it or a VIEW event made the "1" typed next open 预约办事."""
    asked = await rig.post(rig.server.text("小区门口的井盖坏了"))
    assert "1. 报给网格员" in asked["Content"]
    assert await rig.post(rig.server.event("LOCATION")) == {}  # silent
    assert await rig.post(rig.server.event("VIEW", "https://example.invalid/page")) == {}
    chosen = await rig.post(rig.server.text("1"))
    assert "这属于哪一类问题" in chosen["Content"]
