"""Short, speakable reference numbers: <PREFIX>-<YYYYMMDD>-<seq>."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from models.messaging import ReferenceCounter


async def next_reference(session: AsyncSession, prefix: str, day: date) -> str:
    """Hand out the next number for a prefix and local day, atomically in the database."""
    key = day.strftime("%Y%m%d")
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    table = ReferenceCounter.__table__  # type: ignore[attr-defined]
    stmt = module.insert(table).values(prefix=prefix, day=key, last=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["prefix", "day"], set_={"last": table.c.last + 1}
    ).returning(table.c.last)
    seq = (await (await session.connection()).execute(stmt)).scalar_one()
    return f"{prefix}-{key}-{seq:04d}"


_TYPED = re.compile(r"([A-Z]{2,4})[\s_-]*(\d{8})[\s_-]*(\d{1,6})")


def canonical_reference(text: str) -> str | None:
    """A reference as people type it ("lc-20261128-0042", "LC20261128 0042", "lc 20261128-42")
    in its printed form (LC-20261128-0042), or None if it is not one."""
    folded = unicodedata.normalize("NFKC", text).strip().upper()  # "ＬＣ－２０２６…" too
    found = _TYPED.fullmatch(folded) if folded.isascii() else None
    if found is None:
        return None
    prefix, day, seq = found.groups()
    return f"{prefix}-{day}-{int(seq):04d}"


def parse_reference(text: str) -> tuple[str, str, int] | None:
    """Split a typed reference number into prefix, day and sequence, or None if it is not one."""
    if not text.isascii():
        return None
    parts = text.strip().upper().split("-")
    if len(parts) != 3 or not parts[0].isalpha() or len(parts[1]) != 8:
        return None
    if not (parts[1].isdecimal() and parts[2].isdecimal()) or len(parts[2]) > 6:
        return None
    return parts[0], parts[1], int(parts[2])
