"""Issue 18, item 2 (the resident's side): a service with no free place says whether every
place is taken (the waitlist is offered) or nobody is on the duty roster yet (when to ask
again), for the coming weeks and for a day asked for."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from bot.i18n import t
from models.base import SHANGHAI
from models.binding import deactivate_staff
from models.booking import BookingSlot, RosterShift
from models.org import Staff, StaffSkill, get_street
from models.services import Service
from models.slots import plan_day
from scheduler.context import JobContext
from scheduler.roster import keep_roster_ahead
from tests.conftest import Chat, labels, payloads
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

CHANNELS = pytest.mark.parametrize("channel", ["web", "wechat"])
SERVICE = "ss-card-reissue"


async def _take_every_place(linli: Linli) -> None:
    """Every slot of the service in the booking horizon made, then fully booked."""
    async with linli.sessions() as session:
        service = (await session.exec(select(Service).where(Service.code == SERVICE))).one()
        now = linli.clock.now()
        today = now.astimezone(SHANGHAI).date()
        for offset in range(31):
            await plan_day(session, service, today + timedelta(days=offset), now)
        await session.exec(
            sa.update(BookingSlot)
            .where(col(BookingSlot.service_id) == service.id)
            .values(booked=col(BookingSlot.capacity))
        )
        await session.commit()


async def _clear_roster(linli: Linli, since: date | None = None) -> None:
    """The duty roster emptied (from a day on): nobody is on duty yet."""
    async with linli.sessions() as session:
        stmt = sa.delete(RosterShift)
        if since is not None:
            stmt = stmt.where(col(RosterShift.day) >= since)
        await session.exec(stmt)
        await session.commit()


@CHANNELS
async def test_every_place_taken_offers_the_waitlist(linli: Linli, channel: str) -> None:
    await _take_every_place(linli)
    chat = Chat(linli, user=f"all-taken-{channel}", channel=channel)
    days = await chat.press(f"book:svc:{SERVICE}")
    assert "近期的名额都已约满" in days[0].text, days[0].text
    assert "值班" not in days[0].text
    assert payloads(days[0])[0].startswith("book:wait:")
    waiting = await chat.send(labels(days[0])[0])  # "排队候补", typed
    assert waiting[0].text.startswith("已为您排队候补"), waiting[0].text


async def _street_phone(linli: Linli) -> str:
    async with linli.sessions() as session:
        street = await get_street(session)
    assert street is not None and street.phone
    return street.phone


@CHANNELS
async def test_nobody_on_a_roster_already_drawn_up_gives_the_phone(
    linli: Linli, channel: str
) -> None:
    await _clear_roster(linli)  # the roll-forward's weeks cover every bookable day
    chat = Chat(linli, user=f"unstaffed-{channel}", channel=channel)
    days = await chat.press(f"book:svc:{SERVICE}")
    text = days[0].text
    assert "还没有排到能办理这项服务的值班人员" in text, text
    assert f"请致电 {await _street_phone(linli)} 咨询" in text, text
    assert "再来预约" not in text and "约满" not in text
    assert not any(p.startswith("book:wait:") for p in payloads(days[0]))


async def _22_december_unstaffed(linli: Linli, user: str, channel: str) -> str:
    """The answer to 12月22日下午 with nobody on the roster from 21 December: not "full", and
    sooner times offered."""
    await _clear_roster(linli, since=date(2026, 12, 21))
    chat = Chat(linli, user=user, channel=channel)
    await chat.press(f"book:svc:{SERVICE}")
    reply = await chat.send("12月22日下午")
    text = reply[0].text
    assert text.startswith("12月22日（周二）还没有排到能办理这项服务的值班人员"), text
    assert "约满" not in text
    assert any(p.startswith("book:slot:") for p in payloads(reply[0]))  # sooner times
    return text


@CHANNELS
async def test_a_day_the_roster_has_not_reached_says_when_it_will(
    linli: Linli, channel: str
) -> None:
    linli.settings.roster_weeks_ahead = 2
    text = await _22_december_unstaffed(linli, f"day-ahead-{channel}", channel)
    # models.roster_plan.planned_by: the roll-forward of 9 December is the first to reach it
    assert "提前 2 周" in text and "请在 12月9日（周三）起再来预约" in text, text
    assert "致电" not in text


@CHANNELS
async def test_a_day_the_roster_reached_without_staff_gives_the_phone(
    linli: Linli, channel: str
) -> None:
    text = await _22_december_unstaffed(linli, f"day-unstaffed-{channel}", channel)
    assert f"请致电 {await _street_phone(linli)} 咨询" in text and "再来预约" not in text, text


async def test_in_english(linli: Linli) -> None:
    await _clear_roster(linli)
    chat = Chat(linli, user="unstaffed-en-0001")
    await chat.send("English")
    days = await chat.press(f"book:svc:{SERVICE}")
    assert "No staff for this service are on the duty roster" in days[0].text
    assert f"please call {await _street_phone(linli)}." in days[0].text, days[0].text
    linli.settings.roster_weeks_ahead = 2
    await chat.press(f"book:svc:{SERVICE}")
    later = await chat.send("12/22")
    assert "2 weeks ahead" in later[0].text and "from Wed 9 Dec" in later[0].text, later[0].text


async def test_a_full_slot_confirmed_offers_the_waitlist_first(linli: Linli) -> None:
    chat = Chat(linli, user="full-confirm-0001")
    days = await chat.press(f"book:svc:{SERVICE}")
    slots = await chat.press(payloads(days[0])[0])
    confirm = await chat.press(payloads(slots[0])[0])
    await _take_every_place(linli)
    full = await chat.press(payloads(confirm[0])[0])
    assert full[0].text.startswith(t("zh-CN", "booking.outcome_full")), full[0].text
    assert labels(full[0])[0] == t("zh-CN", "booking.wait")
    assert labels(full[0]).count(t("zh-CN", "booking.wait")) == 1


async def test_nobody_on_duty_on_wechat(rig: WeChatRig) -> None:
    await _clear_roster(rig.linli)
    reply = await rig.post(rig.server.text("预约社保卡补办"))
    assert "还没有排到能办理这项服务的值班人员" in reply["Content"], reply["Content"]


@CHANNELS
async def test_staff_who_left_serve_no_bookings(linli: Linli, channel: str) -> None:
    async with linli.sessions() as session:  # everyone trained for 社区矫正报到 is deactivated
        service = (
            await session.exec(select(Service).where(Service.code == "jd-correction-report"))
        ).one()
        trained = select(StaffSkill.staff_id).where(StaffSkill.service_id == service.id)
        await session.exec(sa.update(Staff).where(col(Staff.id).in_(trained)).values(active=False))
        await session.commit()
    chat = Chat(linli, user=f"after-leaving-{channel}", channel=channel)
    days = await chat.press("book:svc:jd-correction-report")
    assert "还没有排到能办理这项服务的值班人员" in days[0].text, days[0].text
    assert not any(p.startswith("book:day:") for p in payloads(days[0]))


async def test_a_confirm_question_shown_before_the_staff_left_books_nothing(linli: Linli) -> None:
    chat = Chat(linli, user="confirm-then-leave")
    days = await chat.press("book:svc:jd-correction-report")
    slots = await chat.press(payloads(days[0])[0])
    confirm = await chat.press(payloads(slots[0])[0])
    async with linli.sessions() as session, session.begin():
        service = (
            await session.exec(select(Service).where(Service.code == "jd-correction-report"))
        ).one()
        trained = (
            await session.exec(
                select(StaffSkill.staff_id).where(StaffSkill.service_id == service.id)
            )
        ).all()
        for staff_id in trained:
            staff = await session.get(Staff, staff_id)
            assert staff is not None
            await deactivate_staff(session, staff, linli.clock.now())
    after = await chat.press(payloads(confirm[0])[0])
    assert "预约成功" not in after[0].text, after[0].text
    assert not any(p.startswith("book:wait:") for p in payloads(after[0]))  # no waitlist either


async def test_new_years_day_is_named_as_the_holiday_it_is_by_law(
    linli: Linli, clock: ManualClock
) -> None:
    """A walkthrough: 1 January 2027 (a Friday) was called "周末或节假日" and then "treated as an
    ordinary weekend" because 2027's schedule is not published; 元旦 is a holiday by law."""
    clock.advance(timedelta(days=13))  # 10 December: 1 January is within the 30 days
    await keep_roster_ahead(JobContext(linli.engine, linli.sessions, clock, linli.settings))
    chat = Chat(linli, user="new-year-0001")
    await chat.press("book:svc:fl-residence-permit-reissue")  # weekdays only
    reply = (await chat.send("1月1日上午"))[0]
    said, offered = reply.text, " ".join(labels(reply))
    assert said.startswith("1月1日（周五，元旦）"), said
    assert "尚未发布" not in said
    # the nearest times after that day, not tomorrow's (the walkthrough was offered 12月8日)
    assert "1月4日" in offered and "12月" not in offered, offered


async def test_times_offered_after_a_closed_day_stay_within_the_days_one_may_book(
    linli: Linli, clock: ManualClock
) -> None:
    """A review: after a closed day 30 days ahead, the times after it were offered, past the
    30 days residents may book."""
    clock.advance(timedelta(days=13))  # Thursday 10 December; Saturday 9 January is day 30
    await keep_roster_ahead(JobContext(linli.engine, linli.sessions, clock, linli.settings))
    chat = Chat(linli, user="horizon-0001")
    await chat.press("book:svc:fl-residence-permit-reissue")  # weekdays only
    reply = (await chat.send("1月9日上午"))[0]
    offered = " ".join(labels(reply))
    assert "1月11日" not in offered and "1月12日" not in offered, offered
