"""Reading the day, part of day and time residents type when booking (bot.dates)."""

from __future__ import annotations

import dataclasses
from datetime import date, time

import pytest

from bot.dates import DayPart, WhenAsked, parse_when

FRIDAY = date(2026, 11, 27)  # the suite's usual today (see tests/conftest.py START)
SATURDAY = date(2026, 11, 28)
SUNDAY = date(2026, 11, 29)
MORNING, AFTERNOON, EVENING = DayPart.MORNING, DayPart.AFTERNOON, DayPart.EVENING
NOTHING = WhenAsked(None, None, None)


def day_of(text: str, today: date = FRIDAY) -> date | None:
    return parse_when(text, today).day


def time_of(text: str) -> time | None:
    return parse_when(text, FRIDAY).at


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("今天", date(2026, 11, 27)),
        ("今日", date(2026, 11, 27)),
        ("today", date(2026, 11, 27)),
        ("明天", date(2026, 11, 28)),
        ("明日", date(2026, 11, 28)),
        ("tomorrow", date(2026, 11, 28)),
        ("Tomorrow", date(2026, 11, 28)),
        ("后天", date(2026, 11, 29)),
        ("大后天", date(2026, 11, 30)),
        ("the day after tomorrow", date(2026, 11, 29)),
    ],
)
def test_relative_days(text: str, expected: date) -> None:
    assert day_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Plain weekdays: the first on or after today (a Friday).
        ("周六", date(2026, 11, 28)),
        ("星期六", date(2026, 11, 28)),
        ("礼拜六", date(2026, 11, 28)),
        ("周日", date(2026, 11, 29)),
        ("星期日", date(2026, 11, 29)),
        ("星期天", date(2026, 11, 29)),
        ("周天", date(2026, 11, 29)),
        ("礼拜天", date(2026, 11, 29)),
        ("周一", date(2026, 11, 30)),
        ("周二", date(2026, 12, 1)),
        ("星期三", date(2026, 12, 2)),
        ("周四", date(2026, 12, 3)),
        ("周五", date(2026, 11, 27)),
        ("周6", date(2026, 11, 28)),
        # This week's: Saturday is still ahead; Monday has gone, so the next one.
        ("这周六", date(2026, 11, 28)),
        ("本周六", date(2026, 11, 28)),
        ("这周一", date(2026, 11, 30)),
        ("本周五", date(2026, 11, 27)),
        # Next week's: the week starting Monday 30 November.
        ("下周三", date(2026, 12, 2)),
        ("下星期三", date(2026, 12, 2)),
        ("下个星期六", date(2026, 12, 5)),
        ("下周五", date(2026, 12, 4)),
        ("下周日", date(2026, 12, 6)),
        ("下下周三", date(2026, 12, 9)),
        ("上周三", date(2026, 11, 18)),
    ],
)
def test_chinese_weekdays(text: str, expected: date) -> None:
    assert day_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("saturday", date(2026, 11, 28)),
        ("Saturday", date(2026, 11, 28)),
        ("sat", date(2026, 11, 28)),
        ("sun", date(2026, 11, 29)),
        ("Monday", date(2026, 11, 30)),
        ("wed", date(2026, 12, 2)),
        ("next wednesday", date(2026, 12, 2)),
        ("next saturday", date(2026, 12, 5)),
        ("last monday", date(2026, 11, 23)),  # gone by, and said to be by the booking
        ("last friday", date(2026, 11, 20)),
        ("Next  Friday", date(2026, 12, 4)),
        ("this friday", date(2026, 11, 27)),
        ("this saturday", date(2026, 11, 28)),
        ("this monday", date(2026, 11, 30)),
    ],
)
def test_english_weekdays(text: str, expected: date) -> None:
    assert day_of(text) == expected


def test_weekdays_when_today_is_saturday() -> None:
    assert day_of("周六", SATURDAY) == SATURDAY
    assert day_of("saturday", SATURDAY) == SATURDAY
    assert day_of("周日", SATURDAY) == date(2026, 11, 29)
    assert day_of("这周日", SATURDAY) == date(2026, 11, 29)
    assert day_of("周五", SATURDAY) == date(2026, 12, 4)
    assert day_of("下周六", SATURDAY) == date(2026, 12, 5)
    assert day_of("下周日", SATURDAY) == date(2026, 12, 6)


