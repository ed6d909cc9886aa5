"""The duty roster as CSV, so an operator can plan shifts and training (一人多岗) in a spreadsheet.

Format (UTF-8, header row, a leading BOM is fine): date,staff,start,end,window,skills
- date: local (Asia/Shanghai) date, YYYY-MM-DD
- staff: staff code, e.g. S001
- start, end: local time, HH:MM (H:MM as Excel writes it is accepted)
- window: optional positive integer
- skills: optional ;-separated service codes; when given they replace the person's skills

For every date in a file, the file is the whole truth about the staff it lists on that date.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.booking import RosterShift
from models.db import transaction_lock
from models.org import Staff, StaffSkill
from models.roster_plan import ROSTER_LOCK
from models.services import Service

HEADER = ("date", "staff", "start", "end", "window", "skills")
SKILL_SEPARATOR = ";"
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_WINDOW = 999
# A narrow range catches mistyped years such as 1026 or 2206 (and keeps UTC conversion in range).
YEARS = range(2000, 2100)
SUMMARY_PROBLEMS = 50
_DELETE_CHUNK = 1_000
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_WINDOW = re.compile(r"[0-9]+")
_FILE = 0  # the "row" of problems that concern the whole file

T = TypeVar("T")
Problem = tuple[int, str]
ShiftKey = tuple[int, date, datetime, datetime, int | None]


@dataclass
class ImportReport:
    """What a roster import changed, or the problems that stopped it changing anything."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    skills_changed: int = 0
    unchanged: int = 0
    rows: int = 0

    def summary(self) -> str:
        """Lines for the operator: the counts, or every problem (the first 50)."""
        if not self.ok:
            lines = [f"Roster NOT imported, nothing was changed: {len(self.problems)} problem(s)."]
            lines += [f"  {problem}" for problem in self.problems[:SUMMARY_PROBLEMS]]
            if len(self.problems) > SUMMARY_PROBLEMS:
                lines.append(f"  … and {len(self.problems) - SUMMARY_PROBLEMS} more")
            return "\n".join(lines)
        return "\n".join(
            [
                f"Roster imported: {self.rows} row(s).",
                f"  shifts added: {self.added}",
                f"  shifts removed: {self.removed}",
                f"  shifts unchanged: {self.unchanged}",
                f"  staff whose skills changed: {self.skills_changed}",
            ]
        )


@dataclass(frozen=True)
class _Row:
    number: int
    staff: Staff
    day: date
    starts_at: datetime
    ends_at: datetime
    window: int | None
    skills: frozenset[str] | None

    def key(self) -> ShiftKey:
        return (self.staff.id or 0, self.day, self.starts_at, self.ends_at, self.window)

    def span(self) -> str:
        return f"{_local_hhmm(self.starts_at)}–{_local_hhmm(self.ends_at)}"


@dataclass(frozen=True)
class _Catalogue:
    staff: dict[str, Staff]
    services: dict[str, int]


