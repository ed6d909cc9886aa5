"""转人工 end to end across two channels: a resident on WeChat (fake platform) is handed to the
staff member on duty, who answers on Telegram (fake Bot API); messages are relayed both ways
until one side ends it. Outside opening hours the resident learns when to expect an answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.clock import ManualClock
from models.booking import RosterShift
from models.cases import Case, CaseEvent, CaseKind, CaseStatus
from models.org import Staff
from tests.fakes.telegram_api import FakeTelegramAPI, SentText, callback_update, text_update
from tests.telegram_fixtures import SECRET, telegram_platform, warm_up
from tests.test_binding import staff_code
from tests.wechat_fixtures import OpenRig, WeChatRig, open_rig, platform

__all__ = ["open_rig", "platform", "telegram_platform"]

STAFF_CHAT = 4242


@dataclass
class TwoChannels:
    """One Linli serving WeChat and Telegram, with both fakes."""

    rig: WeChatRig
    telegram: FakeTelegramAPI

    async def resident(self, text: str) -> str:
        """The resident types on WeChat; the passive reply's text."""
        reply = await self.rig.post(self.rig.server.text(text))
        return reply.get("Content", "")

    async def staff(self, text: str | None = None, press: str | None = None) -> None:
        """The staff member types or presses a button on Telegram."""
        update = (
            callback_update(STAFF_CHAT, press) if press else text_update(STAFF_CHAT, text or "")
        )
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        response = await self.rig.client.post("/telegram", json=update, headers=headers)
        assert response.status == 200

    async def deliver(self) -> tuple[list[str], list[SentText]]:
        """Run the outbox; what reached the resident (WeChat) and the staff member (Telegram)."""
        wechat, telegram = len(self.rig.platform.sent), len(self.telegram.sent_messages)
        while await self.rig.linli.worker.deliver_due():
            pass
        to_resident = [m.text or "" for m in self.rig.platform.sent[wechat:]]
        return to_resident, self.telegram.sent_messages[telegram:]


@pytest.fixture
async def two(open_rig: OpenRig, telegram_platform: FakeTelegramAPI) -> TwoChannels:
    rig = await open_rig(
        telegram_token=telegram_platform.token,
        telegram_secret=SECRET,
        telegram_api_base=telegram_platform.base_url,
        telegram_api_timeout=0.5,
    )
    await warm_up(rig.linli)
    return TwoChannels(rig, telegram_platform)


async def on_duty(two: TwoChannels, code: str, clock: ManualClock) -> Staff:
    """Bind the staff member's Telegram account and put them on a shift now."""
    await two.staff(f"绑定 {await staff_code(two.rig.linli, code)}")
    async with two.rig.linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == code))).one()
        now = clock.now()
        session.add(
            RosterShift(
                staff_id=staff.id or 0,
                day=now.date(),
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(hours=3),
            )
        )
    await two.deliver()
    return staff


def buttons(message: SentText) -> list[str]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [str(button.get("callback_data")) for row in rows for button in row]


