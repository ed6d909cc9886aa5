"""Outbound WeChat through the outbox worker: the shared token, the 48-hour window, templates,
rate limits and outages as retries, unreachable followers, long texts in parts, the menu."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.app import Linli
from bot.channels.wechat_api import AccessTokens
from bot.clock import ManualClock
from bot.messages import Reply
from models.conversation import open_conversation
from models.messaging import OutboxMessage, OutboxStatus, queue_message
from models.people import ChannelIdentity
from tests.conftest import DATA, ROOT
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.wechat_fixtures import OpenRig, WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]


def replies_payload(text: str) -> dict[str, Any]:
    return {"replies": [Reply(text).to_dict()]}


async def queue(
    linli: Linli, openid: str, text: str, *, seen_hours_ago: float = 1, **payload: Any
) -> int:
    """A follower last seen some hours ago, and one committed outbox row for them."""
    now = linli.clock.now()
    async with linli.engine.connect() as connection, connection.begin():
        conversation = await open_conversation(connection, "wechat", openid, None, now, None)
        conversation.identity.last_seen_at = now - timedelta(hours=seen_hours_ago)
        await conversation.save(connection)
        return await queue_message(
            connection,
            kind="alert",
            payload={**replies_payload(text), **payload},
            now=now,
            identity_id=conversation.identity.id,
            channel="wechat",
        )


async def outbox_row(linli: Linli, row_id: int) -> OutboxMessage:
    async with linli.sessions() as session:
        row = await session.get(OutboxMessage, row_id)
        assert row is not None
        return row


async def test_one_token_for_many_concurrent_sends(rig: WeChatRig) -> None:
    ids = [await queue(rig.linli, f"oFan-{n:03d}", f"通知 {n}") for n in range(20)]
    assert await rig.linli.worker.deliver_due() == 20
    assert rig.platform.token_requests == 1
    assert sorted(m.touser or "" for m in rig.platform.sent) == [f"oFan-{n:03d}" for n in range(20)]
    for row_id in ids:
        row = await outbox_row(rig.linli, row_id)
        assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)


@pytest.mark.parametrize("spoil", ["expire_tokens", "revoke_tokens"])
async def test_refused_token_is_refreshed_once_and_the_send_retried(
    rig: WeChatRig, spoil: str
) -> None:
    await queue(rig.linli, "oFan-1", "第一条")
    await rig.linli.worker.deliver_due()
    getattr(rig.platform, spoil)()
    row_id = await queue(rig.linli, "oFan-1", "第二条")
    await rig.linli.worker.deliver_due()
    assert (await outbox_row(rig.linli, row_id)).status == OutboxStatus.SENT
    assert rig.platform.token_requests == 2
    assert [m.text for m in rig.platform.sent] == ["第一条", "第二条"]


async def test_token_is_renewed_before_it_expires_and_shared_through_the_database(
    rig: WeChatRig, clock: ManualClock
) -> None:
    api = rig.linli.wechat_api
    assert api is not None
    first = await api.tokens.get()
    other_instance = AccessTokens(
        api.tokens.name, api.client.fetch_access_token, rig.linli.sessions, clock, 1.0
    )
    assert await other_instance.get() == first  # read from the shared row, not fetched
    assert rig.platform.token_requests == 1
    clock.advance(timedelta(seconds=7200 - 200))  # inside the five-minute margin
    renewed = await api.tokens.get()
    assert renewed != first
    assert rig.platform.token_requests == 2


async def test_instances_asking_at_once_for_the_first_token_fetch_it_once(
    rig: WeChatRig, clock: ManualClock
) -> None:
    """Before any token is stored there is no row to lock: the instances still take turns."""
    api = rig.linli.wechat_api
    assert api is not None
    instances = [
        AccessTokens(api.tokens.name, api.client.fetch_access_token, rig.linli.sessions, clock, 1.0)
        for _ in range(4)
    ]
    tokens = await asyncio.gather(*(instance.get() for instance in instances))
    if rig.linli.engine.dialect.name == "postgresql":  # SQLite serves one instance
        assert len(set(tokens)) == 1
        assert rig.platform.token_requests == 1
    else:  # each fetches outside SQLite's one write lock; all get a token
        assert all(tokens)


@pytest.mark.parametrize("failure", [45009, 45047, -1, "5xx", "close", "timeout"])
async def test_rate_limits_and_outages_are_retried_later_not_dropped(
    rig: WeChatRig, clock: ManualClock, failure: int | str
) -> None:
    await rig.linli.wechat_api.tokens.get()  # type: ignore[union-attr]
    rig.platform.fail_next("custom", failure)
    row_id = await queue(rig.linli, "oFan-2", "稍后送达")
    await rig.linli.worker.deliver_due()
    row = await outbox_row(rig.linli, row_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert row.next_attempt_at > clock.now()
    if failure == 45009:
        assert row.next_attempt_at - clock.now() >= timedelta(minutes=10)
    assert await rig.linli.worker.deliver_due() == 0  # not due yet
    clock.set(row.next_attempt_at)
    await rig.linli.worker.deliver_due()
    assert (await outbox_row(rig.linli, row_id)).status == OutboxStatus.SENT
    assert [m.text for m in rig.platform.sent] == ["稍后送达"]


async def test_outage_longer_than_the_attempts_gives_up_visibly(
    rig: WeChatRig, clock: ManualClock
) -> None:
    rig.platform.fail_next("custom", "5xx", times=100)
    row_id = await queue(rig.linli, "oFan-3", "送不到")
    for _ in range(rig.linli.worker.policy.max_attempts):
        await rig.linli.worker.deliver_due()
        clock.advance(timedelta(hours=2))
    row = await outbox_row(rig.linli, row_id)
    assert row.status == OutboxStatus.DEAD
    assert row.attempts == rig.linli.worker.policy.max_attempts
    assert row.last_error == "errcode None"


async def test_unfollowed_account_is_marked_unreachable(rig: WeChatRig) -> None:
    rig.platform.unsubscribed.add("oGone-1")
    row_id = await queue(rig.linli, "oGone-1", "你好")
    await rig.linli.worker.deliver_due()
    assert (await outbox_row(rig.linli, row_id)).status == OutboxStatus.DEAD
    async with rig.linli.sessions() as session:
        identity = (await session.exec(select(ChannelIdentity))).one()
    assert identity.unreachable is True


async def test_outside_the_window_without_a_template_nothing_is_sent(rig: WeChatRig) -> None:
    row_id = await queue(rig.linli, "oOld-1", "迟到的通知", seen_hours_ago=50)
    await rig.linli.worker.deliver_due()
    row = await outbox_row(rig.linli, row_id)
    assert row.status == OutboxStatus.DEAD
    assert "no template" in (row.last_error or "")
    assert rig.platform.sent == []


@pytest.fixture
async def template_rig(open_rig: OpenRig) -> WeChatRig:
    return await open_rig(wechat_template_id="tpl-notice", wechat_subscribe_template_id="sub-1")


async def test_outside_the_window_a_template_message_goes_out(template_rig: WeChatRig) -> None:
    await queue(template_rig.linli, "oOld-2", "您预约的社保卡补办明天上午办理", seen_hours_ago=50)
    await template_rig.linli.worker.deliver_due()
    [sent] = template_rig.platform.sent
    assert (sent.api, sent.body["template_id"], sent.touser) == ("template", "tpl-notice", "oOld-2")
    data = sent.body["data"]
    assert data["first"]["value"] == "办事提醒"
    assert data["keyword1"]["value"] == "您预约的社保卡补办明天上午办理"
    assert data["remark"]["value"].startswith("回复任意消息")


async def test_closed_window_falls_back_to_the_template(template_rig: WeChatRig) -> None:
    template_rig.platform.cs_window_closed.add("oQuiet-1")
    await queue(template_rig.linli, "oQuiet-1", "提醒")
    await template_rig.linli.worker.deliver_due()
    assert [m.api for m in template_rig.platform.sent] == ["template"]


async def test_long_text_goes_in_parts_and_a_retry_skips_accepted_parts(rig: WeChatRig) -> None:
    text = "\n".join(f"第{n:03d}行通知内容。" for n in range(120))
    await queue(rig.linli, "oLong-1", text)
    await rig.linli.worker.deliver_due()
    parts = [m.text or "" for m in rig.platform.sent]
    assert len(parts) >= 2
    assert all(len(part) <= 600 for part in parts)
    assert "\n".join(parts) == text
    rig.platform.sent.clear()
    row_id = await queue(rig.linli, "oLong-2", text, _parts_sent=1)
    await rig.linli.worker.deliver_due()
    assert "\n".join(m.text or "" for m in rig.platform.sent) == "\n".join(parts[1:])
    assert (await outbox_row(rig.linli, row_id)).payload["_parts_sent"] == len(parts)


async def test_wechat_menu_command_pushes_data_menu(platform: FakeWeChatAPI, db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {
        "LINLI_DATABASE_URL": db_url,
        "LINLI_DATA_DIR": str(DATA),
        "LINLI_WECHAT_APP_ID": platform.appid,
        "LINLI_WECHAT_APP_SECRET": platform.secret,
        "LINLI_WECHAT_TOKEN": "t",
        "LINLI_WECHAT_API_BASE": platform.base_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "wechat",
        "menu",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    [menu] = platform.sent
    assert menu.api == "menu"
    assert [b["name"] for b in menu.body["button"]] == ["预约办事", "提需求", "我的"]
    assert menu.body["button"][0]["key"] == "book"
