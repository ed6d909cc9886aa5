"""Issue 20, item 1: the staff case card. Until someone accepts the case, the resident's own
words reach staff without the phone or ID numbers typed into them (in the alert, on the card in
chat, on the desk's queue and dispatch pages); the one who accepted sees them in full, and that
view is written to the access log."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.app import Linli
from models.access_log import PersonalDataView
from models.cases import Case, CaseEvent
from models.messaging import OutboxMessage
from models.org import Staff
from models.people import ChannelIdentity
from tests.conftest import Chat, payloads
from tests.test_cases import bound_chat

PHONE = "13812345678"


async def _proxy_with_a_phone(linli: Linli) -> Case:
    resident = Chat(linli, user="resident-card-0001")
    await resident.send("代办")
    categories = await resident.send(f"帮我母亲办高龄补贴，她腿脚不便，有事打{PHONE}")
    await resident.press(payloads(categories[0])[0])
    await resident.send("幸福小区3号楼201")
    await resident.send("工作日上午")
    await resident.send("不同意")  # no phone number kept (consent first, issue 21)
    await resident.send("不同意")  # nor the ID number
    async with linli.sessions() as session:
        [case] = (await session.exec(select(Case))).all()
    assert PHONE in case.summary
    return case


async def _on_wechat(linli: Linli, code: str) -> None:
    """A WeChat account for a staff member, so that alerts reach them."""
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == code))).one()
        now = linli.clock.now()
        session.add(
            ChannelIdentity(
                channel="wechat",
                external_id=code,
                staff_id=staff.id,
                created_at=now,
                last_seen_at=now,
            )
        )


async def test_the_phone_in_the_words_is_for_the_one_who_accepted(linli: Linli) -> None:
    await _on_wechat(linli, "S022")
    case = await _proxy_with_a_phone(linli)
    clerk = await bound_chat(linli, "S021", "civil-card")
    colleague = await bound_chat(linli, "S022", "civil-card-2")
    before = (await clerk.press(f"case:view:{case.ref}"))[0].text
    assert PHONE not in before and "〔电话〕" in before
    assert "幸福小区〔门牌〕" in before  # the door number too
    await clerk.press(f"case:accept:{case.id}")
    after = (await clerk.press(f"case:view:{case.ref}"))[0].text
    assert PHONE in after and "幸福小区3号楼201" in after
    other = (await colleague.press(f"case:view:{case.ref}"))[0].text
    assert PHONE not in other  # a colleague who did not accept it
    async with linli.sessions() as session:
        views = (await session.exec(select(PersonalDataView))).all()
        assert [(v.subject, v.place) for v in views] == [(f"case:{case.id}", "chat")]
        alerts = (await session.exec(select(OutboxMessage))).all()
    to_staff = [json.dumps(row.payload, ensure_ascii=False) for row in alerts if row.staff_id]
    assert to_staff and all(PHONE not in text for text in to_staff)
    # The alert carries the request beyond its words: the address, without the door number.
    assert any("cases.answered_address" in text and "幸福小区〔门牌〕" in text for text in to_staff)
    assert all("3号楼201" not in text for text in to_staff)


async def test_personal_data_on_the_timeline_is_for_the_one_who_accepted(linli: Linli) -> None:
    case = await _proxy_with_a_phone(linli)
    clerk = await bound_chat(linli, "S021", "civil-card")
    colleague = await bound_chat(linli, "S022", "civil-card-2")
    await clerk.press(f"case:accept:{case.id}")
    async with linli.sessions() as session, session.begin():
        session.add(
            CaseEvent(
                case_id=case.id or 0,
                at=linli.clock.now(),
                actor_kind="resident",
                actor_id=case.resident_id,
                kind="answer",
                note="周六在家，打我另一个号码13900001111",
            )
        )
    other = (await colleague.press(f"case:view:{case.ref}"))[0].text
    assert "13900001111" not in other and "周六在家" in other  # removed, not hidden
    owner = (await clerk.press(f"case:view:{case.ref}"))[0].text
    assert "13900001111" in owner  # the one who accepted, and that view is logged
