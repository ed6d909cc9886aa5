"""Finding 1: a captured WeChat callback cannot be replayed, re-addressed or sent unencrypted.

Each test is the attack, performed through /wechat over real HTTP against the real gatekeeper.
"""

from __future__ import annotations

import time

from prometheus_client import REGISTRY
from sqlmodel import select

from models.messaging import InboundMessage, WeChatCallback
from models.people import ChannelIdentity
from tests.fakes.wechat_sender import WeChatServer
from tests.wechat_fixtures import OpenRig, WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]


def refused(reason: str) -> float:
    """How many WeChat callbacks have been refused for this reason so far."""
    value = REGISTRY.get_sample_value(
        "linli_webhook_refused_total", {"channel": "wechat", "reason": reason}
    )
    return value or 0.0


async def handled(rig: WeChatRig) -> list[InboundMessage]:
    async with rig.linli.sessions() as session:
        return list((await session.exec(select(InboundMessage))).all())


async def accounts(rig: WeChatRig) -> list[str]:
    async with rig.linli.sessions() as session:
        return [i.external_id for i in (await session.exec(select(ChannelIdentity))).all()]


async def test_a_callback_signed_long_ago_is_refused(rig: WeChatRig) -> None:
    before = refused("stale")
    # Past the 300 s window by more than the whole seconds int() drops and the request takes:
    # -301 was read as 300 s ahead when the test's second ended as the server's began (CI).
    for age in (310, -310, 86_400 * 365):
        query, body = rig.server.request(rig.server.text("菜单"), timestamp=int(time.time()) - age)
        response = await rig.client.post("/wechat", params=query, data=body)
        assert response.status == 403
    assert refused("stale") == before + 3
    assert await accounts(rig) == []
    fresh = await rig.post(rig.server.text("菜单"))  # 0 s old: the ordinary case still works
    assert "预约办事" in fresh["Content"]


async def test_url_check_with_an_old_signature_is_refused(rig: WeChatRig) -> None:
    query = rig.server.verify_query("echo-1")
    query["timestamp"] = str(int(query["timestamp"]) - 3600)
    response = await rig.client.get("/wechat", params=query)
    assert response.status == 403


async def test_a_signed_url_carrying_another_message_is_a_replay(rig: WeChatRig) -> None:
    query, body = rig.server.request(rig.server.text("菜单"))
    assert (await rig.client.post("/wechat", params=query, data=body)).status == 200
    before = refused("replay")
    # Same signed URL, another message from the same sender (plain mode signs only the URL).
    other = rig.server.text("取消")
    response = await rig.client.post("/wechat", params=query, data=other.encode())
    assert response.status == 403
    # Same URL, another sender: a staff member's openid put in the body and the query.
    victim = WeChatServer(rig.server.account, openid="oStaff-victim")
    forged = {**query, "openid": victim.openid}
    response = await rig.client.post("/wechat", params=forged, data=victim.text("工作台").encode())
    assert response.status == 403
    assert refused("replay") == before + 2
    assert len(await handled(rig)) == 1
    assert await accounts(rig) == [rig.server.openid]


async def test_the_platforms_own_retry_gets_the_stored_answer(rig: WeChatRig) -> None:
    xml = rig.server.text("办公时间")
    query, body = rig.server.request(xml)
    first = await rig.client.post("/wechat", params=query, data=body)
    again = await rig.client.post("/wechat", params=query, data=body)
    assert first.status == again.status == 200
    assert await first.read() == await again.read()
    assert len(await handled(rig)) == 1


async def test_replay_memory_is_shared_by_every_instance(open_rig: OpenRig) -> None:
    first, second = await open_rig(), await open_rig()  # two processes' apps, one database
    query, body = first.server.request(first.server.text("菜单"))
    assert (await first.client.post("/wechat", params=query, data=body)).status == 200
    other = first.server.text("取消").encode()
    assert (await second.client.post("/wechat", params=query, data=other)).status == 403
    async with second.linli.sessions() as session:
        assert len((await session.exec(select(WeChatCallback))).all()) == 1


async def test_query_openid_must_be_the_sender(rig: WeChatRig) -> None:
    before = refused("openid")
    attacker = WeChatServer(rig.server.account, openid="oAttacker")
    query, body = attacker.request(attacker.text("菜单"))
    query["openid"] = "oSomeoneElse"
    response = await rig.client.post("/wechat", params=query, data=body)
    assert response.status == 403
    assert refused("openid") == before + 1
    assert await accounts(rig) == []
    fresh, body = attacker.request(attacker.text("菜单"))
    del fresh["openid"]  # the platform may leave it out; then the body's sender stands
    assert (await rig.client.post("/wechat", params=fresh, data=body)).status == 200


