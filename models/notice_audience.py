"""Who a notice goes to, and who may send to whom.

A grid leader reaches their own grid only; staff of a community reach that community or some of
its grids; supervisors and administrators reach any community, any grids or the whole street.
Filters (older residents, residents with a disability) narrow any area. The audience is stored
on the notice as plain data and checked again against the author's scope when it is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.notices import Notice
from models.org import Grid, Staff
from models.people import Resident
from models.policy import Scope, has_powers, scope_of

FILTERS = ("elderly", "disabled")


@dataclass(frozen=True)
class Audience:
    """An area (the street, communities or grids) and optional filters on residents."""

    street: bool = False
    communities: tuple[int, ...] = ()
    grids: tuple[int, ...] = ()
    filters: tuple[str, ...] = field(default_factory=tuple)

    def as_data(self) -> dict[str, Any]:
        """The audience as JSON-ready data, for the notice row."""
        return {
            "street": self.street,
            "communities": list(self.communities),
            "grids": list(self.grids),
            "filters": list(self.filters),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Audience:
        """The audience stored on a notice (unknown filters are dropped)."""
        return cls(
            street=bool(data.get("street")),
            communities=tuple(sorted({int(c) for c in data.get("communities", [])})),
            grids=tuple(sorted({int(g) for g in data.get("grids", [])})),
            filters=tuple(f for f in FILTERS if f in data.get("filters", [])),
        )

    @property
    def empty(self) -> bool:
        """No area chosen."""
        return not (self.street or self.communities or self.grids)


async def allowed(session: AsyncSession, scope: Scope, audience: Audience) -> bool:
    """Whether the whole audience lies inside the scope (checked on every send)."""
    if audience.empty or not scope.any:
        return False
    if scope.street:
        return True
    if audience.street:
        return False
    if scope.grid_id is not None:
        return not audience.communities and set(audience.grids) == {scope.grid_id}
    if audience.communities and set(audience.communities) != {scope.community_id}:
        return False
    grids = await _grid_communities(session, audience.grids)
    return len(grids) == len(set(audience.grids)) and set(grids.values()) <= {scope.community_id}


async def _grid_communities(session: AsyncSession, grid_ids: Iterable[int]) -> dict[int, int]:
    ids = sorted(set(grid_ids))
    if not ids:
        return {}
    rows = await session.exec(select(Grid.id, Grid.community_id).where(col(Grid.id).in_(ids)))
    return {int(grid_id or 0): community for grid_id, community in rows.all()}


def resident_filter(audience: Audience) -> sa.ColumnElement[bool]:
    """The SQL condition on the resident table that picks the audience."""
    areas: list[sa.ColumnElement[bool]] = []
    if audience.street:
        areas.append(sa.true())
    if audience.communities:
        areas.append(col(Resident.community_id).in_(audience.communities))
    if audience.grids:
        areas.append(col(Resident.grid_id).in_(audience.grids))
    condition = sa.or_(*areas) if areas else sa.false()
    if "elderly" in audience.filters:
        condition = sa.and_(condition, col(Resident.elderly).is_(True))
    if "disabled" in audience.filters:
        condition = sa.and_(condition, col(Resident.disabled).is_(True))
    return condition


async def may_see_notice(session: AsyncSession, staff: Staff, notice: Notice) -> bool:
    """Who may read a notice's report (chat and desk alike): its author, and staff whose own
    sending scope covers its whole audience (supervisors and administrators: every notice)."""
    if not has_powers(staff):
        return False
    if notice.author_staff_id == staff.id:
        return True
    return await allowed(session, scope_of(staff), Audience.from_data(notice.audience))


def may_withdraw_notice(staff: Staff, notice: Notice) -> bool:
    """Its author withdraws a notice, and so do the street's supervisors and administrators."""
    return has_powers(staff) and (notice.author_staff_id == staff.id or scope_of(staff).street)
