"""Cases end to end: proxy handling over Telegram, a co-handled grid report, access rules,
and escalation by the scheduler."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from models.cases import Case, CaseEvent, Rating
from models.org import Staff
from scheduler.cases import sweep_case_deadlines
from scheduler.context import JobContext
from tests.conftest import Chat, payloads
from tests.dispatching import dispatch_as_suggested
from tests.telegram_fixtures import TelegramRig, button_data, telegram, telegram_platform
from tests.test_binding import staff_code

__all__ = ["telegram", "telegram_platform"]

REF = re.compile(r"LC-\d{8}-\d{4}")
CLERK_CHAT, RESIDENT_CHAT = 910_021, 920_001


async def staff_id(linli: Linli, code: str) -> int:
    async with linli.sessions() as session:
        return int((await session.exec(select(Staff.id).where(Staff.code == code))).one() or 0)


async def bound_chat(linli: Linli, code: str, user: str) -> Chat:
    person = Chat(linli, user=user)
    assert "绑定成功" in (await person.send(f"绑定 {await staff_code(linli, code)}"))[0].text
    return person


async def open_proxy(chat: Chat) -> str:
    await chat.send("代办")
    categories = await chat.send("帮我母亲办高龄补贴，她腿脚不便")
    assert payloads(categories[0])[0] == "case:cat:ca-elderly-allowance"  # suggested first
    assert "地址" in (await chat.press("case:cat:ca-elderly-allowance"))[0].text
    assert "什么时间" in (await chat.send("幸福小区3号楼201"))[0].text
    assert "手机号" in (await chat.send("工作日上午"))[-1].text  # consent first (issue 21)
    assert "身份证号" in (await chat.send("不同意"))[-1].text
    opened = await chat.send("不同意")
    found = REF.search(opened[-1].text)
    assert found is not None, opened[-1].text
    return found.group()


async def test_resident_to_resolution_over_telegram(telegram: TelegramRig) -> None:
    linli = telegram.linli
    code = await staff_code(linli, "S021")  # 民政科
    assert "绑定成功" in (await telegram.say(CLERK_CHAT, f"/bind {code}"))[0].text
    await telegram.say(RESIDENT_CHAT, "/start")
    await telegram.say(RESIDENT_CHAT, "代办")
    categories = await telegram.say(RESIDENT_CHAT, "帮我母亲办高龄补贴，她腿脚不便")
    assert button_data(categories[0])[0] == "case:cat:ca-elderly-allowance"
    await telegram.press(RESIDENT_CHAT, "case:cat:ca-elderly-allowance")
    await telegram.say(RESIDENT_CHAT, "幸福小区3号楼201")
    await telegram.say(RESIDENT_CHAT, "工作日上午")
    await telegram.say(RESIDENT_CHAT, "不同意")  # no phone number (consent first, issue 21)
    sent = await telegram.say(RESIDENT_CHAT, "不同意")  # nor the ID number
    opened = next(m for m in sent if m.chat_id == RESIDENT_CHAT and REF.search(m.text))
    ref = REF.search(opened.text)
    assert ref is not None
    alert = [m for m in sent if m.chat_id == CLERK_CHAT]
    assert alert and ref.group() in alert[0].text
    accept = button_data(alert[0])[0]
    assert accept.startswith("case:accept:")
    case_id = accept.rsplit(":", 1)[1]

    after_accept = await telegram.press(CLERK_CHAT, accept)
    told = [m.text for m in after_accept if m.chat_id == RESIDENT_CHAT]
    assert told and "已由民政科受理" in told[0]
    for step, words in (
        ("collected", "材料已收取"),
        (
            "ready_for_pickup",
            "6 号窗口取件（带上身份证；工作日 08:00–18:00，周末和节假日 09:00–12:00）",
        ),
    ):
        messages = await telegram.press(CLERK_CHAT, f"case:step:{case_id}:{step}")
        assert any(words in m.text for m in messages if m.chat_id == RESIDENT_CHAT)
    resolved = await telegram.press(CLERK_CHAT, f"case:step:{case_id}:resolved")
    notice = next(m for m in resolved if m.chat_id == RESIDENT_CHAT)
    assert "已办结" in notice.text
    assert button_data(notice) == [
        f"case:confirm:{case_id}",
        f"case:reopen:{case_id}",
        f"rate:case:{case_id}",
    ]

    progress = await telegram.say(RESIDENT_CHAT, ref.group())
    assert "已办结，待确认" in progress[0].text and "民政科" in progress[0].text
    confirmed = await telegram.press(RESIDENT_CHAT, f"case:confirm:{case_id}")
    assert "已办结归档" in confirmed[0].text
    levels = await telegram.press(RESIDENT_CHAT, f"rate:case:{case_id}")
    assert len(button_data(levels[0])) == 6
    thanks = await telegram.press(RESIDENT_CHAT, button_data(levels[0])[0])
    assert "很满意" in thanks[0].text
    async with linli.sessions() as session:
        [rating] = (await session.exec(select(Rating))).all()
        case = await session.get(Case, int(case_id))
        kinds = [
            e.kind
            for e in (
                await session.exec(
                    select(CaseEvent)
                    .where(CaseEvent.case_id == int(case_id))
                    .order_by(col(CaseEvent.id))
                )
            ).all()
        ]
    assert rating.staff_id == await staff_id(linli, "S021")
    assert (
        case is not None and case.status == "closed" and case.assignee_staff_id == rating.staff_id
    )
    assert kinds == [
        "received",
        "accepted",
        "collected",
        "ready_for_pickup",
        "resolved",
        "confirmed",
    ]


async def test_a_grid_report_closes_only_when_both_departments_are_done(linli: Linli) -> None:
    leader = await bound_chat(linli, "S027", "grid-leader")
    health = await bound_chat(linli, "S025", "health-officer")
    masswork = await bound_chat(linli, "S015", "masswork-officer")
    await leader.send("上报")
    categories = await leader.send("3号楼后面垃圾堆了一周没人清")
    assert "case:grid:sanitation" in payloads(categories[0])
    reported = await leader.press("case:grid:sanitation")
    ref = REF.search(reported[0].text)
    assert ref is not None
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == ref.group()))).one()
    assert case.kind == "grid_report" and case.grid_id is not None
    await dispatch_as_suggested(linli, case.id or 0)  # 街道呼叫: health leads, mass work helps
    assert "已受理" in (await health.press(f"case:accept:{case.id}"))[0].text
    refused = await health.press(f"case:step:{case.id}:resolved")
    assert "协同部门还没有全部完成" in refused[0].text
    viewed = await masswork.press(f"case:view:{ref.group()}")
    assert f"case:co:{case.id}" in payloads(viewed[0])
    assert "协办工作完成" in (await masswork.press(f"case:co:{case.id}"))[0].text
    assert "已办结" in (await health.press(f"case:step:{case.id}:resolved"))[0].text


async def test_access_rules_on_every_forbidden_path(linli: Linli) -> None:
    owner = Chat(linli, user="owner")
    ref = await open_proxy(owner)
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == ref))).one()
    stranger = Chat(linli, user="stranger")
    await stranger.send("我的")
    assert "没有找到" in (await stranger.send(ref))[0].text
    assert "没有找到" in (await stranger.press(f"case:view:{ref}"))[0].text
    # Another's case is no "moved on" case: the button says it is not on this account.
    for payload in (f"case:confirm:{case.id}", f"case:reopen:{case.id}", f"case:answer:{case.id}"):
        refused = (await stranger.press(payload))[0].text
        assert "不属于您的账号" in refused and "状态已变化" not in refused
    rated = (await stranger.press(f"rate:case:{case.id}:very_satisfied"))[0].text
    assert "不能评价" in rated and "状态已变化" not in rated
    # The owner's own case, not yet resolved, has truly not reached that step.
    assert "状态已变化" in (await owner.press(f"case:confirm:{case.id}"))[0].text
    own = (await stranger.send("我的案件"))[0].text  # staff's word: a resident's own cases
    assert ref not in own and "您目前没有在办的事项" in own
    crafted = await stranger.press(f"case:accept:{case.id}")
    assert "已受理" not in crafted[0].text
    other_department = await bound_chat(linli, "S025", "health")  # not 民政科
    assert "没有找到" in (await other_department.send(ref))[0].text
    assert "不在您的办理范围" in (await other_department.press(f"case:accept:{case.id}"))[0].text
    other_grid = await bound_chat(linli, "S028", "leader-grid-2")
    assert "没有找到" in (await other_grid.send(ref))[0].text
    supervisor = await bound_chat(linli, "S037", "hall-supervisor")
    assert ref in (await supervisor.send(ref))[0].text
    assert ref in (await owner.send("进度"))[0].text
    first = await bound_chat(linli, "S021", "civil-1")
    second = await bound_chat(linli, "S022", "civil-2")
    assert "已受理" in (await first.press(f"case:accept:{case.id}"))[0].text
    assert "已被同事受理" in (await second.press(f"case:accept:{case.id}"))[0].text


async def test_the_scheduler_escalates_an_unaccepted_and_then_overdue_case(
    linli: Linli, clock: ManualClock
) -> None:
    await bound_chat(linli, "S038", "civil-supervisor")
    await open_proxy(Chat(linli, user="waiting-resident"))
    ctx = JobContext(linli.engine, linli.sessions, clock, linli.settings)
    assert await sweep_case_deadlines(ctx) == 0
    clock.advance(timedelta(days=3))  # Monday: one working day has passed
    assert await sweep_case_deadlines(ctx) == 2  # 推诿 risk, to both supervisors
    clock.advance(timedelta(days=7))  # past the five working days
    assert await sweep_case_deadlines(ctx) == 2  # overdue, to both supervisors
    async with linli.sessions() as session:
        kinds = {e.kind for e in (await session.exec(select(CaseEvent))).all()}
    assert {"unaccepted", "overdue"} <= kinds


async def test_a_complaint_goes_to_its_department_with_a_number(linli: Linli) -> None:
    officer = await bound_chat(linli, "S015", "masswork-duty")  # 群众工作科
    resident = Chat(linli, user="complainer")
    assert "投诉" in (await resident.send("投诉"))[0].text
    opened = await resident.send("小区门口的早餐摊每天占道，电动车过不去")
    ref = REF.search(opened[0].text)
    assert ref is not None
    mine = await officer.send("我的案件")
    assert ref.group() in mine[0].text
    dispute = await resident.send("纠纷 楼上漏水到我家，协商不成")
    assert REF.search(dispute[0].text) is not None


@pytest.mark.parametrize("channel", ["web", "wechat"])
async def test_a_reference_typed_in_lower_case_or_without_hyphens_finds_the_case(
    linli: Linli, channel: str
) -> None:
    owner = Chat(linli, user="owner-typed-ref", channel=channel)
    ref = await open_proxy(owner)
    for typed in (ref.lower(), ref.replace("-", ""), ref.replace("-", " ").lower()):
        shown = await owner.send(typed)
        assert ref in shown[0].text and "没有找到" not in shown[0].text, (typed, shown[0].text)
    stranger = Chat(linli, user="stranger-typed-ref")
    await stranger.send("我的")
    assert "没有找到" in (await stranger.send(ref.lower()))[0].text  # still only its owner's


async def test_only_proxy_handling_has_documents_and_pick_up(linli: Linli) -> None:
    leader = await bound_chat(linli, "S027", "grid-leader-steps")
    masswork = await bound_chat(linli, "S015", "masswork-steps")
    await leader.send("投诉：楼下夜市噪音到凌晨")
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).order_by(col(Case.id).desc()))).first()
    assert case is not None
    accepted = await masswork.press(f"case:accept:{case.id}")
    shown = payloads(accepted[0])
    assert f"case:step:{case.id}:resolved" in shown
    assert not any(p.endswith((":collected", ":ready_for_pickup")) for p in shown)
    refused = await masswork.press(f"case:step:{case.id}:ready_for_pickup")  # a crafted button
    assert "不适用" in refused[0].text


async def test_a_new_cases_timeline_says_registered_until_someone_accepts_it(linli: Linli) -> None:
    """A walkthrough: the first step of every timeline read "已受理，转…" while the case still
    waited to be accepted (待受理)."""
    owner = Chat(linli, user="timeline-owner")
    ref = await open_proxy(owner)
    before = (await owner.send(ref))[0].text
    assert "已登记，转民政科" in before and "待受理" in before and "已受理" not in before
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == ref))).one()
    clerk = await bound_chat(linli, "S021", "timeline-clerk")
    await clerk.press(f"case:accept:{case.id}")
    after = (await owner.send(ref))[0].text
    assert "受理，负责到底" in after and "办理中" in after
