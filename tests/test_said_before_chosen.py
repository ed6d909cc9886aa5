"""What a resident says in one go is kept while the bot asks the rest: a day and time said with
a service name several services fit, a bare hour at a day's times, and 进度 showing the
appointments too. On the web chat and on WeChat (through its fake)."""

from __future__ import annotations

from bot.i18n import t
from tests.talk import Talk, open_rig, platform, talk

__all__ = ["open_rig", "platform", "talk"]  # fixtures this module uses

# The test clock stands on Friday 27 November 2026; next Monday is 30 November.


async def _book_tomorrow_at_ten(talk: Talk) -> None:
    """居住证办理 on Saturday 28 November at 10:00, booked."""
    for typed in ("预约居住证办理", "明天", "10点", "确认"):
        await talk.say(typed)


async def test_a_day_and_time_said_with_several_services_is_kept_for_the_one_chosen(
    talk: Talk,
) -> None:
    shown = await talk.say("帮我约下周一下午两点办居住证")
    assert t("zh-CN", "match.which_service") in shown
    assert "居住证签注" in shown and "11月30日" in shown  # the day is said to be kept
    shown = await talk.say("居住证办理")  # the option's label, typed
    assert "请确认预约：「居住证办理」" in shown
    assert "11月30日" in shown and "14:00" in shown
    shown = await talk.say("确认")
    assert "预约成功" in shown


async def test_the_same_in_english_with_words_around_the_service(talk: Talk) -> None:
    await talk.say("english")
    shown = await talk.say("reserve a slot for residence permit next monday 2pm")
    assert t("en", "match.which_service") in shown
    assert "Residence permit application" in shown
    shown = await talk.say("Residence permit application")
    assert "Please confirm: “Residence permit application”" in shown
    assert "14:00" in shown


async def test_none_of_these_forgets_the_day(talk: Talk) -> None:
    await talk.say("帮我约下周一下午两点办居住证")
    shown = await talk.say(t("zh-CN", "match.none_of_these"))
    assert t("zh-CN", "booking.choose_category") in shown
    assert "asked_day" not in await talk.state_data()
    shown = await talk.say("居住证办理")  # typed at the categories: its days, not Monday's
    assert "请选择日期" in shown and "请确认预约" not in shown


async def test_several_services_without_a_day_show_the_chosen_ones_days(talk: Talk) -> None:
    shown = await talk.say("我想预约居住证")
    assert "选好后" not in shown  # no day was said, so none is promised
    shown = await talk.say("居住证办理")
    assert "请选择日期" in shown


async def test_a_bare_number_at_a_days_times_is_an_hour(talk: Talk) -> None:
    await talk.say("预约居住证办理")
    await talk.say("明天")  # Saturday: 09:00 to 12:00
    shown = await talk.say("10")
    assert "请确认预约" in shown and "10:00" in shown
    await talk.say("预约居住证办理")
    await talk.say("下周一")
    shown = await talk.say("17")  # more than the options shown: no option's number
    assert "请确认预约" in shown and "17:00" in shown


async def test_a_number_of_an_option_shown_is_still_that_option(talk: Talk) -> None:
    await talk.say("预约居住证办理")
    await talk.say("下周一")
    shown = await talk.say("5")  # WeChat numbers the options: 5 is the fifth, 10:00
    assert "请确认预约" in shown and "10:00" in shown


async def test_a_bare_number_at_the_days_is_still_not_a_day(talk: Talk) -> None:
    await talk.say("预约居住证办理")
    shown = await talk.say("10")
    assert "请确认预约" not in shown
    assert await talk.state() == "booking.day"


async def test_track_lists_the_appointments_too(talk: Talk) -> None:
    shown = await talk.say("进度")
    assert t("zh-CN", "cases.none") in shown
    assert "代办" not in shown  # no proxy suggestion to someone who only asked
    await _book_tomorrow_at_ten(talk)
    shown = await talk.say("进度")
    assert t("zh-CN", "cases.appointments_title") in shown
    assert "居住证办理" in shown and "10:00" in shown
    assert t("zh-CN", "booking.mine") in shown  # to cancel or move it from there
    shown = await talk.say(t("zh-CN", "booking.mine"))
    assert "居住证办理" in shown


async def test_english_questions_about_the_hours(talk: Talk) -> None:
    await talk.say("english")
    shown = await talk.say("are you open on weekends?")
    assert "09:00" in shown and "12:00" in shown
    await talk.say("menu")
    shown = await talk.say("can I come after work?")
    assert "18:00" in shown


async def test_without_a_booking_word_the_several_are_offered_too(talk: Talk) -> None:
    shown = await talk.say("下周一下午两点办居住证")
    assert t("zh-CN", "match.which_service") in shown and "11月30日" in shown
    shown = await talk.say("2")  # the second option, by its number
    assert "请确认预约：「居住证签注」" in shown and "14:00" in shown
    await talk.say("english")
    await talk.say("menu")  # the confirm question left: a new booking, not this one's time
    shown = await talk.say("residence permit next friday 10am")
    assert t("en", "match.which_service") in shown and "4 Dec" in shown


