"""A staff member who is deactivated hands their open cases back: the lead department is
alerted to take them on again, and nothing stays stuck with someone who has left."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.app import Linli
from bot.cli_staff import staff_deactivate
from models.cases import Case, CaseStatus
from models.messaging import OutboxMessage
from models.org import Staff
from models.people import ChannelIdentity
from tests.conftest import Chat
from tests.test_cases import bound_chat, open_proxy


async def test_a_leavers_cases_go_back_to_their_department(linli: Linli) -> None:
    ref = await open_proxy(Chat(linli, user="resident-leaver-0001"))
    leaver = await bound_chat(linli, "S021", "civil-leaver")
    colleague = await bound_chat(linli, "S022", "civil-stays")
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == ref))).one()
    assert "已受理" in (await leaver.press(f"case:accept:{case.id}"))[0].text
    async with linli.sessions() as session, session.begin():
        stays = (await session.exec(select(Staff).where(Staff.code == "S022"))).one()
        now = linli.clock.now()  # alerts go to a platform that vouches for the account
        session.add(
            ChannelIdentity(
                channel="wechat",
                external_id="civil-stays",
                staff_id=stays.id,
                created_at=now,
                last_seen_at=now,
            )
        )
    await staff_deactivate(linli, "S021")
    async with linli.sessions() as session:
        back = await session.get(Case, case.id)
        assert back is not None
        assert (back.assignee_staff_id, back.status) == (None, CaseStatus.ASSIGNED)
        alerts = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.staff_id == stays.id))
        ).all()
    assert any(
        "cases.alert" in json.dumps(a.payload) and ref in json.dumps(a.payload) for a in alerts
    )
    assert "已受理" in (await colleague.press(f"case:accept:{case.id}"))[0].text
    shown = (await colleague.press(f"case:view:{ref}"))[0].text
    assert "已离岗" in shown
