"""A case's deadlines fall within the weekday opening hours: one filed at 23:30 is due by closing
time, not at 23:30 at night, when its escalation would wake a clerk."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from bot.clock import ManualClock
from models.base import SHANGHAI
from models.calendar import within_opening
from models.services import DayKind, OpeningRule
from tests.talk import Talk, open_rig, platform, talk
from tests.test_case_withdrawal import _case, _file_proxy

__all__ = ["open_rig", "platform", "talk"]  # fixtures this module uses

HOURS = OpeningRule(day_kind=DayKind.WORKDAY, opens=time(8), closes=time(18))


@pytest.mark.parametrize(
    ("at", "moved_to"),
    [
        (time(23, 30), time(18)),
        (time(18, 0), time(18)),
        (time(18, 1), time(18)),
        (time(6, 15), time(8)),
        (time(0, 0), time(8)),
        (time(10, 7, 30), time(10, 7, 30)),  # within the hours: untouched
    ],
)
def test_a_moment_is_moved_into_the_opening_hours(at: time, moved_to: time) -> None:
    moment = datetime.combine(datetime(2026, 12, 1).date(), at, tzinfo=SHANGHAI)
    moved = within_opening(moment, HOURS)
    assert moved.date() == moment.date() and moved.timetz().replace(tzinfo=None) == moved_to
    assert within_opening(moment, None) == moment  # no hours known: as counted


async def test_a_case_filed_at_night_is_due_by_closing_time(talk: Talk, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=SHANGHAI))  # Monday night
    ref = await _file_proxy(talk)
    shown = talk.seen[-1]
    case = await _case(talk.linli, ref)
    assert case.first_reply_due_at is not None and case.due_at is not None
    for due in (case.first_reply_due_at, case.due_at):
        local = due.astimezone(SHANGHAI)
        assert local.time() == time(18), local
        assert local.weekday() < 5
    assert "18:00" in shown and "23:30" not in shown  # what the resident is told


async def test_a_case_filed_in_office_hours_keeps_its_time_of_day(
    talk: Talk, clock: ManualClock
) -> None:
    ref = await _file_proxy(talk)  # the clock stands at Friday 10:00
    case = await _case(talk.linli, ref)
    assert case.due_at is not None and case.due_at.astimezone(SHANGHAI).time() == time(10)
