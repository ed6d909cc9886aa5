"""Where the duty roster leaves a service without staff: for the operators' warning, the
`linli roster gaps` report, the dashboard, and booking's "no staff scheduled yet".

A service is staffed on a day when it is open that day (a weekday-only service is closed on
weekends and holidays; its own hours, else the centre's) and a staff member trained for it
(一人多岗) is on a shift that covers at least one whole slot of those hours: the same test
that gives a slot its places in models/slots.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import RosterShift
from models.calendar import classify_day, load_overrides
from models.org import StaffSkill
from models.services import DayKind, OpeningRule, Service

GAP_DAYS = 14  # how far ahead a service must have a staffed slot
LOOK_BACK_DAYS = 91  # how far back the report looks for a service's last staffed day

Spans = list[tuple[datetime, datetime]]


@dataclass(frozen=True)
class RosterGap:
    """A service with no staffed slot in the coming days, and when it last had one."""

    service: Service
    last_staffed: date | None  # None: not in the last LOOK_BACK_DAYS days either


async def unstaffed_services(
    session: AsyncSession, today: date, days: int = GAP_DAYS
) -> list[RosterGap]:
    """Active services with no staffed slot on today and the next days-1 days, by code."""
    stmt = select(Service).where(col(Service.active)).order_by(col(Service.code))
    services = list((await session.exec(stmt)).all())
    first = today - timedelta(days=LOOK_BACK_DAYS)
    staffed = await _staffed_days(session, services, first, today + timedelta(days=days - 1))
    gaps = []
    for service in services:
        found = staffed.get(service.id or 0, set())
        if not any(day >= today for day in found):
            gaps.append(RosterGap(service, max(found, default=None)))
    return gaps


async def is_staffed(session: AsyncSession, service: Service, day: date) -> bool:
    """Whether anyone trained for the service is on duty in its hours on day (False: "no staff
    scheduled yet", as against every place taken)."""
    return day in (await _staffed_days(session, [service], day, day)).get(service.id or 0, set())


async def _staffed_days(
    session: AsyncSession, services: list[Service], first: date, last: date
) -> dict[int, set[date]]:
    """For each service, the days first..last on which it is staffed."""
    shifts = await _trained_shifts(session, {s.id or 0 for s in services}, first, last)
    rules = await _rules(session)
    overrides = await load_overrides(session)
    staffed: dict[int, set[date]] = defaultdict(set)
    for service in services:
        for day, spans in shifts.get(service.id or 0, {}).items():
            kind = classify_day(day, overrides).kind
            if kind is DayKind.HOLIDAY and not service.weekend:
                continue
            rule = rules.get((service.id, kind)) or rules.get((None, kind))
            if rule is not None and any(_covers_a_slot(day, rule, span) for span in spans):
                staffed[service.id or 0].add(day)
    return staffed


async def _trained_shifts(
    session: AsyncSession, service_ids: set[int], first: date, last: date
) -> dict[int, dict[date, Spans]]:
    """The shifts on days first..last of staff trained for each service, by service and day."""
    stmt = (
        select(StaffSkill.service_id, RosterShift)
        .join(RosterShift, col(RosterShift.staff_id) == col(StaffSkill.staff_id))
        .where(
            col(StaffSkill.service_id).in_(service_ids),
            col(RosterShift.day) >= first,
            col(RosterShift.day) <= last,
        )
    )
    found: dict[int, dict[date, Spans]] = defaultdict(lambda: defaultdict(list))
    for service_id, shift in (await session.exec(stmt)).all():
        found[service_id][shift.day].append((shift.starts_at, shift.ends_at))
    return found


async def _rules(session: AsyncSession) -> dict[tuple[int | None, DayKind], OpeningRule]:
    """Opening rules by (service, or None for the centre's, kind of day)."""
    rules = (await session.exec(select(OpeningRule))).all()
    return {(rule.service_id, DayKind(rule.day_kind)): rule for rule in rules}


def _covers_a_slot(day: date, rule: OpeningRule, span: tuple[datetime, datetime]) -> bool:
    """Whether a shift spans at least one whole slot of the day's opening hours (slots start
    at opening time, one every slot_minutes)."""
    opens = datetime.combine(day, rule.opens, SHANGHAI)
    closes = datetime.combine(day, rule.closes, SHANGHAI)
    length = timedelta(minutes=rule.slot_minutes)
    starts, ends = span
    wait = max(starts - opens, timedelta(0))
    first_slot = opens + length * -(-wait // length)  # the first slot starting in the shift
    return first_slot + length <= min(ends, closes)
