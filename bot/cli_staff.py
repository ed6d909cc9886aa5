"""Operator commands for staff accounts: add one with a desk password, change the password,
unbind a staff member's chat accounts, deactivate them."""

from __future__ import annotations

import getpass
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import Linli
from bot.config import ConfigurationError, Settings
from bot.outgoing import case_news
from bot.web.admin.passwords import MIN_LENGTH, WeakPasswordError, hash_password
from bot.web.staff_feed import feed_url
from models.binding import deactivate_staff, find_staff, unbind_staff
from models.case_ops import release_cases
from models.org import Community, Department, Grid, Staff, StaffRole
from models.staff_calendar import revoke_feed

logger = logging.getLogger("linli")


async def staff_unbind(linli: Linli, key: str) -> None:
    """linli staff unbind STAFF: every chat account of that staff member stops acting as them."""
    async with linli.sessions() as session, session.begin():
        staff = await find_staff(session, key)
        if staff is None:
            raise ConfigurationError(f"no staff member {key!r}")
        count = await unbind_staff(session, staff.id or 0, linli.clock.now())
    logger.info("staff %s unbound from %d chat accounts, unused bind codes void", staff.code, count)


async def staff_deactivate(linli: Linli, key: str) -> None:
    """linli staff deactivate STAFF: inactive, every chat account unbound, unused codes void."""
    async with linli.sessions() as session, session.begin():
        staff = await find_staff(session, key)
        if staff is None:
            raise ConfigurationError(f"no staff member {key!r}")
        now = linli.clock.now()
        count = await deactivate_staff(session, staff, now)
        released = await release_cases(session, staff, now)
        for case in released:  # their departments take them on again
            await case_news.alert_handlers(
                session, case, now=now, data_dir=Path(linli.settings.data_dir)
            )
    logger.info(
        "staff %s deactivated, unbound from %d chat accounts, %d open cases handed back",
        staff.code,
        count,
        len(released),
    )


# For scripts and tests; a person is asked instead. (The name of a variable, not a password.)
PASSWORD_ENV = "LINLI_STAFF_PASSWORD"  # noqa: S105


def read_password() -> str:
    """The new desk password: from LINLI_STAFF_PASSWORD, else asked twice on the terminal."""
    given = os.environ.get(PASSWORD_ENV)
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise ConfigurationError(f"no terminal to ask for the password on: set {PASSWORD_ENV}")
    first = getpass.getpass(f"desk password (at least {MIN_LENGTH} characters): ")
    if getpass.getpass("the same again: ") != first:
        raise ConfigurationError("the two passwords differ")
    return first


DESK_ACCOUNTS = frozenset({"add", "passwd"})  # the staff commands that set a desk password


def new_password_hash() -> str:
    """Read the new password (see read_password) and hash it; a weak one stops the command."""
    try:
        return hash_password(read_password())
    except WeakPasswordError as weak:
        raise ConfigurationError(str(weak)) from weak


@dataclass(frozen=True)
class NewStaff:
    """What `linli staff add` was told about the new staff member."""

    code: str
    name: str
    role: StaffRole
    department: str | None = None
    community: str | None = None
    grid: int | None = None
    window: int | None = None


async def staff_add(linli: Linli, new: NewStaff, password_hash: str) -> None:
    """linli staff add CODE --name N --role R […]: a staff member with a desk password."""
    async with linli.sessions() as session, session.begin():
        if await find_staff(session, new.code) is not None:
            raise ConfigurationError(f"staff member {new.code!r} exists already")
        department_id, community_id, grid_id = await _placed(session, new)
        staff = Staff(
            code=new.code,
            name=new.name,
            role=new.role,
            department_id=department_id,
            community_id=community_id,
            grid_id=grid_id,
            window=new.window,
            password_hash=password_hash,
            created_at=linli.clock.now(),
        )
        session.add(staff)
    logger.info("staff %s (%s, %s) added with a desk password", new.code, new.name, new.role)


async def _placed(
    session: AsyncSession, new: NewStaff
) -> tuple[int | None, int | None, int | None]:
    """The department, community and grid ids the codes name (an unknown one stops it)."""
    department_id = community_id = grid_id = None
    if new.department is not None:
        stmt = select(Department.id).where(Department.code == new.department)
        department_id = (await session.exec(stmt)).first()
        if department_id is None:
            raise ConfigurationError(f"no department {new.department!r}")
    if new.community is not None:
        stmt_c = select(Community.id).where(Community.code == new.community)
        community_id = (await session.exec(stmt_c)).first()
        if community_id is None:
            raise ConfigurationError(f"no community {new.community!r}")
    if new.grid is not None:
        if community_id is None:
            raise ConfigurationError("--grid needs --community (grids are numbered per community)")
        stmt_g = select(Grid.id).where(Grid.community_id == community_id, Grid.number == new.grid)
        grid_id = (await session.exec(stmt_g)).first()
        if grid_id is None:
            raise ConfigurationError(f"no grid {new.grid} in community {new.community!r}")
    return department_id, community_id, grid_id


async def staff_passwd(linli: Linli, key: str, password_hash: str) -> None:
    """linli staff passwd STAFF: a new desk password; their open desk sessions end."""
    async with linli.sessions() as session, session.begin():
        staff = await find_staff(session, key)
        if staff is None:
            raise ConfigurationError(f"no staff member {key!r}")
        staff.password_hash = password_hash
        session.add(staff)
    logger.info("staff %s has a new desk password", staff.code)


async def staff_feed_address(linli: Linli, key: str, *, revoke: bool = False) -> None:
    """linli staff feed STAFF [--revoke]: print the address of their private calendar feed;
    with --revoke every address given before stops (404) and a new one is printed."""
    async with linli.sessions() as session, session.begin():
        staff = await find_staff(session, key)
        if staff is None or not staff.active:
            raise ConfigurationError(f"no active staff member {key!r}")
        if revoke:
            await revoke_feed(session, staff)
    if revoke:
        logger.info("staff %s: calendar feed revoked, the old address answers 404", staff.code)
    print(feed_url(linli.settings, staff))
    if linli.settings.public_url == Settings.model_fields["public_url"].default:
        print(
            "note: LINLI_PUBLIC_URL is not set, so the address starts with the default "
            f"{linli.settings.public_url}; set it to the address staff reach Linli at",
            file=sys.stderr,
        )
