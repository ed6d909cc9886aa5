"""我的数据 on every channel (issue 21): a resident sees what is held about them, downloads it
(the file parses and holds their records and nobody else's) and has it deleted (afterwards no
table holds their phone, ID number, name or messages, and the statistics are unchanged)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import SQLModel, col, select

from bot.app import Linli
from models.booking import Appointment, AppointmentStatus, BookingSlot
from models.cases import Case, CaseEvent, CaseStatus
from models.consent import Consent, ConsentPurpose, record_consent
from models.erasure import ERASURE_RULES
from models.kpis import KpiScope, Period, kpi_report
from models.messaging import InboundMessage
from models.people import ChannelIdentity, Resident, set_id_number, set_phone
from models.services import Service
from tests.conftest import Chat
from tests.personal_records import (
    ID_NUMBER,
    NAME,
    PERSONAL,
    PHONE,
    Records,
    make_records,
    shape,
)
from tests.telegram_fixtures import TelegramRig, telegram, telegram_platform
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig", "telegram", "telegram_platform"]

Client = TestClient[web.Request, web.Application]
OTHER_NAME, OTHER_PHONE = "李秀兰", "13900001111"
LINK = re.compile(r"https?://[^\s]+/me/data/[0-9.a-f]+\.(?:json|txt)(?:\?lang=[a-zA-Z-]+)?")


async def _owned_by(linli: Linli, channel: str, external_id: str) -> Records:
    """Records holding PERSONAL, given to the resident behind this (already used) chat account,
    with a sealed phone and ID number, the consents for them and an appointment to come."""
    records = await make_records(linli, ago=timedelta(days=5))
    async with linli.sessions() as session, session.begin():
        account = (
            await session.exec(
                select(ChannelIdentity).where(
                    ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
                )
            )
        ).one()
        account.resident_id = records.resident_id
        account.display_name = NAME
        resident = await session.get(Resident, records.resident_id)
        assert resident is not None
        set_phone(resident, PHONE)
        set_id_number(resident, ID_NUMBER)
        now = linli.clock.now()
        for purpose in ConsentPurpose:
            record_consent(session, records.resident_id, purpose, True, now)
        # The case card as the staff member who accepted it was shown it, kept for redelivery.
        session.add(
            InboundMessage(
                channel="wechat",
                user_ref=f"staff-{records.resident_id}",
                message_id="card-1",
                received_at=now,
                replies=[{"text": f"居民：{NAME}，电话 {PHONE}，身份证号：{ID_NUMBER}"}],
            )
        )
        service = (await session.exec(select(Service).order_by(col(Service.id)))).first()
        assert service is not None and service.id is not None
        starts = now + timedelta(days=5)  # December: outside the compared month
        slot = BookingSlot(
            service_id=service.id,
            day=starts.date(),
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
            capacity=2,
            booked=1,
        )
        session.add(slot)
        await session.flush()
        session.add(
            Appointment(
                ref=f"LCY-UP-{records.resident_id:04d}",
                resident_id=records.resident_id,
                service_id=service.id,
                slot_id=slot.id or 0,
                status=AppointmentStatus.BOOKED,
                starts_at=starts,
                created_at=now,
                updated_at=now,
            )
        )
    return records


async def _statistics(linli: Linli) -> object:
    """The street's numbers for November, as the desk shows them."""
    async with linli.sessions() as session:
        report = await kpi_report(
            session,
            Period(date(2026, 11, 1), date(2026, 12, 1)),
            KpiScope(),
            now=linli.clock.now(),
            data_dir=linli.settings.data_dir,
        )
    return (report.appointments, report.cases, report.ratings)


async def _download(client: Client, text: str) -> tuple[dict[str, object], str]:
    """Follow the two links of the export reply: the JSON file and the summary."""
    links = [m.group(0) for m in LINK.finditer(text)]
    assert len(links) == 2, text
    got = []
    for link in links:
        path = link[link.index("/me/data/") :]
        response = await client.get(path)
        assert response.status == 200, path
        assert "attachment" in response.headers["Content-Disposition"]
        got.append(await response.text())
    return json.loads(got[0]), got[1]


