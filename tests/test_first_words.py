"""A resident's first message typed instead of pressed, as an outside walkthrough wrote them:
short English requests that name no service, a booking word with a service's whole name, and
进度 / track followed by words instead of a reference. On the web chat and on WeChat."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.clock import ManualClock
from bot.i18n import t
from tests.talk import Talk, open_rig, platform, talk

__all__ = ["open_rig", "platform", "talk"]  # fixtures this module uses


async def test_book_an_appointment_shows_the_categories(talk: Talk) -> None:
    await talk.say("english")
    for typed in ("I want to book an appointment", "Book an appointment"):
        shown = await talk.say(typed)
        assert t("en", "booking.choose_category") in shown, typed
        assert "No service matches" not in shown
        assert await talk.state() == "booking.service"


async def test_book_an_appointment_at_the_service_step_keeps_the_step(talk: Talk) -> None:
    await talk.say("english")
    await talk.say("book")
    shown = await talk.say("an appointment please")
    assert t("en", "booking.choose_category") in shown
    assert await talk.state() == "booking.service"
    shown = await talk.say("residence permit application")  # the flow goes on from there
    assert "Residence permit application" in shown


async def test_a_booking_word_and_a_whole_service_name_go_straight_to_its_days(
    talk: Talk,
) -> None:
    shown = await talk.say("预约居住证办理")
    assert "「居住证办理」" in shown
    assert "请选择日期" in shown
    assert "我不太确定" not in shown


async def test_track_with_words_lists_the_cases(talk: Talk) -> None:
    await talk.say("english")
    shown = await talk.say("track my case")
    assert "was not found" not in shown
    assert t("en", "cases.none") in shown


async def test_a_number_after_track_is_masked_when_no_case_has_it(talk: Talk) -> None:
    shown = await talk.say("进度 13912345678")
    assert "13912345678" not in shown
    assert "没有找到事项" in shown


async def test_i_want_to_cancel_opens_the_appointments(talk: Talk) -> None:
    await talk.say("english")
    shown = await talk.say("I want to cancel")
    assert t("en", "booking.none") in shown


async def test_what_are_your_hours_is_answered(talk: Talk) -> None:
    await talk.say("english")
    shown = await talk.say("what are your hours")
    assert "08:00" in shown and "18:00" in shown


async def test_what_to_bring_while_booking_is_that_services_list(talk: Talk) -> None:
    await talk.say("预约居住证办理")
    for question in ("要带什么材料", "要带照片吗"):
        shown = await talk.say(question)
        assert "「居住证办理」" in shown and "近期免冠证件照" in shown, question
        assert "社保卡" not in shown  # the FAQ's guess about another service
        assert t("zh-CN", "flow.resume_booking") in shown
    shown = await talk.say(t("zh-CN", "flow.resume_booking"))
    assert await talk.state() == "booking.day"
    shown = await talk.say("周六")
    assert "可预约的时段" in shown


async def test_what_to_bring_at_the_time_step_in_english(talk: Talk) -> None:
    await talk.say("english")
    await talk.say("book residence permit application")
    await talk.say("Saturday")
    shown = await talk.say("what documents do I need to bring?")
    assert "Residence permit application" in shown
    assert t("en", "flow.resume_booking") in shown


async def test_a_day_at_the_choice_of_several_services_keeps_them(talk: Talk) -> None:
    await talk.say("english")
    await talk.say("book")
    listed = await talk.say("residence permit")
    assert "Residence permit annual endorsement" in listed
    shown = await talk.say("Saturday")
    assert "Please choose the service first" in shown
    assert "Residence permit annual endorsement" in shown  # the three still to choose from
    assert await talk.state() == "booking.service"


async def test_what_to_bring_for_another_service_is_not_the_booked_ones(talk: Talk) -> None:
    await talk.say("预约居住证办理")
    for question in ("办社保卡要带什么", "结婚登记要带什么材料"):
        shown = await talk.say(question)
        assert "住所证明" not in shown, question  # 居住证办理's list, for another service


async def test_a_time_after_a_side_question_goes_on_with_the_booking(talk: Talk) -> None:
    await talk.say("预约居住证办理")
    await talk.say("周六")
    await talk.say("要带什么材料")
    shown = await talk.say("10点半")
    assert "请确认预约" in shown and "10:30" in shown
    assert await talk.state() == "booking.day"


async def test_a_weekend_service_offers_a_weekend_day_from_a_monday(
    talk: Talk, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))  # Monday 09:00 in Chengdu
    shown = await talk.say("预约居住证办理")
    days = [line for line in shown.splitlines() if "（余" in line]
    assert any("周一" in line for line in days) and any("周五" in line for line in days)
    assert any("周六" in line for line in days), days  # 周末可办: the weekend is offered too
    shown = await talk.say("预约居住证补领换领")  # weekdays only: no weekend day added
    assert not any("周六" in line for line in shown.splitlines() if "（余" in line)


async def test_my_matters_from_a_resident_are_their_own(talk: Talk) -> None:
    """我的事项 / my cases are also the staff's words for their queue: a resident typing them
    got "not understood"."""
    shown = await talk.say("我的事项")
    assert t("zh-CN", "cases.none") in shown
    assert t("zh-CN", "menu.not_understood") not in shown
    await talk.say("english")
    shown = await talk.say("my cases")
    assert t("en", "cases.none") in shown


async def test_chinese_after_an_english_question_is_answered_in_chinese(talk: Talk) -> None:
    shown = await talk.say("check my status")  # English; the bot asks what is meant
    assert "Check the progress of my matters" in shown
    shown = await talk.say("我的预约")  # a question again, not a name for a flow
    assert t("zh-CN", "booking.none") in shown