async def test_safe_mode_refuses_plain_bodies(open_rig: OpenRig) -> None:
    safe = await open_rig(wechat_mode=None)  # an AES key and no mode chosen: 安全模式
    before = refused("mode")
    query, body = safe.server.request(safe.server.text("菜单"))
    response = await safe.client.post("/wechat", params=query, data=body)
    assert response.status == 403
    assert refused("mode") == before + 1
    assert await accounts(safe) == []
    reply = await safe.post(safe.server.text("菜单"), safe=True)
    assert "预约办事" in reply["Content"]


async def test_plain_mode_refuses_encrypted_bodies(open_rig: OpenRig) -> None:
    plain = await open_rig(wechat_mode="plain")
    query, body = plain.server.request(plain.server.text("菜单"), safe=True)
    assert (await plain.client.post("/wechat", params=query, data=body)).status == 403


async def test_a_nonsense_location_is_asked_again_and_the_flow_kept(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("需求"))
    for value in ("abc", "nan", "1e999", "95"):
        xml = rig.server.location(30.6, 103.8, "南街").replace("30.6", value)
        reply = await rig.post(xml)
        assert "没能读出这个位置" in reply["Content"]
    words = await rig.post(rig.server.text("小区门口的路灯坏了，晚上很黑"))
    assert "没能读出" not in words["Content"] and "需求" in words["Content"]


async def test_non_ascii_signatures_are_refused_not_crashed_on(rig: WeChatRig) -> None:
    query, body = rig.server.request(rig.server.text("菜单"))
    for name in ("signature", "openid"):
        response = await rig.client.post("/wechat", params={**query, name: "é签名"}, data=body)
        assert response.status == 403
    assert (await rig.client.get("/wechat", params={**query, "signature": "é"})).status == 403
    assert await accounts(rig) == []


async def test_a_url_checks_signature_cannot_carry_a_message(rig: WeChatRig) -> None:
    query = rig.server.verify_query("echo-9")
    assert (await rig.client.get("/wechat", params=query)).status == 200
    assert (await rig.client.get("/wechat", params=query)).status == 200  # the platform retries
    del query["echostr"]
    forged = {**query, "openid": rig.server.openid}
    xml = rig.server.text("菜单").encode()
    assert (await rig.client.post("/wechat", params=forged, data=xml)).status == 403
    assert await accounts(rig) == []


async def test_signed_but_malformed_messages_get_400(rig: WeChatRig) -> None:
    good = rig.server.text("菜单")
    msg_id = str(rig.server.last_msg_id)
    bodies = [
        good.replace(f"<MsgId>{msg_id}</MsgId>", "<MsgId>12ab</MsgId>"),
        good.replace("<CreateTime>", "<CreateTime>abc"),
        good.replace(f"<![CDATA[{rig.server.openid}]]>", "<a>x</a>"),
        good.replace(rig.server.openid, "o" * 200),
        # Markup inside a field the bot reads, or a field given twice (an outside
        # walkthrough: each was a 500, which WeChat retries).
        good.replace("<![CDATA[菜单]]>", "<a>b</a>"),
        good.replace("<Content>", '<Content x="1">'),
        good.replace("</MsgType>", "</MsgType><Content>再来</Content>"),
        good.replace("<![CDATA[text]]>", "<a>text</a>"),
        _event(rig, "<Event>click</Event><EventKey><a>1</a></EventKey>"),
        _voice(rig, "<Recognition><a>1</a></Recognition>"),
    ]
    for body in bodies:
        assert body != good
        query, data = rig.server.request(body)
        del query["openid"]
        response = await rig.client.post("/wechat", params=query, data=data)
        assert response.status == 400, body
    assert await accounts(rig) == []


def _event(rig: WeChatRig, fields: str) -> str:
    """A signed event callback from the rig's follower, with the fields given."""
    return _callback(rig, "event", fields)


def _voice(rig: WeChatRig, fields: str) -> str:
    """A signed voice message from the rig's follower, with the fields given."""
    return _callback(rig, "voice", f"{fields}<MediaId>m1</MediaId><MsgId>424242</MsgId>")


def _callback(rig: WeChatRig, kind: str, fields: str) -> str:
    return (
        f"<xml><ToUserName>gh_test</ToUserName><FromUserName>{rig.server.openid}</FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType>{kind}</MsgType>{fields}</xml>"
    )
