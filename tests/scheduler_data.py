"""Rows the scheduler works on, made directly (the booking and case flows come later)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlmodel import col, select

from bot.app import Linli
from models.booking import Appointment, BookingSlot
from models.cases import Case, CaseKind, CaseStatus
from models.org import Department, Staff
from models.people import ChannelIdentity, Resident
from models.reminders import ReminderRules, schedule_appointment_reminders
from models.services import Service

_refs = itertools.count(1)


async def resident_with_accounts(
    linli: Linli, *accounts: tuple[str, str, timedelta], lang: str = "zh-CN"
) -> int:
    """A resident and chat accounts (channel, external id, last seen this long ago)."""
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        resident = Resident(created_at=now)
        session.add(resident)
        await session.flush()
        for channel, external_id, ago in accounts:
            session.add(
                ChannelIdentity(
                    channel=channel,
                    external_id=external_id,
                    resident_id=resident.id,
                    lang=lang,
                    created_at=now,
                    last_seen_at=now - ago,
                )
            )
        assert resident.id is not None
        return resident.id


async def bind_staff(linli: Linli, code: str, channel: str, external_id: str) -> int:
    """Give a staff member a chat account; returns the staff id."""
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == code))).one()
        session.add(
            ChannelIdentity(
                channel=channel,
                external_id=external_id,
                staff_id=staff.id,
                created_at=now,
                last_seen_at=now,
            )
        )
        assert staff.id is not None
        return staff.id


async def book(
    linli: Linli,
    resident_id: int,
    starts_at: datetime,
    rules: ReminderRules,
    *,
    service_code: str | None = None,
    ref: str | None = None,
) -> int:
    """An appointment at starts_at, with its reminders, for the given service (by default the
    first weekend service)."""
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        chosen = select(Service).order_by(col(Service.id))
        if service_code is not None:
            chosen = chosen.where(Service.code == service_code)
        service = (await session.exec(chosen)).first()
        assert service is not None and service.id is not None
        slot = BookingSlot(
            service_id=service.id,
            day=starts_at.date(),
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30),
            capacity=5,
            booked=1,
        )
        session.add(slot)
        await session.flush()
        assert slot.id is not None
        appointment = Appointment(
            ref=ref or f"LC-APPT-{next(_refs):04d}",
            resident_id=resident_id,
            service_id=service.id,
            slot_id=slot.id,
            starts_at=starts_at,
            created_at=now,
            updated_at=now,
        )
        session.add(appointment)
        await session.flush()
        await schedule_appointment_reminders(session, appointment, rules, now)
        assert appointment.id is not None
        return appointment.id


async def open_case(
    linli: Linli,
    *,
    assignee: str | None = "S005",
    department: str = "civil_affairs",
    status: CaseStatus = CaseStatus.ACCEPTED,
    created_ago: timedelta = timedelta(hours=1),
    due_in: timedelta | None = timedelta(days=3),
    resident_id: int | None = None,
    resolved_ago: timedelta | None = None,
) -> int:
    """A case in the given state, made directly."""
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        dept = (await session.exec(select(Department).where(Department.code == department))).one()
        staff_id = None
        if assignee is not None:
            staff_id = (await session.exec(select(Staff.id).where(Staff.code == assignee))).one()
        case = Case(
            ref=f"LC-20261127-{next(_refs):04d}",
            kind=CaseKind.PROXY,
            category="高龄津贴代办",
            status=status,
            summary="代办高龄津贴申请",
            resident_id=resident_id,
            department_id=dept.id,
            assignee_staff_id=staff_id,
            due_at=None if due_in is None else now + due_in,
            accepted_at=now - created_ago if status == CaseStatus.ACCEPTED else None,
            resolved_at=None if resolved_ago is None else now - resolved_ago,
            created_at=now - created_ago,
            updated_at=now,
        )
        session.add(case)
        await session.flush()
        assert case.id is not None
        return case.id
