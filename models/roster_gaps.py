"""Where the duty roster leaves a service without staff: for the operators' warning, the
`linli roster gaps` report and the dashboard.

A service is staffed on a day when it is open that day (a weekday-only service is closed on
weekends and holidays; its own hours, else the centre's) and a staff member trained for it
(一人多岗) is on a shift that covers at least one whole slot of those hours: models/slots.py's
rules, the ones that give a slot its places.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.booking import RosterShift
from models.calendar import classify_day, load_overrides
from models.services import OpeningRule, Service
from models.slots import covers, pick_rule, serves_on, slot_starts, trained_shifts

GAP_DAYS = 14  # how far ahead a service must have a staffed slot
LOOK_BACK_DAYS = 91  # how far back the report looks for a service's last staffed day


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
    last = today + timedelta(days=days - 1)
    staffed = await _staffed_days(session, services, first, last, today)
    gaps = []
    for service in services:
        found = staffed.get(service.id or 0, set())
        if not any(day >= today for day in found):
            gaps.append(RosterGap(service, max(found, default=None)))
    return gaps


async def _staffed_days(
    session: AsyncSession, services: list[Service], first: date, last: date, today: date
) -> dict[int, set[date]]:
    """For each service, the days first..last on which it is staffed (from today on, by staff
    still active; before today, by whoever worked then)."""
    by_id = {service.id or 0: service for service in services}
    rules = list((await session.exec(select(OpeningRule))).all())
    overrides = await load_overrides(session)
    staffed: dict[int, set[date]] = defaultdict(set)
    shifts = await trained_shifts(session, by_id, first, last, history_before=today)
    for service_id, shift in shifts:
        kind = classify_day(shift.day, overrides).kind
        rule = pick_rule(rules, by_id[service_id], kind)
        if serves_on(by_id[service_id], kind) and rule and _covers_a_slot(shift, rule):
            staffed[service_id].add(shift.day)
    return staffed


def _covers_a_slot(shift: RosterShift, rule: OpeningRule) -> bool:
    """Whether the shift gives at least one of its day's slots a place."""
    length = timedelta(minutes=rule.slot_minutes)
    return any(covers(shift, start, length) for start in slot_starts(shift.day, rule))
