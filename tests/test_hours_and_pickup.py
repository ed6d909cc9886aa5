"""Issue 18, items 10 and 11 on the web chat and on WeChat: 转人工 knows the street's real hours
(and keeps the question when closed), and the pick-up notice names the window and the hours."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from bot.app import Linli
from bot.clock import ManualClock
from models.base import SHANGHAI
from models.cases import Case
from models.inbox import WebInboxItem
from tests.conftest import Chat
from tests.test_cases import REF, bound_chat, open_proxy
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

FRIDAY_MORNING = datetime(2026, 11, 27, 10, 3, tzinfo=SHANGHAI)  # open, nobody on duty for it
FRIDAY_NIGHT = datetime(2026, 11, 27, 21, 0, tzinfo=SHANGHAI)  # closed
HOURS = ("08:00–18:00", "09:00–12:00")


async def test_on_the_web_chat_a_person_is_asked_for_by_the_real_hours(
    linli: Linli, clock: ManualClock
) -> None:
    clock.set(FRIDAY_MORNING)
    open_now = (await Chat(linli, user="handover-web-1").send("转人工"))[0].text
    assert "不在办公时间" not in open_now
    clock.set(FRIDAY_NIGHT)
    closed = (await Chat(linli, user="handover-web-2").send("转人工：社保卡丢了怎么补"))[0].text
    assert "不在办公时间" in closed and all(hours in closed for hours in HOURS)
    assert REF.search(closed)  # the question is kept as a case, answered when open


async def test_on_wechat_outside_hours_the_resident_learns_when(
    rig: WeChatRig, clock: ManualClock
) -> None:
    clock.set(FRIDAY_NIGHT)
    asked = (await rig.post(rig.server.text("转人工")))["Content"]
    assert not REF.search(asked)  # the question first, then the case
    closed = (await rig.post(rig.server.text("社保卡丢了怎么补")))["Content"]
    assert "不在办公时间" in closed and all(hours in closed for hours in HOURS)
    assert REF.search(closed)


async def _ready_for_pickup(linli: Linli, ref: str) -> None:
    """The 民政科 clerk accepts the case and marks it ready to be collected."""
    clerk = await bound_chat(linli, "S021", "pickup-clerk")
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == ref))).one()
    await clerk.press(f"case:accept:{case.id}")
    await clerk.press(f"case:step:{case.id}:ready_for_pickup")


async def test_the_web_chat_pickup_notice_names_window_and_hours(linli: Linli) -> None:
    ref = await open_proxy(Chat(linli, user="pickup-web"))
    await _ready_for_pickup(linli, ref)
    while await linli.worker.deliver_due():
        pass
    async with linli.sessions() as session:
        stored = (await session.exec(select(WebInboxItem))).all()
    texts = [reply["text"] for item in stored for reply in item.replies]
    notice = next(text for text in texts if "取件" in text)
    assert ref in notice and all(hours in notice for hours in HOURS)
    assert "6 号窗口取件" in notice  # the 民政科 clerk has no window of her own: her department's


async def test_the_wechat_pickup_notice_names_window_and_hours(rig: WeChatRig) -> None:
    for words in ("代办", "帮我母亲办高龄补贴，她腿脚不便", "1", "幸福小区3号楼201"):
        await rig.post(rig.server.text(words))
    await rig.post(rig.server.text("工作日上午"))
    await rig.post(rig.server.text("不同意"))  # no phone number (consent first, issue 21)
    opened = (await rig.post(rig.server.text("不同意")))["Content"]  # nor the ID number
    found = REF.search(opened)
    assert found is not None, opened
    await _ready_for_pickup(rig.linli, found.group())
    while await rig.linli.worker.deliver_due():
        pass
    sent = [m.text or "" for m in rig.platform.sent if m.touser == rig.server.openid]
    notice = next(text for text in sent if "取件" in text)
    assert "6 号窗口取件" in notice and all(hours in notice for hours in HOURS)
