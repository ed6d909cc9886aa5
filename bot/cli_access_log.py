"""`linli access-log [--staff CODE] [--resident ID] [--since DAY] [--until DAY] [--limit N]
[--csv] [--lang L]`: who looked at whose unmasked personal data, newest first.

Each line says who (staff code and name), what (which datum), whose (the resident's id, never
their phone or name), on which record (a case by its reference), why, where (chat or desk) and
when (Beijing time). The views are models/access_log.py's (recent_views, the same filters as the
desk's /admin/access-log); --csv writes UTF-8 with a byte-order mark (models/csv_export.py).
--since and --until are days in Asia/Shanghai, both included.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import col, select

from bot.app import Linli
from bot.cli_export import shanghai_day
from bot.i18n import LANGS, catalogue, t
from models.access_log import PersonalDataView, case_id_of, case_refs, recent_views
from models.base import SHANGHAI
from models.binding import find_staff
from models.csv_export import to_csv
from models.org import Staff

DEFAULT_LIMIT = 200
MOST = 100_000  # a supervisor's whole log in one file, never an unbounded read
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
FIRST_YEAR, LAST_YEAR = 1900, 2999  # beyond, a day is a typo (and year 1 cannot be stored)
COLUMNS = ("when", "staff_code", "staff_name", "field", "resident", "record", "why", "place")


def _limit(text: str) -> int:
    """A --limit (argparse type): a whole number from 1 to MOST."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MOST:
        raise argparse.ArgumentTypeError(f"between 1 and {MOST}: {value}")
    return value


def _day(text: str) -> date:
    """A --since or --until day (argparse type): YYYY-MM-DD, in a year a log can hold."""
    day = shanghai_day(text)
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise argparse.ArgumentTypeError(f"not a year of the log: {text!r}")
    return day


def _resident(text: str) -> int:
    """A --resident (argparse type): a resident's numeric id."""
    if not text.strip().isdecimal() or len(text.strip()) > 12:
        raise argparse.ArgumentTypeError(f"not a resident id: {text!r}")
    return int(text)


def add_access_log_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """linli access-log [filters] [--csv]."""
    log = commands.add_parser(
        "access-log",
        help="who looked at residents' unmasked personal data (newest first)",
        description="staff views of unmasked personal data, from the access log, newest first",
    )
    log.add_argument("--staff", metavar="CODE", help="one staff member's views (code or id)")
    log.add_argument("--resident", type=_resident, metavar="ID", help="views of one resident")
    log.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="first day")
    log.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="last day")
    log.add_argument("--limit", type=_limit, default=DEFAULT_LIMIT, help="at most N views")
    log.add_argument("--csv", action="store_true", help="CSV (UTF-8 with BOM) on stdout")
    log.add_argument("--lang", choices=LANGS, default="zh-CN", help="language of the words")


@dataclass(frozen=True)
class Asked:
    """The filters of one listing."""

    staff: str | None = None
    resident: int | None = None
    since: date | None = None
    until: date | None = None
    limit: int = DEFAULT_LIMIT


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


async def access_log_rows(linli: Linli, asked: Asked, lang: str) -> list[list[object]] | None:
    """The views asked for as rows of COLUMNS, newest first; None when --staff names nobody."""
    async with linli.sessions() as session:
        staff_id: int | None = None
        if asked.staff is not None:
            person = await find_staff(session, asked.staff)
            if person is None:
                return None
            staff_id = person.id
        views = await recent_views(
            session,
            staff_id=staff_id,
            resident_id=asked.resident,
            since=_start_of(asked.since) if asked.since else None,
            until=_start_of(asked.until + timedelta(days=1)) if asked.until else None,
            limit=asked.limit,
        )
        refs = await case_refs(session, views)
        ids = {view.staff_id for view in views}
        people = await session.exec(select(Staff).where(col(Staff.id).in_(ids)))
        staff = {person.id: person for person in people.all()}
    return [_row(view, staff.get(view.staff_id), refs, lang) for view in views]


def _row(
    view: PersonalDataView, person: Staff | None, refs: dict[int, str], lang: str
) -> list[object]:
    case_id = case_id_of(view.subject)
    ref = refs.get(case_id) if case_id is not None else None
    return [
        view.at.astimezone(SHANGHAI).strftime(TIME_FORMAT),
        person.code if person else f"#{view.staff_id}",
        person.name if person else "",
        _worded(lang, "field", view.field_name),
        view.resident_id if view.resident_id is not None else "",
        t(lang, "access_log.case", ref=ref) if ref else view.subject,
        view.why,
        _worded(lang, "place", view.place),
    ]


def _worded(lang: str, group: str, value: str) -> str:
    """A stored word (phone, desk …) in the reader's language when the catalogue has it."""
    key = f"access_log.{group}.{value.replace(', ', '_').replace(' ', '_')}"
    return t(lang, key) if key in catalogue(lang) else value


async def run_access_log(linli: Linli, args: argparse.Namespace) -> int:
    """Print the listing (or its CSV); 2 for an unknown staff member or days in the wrong
    order."""
    lang = args.lang
    if args.since and args.until and args.until < args.since:
        reversed_days = t(lang, "access_log.days_reversed", since=args.since, until=args.until)
        print(reversed_days, file=sys.stderr)
        return 2
    asked = Asked(args.staff, args.resident, args.since, args.until, args.limit)
    rows = await access_log_rows(linli, asked, lang)
    if rows is None:
        print(t(lang, "access_log.unknown_staff", code=args.staff), file=sys.stderr)
        return 2
    header: list[object] = [t(lang, f"access_log.column.{name}") for name in COLUMNS]
    if args.csv:
        sys.stdout.buffer.write(to_csv([header, *rows]))
        sys.stdout.flush()
        return 0
    if not rows:
        print(t(lang, "access_log.none"))
        return 0
    print(_table([header, *rows]))
    if len(rows) == asked.limit:
        print(t(lang, "access_log.limited", limit=asked.limit), file=sys.stderr)
    return 0


def _table(rows: list[list[object]]) -> str:
    """Rows as aligned text columns (a Chinese character is two columns wide)."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(_width(row[n]) for row in cells) for n in range(len(cells[0]))]
    lines = []
    for row in cells:
        padded = [cell + " " * (widths[n] - _width(cell)) for n, cell in enumerate(row)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def _width(text: str) -> int:
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)
