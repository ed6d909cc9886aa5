"""Records of every kind that hold a resident's personal data (phone, ID number, name, door
number), made directly, and ways to look for that data in the tables afterwards."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import Linli
from models.booking import Appointment, AppointmentStatus, BookingSlot
from models.cases import Case, CaseEvent, CaseHandler, CaseKind, CaseStatus, Rating, RatingLevel
from models.messaging import ConversationState
from models.needs import Need, NeedItem, NeedStage
from models.org import Department, Staff
from models.people import ChannelIdentity, Resident
from models.services import Service

PHONE = "13812345678"
ID_NUMBER = "51012419900101123X"
NAME = "张三丰"
DOOR = "3栋2单元501"
PERSONAL = (PHONE, ID_NUMBER, NAME, DOOR)
# The way a resident writes: a cue before the name, so the patterns find every piece.
WORDS = f"我叫{NAME}，电话{PHONE}，身份证{ID_NUMBER}，住南街社区{DOOR}，请帮忙代办社保卡"
# The way a staff member writes: the name bare, which only the names given can find.
NOTE = f"已电话联系{NAME}（{PHONE}，证件{ID_NUMBER}），上门地址南街社区{DOOR}"

_numbers = itertools.count(1)


@dataclass(frozen=True)
class Records:
    """The ids of one resident's records of every kind."""

    resident_id: int
    case_id: int
    need_id: int
    rating_id: int
    appointment_id: int
    identity_id: int


async def _one_id(session: AsyncSession, stmt: Any) -> int:
    found = (await session.exec(stmt)).first()
    assert found is not None
    return int(found)


async def make_records(
    linli: Linli,
    *,
    ago: timedelta,
    case_status: CaseStatus = CaseStatus.CLOSED,
    appointment_status: AppointmentStatus = AppointmentStatus.COMPLETED,
    item_stage: NeedStage = NeedStage.DONE,
) -> Records:
    """A resident with a case, its timeline, a need, a rating, an appointment and a chat
    account, all finished (or in the states given) `ago` before now, each holding PERSONAL."""
    now = linli.clock.now()
    then = now - ago
    number = next(_numbers)
    async with linli.sessions() as session, session.begin():
        department_id = await _one_id(session, select(Department.id).order_by(col(Department.id)))
        staff_id = await _one_id(session, select(Staff.id).where(Staff.code == "S005"))
        service_id = await _one_id(session, select(Service.id).order_by(col(Service.id)))
        resident = Resident(name=NAME, created_at=then)
        session.add(resident)
        await session.flush()
        assert resident.id is not None
        identity = ChannelIdentity(
            channel="web",
            external_id=f"web-personal-{number}",
            resident_id=resident.id,
            display_name=NAME,
            created_at=then,
            last_seen_at=then,
        )
        session.add(identity)
        await session.flush()
        assert identity.id is not None
        session.add(
            ConversationState(
                identity_id=identity.id,
                name="cases.asking",
                data={"answers": {"words": WORDS}},
                updated_at=then,
            )
        )
        case = Case(
            ref=f"LC-PD-{number:04d}",
            kind=CaseKind.PROXY,
            category="社保卡代办",
            status=case_status,
            summary=WORDS,
            details={
                "category_code": "social_card",
                "answers": {"address": f"南街社区{DOOR}", "phone": PHONE, "time": "周六上午"},
                "transcript": [{"q": WORDS, "a": "社保卡补办"}],
            },
            resident_id=resident.id,
            department_id=department_id,
            assignee_staff_id=staff_id,
            latitude=30.6812,
            longitude=103.8567,
            attachments=[{"kind": "image", "ref": f"media-{number}"}],
            accepted_at=then - timedelta(days=2),
            resolved_at=then if case_status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) else None,
            closed_at=then if case_status == CaseStatus.CLOSED else None,
            created_at=then - timedelta(days=3),
            updated_at=then,
        )
        session.add(case)
        await session.flush()
        assert case.id is not None
        session.add(
            CaseHandler(case_id=case.id, department_id=department_id, lead=True, return_reason=NOTE)
        )
        for actor, actor_id, kind, note in (
            ("resident", resident.id, "received", None),
            ("staff", staff_id, "question", f"请{NAME}确认门牌"),
            ("resident", resident.id, "answer", WORDS),
            ("staff", staff_id, "note", NOTE),
            ("resident", resident.id, "comment", WORDS),
        ):
            session.add(
                CaseEvent(
                    case_id=case.id,
                    at=then - timedelta(days=1),
                    actor_kind=actor,
                    actor_id=actor_id,
                    kind=kind,
                    note=note,
                    data={"staff": "S005"},
                )
            )
        item = NeedItem(
            title="社区增设充电桩",
            category="设施",
            stage=item_stage,
            created_at=then,
            updated_at=then,
        )
        session.add(item)
        await session.flush()
        need = Need(
            resident_id=resident.id,
            text=WORDS,  # as an older rule might have left it
            text_hash=f"hash-{number}",
            category="设施",
            item_id=item.id,
            latitude=30.6812,
            longitude=103.8567,
            attachments=[{"kind": "image", "ref": f"need-media-{number}"}],
            created_at=then,
        )
        session.add(need)
        rating = Rating(
            subject_kind="case",
            subject_id=case.id,
            resident_id=resident.id,
            staff_id=staff_id,
            level=RatingLevel.BAD_ATTITUDE,
            comment=WORDS,
            created_at=then,
        )
        session.add(rating)
        slot = (
            await session.exec(
                select(BookingSlot).where(
                    BookingSlot.service_id == service_id, BookingSlot.starts_at == then
                )
            )
        ).first() or BookingSlot(
            service_id=service_id,
            day=then.date(),
            starts_at=then,
            ends_at=then + timedelta(minutes=30),
            capacity=5,
            booked=1,
        )
        session.add(slot)
        await session.flush()
        assert slot.id is not None
        appointment = Appointment(
            ref=f"LCY-PD-{number:04d}",
            resident_id=resident.id,
            service_id=service_id,
            slot_id=slot.id,
            identity_id=identity.id,
            status=appointment_status,
            starts_at=then,
            served_by_staff_id=staff_id,
            created_at=then - timedelta(days=3),
            updated_at=then,
        )
        session.add(appointment)
        await session.flush()
        assert need.id is not None and rating.id is not None and appointment.id is not None
        return Records(resident.id, case.id, need.id, rating.id, appointment.id, identity.id)


