"""Operator commands: the duty roster as CSV, its roll-forward and gaps, and whether the holiday
calendar covers the year."""

from __future__ import annotations

import asyncio
import sys
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
from sqlmodel import col, select

from bot.app import Linli
from bot.clock import local_today
from models.calendar import classify_day
from models.roster_csv import (
    MAX_BYTES,
    ImportReport,
    export_roster,
    import_roster,
    inactive_on_roster,
)
from models.roster_gaps import GAP_DAYS, LOOK_BACK_DAYS, unstaffed_services
from models.roster_plan import roll_forward
from models.services import HolidayOverride

EXPORT_DAYS = 28
# The calendar package starts in 2004; nothing before it is worth probing.
EARLIEST_CALENDAR_YEAR = 2004


class RosterFileError(Exception):
    """A roster file that cannot be read as UTF-8 text."""


async def roster_import(linli: Linli, path: Path) -> int:
    """Import a roster CSV in one transaction and print what changed; 1 when nothing could."""
    try:
        text = await asyncio.to_thread(_read_text, path)
    except RosterFileError as error:
        report = ImportReport(ok=False, problems=[f"file: {error}"])
    else:
        report = await _import(linli, text)
    print(report.summary())
    return 0 if report.ok else 1


async def _import(linli: Linli, text: str) -> ImportReport:
    async with linli.sessions() as session, session.begin():
        report = await import_roster(session, text)
        if not report.ok:
            # import_roster writes nothing when it finds problems; rolling back guarantees it.
            await session.rollback()
    return report


def _read_text(path: Path) -> str:
    """The file's text (a UTF-8 BOM removed), or RosterFileError saying why not."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise RosterFileError(f"{path} is larger than {MAX_BYTES // (1024 * 1024)} MB")
        data = path.read_bytes()
    except OSError as error:
        raise RosterFileError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RosterFileError(
            f"{path} is not UTF-8 text (byte {error.start}); in Excel, save as 'CSV UTF-8'"
        ) from None


async def roster_export(
    linli: Linli, start: date | None, end: date | None, out: Path | None
) -> int:
    """Write the roster of start..end (default: today and the next 28 days) to out or stdout."""
    first = start or local_today(linli.clock)
    last = end or first + timedelta(days=EXPORT_DAYS)
    if last < first:
        print(f"linli: the end date {last} is before the start date {first}", file=sys.stderr)
        return 1
    async with linli.sessions() as session, session.begin():
        text = await export_roster(session, first, last)
        left_out = await inactive_on_roster(session, first, last)
    if left_out:
        codes = ", ".join(left_out)
        print(f"warning: shifts of inactive staff not exported: {codes}", file=sys.stderr)
    if out is None:
        sys.stdout.write(text)
        return 0
    try:
        await asyncio.to_thread(out.write_text, text, encoding="utf-8")
    except OSError as error:
        print(f"linli: cannot write {out}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"wrote {len(text.splitlines()) - 1} shift(s) from {first} to {last} to {out}")
    return 0


async def roster_extend(linli: Linli, weeks: int | None = None) -> int:
    """Roll the roster forward now (as the scheduler does every hour) and say what was added."""
    weeks = linli.settings.roster_weeks_ahead if weeks is None else weeks
    if weeks < 1:
        print(f"linli: --weeks must be at least 1, not {weeks}", file=sys.stderr)
        return 1
    today = local_today(linli.clock)
    async with linli.sessions() as session, session.begin():
        added = await roll_forward(session, today, weeks)
    print(f"roster kept {weeks} week(s) ahead of {today}: {added} shift(s) added")
    return 0


async def roster_gaps(linli: Linli, days: int = GAP_DAYS) -> int:
    """List active services with no staffed slot in the next `days` days; 1 if there are any."""
    today = local_today(linli.clock)
    async with linli.sessions() as session, session.begin():
        gaps = await unstaffed_services(session, today, max(days, 1))
    if not gaps:
        print(f"every active service has a staffed slot in the {days} days from {today}")
        return 0
    print(f"{len(gaps)} service(s) with no staffed slot in the {days} days from {today}:")
    print(f"  {'service':<32} {'last staffed':<12} name")
    for gap in gaps:
        last = gap.last_staffed.isoformat() if gap.last_staffed else f"> {LOOK_BACK_DAYS} days"
        print(f"  {gap.service.code:<32} {last:<12} {gap.service.name_zh}")
    print(
        "Train staff for them (skills) or put trained staff on the roster: `linli roster import`."
    )
    return 1


async def calendar_check(linli: Linli, years_ahead: int = 1) -> int:
    """Warn about coming years with neither published holidays nor overrides; 1 if any."""
    today = local_today(linli.clock)
    async with linli.sessions() as session, session.begin():
        days = (await session.exec(select(col(HolidayOverride.day)))).all()
    overridden = {day.year for day in days}
    years = range(today.year, today.year + max(years_ahead, 0) + 1)
    missing = [year for year in years if not holidays_published(year) and year not in overridden]
    opening = linli.settings.data_dir / "opening.toml"
    for year in missing:
        print(
            f"warning: statutory holidays for {year} are not published in the installed "
            f"chinesecalendar ({_package_version()}): weekends will be treated as ordinary "
            f"weekends, and holidays that fall on weekdays as working days. Upgrade the package "
            f"(pip install -U chinesecalendar) or add the official dates as overrides in "
            f"{opening} and run `linli seed`."
        )
    if missing:
        return 1
    print(_coverage(today.year, [year for year in years if not holidays_published(year)]))
    return 0


def holidays_published(year: int) -> bool:
    """Whether the installed chinesecalendar knows the statutory holidays of a year."""
    return classify_day(date(year, 1, 1), {}).published


def last_published_year(around: int) -> int | None:
    """The last year the installed chinesecalendar knows, looking from a year up or down."""
    year = around
    if holidays_published(year):
        while holidays_published(year + 1):
            year += 1
        return year
    while year > EARLIEST_CALENDAR_YEAR and not holidays_published(year):
        year -= 1
    return year if holidays_published(year) else None


def _coverage(this_year: int, overridden: list[int]) -> str:
    """What covers the coming years: the package up to some year, then the overrides."""
    last = last_published_year(this_year)
    known = f"up to {last}" if last is not None else "no year up to now"
    text = f"chinesecalendar {_package_version()} covers statutory holidays {known}"
    if overridden:
        text += f"; holiday overrides cover {', '.join(map(str, overridden))}"
    return text + "."


def _package_version() -> str:
    return str(getattr(chinese_calendar, "__version__", "of unknown version"))
