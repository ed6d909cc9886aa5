"""Finding 2: every staff action × every kind of person, through the web chat's HTTP API.

Each row is one staff action on one record (an appointment, a case, a hand-over, a need item),
performed by the right staff member, a staff member of another department, a grid leader of
another grid, the right staff member after deactivation, a resident and an unbound account.
Each is allowed or refused by models.policy; a refusal is a polite message and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, func, select

from bot.app import Linli
from bot.i18n import t
from models.base import SHANGHAI
from models.booking import Appointment
from models.cases import Case, CaseEvent, CaseHandler, CaseKind, CaseStatus
from models.needs import NeedItem, NeedStage
from models.org import Department, Staff
from models.people import ChannelIdentity
from models.reminders import ReminderRules
from tests.scheduler_data import bind_staff, book, open_case, resident_with_accounts

Client = TestClient[web.Request, web.Application]
ACTORS = ("right", "other_department", "other_grid", "deactivated", "resident", "unbound")
STAFF_ACTORS = {"right", "other_department", "other_grid"}
OTHER_DEPARTMENT, OTHER_GRID = "S017", "S028"  # social security staff; grid leader of C02


@dataclass(frozen=True)
class Row:
    """A staff action: who may do it, how the record is made, what is sent, what changes."""

    name: str
    right: str  # the staff code that may do it
    make: Callable[[Linli, int], Awaitable[int]]  # (app, resident id) → record id
    messages: Callable[[int], list[dict[str, str]]]  # record id → what the actor sends
    effect: Callable[[Linli, int], Awaitable[Any]]  # a snapshot that the action changes
    allowed: frozenset[str] = frozenset({"right"})
    other_department: str = OTHER_DEPARTMENT


async def _department_id(linli: Linli, code: str) -> int:
    async with linli.sessions() as session:
        found = (await session.exec(select(Department.id).where(Department.code == code))).one()
        assert found is not None
        return found


async def appointment_today(linli: Linli, resident_id: int, hour: int = 11) -> int:
    """A booked appointment for a social-security service today (Friday)."""
    starts = datetime(2026, 11, 27, hour, 0, tzinfo=SHANGHAI)
    return await book(
        linli,
        resident_id,
        starts,
        ReminderRules(),
        service_code="ss-card-reissue",
        ref=appointment_ref(hour),
    )


async def appointment_status(linli: Linli, number: int) -> str:
    async with linli.sessions() as session:
        found = await session.get(Appointment, number)
        assert found is not None
        return str(found.status)


def appointment_ref(number: int) -> str:
    return f"LC-A-20261127-{number:04d}"


async def unassigned_case(linli: Linli, resident_id: int) -> int:
    """An open proxy case of civil affairs that nobody has accepted yet."""
    number = await open_case(
        linli, assignee=None, status=CaseStatus.ASSIGNED, resident_id=resident_id
    )
    return await _led_by_civil_affairs(linli, number)


async def _led_by_civil_affairs(linli: Linli, number: int) -> int:
    lead = await _department_id(linli, "civil_affairs")
    async with linli.sessions() as session, session.begin():
        session.add(CaseHandler(case_id=number, department_id=lead, lead=True))
    return number


async def owned_case(linli: Linli, resident_id: int) -> int:
    """An accepted civil-affairs case owned by S021, with its lead department on record."""
    number = await open_case(linli, assignee="S021", resident_id=resident_id)
    return await _led_by_civil_affairs(linli, number)


async def co_handled_case(linli: Linli, resident_id: int) -> int:
    """A civil-affairs case that social security co-handles."""
    number = await owned_case(linli, resident_id)
    co = await _department_id(linli, "social_security")
    async with linli.sessions() as session, session.begin():
        session.add(CaseHandler(case_id=number, department_id=co, lead=False))
    return number


async def handover_case(linli: Linli, resident_id: int) -> int:
    """An unassigned 转人工 consultation of civil affairs, with personal data in its words."""
    number = await unassigned_case(linli, resident_id)
    async with linli.sessions() as session, session.begin():
        case = await session.get(Case, number)
        assert case is not None
        case.kind, case.summary = CaseKind.CONSULTATION, "我的身份证号是51010419800101001X"
        session.add(case)
    return number


async def case_state(linli: Linli, number: int) -> tuple[object, ...]:
    async with linli.sessions() as session:
        case = await session.get(Case, number)
        assert case is not None
        events = (
            await session.exec(select(func.count()).where(col(CaseEvent.case_id) == number))
        ).one()
        done = (
            await session.exec(
                select(func.count()).where(
                    col(CaseHandler.case_id) == number, col(CaseHandler.done_at).is_not(None)
                )
            )
        ).one()
        return (case.status, case.assignee_staff_id, case.department_id, events, done)


async def need_item(linli: Linli, _resident_id: int) -> int:
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        item = NeedItem(title="小区加装电梯", category="elderly", created_at=now, updated_at=now)
        session.add(item)
        await session.flush()
        assert item.id is not None
        return item.id


async def item_state(linli: Linli, number: int) -> tuple[object, ...]:
    async with linli.sessions() as session:
        item = await session.get(NeedItem, number)
        assert item is not None
        return (item.title, item.stage)


def press(payload: str) -> dict[str, str]:
    return {"payload": payload}


def say(text: str) -> dict[str, str]:
    return {"text": text}


NEED_EDITORS = frozenset({"right", "other_department"})  # any department's staff may edit
ROWS = [
    Row(
        "checkin",
        "S001",
        appointment_today,
        lambda n: [say(f"签到 {appointment_ref(11)}")],
        appointment_status,
    ),
    Row(
        "finish",
        "S001",
        appointment_today,
        lambda n: [say(f"办结 {appointment_ref(11)}")],
        appointment_status,
    ),
    Row(
        "noshow",
        "S001",
        lambda linli, resident: appointment_today(linli, resident, hour=9),
        lambda n: [say(f"未到 {appointment_ref(9)}")],
        appointment_status,
    ),
    Row(
        "case:accept",
        "S021",
        unassigned_case,
        lambda n: [press(f"case:accept:{n}")],
        case_state,
    ),
    Row(
        "case:step",
        "S021",
        owned_case,
        lambda n: [press(f"case:step:{n}:collected")],
        case_state,
    ),
    Row(
        "case:note",
        "S021",
        owned_case,
        lambda n: [press(f"case:note:{n}"), say("已电话联系居民")],
        case_state,
    ),
    Row(
        "case:ask",
        "S021",
        owned_case,
        lambda n: [press(f"case:ask:{n}"), say("请问哪天方便上门？")],
        case_state,
    ),
    Row(
        "case:to",
        "S021",
        owned_case,
        lambda n: [press(f"case:to:{n}:social_security"), say("属于社保业务")],
        case_state,
    ),
    Row(
        "case:co",
        "S017",
        co_handled_case,
        lambda n: [press(f"case:co:{n}")],
        case_state,
        other_department="S021",  # the lead department's owner: not a co-handler
    ),
    Row(
        "handover:take",
        "S021",
        handover_case,
        lambda n: [press(f"handover:take:{n}")],
        case_state,
    ),
    Row(
        "need:move",
        "S021",
        need_item,
        lambda n: [press(f"need:move:{n}:{NeedStage.APPROVED}")],
        item_state,
        NEED_EDITORS,
    ),
    Row(
        "need:rename",
        "S021",
        need_item,
        lambda n: [press(f"need:rename:{n}"), say("老旧小区加装电梯")],
        item_state,
        NEED_EDITORS,
    ),
]


async def _account(linli: Linli, actor: str, row: Row, resident_id: int) -> str:
    """The web-chat user id the actor writes from, bound as the table says."""
    user = f"actor-{actor.replace('_', '-')}"
    codes = {"right": row.right, "deactivated": row.right}
    codes |= {"other_department": row.other_department, "other_grid": OTHER_GRID}
    if actor in codes:
        await bind_staff(linli, codes[actor], "web", user)
    if actor == "deactivated":
        async with linli.sessions() as session, session.begin():
            staff = (await session.exec(select(Staff).where(Staff.code == row.right))).one()
            staff.active = False
            session.add(staff)
    if actor == "resident":  # the resident whose record it is, pressing a staff button
        async with linli.sessions() as session, session.begin():
            account = ChannelIdentity(
                channel="web",
                external_id=user,
                resident_id=resident_id,
                created_at=linli.clock.now(),
                last_seen_at=linli.clock.now(),
            )
            session.add(account)
    return user


async def _send(client: Client, user: str, message: dict[str, str]) -> str:
    response = await client.post("/api/chat", json={"user": user, **message})
    assert response.status == 200, await response.text()
    body = await response.json()
    return "\n".join(reply["text"] for reply in body["replies"])


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
async def test_staff_action_is_allowed_only_to_whom_the_policy_says(
    linli: Linli, client: Client, row: Row, actor: str
) -> None:
    resident = await resident_with_accounts(linli, ("web", "record-owner", timedelta(0)))
    record = await row.make(linli, resident)
    user = await _account(linli, actor, row, resident)
    before = await row.effect(linli, record)
    texts = [await _send(client, user, message) for message in row.messages(record)]
    after = await row.effect(linli, record)
    for text in texts:
        assert text and t("zh-CN", "error.polite") not in text
        assert "51010419800101001X" not in text  # a refused hand-over shows no words
    if actor in row.allowed:
        assert after != before, f"{actor} should be allowed to {row.name}: {texts}"
    else:
        assert after == before, f"{actor} must not {row.name}: {texts}"


async def test_a_deactivated_member_loses_every_channel_at_once(
    linli: Linli, client: Client
) -> None:
    """Two accounts of one staff member; deactivating the person disarms both."""
    for user in ("leaver-web-1", "leaver-web-2"):
        await bind_staff(linli, "S001", "web", user)
    assert "王丽" in await _send(client, "leaver-web-1", say("工作台"))
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == "S001"))).one()
        staff.active = False
        session.add(staff)
    for user in ("leaver-web-1", "leaver-web-2"):
        assert "已停用" in await _send(client, user, say("工作台"))
        assert "王丽" not in await _send(client, user, say("今日预约"))
