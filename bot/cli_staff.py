"""Operator commands for staff accounts: unbind a staff member's chat accounts, deactivate them."""

from __future__ import annotations

import logging

from bot.app import Linli
from bot.config import ConfigurationError
from models.binding import deactivate_staff, find_staff, unbind_staff

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
        count = await deactivate_staff(session, staff, linli.clock.now())
    logger.info("staff %s deactivated and unbound from %d chat accounts", staff.code, count)
