"""Issue 18 review, item 4: "after work" (傍晚/下班后/after work) is the last hour before the
day's closing time, read from its opening hours rather than a fixed 17:00 (web chat and
WeChat). The clock stands at Friday 27 November 2026; Monday 30 November is a working day."""

from __future__ import annotations

from datetime import time

import pytest
import sqlalchemy as sa
from sqlmodel import col

from bot.app import Linli
from models.services import DayKind, OpeningRule
from tests.conftest import Chat, labels
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

CHANNELS = pytest.mark.parametrize("channel", ["web", "wechat"])
MONDAY = "book:day:ss-card-reissue:20261130"


async def _weekdays_close_at(linli: Linli, closes: time) -> None:
    """The operator changes the centre's weekday closing time."""
    async with linli.sessions() as session, session.begin():
        await session.exec(
            sa.update(OpeningRule)
            .where(
                col(OpeningRule.service_id).is_(None),
                col(OpeningRule.day_kind) == DayKind.WORKDAY,
            )
            .values(closes=closes)
        )


def _times(shown: list[str]) -> list[str]:
    return [label[:5] for label in shown if label[:2].isdigit()]


@CHANNELS
@pytest.mark.parametrize(
    ("closes", "after_work"),
    [(time(17), ["16:00", "16:30"]), (time(17, 30), ["16:30", "17:00"])],
)
async def test_after_work_is_the_last_hour_before_that_days_closing(
    linli: Linli, channel: str, closes: time, after_work: list[str]
) -> None:
    await _weekdays_close_at(linli, closes)
    chat = Chat(linli, user=f"after-work-{channel}-{closes.hour}", channel=channel)
    await chat.press("book:svc:ss-card-reissue")
    await chat.press(MONDAY)
    evening = await chat.send("下班后")
    assert _times(labels(evening[0])) == after_work, evening[0].text
    afternoon = await chat.send("下午")
    assert _times(labels(afternoon[0]))[-2:] == after_work  # the afternoon runs to closing


async def test_a_morning_only_saturday_has_no_after_work_and_offers_the_nearest(
    linli: Linli,
) -> None:
    chat = Chat(linli, user="after-work-saturday")
    await chat.press("book:svc:ss-card-reissue")
    saturday = await chat.send("明天傍晚")  # open 09:00–12:00: 11:00 is not "after work"
    assert "没有可预约的名额" in saturday[0].text, saturday[0].text
    assert _times(labels(saturday[0])) == ["10:30", "11:00", "11:30"]


async def test_after_work_on_wechat_follows_an_earlier_closing(rig: WeChatRig) -> None:
    await _weekdays_close_at(rig.linli, time(16))
    await rig.post(rig.server.text("预约社保卡补办"))
    shown = await rig.post(rig.server.text("下周一傍晚"))
    assert "1. 15:00" in shown["Content"] and "2. 15:30" in shown["Content"], shown["Content"]
    assert "17:00" not in shown["Content"] and "没有可预约" not in shown["Content"]