def _check_export(data: dict[str, object], summary: str, own: Records) -> None:
    """The file holds this resident's records, masked numbers, and nothing of anyone else."""
    text = json.dumps(data, ensure_ascii=False)
    assert data["profile"]["name"] == NAME  # type: ignore[index]
    assert PHONE not in text and ID_NUMBER not in text  # masked, even in the resident's own copy
    assert PHONE[:3] + "****" + PHONE[-4:] in text
    assert len(data["cases"]) == 1  # type: ignore[arg-type]
    assert _up(own) in text and "LCY-PD-" in text
    assert OTHER_NAME not in text and OTHER_PHONE[-4:] not in text
    assert len(data["needs"]) == 1 and len(data["ratings"]) == 1  # type: ignore[arg-type]
    assert "社保卡代办" in summary and NAME in summary
    assert PHONE not in summary


async def _nothing_left(linli: Linli, own: Records) -> None:
    """No table holds the resident's phone, ID, name or door number (the other resident's
    records hold none of them), the chat messages are gone, the upcoming appointment is
    cancelled with its place given back, the consents are withdrawn and no account is linked."""
    async with linli.sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            rows = (await session.execute(sa.select(table))).all()
            dump = "\n".join(repr(tuple(row)) for row in rows)
            assert [p for p in PERSONAL if p in dump] == [], table.name
        mine = await session.get(Resident, own.resident_id)
        assert mine is not None
        assert (mine.name, mine.phone, mine.id_number, mine.phone_lookup) == (None,) * 4
        theirs = (await session.exec(select(Resident).where(Resident.name == OTHER_NAME))).one()
        assert theirs.phone == OTHER_PHONE
        upcoming = (
            await session.exec(select(Appointment).where(Appointment.ref == _up(own)))
        ).one()
        assert upcoming.status == AppointmentStatus.CANCELLED
        slot = await session.get(BookingSlot, upcoming.slot_id)
        assert slot is not None and slot.booked == 0
        consents = (
            await session.exec(select(Consent).where(Consent.resident_id == own.resident_id))
        ).all()
        assert consents and all(c.withdrawn_at is not None for c in consents)
        linked = (
            await session.exec(
                select(ChannelIdentity).where(ChannelIdentity.resident_id == own.resident_id)
            )
        ).all()
        assert linked == []


def _up(records: Records) -> str:
    return f"LCY-UP-{records.resident_id:04d}"


async def _other_resident(linli: Linli) -> None:
    """Someone else, with a name, a phone and a booking of their own."""
    async with linli.sessions() as session, session.begin():
        other = Resident(name=OTHER_NAME, created_at=linli.clock.now())
        set_phone(other, OTHER_PHONE)
        session.add(other)


async def _before(linli: Linli) -> tuple[object, object]:
    async with linli.sessions() as session:
        return await _statistics(linli), _kept_shape(await shape(session))


def _kept_shape(found: dict[str, object]) -> dict[str, object]:
    """What statistics rest on, less the account links (deletion unlinks them on purpose) and
    the appointments (the one to come is cancelled on purpose; the past ones are compared)."""
    skipped = ("accounts", "appointments", "appointment", "channelidentity")
    return {k: v for k, v in found.items() if k not in skipped}


async def _after(linli: Linli, before: tuple[object, object], own: Records) -> None:
    now = await _before(linli)
    assert now[0] == before[0]
    shapes = now[1], before[1]
    assert isinstance(shapes[0], dict) and isinstance(shapes[1], dict)
    for key, value in shapes[1].items():
        assert shapes[0][key] == value, key
    async with linli.sessions() as session:
        past = await session.get(Appointment, own.appointment_id)
        assert past is not None and past.status == AppointmentStatus.COMPLETED


def _texts(replies: list[dict[str, object]]) -> str:
    """The web chat's replies as one text, links included (as a page would show them)."""
    parts = []
    for reply in replies:
        parts.append(str(reply["text"]))
        link = reply.get("link")
        if isinstance(link, dict):
            parts.append(str(link["url"]))
    return "\n".join(parts)


async def _web(client: Client, user: str, **body: str) -> str:
    response = await client.post("/api/chat", json={"user": user, **body})
    assert response.status == 200
    return _texts((await response.json())["replies"])