async def import_roster(session: AsyncSession, text: str) -> ImportReport:
    """Check every row, then (only if all are good) apply the file in the caller's transaction."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8")) > MAX_BYTES:
        return _refused([(_FILE, f"larger than {MAX_BYTES // (1024 * 1024)} MB")])
    records, problems = _split(text)
    if problems:
        return _refused(problems)
    catalogue = await _load_catalogue(session)
    rows: list[_Row] = []
    for number, cells in records:
        row, errors = _parse_row(number, cells, catalogue)
        problems += [(number, error) for error in errors]
        if row is not None:
            rows.append(row)
    problems += _overlaps(rows) + _skill_conflicts(rows)
    if problems:
        return _refused(problems)
    return await _apply(session, rows, catalogue)


async def export_roster(session: AsyncSession, start: date, end: date) -> str:
    """The CSV of active staff's shifts on days start..end, with each person's current skills."""
    stmt = (
        select(RosterShift, Staff.code)
        .join(Staff, col(Staff.id) == col(RosterShift.staff_id))
        .where(col(RosterShift.day) >= start, col(RosterShift.day) <= end, col(Staff.active))
    )
    found = sorted((await session.exec(stmt)).all(), key=lambda r: (r[0].day, r[0].starts_at, r[1]))
    skills = await _skill_codes(session, {shift.staff_id for shift, _ in found})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for shift, code in found:
        writer.writerow(
            [
                shift.day.isoformat(),
                code,
                _local_hhmm(shift.starts_at),
                _local_hhmm(shift.ends_at),
                "" if shift.window is None else shift.window,
                SKILL_SEPARATOR.join(sorted(skills.get(shift.staff_id, ()))),
            ]
        )
    return buffer.getvalue()


async def inactive_on_roster(session: AsyncSession, start: date, end: date) -> list[str]:
    """Codes of inactive staff who still have shifts on days start..end (export leaves them out)."""
    stmt = (
        select(Staff.code)
        .join(RosterShift, col(Staff.id) == col(RosterShift.staff_id))
        .where(col(RosterShift.day) >= start, col(RosterShift.day) <= end, ~col(Staff.active))
        .distinct()
    )
    return sorted((await session.exec(stmt)).all())


def _refused(problems: Iterable[Problem]) -> ImportReport:
    """A report of problems in row order (a row's own problems in column order)."""
    ordered = sorted(problems, key=lambda problem: problem[0])
    lines = [f"{'file' if row == _FILE else f'row {row}'}: {text}" for row, text in ordered]
    return ImportReport(ok=False, problems=lines)


def _split(text: str) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    """The data records with their line numbers, or the problem that stops reading the file."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        header = next(reader, None)
        if header is None or [cell.strip().lower() for cell in header] != list(HEADER):
            found = ",".join(header) if header else ""
            expected = ",".join(HEADER)
            return [], [(1, f"missing or wrong header: expected {expected!r}, found {found!r}")]
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, and the empty ",,,,," rows spreadsheets leave behind
            if len(records) == MAX_ROWS:
                return [], [(_FILE, f"more than {MAX_ROWS} rows")]
            records.append((reader.line_num, cells))
    except csv.Error as error:
        return [], [(reader.line_num, f"not readable as CSV: {error}")]
    return records, []


async def _load_catalogue(session: AsyncSession) -> _Catalogue:
    staff = (await session.exec(select(Staff))).all()
    services = (await session.exec(select(Service.code, Service.id))).all()
    return _Catalogue(
        {person.code: person for person in staff},
        {code: service_id or 0 for code, service_id in services},
    )


def _parse_row(
    number: int, cells: Sequence[str], catalogue: _Catalogue
) -> tuple[_Row | None, list[str]]:
    """One record as a shift, or every reason it cannot be one."""
    if len(cells) != len(HEADER):
        return None, [f"expected {len(HEADER)} columns ({','.join(HEADER)}), found {len(cells)}"]
    day_text, code, start_text, end_text, window_text, skills_text = (c.strip() for c in cells)
    errors: list[str] = []
    day = _attempt(_parse_day, day_text, errors)
    person = _attempt(lambda text: _find_staff(text, catalogue.staff), code, errors)
    start = _attempt(lambda text: _parse_time(text, "start"), start_text, errors)
    end = _attempt(lambda text: _parse_time(text, "end"), end_text, errors)
    if start is not None and end is not None and end <= start:
        errors.append(f"end {end:%H:%M} is not after start {start:%H:%M}")
    window = _attempt(_parse_window, window_text, errors)
    skills = _attempt(lambda text: _parse_skills(text, catalogue.services), skills_text, errors)
    if errors or day is None or person is None or start is None or end is None:
        return None, errors
    return _Row(number, person, day, _instant(day, start), _instant(day, end), window, skills), []


def _attempt(parse: Callable[[str], T], text: str, errors: list[str]) -> T | None:
    try:
        return parse(text)
    except ValueError as error:
        errors.append(str(error))
        return None


def _parse_day(text: str) -> date:
    if not _DATE.fullmatch(text):
        raise ValueError(f"bad date {text!r}: expected YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"bad date {text!r}: there is no such day") from None
    if day.year not in YEARS:
        raise ValueError(f"bad date {text!r}: the year must be {YEARS[0]}–{YEARS[-1]}")
    return day


def _find_staff(code: str, staff: dict[str, Staff]) -> Staff:
    if not code:
        raise ValueError("the staff code is missing")
    person = staff.get(code)
    if person is None:
        raise ValueError(f"unknown staff code {code!r}")
    if not person.active:
        raise ValueError(f"staff {code} is not active")
    return person


def _parse_time(text: str, column: str) -> time:
    match = _TIME.fullmatch(text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"bad {column} time {text!r}: expected HH:MM")
    return time(int(match[1]), int(match[2]))


def _parse_window(text: str) -> int | None:
    if not text:
        return None
    if not _WINDOW.fullmatch(text) or not 0 < int(text) <= MAX_WINDOW:
        raise ValueError(f"window must be a positive integer up to {MAX_WINDOW}, not {text!r}")
    return int(text)


def _parse_skills(text: str, services: dict[str, int]) -> frozenset[str] | None:
    codes = frozenset(code.strip() for code in text.split(SKILL_SEPARATOR) if code.strip())
    unknown = sorted(codes - services.keys())
    if unknown:
        raise ValueError(f"unknown service code(s) in skills: {', '.join(unknown)}")
    return codes or None


def _instant(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, SHANGHAI).astimezone(UTC)


def _local_hhmm(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%H:%M")


def _overlaps(rows: Iterable[_Row]) -> list[Problem]:
    """A problem for each shift that starts before another of the same person's has ended."""
    by_staff: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        by_staff[row.staff.code].append(row)
    problems: list[Problem] = []
    for shifts in by_staff.values():
        shifts.sort(key=lambda r: (r.starts_at, r.number))
        latest = shifts[0]  # of the shifts so far, the one that ends last
        for row in shifts[1:]:
            if row.starts_at < latest.ends_at:
                message = (
                    f"{row.staff.code}'s shift {row.span()} on {row.day} overlaps "
                    f"row {latest.number} ({latest.span()})"
                )
                problems.append((row.number, message))
            if row.ends_at > latest.ends_at:
                latest = row
    return problems


def _skill_conflicts(rows: Iterable[_Row]) -> list[Problem]:
    """A problem for each row whose skills differ from an earlier row's for the same person."""
    first: dict[str, _Row] = {}
    problems: list[Problem] = []
    for row in rows:
        if row.skills is None:
            continue
        earlier = first.setdefault(row.staff.code, row)
        if earlier.skills != row.skills:
            message = f"skills for {row.staff.code} differ from those on row {earlier.number}"
            problems.append((row.number, message))
    return problems


async def _apply(session: AsyncSession, rows: list[_Row], catalogue: _Catalogue) -> ImportReport:
    if not rows:
        return ImportReport(ok=True)
    await transaction_lock(session, ROSTER_LOCK)  # not at the same time as the roll-forward
    wanted = {row.key(): row for row in rows}
    current = await _current_shifts(session, {(row.staff.id or 0, row.day) for row in rows})
    stale = [shift_id for key, shift_id in current.items() if key not in wanted]
    # Deleted before the new rows go in: a changed shift may keep its (staff, start) key.
    for chunk in range(0, len(stale), _DELETE_CHUNK):
        ids = stale[chunk : chunk + _DELETE_CHUNK]
        await session.exec(sa.delete(RosterShift).where(col(RosterShift.id).in_(ids)))
    new = [row for key, row in wanted.items() if key not in current]
    session.add_all(
        RosterShift(
            staff_id=row.staff.id or 0,
            day=row.day,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            window=row.window,
        )
        for row in new
    )
    await session.flush()
    skills_changed = await _replace_skills(session, rows, catalogue)
    return ImportReport(
        ok=True,
        added=len(new),
        removed=len(stale),
        skills_changed=skills_changed,
        unchanged=len(wanted) - len(new),
        rows=len(rows),
    )


async def _current_shifts(
    session: AsyncSession, pairs: set[tuple[int, date]]
) -> dict[ShiftKey, int]:
    """The shifts now on the roster for these (staff id, day) pairs, by content, with their ids."""
    days = [day for _, day in pairs]
    stmt = select(RosterShift).where(
        col(RosterShift.staff_id).in_({staff_id for staff_id, _ in pairs}),
        col(RosterShift.day) >= min(days),
        col(RosterShift.day) <= max(days),
    )
    shifts = (await session.exec(stmt)).all()
    return {
        (s.staff_id, s.day, s.starts_at, s.ends_at, s.window): s.id or 0
        for s in shifts
        if (s.staff_id, s.day) in pairs
    }


async def _replace_skills(session: AsyncSession, rows: list[_Row], catalogue: _Catalogue) -> int:
    """Give each person the skills their rows name; returns how many people's skills changed."""
    wanted = {
        row.staff.id or 0: {catalogue.services[code] for code in row.skills}
        for row in rows
        if row.skills is not None
    }
    if not wanted:
        return 0
    stmt = select(StaffSkill.staff_id, StaffSkill.service_id).where(
        col(StaffSkill.staff_id).in_(wanted)
    )
    current: dict[int, set[int]] = defaultdict(set)
    for staff_id, service_id in (await session.exec(stmt)).all():
        current[staff_id].add(service_id)
    changed = [staff_id for staff_id, services in wanted.items() if current[staff_id] != services]
    if changed:
        await session.exec(sa.delete(StaffSkill).where(col(StaffSkill.staff_id).in_(changed)))
        session.add_all(
            StaffSkill(staff_id=staff_id, service_id=service_id)
            for staff_id in changed
            for service_id in sorted(wanted[staff_id])
        )
        await session.flush()
    return len(changed)


async def _skill_codes(session: AsyncSession, staff_ids: set[int]) -> dict[int, list[str]]:
    """Each of these people's skills as service codes."""
    stmt = (
        select(StaffSkill.staff_id, Service.code)
        .join(Service, col(Service.id) == col(StaffSkill.service_id))
        .where(col(StaffSkill.staff_id).in_(staff_ids))
    )
    skills: dict[int, list[str]] = defaultdict(list)
    for staff_id, code in (await session.exec(stmt)).all():
        skills[staff_id].append(code)
    return skills