def test_next_week_when_today_is_sunday() -> None:
    assert day_of("下周一", SUNDAY) == date(2026, 11, 30)
    assert day_of("周一", SUNDAY) == date(2026, 11, 30)
    assert day_of("本周日", SUNDAY) == SUNDAY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12月5日", date(2026, 12, 5)),
        ("12月5号", date(2026, 12, 5)),
        ("12月5", date(2026, 12, 5)),
        ("12/5", date(2026, 12, 5)),
        ("12-5", date(2026, 12, 5)),
        ("2026-12-05", date(2026, 12, 5)),
        ("2026/12/5", date(2026, 12, 5)),
        ("2026年12月5日", date(2026, 12, 5)),
        ("11月27日", date(2026, 11, 27)),
        # Gone by a few weeks ago: that day, gone by (the booking says so); further back: next
        # year's.
        ("11月26日", date(2026, 11, 26)),
        ("9月1日", date(2026, 9, 1)),
        ("8月20日", date(2027, 8, 20)),
        ("3月1日", date(2027, 3, 1)),
        # An explicit year is taken as written.
        ("2025年3月1日", date(2025, 3, 1)),
        # A day of the month: this month's, else next month's.
        ("28号", date(2026, 11, 28)),
        ("27日", date(2026, 11, 27)),
        ("5号", date(2026, 12, 5)),
        ("5日", date(2026, 12, 5)),
        ("31号", date(2026, 12, 31)),  # November has no 31st
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert day_of(text) == expected


def test_dates_at_the_year_end() -> None:
    december_20 = date(2026, 12, 20)
    assert day_of("1月3日", december_20) == date(2027, 1, 3)
    assert day_of("1/3", december_20) == date(2027, 1, 3)
    assert day_of("12月25日", december_20) == date(2026, 12, 25)
    assert day_of("12月20日", december_20) == december_20
    assert day_of("12月19日", december_20) == date(2026, 12, 19)  # yesterday, not next year
    assert day_of("11/20", december_20) == date(2026, 11, 20)
    assert day_of("5号", december_20) == date(2027, 1, 5)
    assert day_of("25号", december_20) == date(2026, 12, 25)
    new_years_eve = date(2026, 12, 31)
    assert day_of("明天", new_years_eve) == date(2027, 1, 1)
    assert day_of("下周一", new_years_eve) == date(2027, 1, 4)
    assert day_of("周六", new_years_eve) == date(2027, 1, 2)


@pytest.mark.parametrize(
    "text", ["2月30日", "2026-02-30", "13月1日", "0月5日", "12月32日", "2026年4月31日", "40号"]
)
def test_impossible_dates_give_no_day(text: str) -> None:
    assert parse_when(text, FRIDAY) == NOTHING


