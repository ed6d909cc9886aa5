"""Issue 20, item 2: the dispatch step (街道呼叫). A grid report waits for the street's
dispatcher, who calls a lead and a co-handling department; each answers the call or returns it
with a reason; the joint work closes only when every department still on it is done; the
resident and the reporting grid worker hear of every step; a silent department is escalated."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from bot.i18n import t
from models.case_ops import case_catalogue
from models.cases import Case, CaseEvent, CaseHandler, CaseKind, CaseStatus
from models.dispatch import dispatch_queue, return_call
from models.messaging import OutboxMessage
from models.org import Staff
from models.policy import may_accept_case, may_transfer_case
from scheduler.cases import sweep_case_deadlines
from scheduler.context import JobContext
from tests.conftest import Chat, payloads
from tests.dispatching import dispatch
from tests.test_cases import bound_chat, open_proxy

REF = re.compile(r"LC-\d{8}-\d{4}")


async def _staff(linli: Linli, code: str) -> Staff:
    async with linli.sessions() as session:
        return (await session.exec(select(Staff).where(Staff.code == code))).one()


async def _report(linli: Linli) -> tuple[Chat, Case]:
    """Grid leader S027 reports rubbish left a week (环境卫生: health leads, mass work helps)."""
    leader = await bound_chat(linli, "S027", "grid-leader")
    await leader.send("上报")
    await leader.send("3号楼后面垃圾堆了一周没人清")
    reported = await leader.press("case:grid:sanitation")
    assert reported[0].text.startswith(t("zh-CN", "dispatch.reported", ref="", category="")[:3])
    found = REF.search(reported[0].text)
    assert found is not None
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == found.group()))).one()
    return leader, case


async def _outbox(linli: Linli, **who: int) -> str:
    """Everything queued for one person, as one text (message keys and values)."""
    field, number = next(iter(who.items()))
    async with linli.sessions() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    return "\n".join(
        json.dumps(r.payload, ensure_ascii=False) for r in rows if getattr(r, field) == number
    )


async def test_report_waits_for_the_dispatcher_and_is_not_sent_to_departments(
    linli: Linli,
) -> None:
    _leader, case = await _report(linli)
    assert (case.status, case.department_id, case.kind) == (
        CaseStatus.NEW,
        None,
        CaseKind.GRID_REPORT,
    )
    async with linli.sessions() as session:
        assert [c.id for c in await dispatch_queue(session)] == [case.id]
        assert not (await session.exec(select(CaseHandler))).all()
    dispatcher = await _staff(linli, "S042")
    assert "dispatch.alert_new" in await _outbox(linli, staff_id=dispatcher.id or 0)
    # The category's departments are the dispatcher's suggestion, not a routing.
    suggested = case_catalogue(linli.settings.data_dir).category(CaseKind.GRID_REPORT, "sanitation")
    assert suggested is not None and suggested.department == "health"


async def test_the_whole_chain_across_two_departments(linli: Linli) -> None:
    leader, case = await _report(linli)
    reporter = await _staff(linli, "S027")
    health = await bound_chat(linli, "S025", "health-officer")
    masswork = await bound_chat(linli, "S015", "masswork-officer")
    await dispatch(linli, case.id or 0, "health", "masswork", days=3)
    viewed = await masswork.press(f"case:view:{case.ref}")
    assert f"case:coaccept:{case.id}" in payloads(viewed[0])
    assert f"case:return:{case.id}" in payloads(viewed[0])
    assert "协办：" in viewed[0].text and "牵头：" in viewed[0].text  # who handles which part
    accepted = await masswork.press(f"case:coaccept:{case.id}")
    assert accepted[0].text == t("zh-CN", "dispatch.co_accepted", ref=case.ref)
    assert "已受理" in (await health.press(f"case:accept:{case.id}"))[0].text
    refused = await health.press(f"case:step:{case.id}:resolved")
    assert "协同部门还没有全部完成" in refused[0].text
    assert "协办工作完成" in (await masswork.press(f"case:co:{case.id}"))[0].text
    assert "已办结" in (await health.press(f"case:step:{case.id}:resolved"))[0].text
    told = await _outbox(linli, staff_id=reporter.id or 0)
    steps = ("dispatch.news_dispatched", "dispatch.news_co_accepted", "dispatch.reporter_accepted")
    for key in (*steps, "dispatch.news_co_done", "dispatch.reporter_resolved"):
        assert key in told, key
    assert leader is not None  # the grid leader's chat stays usable throughout


async def test_a_return_needs_a_reason_and_goes_back_to_the_dispatcher(linli: Linli) -> None:
    _leader, case = await _report(linli)
    await dispatch(linli, case.id or 0, "health", "masswork")
    health = await bound_chat(linli, "S025", "health-officer")
    asked = await health.press(f"case:return:{case.id}")
    assert asked[0].text == t("zh-CN", "dispatch.return_prompt", ref=case.ref)
    again = await health.send("…")  # no words: asked again, nothing returned
    assert again[0].text == t("zh-CN", "cases.refused_no_reason")
    done = await health.send("这是物业管理范围，应由城管牵头")
    assert done[0].text == t("zh-CN", "dispatch.returned", ref=case.ref)
    async with linli.sessions() as session:
        back = await session.get(Case, case.id)
        assert back is not None and (back.status, back.department_id) == (CaseStatus.NEW, None)
        assert [c.id for c in await dispatch_queue(session)] == [case.id]
    dispatcher = await _staff(linli, "S042")
    assert "dispatch.alert_returned" in await _outbox(linli, staff_id=dispatcher.id or 0)


async def test_a_return_without_words_is_refused_by_the_domain(linli: Linli) -> None:
    _leader, case = await _report(linli)
    await dispatch(linli, case.id or 0, "health")
    officer = await _staff(linli, "S025")
    async with linli.sessions() as session, session.begin():
        fresh = await session.get(Case, case.id)
        assert fresh is not None
        refusal = await return_call(session, fresh, officer, "  \n ", linli.clock.now())
        assert refusal is not None and refusal.value == "no_reason"


async def test_other_departments_and_residents_cannot_answer_a_call(linli: Linli) -> None:
    _leader, case = await _report(linli)
    await dispatch(linli, case.id or 0, "health", "masswork")
    outsider = await bound_chat(linli, "S021", "civil-affairs")  # 民政科: not called
    for payload in (f"case:coaccept:{case.id}", f"case:return:{case.id}"):
        assert (await outsider.press(payload))[0].text == t("zh-CN", "cases.not_yours")
    resident = Chat(linli, user="a-resident")
    await resident.send("你好")
    assert "已接受" not in (await resident.press(f"case:coaccept:{case.id}"))[0].text


async def test_each_silent_co_handler_is_escalated_once(linli: Linli, clock: ManualClock) -> None:
    _leader, case = await _report(linli)
    await dispatch(linli, case.id or 0, "health", "masswork", "civil_affairs", days=10)
    clock.advance(timedelta(days=8))
    ctx = JobContext(linli.engine, linli.sessions, linli.clock, linli.settings)
    await sweep_case_deadlines(ctx)
    await sweep_case_deadlines(ctx)  # a second sweep (another instance) adds nothing
    async with linli.sessions() as session:
        kinds = [
            e.kind
            for e in (
                await session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))
            ).all()
        ]
    assert kinds.count("call_unanswered") == 2, kinds  # one per silent department


async def test_nobody_accepts_or_hands_on_a_report_before_it_is_dispatched(linli: Linli) -> None:
    # A case waiting for the dispatcher has no lead department; staff without a department
    # (a grid leader, the dispatcher, a supervisor over the hall) must not match that "none".
    leader, case = await _report(linli)
    for chat in (
        leader,
        await bound_chat(linli, "S042", "dispatcher"),
        await bound_chat(linli, "S037", "hall"),
    ):
        assert "已受理" not in (await chat.press(f"case:accept:{case.id}"))[0].text
    async with linli.sessions() as session:
        fresh = await session.get(Case, case.id)
        assert fresh is not None and fresh.assignee_staff_id is None
        for code in ("S027", "S042", "S037"):
            staff = (await session.exec(select(Staff).where(Staff.code == code))).one()
            assert not may_accept_case(staff, fresh) and not may_transfer_case(staff, fresh)


async def test_a_lead_department_cannot_give_back_a_residents_own_case(linli: Linli) -> None:
    # 首问责任: returning is for a call the dispatcher made, never for a resident's proxy case.
    resident = Chat(linli, user="resident-proxy")
    ref = await open_proxy(resident)
    clerk = await bound_chat(linli, "S021", "civil-clerk")
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == ref))).one()
    viewed = await clerk.press(f"case:view:{ref}")
    assert f"case:return:{case.id}" not in payloads(viewed[0])
    await clerk.press(f"case:return:{case.id}")  # crafted
    refused = await clerk.send("不归我们管")
    assert refused[0].text == t("zh-CN", "cases.refused_not_yours")
    async with linli.sessions() as session:
        kept = await session.get(Case, case.id)
        assert kept is not None and kept.department_id == case.department_id
        assert kept.status == CaseStatus.ASSIGNED


async def test_a_part_taken_on_or_given_back_is_not_answered_again(linli: Linli) -> None:
    _leader, case = await _report(linli)
    await dispatch(linli, case.id or 0, "health", "masswork")
    masswork = await bound_chat(linli, "S015", "masswork-officer")
    await masswork.press(f"case:coaccept:{case.id}")
    viewed = await masswork.press(f"case:view:{case.ref}")
    assert f"case:return:{case.id}" not in payloads(viewed[0])  # taken on: not given back
    await masswork.press(f"case:return:{case.id}")  # crafted
    assert (await masswork.send("其实不归我们"))[0].text == t("zh-CN", "cases.refused_not_yours")
    assert "协办工作完成" in (await masswork.press(f"case:co:{case.id}"))[0].text
    again = await masswork.press(f"case:co:{case.id}")  # pressed twice: told once
    assert again[0].text == t("zh-CN", "cases.refused_not_yours")
    reporter = await _staff(linli, "S027")
    assert (await _outbox(linli, staff_id=reporter.id or 0)).count("dispatch.news_co_done") == 1


async def test_my_cases_holds_my_reports_and_my_parts_not_the_queue(linli: Linli) -> None:
    leader, mine = await _report(linli)
    other = Chat(linli, user="resident-reporting-0001")
    await other.send("上报")
    await other.send("小区门口的路灯坏了，晚上很黑")
    await other.press("report:cat:facilities")
    await other.send("南街8号门口")
    listed = (await leader.send("我的案件"))[0]
    assert mine.ref in listed.text  # what the grid leader reported
    async with linli.sessions() as session:
        cases = (await session.exec(select(Case))).all()
    queued = [c.ref for c in cases if c.ref != mine.ref]
    assert queued and all(ref not in listed.text for ref in queued)  # not someone else's
    await dispatch(linli, mine.id or 0, "health", "masswork")
    helper = await bound_chat(linli, "S015", "masswork-officer")
    assert mine.ref in (await helper.send("我的案件"))[0].text  # a part to help with


async def test_a_residents_timeline_shows_a_return_but_not_its_reason(linli: Linli) -> None:
    resident = Chat(linli, user="resident-reporting-0002")
    await resident.send("上报")
    await resident.send("小区门口的路灯坏了，晚上很黑")
    await resident.press("report:cat:facilities")
    opened = (await resident.send("南街8号门口"))[0]
    found = REF.search(opened.text)
    assert found is not None
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == found.group()))).one()
    await dispatch(linli, case.id or 0, "masswork")
    officer = await bound_chat(linli, "S015", "masswork-officer")
    await officer.press(f"case:return:{case.id}")
    await officer.send("内部分工：路灯归城建口")
    shown = (await resident.send(case.ref))[0].text
    assert "退回，街道重新派单" in shown and "内部分工" not in shown
    dispatcher = await bound_chat(linli, "S042", "dispatcher")
    assert "内部分工" in (await dispatcher.press(f"case:view:{case.ref}"))[0].text