# The tables with text in which the resident's data is written (an appointment has none: its
# link to the chat account is what goes).
TABLES: tuple[type[SQLModel], ...] = (
    Case,
    CaseEvent,
    CaseHandler,
    Need,
    Rating,
    ConversationState,
)


async def personal_data_left(
    session: AsyncSession, table: type[SQLModel], where: Any = None
) -> list[str]:
    """Each piece of PERSONAL still written in some row of the table (rows matching `where`)."""
    stmt = sa.select(table.__table__)  # type: ignore[attr-defined]
    connection = await session.connection()
    rows = (await connection.execute(stmt if where is None else stmt.where(where))).all()
    text = "\n".join(repr(tuple(row)) for row in rows)
    return [piece for piece in PERSONAL if piece in text]


# What statistics rest on: the rows of each kind, and their statuses, levels, categories,
# departments, dates and links.
SHAPE: dict[type[SQLModel], tuple[str, ...]] = {
    Case: (
        "id",
        "kind",
        "category",
        "status",
        "department_id",
        "grid_id",
        "resident_id",
        "created_at",
        "closed_at",
        "resolved_at",
    ),
    CaseEvent: ("id", "case_id", "kind", "actor_kind", "at"),
    CaseHandler: ("case_id", "department_id", "lead"),
    Need: ("id", "category", "item_id", "resident_id", "created_at"),
    Rating: ("id", "level", "staff_id", "subject_id", "created_at"),
    Appointment: ("id", "status", "starts_at", "resident_id", "served_by_staff_id"),
    ChannelIdentity: ("id", "resident_id", "channel"),
}


async def shape(session: AsyncSession) -> dict[str, object]:
    """The SHAPE columns of every row, table by table."""
    found: dict[str, object] = {}
    for model, names in SHAPE.items():
        table = model.__table__  # type: ignore[attr-defined]
        columns = [table.c[name] for name in names]
        connection = await session.connection()
        rows = await connection.execute(sa.select(*columns).order_by(*columns))
        found[table.name] = [tuple(row) for row in rows.all()]
    return found


def ids(rows: list[Records], field: str) -> list[int]:
    """One field of each set of records."""
    return [int(getattr(records, field)) for records in rows]
