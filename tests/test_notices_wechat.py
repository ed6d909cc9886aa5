"""Notices on WeChat (fake platform): a customer-service message inside the 48-hour window, the
configured template outside it, and residents reachable by neither counted as unreachable."""

from __future__ import annotations

from datetime import timedelta

from models.notice_ops import notice_report
from tests.test_notices import grid_of, resident, sending_notice
from tests.test_wechat_outbound import template_rig
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig", "template_rig"]


async def three_followers(rig: WeChatRig) -> None:
    grid = await grid_of(rig.linli, "S027")
    await resident(rig.linli, grid, "oRecent", channel="wechat", seen=timedelta(hours=2))
    await resident(rig.linli, grid, "oOld-1", channel="wechat", seen=timedelta(hours=60))
    await resident(rig.linli, grid, "oOld-2", channel="wechat", seen=timedelta(days=9))


async def deliver(rig: WeChatRig) -> None:
    while await rig.linli.worker.deliver_due():
        pass


async def test_outside_the_window_a_notice_goes_as_the_template(template_rig: WeChatRig) -> None:
    await three_followers(template_rig)
    grid = await grid_of(template_rig.linli, "S027")
    notice, created = await sending_notice(template_rig.linli, grid, "明天停水，请提前储水")
    await deliver(template_rig)
    sent = sorted((m.api, m.touser) for m in template_rig.platform.sent)
    assert created == 3
    assert sent == [("custom", "oRecent"), ("template", "oOld-1"), ("template", "oOld-2")]
    async with template_rig.linli.sessions() as session:
        report = await notice_report(session, notice)
    assert (report.sent, report.unreachable, report.failed) == (3, 0, 0)


async def test_without_a_template_the_old_followers_are_counted_unreachable(
    rig: WeChatRig,
) -> None:
    await three_followers(rig)
    grid = await grid_of(rig.linli, "S027")
    notice, _ = await sending_notice(rig.linli, grid, "明天停水，请提前储水")
    await deliver(rig)
    assert [m.touser for m in rig.platform.sent] == ["oRecent"]
    async with rig.linli.sessions() as session:
        report = await notice_report(session, notice)
    assert (report.sent, report.unreachable, report.pending) == (1, 2, 0)
    assert report.failures["outside the 48-hour window, no template"] == 2
