"""The street's organisation: street, communities, grids, compounds, departments and staff."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import enum_field, utc_field


class StaffRole(StrEnum):
    """What a staff account may do."""

    CLERK = "clerk"
    DEPARTMENT_STAFF = "department_staff"
    GRID_LEADER = "grid_leader"
    DISPATCHER = "dispatcher"  # the street's dispatch desk (街道呼叫)
    SUPERVISOR = "supervisor"
    LEADER = "leader"  # reads the numbers of their community, or of the street
    ADMIN = "admin"


class Street(SQLModel, table=True):
    """A sub-district (街道); its code prefixes every reference number."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=8, unique=True)
    name_zh: str = Field(max_length=80)
    name_en: str = Field(max_length=120)
    address_zh: str = Field(default="", max_length=200)
    address_en: str = Field(default="", max_length=200)
    service_hall_zh: str = Field(default="", max_length=200)
    service_hall_en: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)


class Community(SQLModel, table=True):
    """A community (社区) of the street."""

    id: int | None = Field(default=None, primary_key=True)
    street_id: int = Field(foreign_key="street.id", index=True)
    code: str = Field(max_length=16, unique=True)
    name_zh: str = Field(max_length=80)
    name_en: str = Field(max_length=120)
    address_zh: str = Field(default="", max_length=200)
    resident_groups: int = 0


class Grid(SQLModel, table=True):
    """A grid (网格) inside a community, looked after by a grid leader."""

    __table_args__ = (sa.UniqueConstraint("community_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int
    name_zh: str = Field(max_length=80)
    name_en: str = Field(max_length=120)


class Compound(SQLModel, table=True):
    """A residential compound (小区); needs are collected per compound."""

    __table_args__ = (sa.UniqueConstraint("community_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    number: int
    name_zh: str = Field(max_length=80)


class Department(SQLModel, table=True):
    """A department (科室) of the street office."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name_zh: str = Field(max_length=80)
    name_en: str = Field(max_length=120)
    window: int | None = None


class Staff(SQLModel, table=True):
    """A person who works for the street: window clerk, department staff, grid leader, …"""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    name: str = Field(max_length=40)
    role: StaffRole = enum_field(index=True)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id")
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    window: int | None = None
    active: bool = True
    password_hash: str | None = Field(default=None, max_length=200)
    # A desk session is good only for the epoch it began in; logging out starts a new one, so
    # every copy of the old session cookie is over.
    desk_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The private calendar feed's address is signed with this; revoking the feed moves it on.
    feed_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = utc_field()


class StaffSkill(SQLModel, table=True):
    """A service a staff member is trained to handle (一人多岗)."""

    staff_id: int = Field(foreign_key="staff.id", primary_key=True)
    service_id: int = Field(foreign_key="service.id", primary_key=True, index=True)


async def get_street(session: AsyncSession) -> Street | None:
    """The street this installation serves (the first one seeded)."""
    return (await session.exec(select(Street).order_by(Street.id))).first()  # type: ignore[arg-type]


async def list_communities(session: AsyncSession) -> list[Community]:
    """All communities in code order."""
    return list((await session.exec(select(Community).order_by(Community.code))).all())


async def list_grids(session: AsyncSession, community_id: int) -> list[Grid]:
    """The grids of one community in number order."""
    stmt = select(Grid).where(Grid.community_id == community_id).order_by(Grid.number)  # type: ignore[arg-type]
    return list((await session.exec(stmt)).all())
