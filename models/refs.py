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


# Hyphens as typed on a phone or spoken to voice input ("LC一2026…", "LC杠2026…").
_DASHES = str.maketrans({"一": "-", "杠": "-", "—": "-", "–": "-", "_": "-"})
_LOOSE = re.compile(
    r"(?<![a-z0-9])([a-z]{2,4}|[a-z](?: [a-z]){1,3})[\s-]*((?:[0-9lo]\s?){8})[\s-]*"
    r"((?:[0-9lo]\s?){0,5}[0-9lo])(?![a-z0-9])"
)
# Short English words a date or a number may follow ("on 2026 12 09 10:30"): never a prefix.
_NOT_PREFIXES = frozenset(
    {
        "am",
        "an",
        "as",
        "at",
        "be",
        "by",
        "do",
        "go",
        "he",
        "if",
        "in",
        "is",
        "it",
        "me",
        "my",
        "no",
        "of",
        "on",
        "or",
        "pm",
        "so",
        "to",
        "up",
        "us",
        "we",
        "ok",
        "and",
        "are",
        "but",
        "can",
        "for",
        "has",
        "her",
        "his",
        "its",
        "may",
        "not",
        "our",
        "the",
        "tel",
        "too",
        "via",
        "was",
        "who",
        "you",
        "rmb",
    }
)


def find_reference(text: str) -> str | None:
    """The first reference in a sentence, however typed ("l c y 20261209 0013", "LC一20261206一
    0021", "LC-2026l128-0033" with l for 1 and o for 0), in its printed form; None if none.
    Its day must be a real day from 2020 on, so phone numbers and prices are not taken."""
    folded = unicodedata.normalize("NFKC", text).lower().translate(_DASHES)
    for found in _LOOSE.finditer(folded):
        prefix = found.group(1).replace(" ", "")
        day, seq = (_digits(found.group(n)) for n in (2, 3))
        if prefix in _NOT_PREFIXES or not (day.isdigit() and seq.isdigit() and _a_day(day)):
            continue
        return f"{prefix.upper()}-{day}-{int(seq):04d}"
    return None


def _a_day(digits: str) -> bool:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).year >= 2020
    except ValueError:
        return False


def _digits(typed: str) -> str:
    return typed.replace(" ", "").replace("l", "1").replace("o", "0")
