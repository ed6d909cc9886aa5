"""Issue 18, item 2, as a resident sees it: six weeks after the seed, a day can be booked once
the roster has rolled forward (web chat and WeChat)."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from bot.i18n import t
from models.base import SHANGHAI
from models.booking import Appointment
from models.people import ChannelIdentity
from scheduler.roster import keep_roster_ahead
from tests.conftest import Chat, payloads
from tests.test_roster_roll import MONDAY_AFTER
from tests.test_scheduler import job_context
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

SIX_WEEKS_ON = date(2027, 1, 8)  # a Friday, six weeks after the seed date (27 November 2026)
DAY_TYPED = "1月8日"


async def booked_days(linli: Linli, user: str) -> list[date]:
    """The local days of a chat account's resident's appointments."""
    stmt = (
        select(Appointment.starts_at)
        .join(ChannelIdentity, col(ChannelIdentity.resident_id) == col(Appointment.resident_id))
        .where(ChannelIdentity.external_id == user)
    )
    async with linli.sessions() as session:
        return [start.astimezone(SHANGHAI).date() for start in (await session.exec(stmt)).all()]


async def test_on_the_web_chat_a_day_six_weeks_on_is_bookable_once_the_roster_rolled_on(
    linli: Linli, clock: ManualClock
) -> None:
    clock.set(MONDAY_AFTER)
    chat = Chat(linli, user="late-booker-0001")
    await chat.press("book:svc:ss-card-reissue")
    before = await chat.send(DAY_TYPED)
    assert not any(p.startswith("book:slot") for p in payloads(before[0])), before[0].text
    await keep_roster_ahead(job_context(linli))
    await chat.press("book:svc:ss-card-reissue")
    slots = await chat.send(DAY_TYPED)
    assert "1月8日" in slots[0].text, slots[0].text
    confirm = await chat.press(payloads(slots[0])[0])
    done = await chat.send(t("zh-CN", "booking.yes"))
    assert "预约成功" in done[0].text, (confirm[0].text, done[0].text)
    assert await booked_days(linli, chat.user) == [SIX_WEEKS_ON]


async def test_on_wechat_a_day_six_weeks_on_is_bookable_once_the_roster_rolled_on(
    rig: WeChatRig, clock: ManualClock
) -> None:
    clock.set(MONDAY_AFTER)
    await keep_roster_ahead(job_context(rig.linli))
    service = await rig.post(rig.server.text("我想预约办社保卡"))
    assert "社保卡补办" in service["Content"], service
    slots = await rig.post(rig.server.text(DAY_TYPED))
    assert "1月8日" in slots["Content"], slots
    confirm = await rig.post(rig.server.text("1"))
    done = await rig.post(rig.server.text("确认"))
    assert "预约成功" in done["Content"], (confirm, done)
    assert await booked_days(rig.linli, rig.server.openid) == [SIX_WEEKS_ON]
