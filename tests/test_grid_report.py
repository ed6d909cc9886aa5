"""Issue 18, item 9: a resident's grid report asks for the category (pressed or typed) and the
place (a WeChat location or a typed address, the intake step proxy handling uses), and ends with
the case's reference, which 进度 then shows."""

from __future__ import annotations

import re

from sqlmodel import col, select

from bot.app import Linli
from bot.i18n import t
from models.cases import Case, CaseKind
from models.messaging import OutboxMessage
from models.org import Department, Staff, StaffRole
from models.people import ChannelIdentity
from tests.conftest import Chat, payloads
from tests.dispatching import dispatch_as_suggested
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

REFERENCE = re.compile(r"LC-\d{8}-\d{4}")
LABEL = "四川省成都市温江区柳城街道南街社区"


async def _only_case(linli: Linli) -> Case:
    async with linli.sessions() as session:
        [case] = (await session.exec(select(Case))).all()
    return case


async def _clerks_on_wechat(linli: Linli, *departments: str) -> dict[str, int]:
    """One clerk of each department with a WeChat account, so that alerts reach them."""
    now = linli.clock.now()
    clerks = {}
    async with linli.sessions() as session, session.begin():
        for code in departments:
            clerk = (
                await session.exec(
                    select(Staff)
                    .join(Department, col(Department.id) == col(Staff.department_id))
                    .where(Department.code == code, Staff.role == StaffRole.CLERK)
                    .order_by(col(Staff.id))
                )
            ).first()
            assert clerk is not None and clerk.id is not None
            session.add(
                ChannelIdentity(
                    channel="wechat",
                    external_id=f"clerk-{code}",
                    staff_id=clerk.id,
                    created_at=now,
                    last_seen_at=now,
                )
            )
            clerks[code] = clerk.id
    return clerks


async def _dispatcher(linli: Linli) -> int:
    async with linli.sessions() as session:
        found = (await session.exec(select(Staff).where(Staff.role == StaffRole.DISPATCHER))).one()
    return found.id or 0


async def _alerted(linli: Linli) -> set[int]:
    """The staff members alerted about a case."""
    async with linli.sessions() as session:
        rows = await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "alert"))
        return {row.staff_id or 0 for row in rows.all()}


async def test_web_report_with_a_typed_category_and_address(linli: Linli) -> None:
    clerks = await _clerks_on_wechat(linli, "masswork")
    chat = Chat(linli, user="grid-web")
    assert (await chat.send("上报"))[0].text == t("zh-CN", "grid_report.ask")
    asked = (await chat.send("3栋门口的路灯不亮了，晚上很黑"))[0]
    assert asked.text == t("zh-CN", "grid_report.choose_category")
    assert payloads(asked)[0] == "report:cat:facilities"  # the likeliest first
    again = (await chat.send("不知道"))[0]  # no category: asked again, nothing lost
    assert again.text == t("zh-CN", "grid_report.category_again")
    place = (await chat.send("路灯"))[0]  # a part of a category's name chooses it
    assert place.text == t("zh-CN", "cases.question_place")
    assert (await chat.send("   "))[0].text == t("zh-CN", "cases.question_again")
    opened = (await chat.send("柳城花园3栋门口"))[0]
    found = REFERENCE.search(opened.text)
    assert found is not None, opened.text
    case = await _only_case(linli)
    assert (case.ref, case.kind) == (found.group(0), CaseKind.GRID_REPORT)
    assert case.details["category_code"] == "facilities" and "路灯" in case.summary
    assert case.details["answers"] == {"place": "柳城花园3栋门口"}
    # It waits for the street's dispatcher (街道呼叫), who is alerted; the department once called.
    assert await _alerted(linli) == {await _dispatcher(linli)}
    await dispatch_as_suggested(linli, case.id or 0)
    assert await _alerted(linli) == {await _dispatcher(linli), clerks["masswork"]}
    mine = (await chat.send("进度"))[0]
    assert case.ref in mine.text
    shown = (await chat.send(case.ref.lower().replace("-", "")))[0]
    assert "位置：柳城花园3栋门口" in shown.text, shown.text


async def test_a_problem_typed_freely_reaches_co_handlers_with_its_place(linli: Linli) -> None:
    clerks = await _clerks_on_wechat(linli, "masswork", "health")
    chat = Chat(linli, user="grid-free")
    offer = (await chat.send("小区门口的垃圾堆了好几天没人清"))[0]
    assert payloads(offer)[0] == "ask:report"
    asked = (await chat.press("ask:report"))[0]
    assert "report:cat:sanitation" in payloads(asked)
    await chat.press("report:cat:sanitation")
    opened = (await chat.send("永宁路社区东门"))[0]
    assert REFERENCE.search(opened.text), opened.text
    # 环境卫生 is led by the health office with mass work as co-handler: once the dispatcher
    # calls them as the category suggests, both are alerted.
    await dispatch_as_suggested(linli, (await _only_case(linli)).id or 0)
    assert await _alerted(linli) == {await _dispatcher(linli), clerks["masswork"], clerks["health"]}


async def test_in_english_the_report_asks_in_english(linli: Linli) -> None:
    chat = Chat(linli, user="grid-en")
    await chat.send("English")
    assert (await chat.send("report"))[0].text == t("en", "grid_report.ask")
    await chat.send("The manhole cover on Nanjie is missing")
    place = (await chat.send("safety"))[0]
    assert place.text == t("en", "cases.question_place")
    opened = (await chat.send("Nanjie, by the school gate"))[0]
    assert REFERENCE.search(opened.text) and "Received" in opened.text, opened.text
    assert (await _only_case(linli)).details["category_code"] == "safety"


async def test_on_wechat_a_location_answers_where(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("上报"))
    asked = await rig.post(rig.server.text("楼道里堆满了杂物，堵住了消防通道"))
    assert "1. " in asked["Content"]
    numbers = dict(re.findall(r"(\d+)\. ([^\n]+)", asked["Content"]))
    safety = next(n for n, label in numbers.items() if label.startswith("安全隐患"))
    place = await rig.post(rig.server.text(safety))  # typed as WeChat shows it: its number
    assert t("zh-CN", "cases.question_place") in place["Content"]
    opened = await rig.post(rig.server.location(30.6812, 103.8563, LABEL))
    found = REFERENCE.search(opened["Content"])
    assert found is not None, opened["Content"]
    case = await _only_case(rig.linli)
    assert case.details["answers"] == {"place": LABEL}
    assert (case.latitude, case.longitude) == (30.6812, 103.8563)
    assert found.group(0) in (await rig.post(rig.server.text("进度")))["Content"]


async def test_on_wechat_a_location_sent_first_is_not_asked_for_again(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("上报"))
    kept = await rig.post(rig.server.location(30.6812, 103.8563, LABEL))
    assert kept["Content"].startswith(t("zh-CN", "grid_report.media_kept"))
    await rig.post(rig.server.text("这里的井盖丢了，很危险"))
    opened = await rig.post(rig.server.text("公共设施损坏（路灯、井盖等）"))  # the label typed
    assert REFERENCE.search(opened["Content"]), opened["Content"]
    case = await _only_case(rig.linli)
    assert case.details["category_code"] == "facilities"
    assert case.details["answers"] == {"place": LABEL} and case.latitude == 30.6812
