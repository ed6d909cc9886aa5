"""Issue 18, item 6: a complaint that names a staff member goes to that person's supervisor,
never to that person (nor to their colleagues), on the web chat and on WeChat."""

from __future__ import annotations

from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from models.cases import CONCERNS, Case, CaseKind
from tests.conftest import Chat
from tests.test_rating import (
    CODES,
    FRIDAY_AFTERNOON,
    alerts_to,
    bound,
    bound_on_wechat,
    post_as,
    staff_id,
)
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name


async def complaints(linli: Linli) -> list[Case]:
    async with linli.sessions() as session:
        stmt = select(Case).where(Case.kind == CaseKind.COMPLAINT).order_by(col(Case.id))
        return list((await session.exec(stmt)).all())


async def test_a_complaint_naming_a_clerk_goes_to_her_supervisor_only(
    linli: Linli, clock: ManualClock
) -> None:
    clock.set(FRIDAY_AFTERNOON)
    supervisor = await bound(linli, "S041", "ss-boss")
    clerk = await bound(linli, "S001", "clerk-wangli")  # 王丽, social security, window 4
    colleague = await bound(linli, "S002", "clerk-colleague")
    resident = Chat(linli, user="complainer-0001")
    await resident.send("投诉")
    opened = await resident.send("今天下午4号窗口的王丽态度很差，问两句就不耐烦")
    [case] = await complaints(linli)
    assert case.ref in opened[0].text
    assert case.assignee_staff_id == await staff_id(linli, "S041")
    assert case.details[CONCERNS] == await staff_id(linli, "S001")
    [alert] = await alerts_to(linli, "S041")
    assert "【投诉】" in alert and "王丽" in alert and "不耐烦" in alert
    assert await alerts_to(linli, "S001") == []
    assert await alerts_to(linli, "S002") == []  # nor her colleagues
    assert case.ref in (await supervisor.press(f"case:view:{case.ref}"))[0].text
    for staff in (clerk, colleague):
        assert "没有找到" in (await staff.press(f"case:view:{case.ref}"))[0].text
        assert "没有找到" in (await staff.send(case.ref))[0].text


async def test_a_complaint_naming_nobody_stays_with_the_liaison_office(linli: Linli) -> None:
    resident = Chat(linli, user="complainer-0002")
    await resident.send("投诉 楼下广场舞音响太吵，晚上十点还没停")
    [case] = await complaints(linli)
    assert case.assignee_staff_id is None and CONCERNS not in case.details
    assert await alerts_to(linli, "S041") == []


async def test_on_wechat_a_complaint_about_a_clerk_reaches_her_supervisor_only(
    rig: WeChatRig, clock: ManualClock
) -> None:
    clock.set(FRIDAY_AFTERNOON)
    staff = await bound_on_wechat(rig, CODES)
    await rig.post(rig.server.text("投诉"))
    opened = await rig.post(rig.server.text("社保窗口王丽让我白跑了三趟"))
    [case] = await complaints(rig.linli)
    assert case.ref in opened["Content"]
    while await rig.linli.worker.deliver_due():
        pass
    to_boss = [m.text or "" for m in rig.platform.sent if m.touser == staff["S041"].openid]
    assert any("【投诉】" in text and "白跑了三趟" in text for text in to_boss)
    assert not [m for m in rig.platform.sent if m.touser == staff["S001"].openid]
    assert "没有找到" in await post_as(rig, staff["S001"], case.ref, 32_100)


async def test_a_complaint_written_after_a_colon_is_opened_at_once(linli: Linli) -> None:
    for user, words in (
        ("colon-0001", "投诉：楼道灯坏了一个月没人修"),
        ("colon-0002", "投诉:电梯又停了"),
    ):
        opened = await Chat(linli, user=user).send(words)
        assert "LC-" in opened[0].text, opened[0].text
    summaries = [case.summary for case in await complaints(linli)]
    assert summaries == ["楼道灯坏了一个月没人修", "电梯又停了"]


async def test_reopened_or_transferred_it_still_reaches_only_who_answers_it(
    rig: WeChatRig, clock: ManualClock
) -> None:
    clock.set(FRIDAY_AFTERNOON)
    linli = rig.linli
    await bound_on_wechat(rig, ("S041", "S001", "S002", "S015", "S016", "S039"))
    boss = await bound(linli, "S041", "boss-acting-on-web")
    resident = Chat(linli, user="complainer-0003")
    await resident.send("投诉：社保窗口王丽把我的材料弄丢了")
    [case] = await complaints(linli)
    await boss.press(f"case:step:{case.id}:resolved")
    assert "LC-" in (await resident.press(f"case:reopen:{case.id}"))[0].text
    assert len(await alerts_to(linli, "S041")) == 2  # the complaint, then its reopening
    await boss.press(f"case:transfer:{case.id}")
    await boss.press(f"case:to:{case.id}:masswork")
    await boss.send("请群众工作科督办")
    assert len(await alerts_to(linli, "S039")) == 1  # who answers for 群众工作科
    for code in ("S001", "S002", "S015", "S016"):  # her, her colleague, masswork's clerks
        assert await alerts_to(linli, code) == [], code


async def consultations(linli: Linli) -> list[Case]:
    async with linli.sessions() as session:
        stmt = select(Case).where(Case.kind == CaseKind.CONSULTATION)
        return list((await session.exec(stmt)).all())


async def test_a_rating_comment_about_staff_is_a_comment_not_a_call_for_staff(
    rig: WeChatRig, clock: ManualClock
) -> None:
    clock.set(FRIDAY_AFTERNOON)
    await bound_on_wechat(rig, ("S041", "S001", "S002"))
    resident = Chat(rig.linli, user="rater-about-staff")
    await resident.send("评价")
    await resident.send("评价窗口服务")
    await resident.send("社会保障科")
    await resident.send("态度差")
    kept = await resident.send("那个工作人员一直玩手机，不理人")
    assert "回访负责人" in kept[0].text, kept[0].text
    assert await consultations(rig.linli) == []  # nobody was called to chat
    assert await alerts_to(rig.linli, "S001") == [] and await alerts_to(rig.linli, "S002") == []
    assert any("一直玩手机" in text for text in await alerts_to(rig.linli, "S041"))


async def test_i_want_to_complain_about_staff_asks_what_happened_then_opens_it(
    rig: WeChatRig, clock: ManualClock
) -> None:
    clock.set(FRIDAY_AFTERNOON)
    await bound_on_wechat(rig, ("S041", "S001"))
    asked = (await rig.post(rig.server.text("我要投诉窗口工作人员")))["Content"]
    assert "请说说您要投诉的事情" in asked, asked
    opened = (await rig.post(rig.server.text("今天下午4号窗口的王丽态度很差")))["Content"]
    [case] = await complaints(rig.linli)
    assert case.ref in opened and "工作人员" in case.summary and "王丽" in case.summary
    assert case.assignee_staff_id == await staff_id(rig.linli, "S041")
    assert await consultations(rig.linli) == [] and await alerts_to(rig.linli, "S001") == []


async def test_asking_how_to_complain_is_answered_not_opened(linli: Linli) -> None:
    answer = await Chat(linli, user="how-to-complain").send("怎么投诉？")
    assert await complaints(linli) == [], answer[0].text
