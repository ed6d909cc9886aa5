"""A year whose holiday schedule the State Council has not published: the holidays fixed by date
(元旦, 劳动节, 国庆) are holidays all the same, and a day booked in it says it may still change."""

from __future__ import annotations

from datetime import date, datetime

from bot.app import Linli
from bot.clock import ManualClock
from bot.i18n import t
from models.base import SHANGHAI
from models.calendar import classify_day
from models.services import DayKind
from scheduler.roster import keep_roster_ahead
from tests.conftest import Chat
from tests.test_scheduler import job_context


def test_fixed_date_holidays_are_holidays_before_the_schedule_is_out() -> None:
    new_year = classify_day(date(2031, 1, 1), {})  # a Wednesday, years past the package
    assert (new_year.kind, new_year.holiday, new_year.published) == (
        DayKind.HOLIDAY,
        "new_years_day",
        False,
    )
    assert classify_day(date(2031, 5, 2), {}).holiday == "labour_day"
    assert classify_day(date(2031, 10, 3), {}).holiday == "national_day"
    assert classify_day(date(2031, 1, 2), {}).kind is DayKind.WORKDAY  # a plain Thursday
    assert classify_day(date(2031, 1, 4), {}).kind is DayKind.HOLIDAY  # a Saturday


async def test_a_day_booked_in_an_unpublished_year_says_it_may_change(
    linli: Linli, clock: ManualClock
) -> None:
    """A weekday of 2027 was offered with no word that the year's holidays are not out."""
    clock.set(datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI))
    await keep_roster_ahead(job_context(linli))  # the roster rolled on into January
    chat = Chat(linli, user="new-year-booker")
    await chat.send("预约社保卡补办")
    note = t("zh-CN", "booking.unpublished_open", year=2027)
    monday = (await chat.send("1月4日"))[0]
    assert note in monday.text, monday.text
    assert note not in (await chat.send("12月30日"))[0].text  # 2026 is published