def test_leap_days() -> None:
    assert day_of("2月29日", date(2027, 1, 10)) is None
    assert day_of("2月29日", date(2027, 3, 1)) is None  # a day ago, and 2027 had none
    assert day_of("2月29日", date(2027, 6, 1)) == date(2028, 2, 29)
    assert day_of("2月29日", date(2027, 12, 1)) == date(2028, 2, 29)
    assert day_of("29号", date(2028, 2, 10)) == date(2028, 2, 29)
    assert day_of("30号", date(2027, 1, 31)) is None  # 30 Jan gone, no 30 Feb


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("十二月五日", date(2026, 12, 5)),
        ("十二月五号", date(2026, 12, 5)),
        ("一月三日", date(2027, 1, 3)),
        ("十一月二十八日", date(2026, 11, 28)),
        ("十二月三十一号", date(2026, 12, 31)),
        ("十二月十一日", date(2026, 12, 11)),
        ("二十号", date(2026, 12, 20)),
        ("三十号", date(2026, 11, 30)),
    ],
)
def test_chinese_numeral_dates(text: str, expected: date) -> None:
    assert day_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9点", time(9, 0)),
        ("9点半", time(9, 30)),
        ("9点钟", time(9, 0)),
        ("9点15分", time(9, 15)),
        ("9时30分", time(9, 30)),
        ("9:30", time(9, 30)),
        ("09:30", time(9, 30)),
        ("10：30", time(10, 30)),
        ("14点", time(14, 0)),
        ("14:00", time(14, 0)),
        ("九点", time(9, 0)),
        ("九点半", time(9, 30)),
        ("十点", time(10, 0)),
        ("十点一刻", time(10, 15)),
        ("十点三刻", time(10, 45)),
        ("十点零五", time(10, 5)),
        ("十一点", time(11, 0)),
        ("十二点", time(12, 0)),
        ("十九点", time(19, 0)),
        ("二十点半", time(20, 30)),
        ("上午10点", time(10, 0)),
        ("早上八点", time(8, 0)),
        ("下午3点", time(15, 0)),
        ("下午2点", time(14, 0)),
        ("下午两点", time(14, 0)),
        ("下午两点半", time(14, 30)),
        ("下午14点", time(14, 0)),
        ("晚上7点", time(19, 0)),
        ("中午12点", time(12, 0)),
        ("中午1点", time(13, 0)),
        ("2pm", time(14, 0)),
        ("2 PM", time(14, 0)),
        ("10am", time(10, 0)),
        ("10:30am", time(10, 30)),
        ("10:30 a.m.", time(10, 30)),
        ("12pm", time(12, 0)),
        ("12am", time(0, 0)),
    ],
)
def test_times(text: str, expected: time) -> None:
    assert time_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # No part of day named: hours 1-6 are taken as office-hours afternoon.
        ("3点", time(15, 0)),
        ("1点半", time(13, 30)),
        ("两点", time(14, 0)),
        ("6点", time(18, 0)),
        ("3:30", time(15, 30)),
        ("7点", time(7, 0)),
        ("12点", time(12, 0)),
        # Named as morning, or written zero-padded, they stay as they are.
        ("上午3点", time(3, 0)),
        ("03:00", time(3, 0)),
    ],
)
def test_office_hours_rule(text: str, expected: time) -> None:
    assert time_of(text) == expected


@pytest.mark.parametrize("text", ["25点", "24:00", "9:75", "13pm", "0am"])
def test_impossible_times_give_no_time(text: str) -> None:
    assert time_of(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("上午", MORNING),
        ("早上", MORNING),
        ("morning", MORNING),
        ("下午", AFTERNOON),
        ("Afternoon", AFTERNOON),
        ("晚上", EVENING),
        ("evening", EVENING),
        ("10am", MORNING),
        ("2pm", AFTERNOON),
    ],
)
def test_parts_of_day(text: str, expected: DayPart) -> None:
    assert parse_when(text, FRIDAY).part is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("明天上午", WhenAsked(date(2026, 11, 28), MORNING, None)),
        ("周日下午2点", WhenAsked(date(2026, 11, 29), AFTERNOON, time(14, 0))),
        ("我想约周六上午办社保卡补办", WhenAsked(date(2026, 11, 28), MORNING, None)),
        ("12月5日上午九点半", WhenAsked(date(2026, 12, 5), MORNING, time(9, 30))),
        ("下周三下午两点可以吗？", WhenAsked(date(2026, 12, 2), AFTERNOON, time(14, 0))),
        ("今晚7点", WhenAsked(date(2026, 11, 27), EVENING, time(19, 0))),
        ("明早九点", WhenAsked(date(2026, 11, 28), MORNING, time(9, 0))),
        ("2026-12-05 10:30", WhenAsked(date(2026, 12, 5), None, time(10, 30))),
        (
            "Can I come next Wednesday at 10:30am?",
            WhenAsked(date(2026, 12, 2), MORNING, time(10, 30)),
        ),
        ("tomorrow afternoon", WhenAsked(date(2026, 11, 28), AFTERNOON, None)),
        ("sat 10am", WhenAsked(date(2026, 11, 28), MORNING, time(10, 0))),
        ("我住5号楼，明天下午3点来", WhenAsked(date(2026, 11, 28), AFTERNOON, time(15, 0))),
        ("能早一点吗，周一9点", WhenAsked(date(2026, 11, 30), None, time(9, 0))),
        ("晚上周日", WhenAsked(date(2026, 11, 29), EVENING, None)),
        # 一下 is a particle, not 下周 (found trying the chat: booked a week late)
        ("帮我约一下周六上午办社保卡", WhenAsked(date(2026, 11, 28), MORNING, None)),
        ("我看一下周三行不行", WhenAsked(date(2026, 12, 2), None, None)),
        ("看一下星期六", WhenAsked(date(2026, 11, 28), None, None)),
        ("查一下下周三", WhenAsked(date(2026, 12, 2), None, None)),
        ("问一下下下周三", WhenAsked(date(2026, 12, 9), None, None)),
    ],
)
def test_whole_messages(text: str, expected: WhenAsked) -> None:
    assert parse_when(text, FRIDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("１２月５日", WhenAsked(date(2026, 12, 5), None, None)),
        ("１２／５", WhenAsked(date(2026, 12, 5), None, None)),
        ("周日　下午　２点", WhenAsked(date(2026, 11, 29), AFTERNOON, time(14, 0))),
        (" 12 月 5 日 上午 9 点 半 ", WhenAsked(date(2026, 12, 5), MORNING, time(9, 30))),
        ("ＴＯＭＯＲＲＯＷ　２ＰＭ", WhenAsked(date(2026, 11, 28), AFTERNOON, time(14, 0))),
        ("NEXT\tWEDNESDAY", WhenAsked(date(2026, 12, 2), None, None)),
    ],
)
def test_full_width_case_and_spaces_are_folded(text: str, expected: WhenAsked) -> None:
    assert parse_when(text, FRIDAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "你好，我想咨询一下社保卡",
        "hello",
        "能快一点吗",
        "有一点儿问题",
        "我住5号楼3单元",
        "坐2号线过来",
        "请在3日内办理",
        "需要1-2天",
        "下周",
        "12月",
        "I am sure it's a sunny day",
        "wedding",
    ],
)
def test_nothing_recognisable(text: str) -> None:
    assert parse_when(text, FRIDAY) == NOTHING


