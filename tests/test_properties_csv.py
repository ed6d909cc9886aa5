"""Property-based: roster CSV imports (models.roster_csv, and `linli roster import` reading a
file) of any text or bytes: BOMs, other encodings, formula cells, huge fields, missing or extra
columns, broken quoting. A clear refusal that changed nothing, or an import whose shifts are the
file's rows; never a crash or half an import."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from aiohttp import FormData
from hypothesis import event, example, given
from hypothesis import strategies as st
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import Linli
from bot.cli_roster import roster_import
from models.base import SHANGHAI
from models.booking import RosterShift
from models.org import Staff, StaffSkill
from models.roster_csv import HEADER, import_roster
from models.services import Service
from tests.hypothesis_setup import HTTP, PAGES, assert_consistent, logged_failures, row_counts
from tests.test_admin_auth import Browser, Client
from tests.test_admin_roster import SUPERVISOR, logged_in

FILES = itertools.count(1)
TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
FORMULA = st.sampled_from(["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", '=HYPERLINK("x")'])
HUGE = st.builds(lambda ch, n: ch * n, st.sampled_from('9a,"\n中'), st.integers(1, 200_000))
DAYS = st.dates(min_value=date(2026, 11, 28), max_value=date(2027, 1, 31)).map(date.isoformat)
HHMM = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(7, 19), st.sampled_from([0, 30]))
JUNK = st.one_of(TEXT, FORMULA, st.sampled_from(["", " ", "2026-02-30", "24:00", "0", "-1"]))
Snapshot = tuple[list[tuple[str, str, str, str, int | None]], list[tuple[str, str]]]


@dataclass(frozen=True)
class Known:
    """The staff and service codes the seeded street has."""

    staff: list[str]
    services: list[str]


async def _known(linli: Linli) -> Known:
    async with linli.sessions() as session:
        staff = (await session.exec(select(Staff.code).where(col(Staff.active)))).all()
        services = (await session.exec(select(Service.code))).all()
    return Known(sorted(staff), sorted(services))


def _rows(known: Known) -> st.SearchStrategy[list[list[str]]]:
    """Rows mostly of the right make, now and then with a wrong cell, column or row."""
    skills = st.lists(st.sampled_from(known.services), max_size=3).map(";".join)
    right = st.builds(
        lambda day, code, start, hours, window, skills: [
            *(day, code, f"{start:02d}:00", f"{start + hours}:00"),
            *(window, skills),
        ],
        DAYS,
        st.sampled_from(known.staff),
        st.integers(7, 15),
        st.integers(1, 3),
        st.one_of(st.just(""), st.integers(1, 999).map(str)),
        st.one_of(st.just(""), st.just(""), skills),
    )
    spoilt = st.tuples(right, st.integers(0, len(HEADER) - 1), JUNK).map(
        lambda parts: [parts[2] if n == parts[1] else cell for n, cell in enumerate(parts[0])]
    )
    ragged = st.one_of(right.map(lambda r: r[:-1]), right.map(lambda r: [*r, "x"]))
    wrong = st.one_of(spoilt, ragged, st.lists(JUNK, max_size=8))
    return st.lists(st.one_of(*[right] * 6, wrong), max_size=5)


def _csv_text(header: list[str], rows: list[list[str]], crlf: bool) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n" if crlf else "\n").writerows([header, *rows])
    return buffer.getvalue()


def _files(known: Known) -> st.SearchStrategy[str]:
    headers = st.one_of(
        st.just(list(HEADER)),
        st.just(list(HEADER)),
        st.just([name.upper() for name in HEADER]),
        st.just(list(HEADER[:-1])),
        st.lists(JUNK, max_size=7),
    )
    made = st.builds(_csv_text, headers, _rows(known), st.booleans())
    spoilt = st.tuples(made, st.sampled_from(["bom", "quote", "nul", "huge"]), HUGE).map(
        lambda parts: {
            "bom": "\ufeff" + parts[0],
            "quote": parts[0].replace(",", ',"', 1),
            "nul": parts[0].replace("\n", "\x00\n", 1),
            "huge": parts[0] + parts[2],
        }[parts[1]]
    )
    return st.one_of(made, made, made, spoilt, st.text(max_size=500))


async def _snapshot(session: AsyncSession) -> Snapshot:
    """Every shift (by staff code, local times) and skill, in the session's transaction."""
    codes = dict((await session.exec(select(Staff.id, Staff.code))).all())
    shifts = (await session.exec(select(RosterShift))).all()
    skills = (await session.exec(select(StaffSkill.staff_id, StaffSkill.service_id))).all()
    return (
        sorted(
            (codes[s.staff_id], s.day.isoformat(), _hhmm(s.starts_at), _hhmm(s.ends_at), s.window)
            for s in shifts
        ),
        sorted((codes[staff_id], str(service_id)) for staff_id, service_id in skills),
    )


