"""A clerk who transfers a case, or a grid leader who reports one, is told the truth about the
alert: "新部门已收到提醒" only when someone there has a chat account it reached (a web chat
account is never pushed case details); else that the case waits in the department's list."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, select

from bot.app import Linli
from bot.i18n import t
from models.cases import Case
from models.messaging import OutboxMessage
from models.org import Staff, StaffRole
from tests.conftest import Chat
from tests.test_cases import bound_chat, open_proxy
from tests.test_rating import bound_on_wechat
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]


async def _alerts(linli: Linli) -> list[int | None]:
    async with linli.sessions() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.kind == "alert")
        return [row.staff_id for row in (await session.exec(stmt)).all()]


async def _transferred_to_masswork(linli: Linli) -> tuple[str, str]:
    """A resident's proxy case, accepted by the 民政科 clerk and transferred; the reply."""
    case, clerk = await _accepted_case(linli)
    await clerk.press(f"case:transfer:{case.id}")
    await clerk.press(f"case:to:{case.id}:masswork")
    said = await clerk.send("老人有信访诉求，由群众工作科统一办理")
    return case.ref, said[0].text


async def test_a_transfer_nobody_can_be_alerted_of_says_where_it_waits(linli: Linli) -> None:
    ref, said = await _transferred_to_masswork(linli)
    assert said == t("zh-CN", "cases.transferred_unalerted", ref=ref)
    assert "已收到提醒" not in said
    assert await _alerts(linli) == []


async def test_a_transfer_says_alerted_when_a_clerk_there_was(rig: WeChatRig) -> None:
    await bound_on_wechat(rig, ("S015",))  # 群众工作科, bound on WeChat
    ref, said = await _transferred_to_masswork(rig.linli)
    assert said == t("zh-CN", "cases.transferred", ref=ref)
    async with rig.linli.sessions() as session:
        masswork = (await session.exec(select(Staff).where(Staff.code == "S015"))).one()
    assert masswork.id in await _alerts(rig.linli)


async def _grid_report(linli: Linli) -> str:
    """A grid leader's report of rubbish, with no dispatch desk (routed by its category)."""
    async with linli.sessions() as session, session.begin():
        await session.exec(
            sa.update(Staff).where(col(Staff.role) == StaffRole.DISPATCHER).values(active=False)
        )
    leader = await bound_chat(linli, "S027", "grid-leader")
    await leader.send("上报")
    await leader.send("3号楼后面垃圾堆了一周没人清")
    return (await leader.press("case:grid:sanitation"))[0].text


async def test_a_grid_report_nobody_can_be_alerted_of_says_so(linli: Linli) -> None:
    said = await _grid_report(linli)
    assert "相关部门暂时没有人能在聊天中收到提醒" in said and "已通知相关部门" not in said
    assert await _alerts(linli) == []


async def test_a_grid_report_says_alerted_when_a_department_was(rig: WeChatRig) -> None:
    await bound_on_wechat(rig, ("S025",))  # 卫生健康科 leads on rubbish
    said = await _grid_report(rig.linli)
    assert "已通知相关部门" in said and await _alerts(rig.linli) != []


async def _accepted_case(linli: Linli) -> tuple[Case, Chat]:
    """A resident's proxy case, accepted by the 民政科 clerk (S021, on the web chat)."""
    ref = await open_proxy(Chat(linli, user="transfer-resident"))
    clerk = await bound_chat(linli, "S021", "civil-affairs-clerk")
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == ref))).one()
    await clerk.press(f"case:accept:{case.id}")
    return case, clerk


async def test_a_transfer_to_no_department_or_its_own_is_refused_before_the_reason(
    linli: Linli,
) -> None:
    """An outside walkthrough: a made-up department code asked for the reason, then failed on
    every message; its own department was accepted, and the owner lost the case."""
    case, clerk = await _accepted_case(linli)
    for code in ("nonexist", "civil_affairs"):
        said = (await clerk.press(f"case:to:{case.id}:{code}"))[0].text
        assert said == t("zh-CN", "cases.refused_no_such_department"), said
        menu = (await clerk.send("菜单"))[0].text  # no half-open step left behind
        assert "出了点问题" not in menu
    async with linli.sessions() as session:
        kept = await session.get(Case, case.id)
    assert kept is not None and kept.assignee_staff_id is not None  # still the clerk's


async def test_a_colleague_who_may_not_ask_or_transfer_is_told_before_typing(
    linli: Linli,
) -> None:
    case, _clerk = await _accepted_case(linli)
    colleague = await bound_chat(linli, "S022", "civil-affairs-colleague")
    for payload in (f"case:ask:{case.id}", f"case:to:{case.id}:masswork"):
        said = (await colleague.press(payload))[0].text
        assert said == t("zh-CN", "cases.refused_not_yours"), said