@pytest.mark.parametrize(
    "text",
    [
        "",
        "明" * 10_000,
        "9" * 10_000,
        "点" * 10_000,
        "12/" * 5_000,
        "😀🎉🏠" * 100,
        "9999年99月99日",
        "0000-00-00",
        "99:99",
        "'; DROP TABLE bookings; --",
        "1 OR 1=1; SELECT * FROM residents WHERE '' = ''",
        "\x00\ud800\ufeff\u202e",
        "﷽" * 300,
        "一二三四五六七八九十点" * 50,
    ],
)
def test_hostile_input_never_raises(text: str) -> None:
    assert isinstance(parse_when(text, FRIDAY), WhenAsked)


def test_dates_beyond_the_calendar_give_no_day() -> None:
    assert parse_when("明天", date.max) == NOTHING
    assert parse_when("下周一", date.max) == NOTHING
    assert parse_when("1月5日", date.max) == NOTHING
    assert parse_when("last monday", date.min) == NOTHING
    assert parse_when("5号", date.max) == NOTHING
    assert parse_when("上周一", date.min) == NOTHING


def test_only_the_start_of_a_long_message_is_read() -> None:
    assert day_of("明天" + "好" * 10_000) == date(2026, 11, 28)
    assert day_of("好" * 10_000 + "明天") is None


def test_the_answer_is_immutable() -> None:
    asked = parse_when("明天", FRIDAY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        asked.day = None  # type: ignore[misc]


def test_a_holiday_by_name() -> None:
    """An outside walkthrough: "元旦上午10点" kept only the time, and one 确认 booked the next
    day with a free place. A dotted "12.12" stays unread: "3.2栋", "下午3.30" and "9.9折"
    would read as dates."""
    today = date(2026, 12, 7)
    assert parse_when("元旦上午10点预约社保卡补办", today).day == date(2027, 1, 1)
    assert parse_when("new year's day 10am", today).day == date(2027, 1, 1)
    assert parse_when("国庆节", today).day == date(2026, 10, 1)  # gone by, and said to be
    for not_a_date in ("3.5元", "1.5小时", "张国庆来办", "五一路的路灯", "住在3.2栋", "9.9折"):
        assert parse_when(not_a_date, today).day is None, not_a_date
