"""The duty roster at /admin/roster: one week, day by day, with the staff on duty, their windows
and the gaps in cover (hours of an open day nobody is on duty for, and the services nobody on
duty that week is trained for, models.roster_gaps). Staff whose role opens the page read it;
those models.policy.may_edit_roster allows also add and remove single shifts and import the
roster CSV with models.roster_csv.import_roster, exactly as `linli roster import` does: every
row is checked first and a file with any problem changes nothing. The export is the same CSV
(`linli roster export`), UTF-8 with a byte-order mark so that Excel and WPS read the names.

Past days are history (appointments were served against them): single shifts are added and
removed from today on. A day whose last shift is removed is empty again, and the hourly
roll-forward (models.roster_plan) staffs an empty day from the pattern four weeks earlier; the
page says so when it happens.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web
from aiohttp_session import Session, get_session
from sqlmodel import col, select

from bot.i18n import catalogue, format_day, t
from bot.web.admin.auth import (
    UNREADABLE_FORM,
    DeskRequest,
    desk_lang,
    refused_unread,
    see_other,
    staff_page,
)
from bot.web.admin.layout import NavEntry, localized
from models import roster_plan
from models.base import SHANGHAI
from models.booking import RosterShift
from models.calendar import DayInfo, classify_day, load_overrides, street_opening_rule
from models.org import Staff
from models.policy import DeskPage, may_edit_roster
from models.roster_csv import (
    MAX_BYTES,
    MAX_WINDOW,
    YEARS,
    export_roster,
    import_roster,
    inactive_on_roster,
)
from models.roster_gaps import RosterGap, unstaffed_services
from models.services import DayKind

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.ROSTER, "/admin/roster", "desk_admin.nav_roster"),)
HERE = "/admin/roster"
# The whole application reads at most a chat message's worth of a request; the roster file
# form alone may send as much as the importer takes (plus the form around it).
UPLOAD_LIMIT = MAX_BYTES + 64 * 1024
EXPORT_WEEKS = range(1, 9)
SHOWN_PROBLEMS = 50
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
HHMM = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::00)?")
WINDOW = re.compile(r"[0-9]{1,3}")
PROBLEM = re.compile(r"row ([0-9]+): (.*)", re.DOTALL)


def parse_day(text: str) -> date | None:
    """A YYYY-MM-DD date in the years the roster takes, else None."""
    if not DATE.fullmatch(text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if day.year in YEARS else None


def parse_hhmm(text: str) -> time | None:
    """HH:MM (as a browser's time field sends it; H:MM too), else None."""
    match = HHMM.fullmatch(text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        return None
    return time(int(match[1]), int(match[2]))


def monday_of(day: date) -> date:
    """The Monday of the week a day is in."""
    return day - timedelta(days=day.weekday())


def local_today(desk: DeskRequest) -> date:
    """Today in Beijing time."""
    return desk.now.astimezone(SHANGHAI).date()


def hhmm(moment: datetime) -> str:
    """An instant's local time of day, 09:00."""
    return f"{moment.astimezone(SHANGHAI):%H:%M}"


def instant(day: date, moment: time) -> datetime:
    """A local time on a day, as the roster stores it (UTC)."""
    return datetime.combine(day, moment, SHANGHAI).astimezone(UTC)


def day_label(lang: str, day: date) -> str:
    """11月30日 周一 / 30 Nov Mon."""
    names = catalogue(lang).get("weekday.names") or []
    weekday = names[day.weekday()] if len(names) == 7 else ""
    return f"{format_day(lang, day)} {weekday}".strip()


def holiday_name(lang: str, info: DayInfo) -> str:
    """The override's name, else the statutory holiday's, else ''."""
    if info.override is not None:
        return localized(lang, info.override.name_zh, info.override.name_en)
    if info.holiday is not None:
        key = f"holidays.{info.holiday}"
        return t(lang, key) if key in catalogue(lang) else ""
    return ""


def uncovered(
    opens: datetime, closes: datetime, shifts: Sequence[RosterShift]
) -> list[tuple[datetime, datetime]]:
    """The stretches of opening hours that no shift covers."""
    gaps: list[tuple[datetime, datetime]] = []
    at = opens
    for shift in sorted(shifts, key=lambda s: s.starts_at):
        if shift.starts_at >= closes:
            break
        if shift.ends_at <= at:
            continue
        if shift.starts_at > at:
            gaps.append((at, shift.starts_at))
        at = shift.ends_at
    if at < closes:
        gaps.append((at, closes))
    return gaps


@dataclass(frozen=True)
class ShiftRow:
    """A shift on the page, with its staff member."""

    shift: RosterShift
    staff: Staff
    starts: str
    ends: str


@dataclass(frozen=True)
class DayRow:
    """One day of the week: what kind of day, its hours, who is on duty, what nobody covers."""

    day: date
    label: str
    kind: DayKind
    holiday: str
    overridden: bool
    hours: tuple[str, str] | None
    shifts: tuple[ShiftRow, ...]
    on_duty: int
    gaps: tuple[tuple[str, str], ...]
    past: bool


@dataclass(frozen=True)
class ShiftForm:
    """The add-a-shift form as typed (shown again, untouched, when something is wrong)."""

    day: str = ""
    staff: str = ""
    start: str = ""
    end: str = ""
    window: str = ""

    @classmethod
    def posted(cls, desk: DeskRequest) -> ShiftForm:
        """The posted fields, trimmed and cut to a sane length."""
        return cls(
            day=desk.text("day")[:10],
            staff=desk.text("staff")[:16],
            start=desk.text("start")[:8],
            end=desk.text("end")[:8],
            window=desk.text("window")[:4],
        )


def asked_week(desk: DeskRequest) -> tuple[date, bool]:
    """The Monday of the week asked for (?week=YYYY-MM-DD, any day of it), else of this week;
    and whether what was asked could be read."""
    asked = desk.request.query.get("week", "").strip()
    day = parse_day(asked[:10]) if asked else local_today(desk)
    if day is None:
        return monday_of(local_today(desk)), False
    return monday_of(day), True


def week_href(monday: date) -> str:
    """The page of a week."""
    return f"{HERE}?week={monday.isoformat()}"


def day_href(day: date) -> str:
    """The page of a day's week, with that day opened."""
    return f"{week_href(monday_of(day))}&open={day.isoformat()}#day-{day.isoformat()}"


def opened_day(desk: DeskRequest) -> date | None:
    """The day the page shows opened (?open=YYYY-MM-DD), if any."""
    return parse_day(desk.request.query.get("open", "").strip()[:10])


def posted_week(desk: DeskRequest) -> date:
    """The week a form was sent from (its hidden field), else this week."""
    day = parse_day(desk.text("week")[:10])
    return monday_of(day or local_today(desk))


async def week_days(desk: DeskRequest, monday: date) -> list[DayRow]:
    """The seven days of a week, each with its shifts and gaps in cover."""
    sunday = monday + timedelta(days=6)
    stmt = (
        select(RosterShift, Staff)
        .join(Staff, col(Staff.id) == col(RosterShift.staff_id))
        .where(col(RosterShift.day) >= monday, col(RosterShift.day) <= sunday)
        .order_by(col(RosterShift.starts_at), col(Staff.code))
    )
    by_day: dict[date, list[ShiftRow]] = defaultdict(list)
    for shift, person in (await desk.session.exec(stmt)).all():
        row = ShiftRow(shift, person, hhmm(shift.starts_at), hhmm(shift.ends_at))
        by_day[shift.day].append(row)
    overrides = await load_overrides(desk.session)
    rules = {kind: await street_opening_rule(desk.session, kind) for kind in DayKind}
    today = local_today(desk)
    days: list[DayRow] = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        info = classify_day(day, overrides)
        rule = rules.get(info.kind)
        rows = by_day.get(day, [])
        hours: tuple[str, str] | None = None
        gaps: tuple[tuple[str, str], ...] = ()
        if rule is not None and rule.opens < rule.closes:
            opens, closes = instant(day, rule.opens), instant(day, rule.closes)
            on_duty = [row.shift for row in rows if row.staff.active]
            hours = (f"{rule.opens:%H:%M}", f"{rule.closes:%H:%M}")
            gaps = tuple((hhmm(a), hhmm(b)) for a, b in uncovered(opens, closes, on_duty))
        days.append(
            DayRow(
                day=day,
                label=day_label(desk.lang, day),
                kind=info.kind,
                holiday=holiday_name(desk.lang, info),
                overridden=info.override is not None,
                hours=hours,
                shifts=tuple(rows),
                on_duty=len({row.staff.id for row in rows if row.staff.active}),
                gaps=gaps,
                past=day < today,
            )
        )
    return days


async def staff_by_code(desk: DeskRequest, code: str) -> Staff | None:
    """The staff member with this code; None for a code nobody has, or for text that cannot be
    a code (control characters, which PostgreSQL would not even compare)."""
    if not code or not code.isprintable():
        return None
    return (await desk.session.exec(select(Staff).where(Staff.code == code))).first()


async def active_staff(desk: DeskRequest) -> list[Staff]:
    """Everyone who may be put on the roster, by staff code."""
    stmt = select(Staff).where(col(Staff.active)).order_by(col(Staff.code))
    return list((await desk.session.exec(stmt)).all())


def problem_lines(desk: DeskRequest, problems: Sequence[str]) -> list[str]:
    """The importer's problems, each with its line number in the desk's language."""
    lines = []
    for problem in problems[:SHOWN_PROBLEMS]:
        match = PROBLEM.fullmatch(problem)
        if match is not None:
            lines.append(desk.t("desk_admin.import_problem_row", row=match[1], text=match[2]))
        else:
            text = problem.removeprefix("file: ")
            lines.append(desk.t("desk_admin.import_problem_file", text=text))
    if len(problems) > SHOWN_PROBLEMS:
        more = len(problems) - SHOWN_PROBLEMS
        lines.append(desk.t("desk_admin.import_problems_more", count=more))
    return lines


async def week_page(
    desk: DeskRequest,
    monday: date,
    *,
    status: int = 200,
    errors: Sequence[str] = (),
    entered: ShiftForm | None = None,
    import_errors: Sequence[str] = (),
    opened: date | None = None,
) -> web.Response:
    """The roster page of a week (with what went wrong in a form, and the form as typed)."""
    sunday = monday + timedelta(days=6)
    gaps: list[RosterGap] = await unstaffed_services(desk.session, monday, 7)
    return desk.render(
        "roster.html",
        status=status,
        monday=monday,
        sunday=sunday,
        start_label=format_day(desk.lang, monday),
        end_label=format_day(desk.lang, sunday),
        days=await week_days(desk, monday),
        prev_href=week_href(monday - timedelta(days=7)),
        next_href=week_href(monday + timedelta(days=7)),
        this_href=week_href(monday_of(local_today(desk))),
        this_week=monday == monday_of(local_today(desk)),
        unstaffed=gaps,
        left_out=await inactive_on_roster(desk.session, monday, sunday),
        may_edit=may_edit_roster(desk.staff),
        people=await active_staff(desk) if may_edit_roster(desk.staff) else [],
        errors=list(errors),
        entered=entered or ShiftForm(day=max(monday, local_today(desk)).isoformat()),
        import_errors=list(import_errors),
        max_window=MAX_WINDOW,
        today=local_today(desk),
        opened=opened or opened_day(desk),
    )


@routes.get("/roster")
@staff_page(DeskPage.ROSTER)
async def roster_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/roster?week=YYYY-MM-DD: a week of the duty roster (this week by default)."""
    monday, understood = asked_week(desk)
    if not understood:
        message = desk.t("desk_admin.bad_week")
        return await week_page(desk, monday, status=400, errors=[message])
    return await week_page(desk, monday)


def read_only(desk: DeskRequest) -> web.Response:
    """The answer to a change by someone who may only read the roster."""
    return desk.refuse(403, "desk_admin.roster_read_only", back=HERE)


@routes.post("/roster/shifts")
@staff_page(DeskPage.ROSTER)
async def add_shift(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/roster/shifts: put one staff member on duty for part of a day."""
    if not may_edit_roster(desk.staff):
        return read_only(desk)
    entered = ShiftForm.posted(desk)
    day = parse_day(entered.day)
    errors: list[str] = []
    if day is None:
        errors.append(desk.t("desk_admin.shift_bad_day"))
    elif day < local_today(desk):
        errors.append(desk.t("desk_admin.shift_past_day", day=day.isoformat()))
    person = await staff_by_code(desk, entered.staff)
    if person is None or not person.active:
        errors.append(desk.t("desk_admin.shift_bad_staff"))
    start, end = parse_hhmm(entered.start), parse_hhmm(entered.end)
    if start is None:
        errors.append(desk.t("desk_admin.shift_bad_start"))
    if end is None:
        errors.append(desk.t("desk_admin.shift_bad_end"))
    if start is not None and end is not None and end <= start:
        errors.append(desk.t("desk_admin.shift_end_before_start"))
    window_ok = not entered.window or (
        WINDOW.fullmatch(entered.window) is not None and 0 < int(entered.window) <= MAX_WINDOW
    )
    if not window_ok:
        errors.append(desk.t("desk_admin.shift_bad_window", max=MAX_WINDOW))
    back = monday_of(day) if day is not None else posted_week(desk)
    if errors or day is None or person is None or start is None or end is None:
        return await week_page(desk, back, status=400, errors=errors, entered=entered, opened=day)
    window = int(entered.window) if entered.window else None
    shift, added = await roster_plan.add_shift(
        desk.session, person, instant(day, start), instant(day, end), window
    )
    if not added:
        message = desk.t(
            "desk_admin.shift_overlaps",
            name=person.name,
            day=shift.day.isoformat(),
            span=f"{hhmm(shift.starts_at)}–{hhmm(shift.ends_at)}",
        )
        return await week_page(
            desk, back, status=400, errors=[message], entered=entered, opened=day
        )
    desk.flash(
        "desk_admin.shift_added",
        name=person.name,
        code=person.code,
        day=day.isoformat(),
        span=f"{start:%H:%M}–{end:%H:%M}",
    )
    return see_other(day_href(day))


@routes.post(r"/roster/shifts/{number:\d{1,9}}/remove")
@staff_page(DeskPage.ROSTER)
async def remove_shift(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/roster/shifts/{id}/remove: take a shift off the roster (today or later)."""
    if not may_edit_roster(desk.staff):
        return read_only(desk)
    shift = await desk.session.get(RosterShift, int(desk.request.match_info["number"]))
    if shift is None:
        return desk.refuse(404, "desk_admin.shift_gone", back=week_href(posted_week(desk)))
    back = day_href(shift.day)
    if shift.day < local_today(desk):
        return desk.refuse(409, "desk_admin.shift_past_day", back=back, day=shift.day.isoformat())
    person = await desk.session.get(Staff, shift.staff_id)
    day, span = shift.day, f"{hhmm(shift.starts_at)}–{hhmm(shift.ends_at)}"
    covered = await roster_plan.remove_shift(desk.session, shift)
    key = "desk_admin.shift_removed" if covered else "desk_admin.shift_removed_day_empty"
    name = person.name if person is not None else ""
    desk.flash(key, name=name, day=day.isoformat(), span=span)
    return see_other(back)


async def import_csv(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/roster/import: the roster CSV, all or nothing (as `linli roster import`)."""
    if not may_edit_roster(desk.staff):
        return read_only(desk)
    monday = posted_week(desk)
    upload = desk.form.get("file") if desk.form is not None else None
    if not isinstance(upload, web.FileField) or not upload.filename:
        message = desk.t("desk_admin.import_no_file")
        return await week_page(desk, monday, status=400, import_errors=[message])
    try:
        data = await asyncio.to_thread(upload.file.read, MAX_BYTES + 1)
    finally:
        upload.file.close()
    problem = _unreadable(desk, data)
    if problem is not None:
        return await week_page(desk, monday, status=400, import_errors=[problem])
    report = await import_roster(desk.session, data.decode("utf-8-sig"))
    if not report.ok:
        # import_roster wrote nothing, and an answer of 400 is never committed.
        lines = [desk.t("desk_admin.import_refused", count=len(report.problems))]
        lines += problem_lines(desk, report.problems)
        return await week_page(desk, monday, status=400, import_errors=lines)
    if report.rows == 0:
        desk.flash("desk_admin.import_empty")
    else:
        desk.flash(
            "desk_admin.import_done",
            rows=report.rows,
            added=report.added,
            removed=report.removed,
            unchanged=report.unchanged,
            skills=report.skills_changed,
        )
    return see_other(week_href(monday))


def _unreadable(desk: DeskRequest, data: bytes) -> str | None:
    """Why an uploaded file cannot be a roster, before reading its rows; None when it can."""
    if len(data) > MAX_BYTES:
        return desk.t("desk_admin.import_too_large", mb=MAX_BYTES // (1024 * 1024))
    if not data.strip():
        return desk.t("desk_admin.import_blank")
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return desk.t("desk_admin.import_not_utf8")
    return None


_import_page = staff_page(DeskPage.ROSTER)(import_csv)


@routes.post("/roster/import")
async def import_route(request: web.Request) -> web.StreamResponse:
    """The import form, read with a body limit of UPLOAD_LIMIT when the sender holds a desk
    session (everyone else goes through the desk's checks with the application's limit)."""
    web_session = await get_session(request)  # loaded here, so the copy below shares it
    if not isinstance(web_session.get("staff"), int):
        return await _import_page(request)
    larger = request.clone(client_max_size=UPLOAD_LIMIT)
    try:
        await larger.post()
    except web.HTTPRequestEntityTooLarge:
        return _unread(larger, web_session, 413, "desk_admin.import_too_large")
    except UNREADABLE_FORM:
        return _unread(larger, web_session, 400, "desk_admin.import_unreadable_form")
    return await _import_page(larger)


def _unread(request: web.Request, web_session: Session, status: int, key: str) -> web.Response:
    """The answer to a form that could not be read at all: nothing was done."""
    lang = desk_lang(request, web_session)
    message = t(lang, key, mb=MAX_BYTES // (1024 * 1024))
    return refused_unread(request, web_session, lang, status, message, back=HERE)


@routes.get("/roster/export.csv")
@staff_page(DeskPage.ROSTER)
async def export_csv(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/roster/export.csv?week=…&weeks=N: the roster CSV of N weeks (1 by default),
    UTF-8 with a byte-order mark; the file `linli roster import` and the import form take."""
    monday, understood = asked_week(desk)
    weeks_text = desk.request.query.get("weeks", "1").strip()
    weeks = int(weeks_text) if weeks_text.isdecimal() and len(weeks_text) < 3 else 0
    if not understood or weeks not in EXPORT_WEEKS:
        message = desk.t("desk_admin.bad_export", most=EXPORT_WEEKS[-1])
        return await week_page(desk, monday, status=400, errors=[message])
    last = monday + timedelta(days=7 * weeks - 1)
    text = await export_roster(desk.session, monday, last)
    return web.Response(
        body=("\ufeff" + text).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="roster-{monday}-{last}.csv"',
            "Cache-Control": "no-store",
        },
    )