async def test_another_day_before_choosing_replaces_the_one_kept(talk: Talk) -> None:
    await talk.say("帮我约下周一下午两点办居住证")
    shown = await talk.say("下周二上午")
    assert t("zh-CN", "booking.service_for_day", date="12月1日") in shown
    assert "12月1日" in shown and "居住证签注" in shown  # the new day, the options kept
    shown = await talk.say("居住证办理")
    assert "「居住证办理」12月1日（周二）可预约的时段" in shown
    assert "14:00" not in shown  # the morning asked for now, not the afternoon said before


async def test_a_day_gone_by_is_said_to_be_gone_by(talk: Talk) -> None:
    await talk.say("帮我约上周一下午两点办居住证")
    shown = await talk.say("居住证办理")
    assert "已经过去" in shown
    assert "请确认预约" not in shown


async def test_changing_ones_mind_about_the_day_keeps_the_choice(talk: Talk) -> None:
    """ "还是周五吧" sounded like 孩子 to the homophone match and opened 育儿补贴申领."""
    await talk.say("帮我约下周一下午两点办居住证")
    for typed in ("还是周五吧", "那就周五吧"):
        shown = await talk.say(typed)
        assert "请先选择要办的业务" in shown and "选好后直接为您显示" in shown, typed
        assert "育儿" not in shown and "居住证签注" in shown, typed
    shown = await talk.say("居住证签注")
    assert "「居住证签注」" in shown and "周五" in shown
    assert "14:00" in shown  # only the day changed: the time said first still holds


async def test_change_words_at_the_choice_are_about_the_day_kept(talk: Talk) -> None:
    """ "改成下周三上午" before choosing moved the resident's existing appointment."""
    await talk.say("帮我约下周一下午两点办居住证")
    shown = await talk.say("改成下周三上午")
    assert "没有可以改约的预约" not in shown
    assert t("zh-CN", "booking.service_for_day", date="12月2日") in shown
    shown = await talk.say("居住证办理")
    assert "「居住证办理」12月2日（周三）可预约的时段" in shown
    assert "改约" not in shown


async def test_main_menu_typed_where_it_is_no_button(talk: Talk) -> None:
    await talk.say("预约")  # the categories: no 返回主菜单 button among them
    shown = await talk.say("返回主菜单")
    assert "预约办事" in shown and await talk.state() == ""
    await talk.say("english")
    await talk.say("book")
    shown = await talk.say("main menu")
    assert "Book a service" in shown and await talk.state() == ""


async def test_a_problem_told_while_booking_can_be_reported_or_the_booking_resumed(
    talk: Talk,
) -> None:
    await talk.say("预约社保卡补办")
    await talk.say("周六")
    shown = await talk.say("小区路灯坏了，晚上很黑")
    assert t("zh-CN", "ask.as_report") in shown
    assert t("zh-CN", "flow.resume_booking") in shown  # the booking was not dropped
    shown = await talk.say(t("zh-CN", "ask.as_report"))
    assert t("zh-CN", "menu.stale_option") not in shown
    assert await talk.state() == "grid.category"  # the report goes on from here


async def test_moving_at_the_categories_still_moves_the_appointment(talk: Talk) -> None:
    """With no day held, 改到 at the choice of a service means the existing appointment."""
    await _book_tomorrow_at_ten(talk)
    await talk.say("预约")  # the categories: no day held
    shown = await talk.say("改到下周一")
    assert "改约" in shown or "「居住证办理」11月30日" in shown
    assert (await talk.state_data()).get("move"), shown  # the reschedule step, not a new booking


async def test_a_name_several_fit_keeps_the_day_held(talk: Talk) -> None:
    await talk.say("帮我约下周一下午两点办居住证")
    shown = await talk.say("居住证")  # the same several again
    assert "11月30日" in shown
    shown = await talk.say("居住证办理")
    assert "请确认预约" in shown and "14:00" in shown


async def test_a_name_of_no_service_with_a_day_is_quoted(talk: Talk) -> None:
    await talk.say("预约")
    shown = await talk.say("周六办护照")
    assert "没有找到与“周六办护照”相关的服务" in shown


async def test_booking_a_named_service_starts_over(talk: Talk) -> None:
    await talk.say("帮我约下周一下午两点办居住证")
    shown = await talk.say("预约社保卡补办")  # 预约 starts over: Monday 14:00 is not held
    assert "请确认预约" not in shown and "请选择日期" in shown


async def test_track_of_one_kind_says_nothing_of_appointments(talk: Talk) -> None:
    await _book_tomorrow_at_ten(talk)
    shown = await talk.say("我的代办进度")
    assert t("zh-CN", "cases.none") not in shown  # it has an appointment