async def test_my_data_on_the_web_chat(linli: Linli, client: Client) -> None:
    user = "web-mydata-1"
    await _web(client, user, text="菜单")
    own = await _owned_by(linli, "web", user)
    await _other_resident(linli)
    before = await _before(linli)
    seen = await _web(client, user, text="我的数据")
    assert NAME in seen and "138****5678" in seen and PHONE not in seen
    assert ID_NUMBER[0] + "*" * 16 + ID_NUMBER[-1] in seen
    export = await _web(client, user, payload="mydata:export")
    data, summary = await _download(client, export)
    _check_export(data, summary, own)
    asked = await _web(client, user, text="删除我的数据")
    assert "无法恢复" in asked
    done = await _web(client, user, text="确认删除")
    assert "已删除" in done and "依法" in done
    await _nothing_left(linli, own)
    await _after(linli, before, own)
    gone = LINK.search(export)
    assert gone is not None
    assert (await client.get(gone.group(0)[gone.group(0).index("/me/data/") :])).status == 404
    again = await _web(client, user, text="我的数据")
    assert "还没有保存" in again


async def test_my_data_on_wechat(linli: Linli, rig: WeChatRig) -> None:
    await rig.post(rig.server.text("菜单"))
    own = await _owned_by(rig.linli, "wechat", rig.server.openid)
    await _other_resident(rig.linli)
    before = await _before(rig.linli)
    seen = (await rig.post(rig.server.text("我的数据")))["Content"]
    assert NAME in seen and "138****5678" in seen and PHONE not in seen
    export = (await rig.post(rig.server.text("1")))["Content"]  # option 1: export
    data, summary = await _download(rig.client, export)
    _check_export(data, summary, own)
    await rig.post(rig.server.text("我的数据"))
    asked = (await rig.post(rig.server.text("2")))["Content"]  # option 2: delete
    assert "无法恢复" in asked
    done = (await rig.post(rig.server.text("1")))["Content"]  # 1: yes, delete
    assert "已删除" in done
    await _nothing_left(rig.linli, own)
    await _after(rig.linli, before, own)


async def test_my_data_on_telegram_in_english(linli: Linli, telegram: TelegramRig) -> None:
    chat_id = 7_100_001
    await telegram.say(chat_id, "menu")
    own = await _owned_by(telegram.linli, "telegram", str(chat_id))
    await _other_resident(telegram.linli)
    before = await _before(telegram.linli)
    seen = await telegram.say(chat_id, "my data")
    assert any("[My data]" in m.text for m in seen)
    export = await telegram.press(chat_id, "mydata:export")
    links = [
        b["url"]
        for m in export
        for row in (m.reply_markup or {}).get("inline_keyboard", [])
        for b in row
        if "url" in b
    ]
    data, summary = await _download(telegram.client, "\n".join(links))
    _check_export(data, summary, own)
    assert "Data Linli" in summary
    await telegram.say(chat_id, "delete my data")
    done = await telegram.say(chat_id, "yes")
    assert any("Your personal data is deleted" in m.text for m in done)
    await _nothing_left(telegram.linli, own)
    await _after(telegram.linli, before, own)


def test_every_table_pointing_at_a_person_has_an_erasure_rule() -> None:
    pointing = {
        table.name
        for table in SQLModel.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name in ("resident", "channelidentity")
    }
    assert pointing | {"resident"} <= set(ERASURE_RULES)


async def test_an_open_case_goes_on_and_its_handler_is_told(linli: Linli) -> None:
    own = await make_records(linli, ago=timedelta(days=1), case_status=CaseStatus.ACCEPTED)
    async with linli.sessions() as session:
        account = await session.get(ChannelIdentity, own.identity_id)
        assert account is not None
    chat = Chat(linli, user=account.external_id)
    await chat.send("删除我的数据")
    done = "\n".join(r.text for r in await chat.send("确认删除"))
    assert "1 件事项仍在办理" in done
    async with linli.sessions() as session:
        case = await session.get(Case, own.case_id)
        events = (
            await session.exec(select(CaseEvent).where(CaseEvent.case_id == own.case_id))
        ).all()
    assert case is not None and case.status == CaseStatus.ACCEPTED
    assert events[-1].kind == "resident_erased"