async def test_a_resident_on_wechat_talks_to_staff_on_telegram(
    two: TwoChannels, clock: ManualClock
) -> None:
    staff = await on_duty(two, "S015", clock)
    assert "残疾人两项补贴" in await two.resident(
        "我想了解一下残疾人两项补贴的事情，具体有哪些规定呢"
    )
    waiting = await two.resident("转人工")
    assert "值班工作人员" in waiting
    _, alerts = await two.deliver()
    [alert] = alerts
    assert alert.chat_id == STAFF_CHAT and "残疾人两项补贴" in alert.text  # the transcript
    [take, _end] = buttons(alert)
    await two.staff(press=take)
    to_resident, _ = await two.deliver()
    assert any("已接入" in text for text in to_resident)

    await two.staff("您好，两项补贴是困难残疾人生活补贴和重度残疾人护理补贴。")
    to_resident, _ = await two.deliver()
    assert any("护理补贴" in text for text in to_resident)
    assert "已转达" in await two.resident("你好")  # said to the person, not the menu word
    assert "已转达" in await two.resident("需要带什么材料？")
    _, to_staff = await two.deliver()
    assert [m.text for m in to_staff if "需要带什么材料" in m.text]

    await two.staff("结束对话")
    to_resident, _ = await two.deliver()
    assert any("已结束本次对话" in text for text in to_resident)
    async with two.rig.linli.sessions() as session:
        [case] = (await session.exec(select(Case))).all()
        events = (
            await session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.id))
            )
        ).all()
    assert case.kind == CaseKind.CONSULTATION and case.status == CaseStatus.RESOLVED
    assert case.assignee_staff_id == staff.id
    assert "残疾人两项补贴" in str(case.details["transcript"])
    assert [e.kind for e in events if e.kind == "message"] == ["message"] * 3
    # After the end, what the resident types is no longer relayed.
    await two.resident("谢谢")
    _, to_staff = await two.deliver()
    assert to_staff == []


async def test_outside_opening_hours_the_resident_learns_when(
    two: TwoChannels, clock: ManualClock
) -> None:
    await on_duty(two, "S015", clock)
    clock.advance(timedelta(hours=11))  # Friday 21:00: closed
    asked = await two.resident("转人工")
    assert "LC-" not in asked  # the question first: a case reading "转人工" tells nobody anything
    closed = await two.resident("我家老人的养老金这个月没到账")
    assert "不在办公时间" in closed and "LC-" in closed
    assert "08:00–18:00" in closed and "09:00–12:00" in closed  # and when it is open
    async with two.rig.linli.sessions() as session:
        [case] = (await session.exec(select(Case))).all()
    assert case.first_reply_due_at is not None and case.due_at is not None  # the SLA sweep's
    assert case.assignee_staff_id is None
    assert case.summary == "我家老人的养老金这个月没到账"


async def test_in_opening_hours_with_nobody_on_duty_it_does_not_say_closed(
    two: TwoChannels, clock: ManualClock
) -> None:
    clock.advance(timedelta(minutes=3))  # a Friday in opening hours, no shift in the roster now
    answer = await two.resident("转人工：社保卡丢了怎么补")  # the question with the request
    assert "不在办公时间" not in answer and "值班工作人员暂时都不在线" in answer
    assert "LC-" in answer  # the question is kept as a consultation all the same


async def test_asking_for_a_person_again_adds_to_the_open_request(
    two: TwoChannels, clock: ManualClock
) -> None:
    """Out of hours, 转人工 twice (or 人工客服 after it) opens one request; what the resident
    types after the reminder joins it, for the staff member who answers it."""
    clock.advance(timedelta(hours=11))  # Friday 21:00: closed
    await two.resident("转人工")
    first = await two.resident("低保怎么申请")
    again = await two.resident("人工客服")
    ref = first[first.index("LC-") :].split("，")[0].split("；")[0][:16]
    assert ref in again and "已登记" in again
    added = await two.resident("家里两口人，都没有工作")
    assert ref in added and "已补充" in added
    async with two.rig.linli.sessions() as session:
        [case] = (await session.exec(select(Case))).all()
        events = (await session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))).all()
    assert case.summary == "低保怎么申请"
    assert "家里两口人，都没有工作" in [event.note for event in events]
    menu = await two.resident("菜单")  # the request is not a trap: the menu still comes
    assert "LC-" not in menu


async def test_asking_for_a_person_again_in_a_live_chat_keeps_it_live(
    two: TwoChannels, clock: ManualClock
) -> None:
    await on_duty(two, "S015", clock)
    await two.resident("转人工：社保卡丢了怎么补")
    again = await two.resident("转人工")
    assert "已登记" in again
    assert "已转达" in await two.resident("我在等")  # still relayed to the person on duty
    async with two.rig.linli.sessions() as session:
        assert len((await session.exec(select(Case))).all()) == 1