def _hhmm(moment: object) -> str:
    assert hasattr(moment, "astimezone")
    return f"{moment.astimezone(SHANGHAI):%H:%M}"


def _file_shifts(text: str) -> set[tuple[str, str, str, str, int | None]]:
    """What an accepted file says the roster holds, as read by the csv module alone."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    next(reader)
    listed: set[tuple[str, str, str, str, int | None]] = set()
    for cells in reader:
        if any(cell.strip() for cell in cells):
            day, code, start, end, window, _skills = (cell.strip() for cell in cells)
            listed.add((day, code, _padded(start), _padded(end), int(window) if window else None))
    return listed


def _padded(hhmm: str) -> str:
    hour, minute = hhmm.split(":")
    return f"{int(hour):02d}:{minute}"


@HTTP
@given(data=st.data())
@example(data=None)
async def test_imports_are_all_or_nothing(linli: Linli, data: st.DataObject | None) -> None:
    """A refused file changed nothing (not even inside the transaction); an accepted one made
    the listed people's days exactly its rows, and importing it again changes nothing."""
    if data is None:  # the example: a window no integer conversion takes
        text = f"{','.join(HEADER)}\n2026-12-01,S001,09:00,12:00,{'9' * 5000},\n"
    else:
        text = data.draw(_files(await _known(linli)))
    async with linli.sessions() as session, session.begin():
        before = await _snapshot(session)
        report = await import_roster(session, text)
        event(f"imported: {report.ok}")
        if not report.ok:
            assert report.problems and await _snapshot(session) == before
            await session.rollback()
            return
        after = await _snapshot(session)
    listed = _file_shifts(text)
    pairs = {(day, code) for day, code, *_ in listed}
    now_on_those_days = {
        (day, code, start, end, window)
        for code, day, start, end, window in after[0]
        if (day, code) in pairs
    }
    assert now_on_those_days == listed
    async with linli.sessions() as session, session.begin():
        again = await import_roster(session, text)
    assert again.ok and (again.added, again.removed) == (0, 0)


ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16", "latin-1", "cp1252"])


@HTTP
@given(data=st.data(), encoding=ENCODINGS)
async def test_cli_reads_any_file(
    linli: Linli, tmp_path: Path, data: st.DataObject, encoding: str
) -> None:
    """`linli roster import FILE` with a file in any encoding, or bytes that are no text: exit 0
    or 1, never a traceback; 1 leaves every table as it was."""
    text = data.draw(_files(await _known(linli)))
    path = tmp_path / f"roster-{next(FILES)}.csv"
    path.write_bytes(text.encode(encoding, "replace"))
    before = await row_counts(linli.engine)
    status = await roster_import(linli, path)
    event(f"exit {status}")
    assert status in (0, 1)
    if status == 1:
        assert await row_counts(linli.engine) == before
    await assert_consistent(linli.engine)


@pytest.fixture
async def desk(linli: Linli, client: Client) -> AsyncIterator[Browser]:
    """A supervisor logged in at the desk (/admin), who may import the roster."""
    async with Browser(client) as browser:
        yield await logged_in(linli, browser, SUPERVISOR)


@PAGES
@given(
    data=st.data(),
    encoding=ENCODINGS,
    name=st.one_of(st.just("roster.csv"), st.from_regex(r"[\w .()'-]{0,40}", fullmatch=True)),
    kind=st.sampled_from(["text/csv", "application/octet-stream", "image/png", ""]),
)
async def test_desk_upload_of_any_file(
    linli: Linli, desk: Browser, data: st.DataObject, encoding: str, name: str, kind: str
) -> None:
    """POST /admin/roster/import with any file: below 500 with nothing logged; a refusal (400)
    leaves every table as it was; an import leaves the database consistent."""
    text = data.draw(st.one_of(_files(await _known(linli)), st.binary(max_size=2_000)))
    body = text if isinstance(text, bytes) else text.encode(encoding, "replace")
    form = FormData()
    form.add_field("csrf", await desk.csrf("/admin/roster"))
    form.add_field("file", body, filename=name or "x", content_type=kind or None)
    before = await row_counts(linli.engine)
    with logged_failures() as failures:
        answer = await desk.post("/admin/roster/import", form)
        await answer.read()
    event(f"HTTP {answer.status}")
    assert answer.status < 500 and not failures, (answer.status, failures)
    if answer.status != 303:
        assert await row_counts(linli.engine) == before
    await assert_consistent(linli.engine)
