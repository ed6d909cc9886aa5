"""Who looked at whose unmasked personal data, at /admin/access-log: the latest views written with
models.access_log.log_view (from the chat and the desk), newest first, filtered as
`linli access-log` filters them (one staff member, one resident, from and to a day); for those
models.policy.may_read_access_log allows (supervisors, administrators). The page only reads;
it shows which record and which datum, never the datum itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from aiohttp import web
from sqlmodel import col, select

from bot.i18n import catalogue
from bot.web.admin.auth import DeskRequest, staff_page
from bot.web.admin.layout import NavEntry
from bot.web.admin.roster import staff_by_code
from models.access_log import PersonalDataView, case_id_of, case_refs, recent_views
from models.base import SHANGHAI
from models.org import Staff
from models.policy import DeskPage, may_read_access_log

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.ACCESS_LOG, "/admin/access-log", "desk_admin.nav_access_log"),)
LIMIT = 200


@dataclass(frozen=True)
class ViewRow:
    """One view, in words."""

    view: PersonalDataView
    staff: Staff | None
    record: str
    href: str | None
    field: str
    place: str


def label(desk: DeskRequest, prefix: str, value: str) -> str:
    """A stored word (phone, desk …) in the desk's language when the catalogue knows it."""
    key = f"desk_admin.{prefix}_{value}"
    return desk.t(key) if key in catalogue(desk.lang) else value


async def rows_for(desk: DeskRequest, views: list[PersonalDataView]) -> list[ViewRow]:
    """The views with their staff members and records named."""
    staff_ids = {view.staff_id for view in views}
    people = await desk.session.exec(select(Staff).where(col(Staff.id).in_(staff_ids)))
    by_id = {person.id: person for person in people.all()}
    ref_of = await case_refs(desk.session, views)
    rows = []
    for view in views:
        number = case_id_of(view.subject)
        ref = ref_of.get(number) if number is not None else None
        record = desk.t("desk_admin.log_case", ref=ref) if ref else view.subject
        rows.append(
            ViewRow(
                view=view,
                staff=by_id.get(view.staff_id),
                record=record,
                href=f"/admin/cases/{number}" if ref else None,
                field=label(desk, "datum", view.field_name),
                place=label(desk, "place", view.place),
            )
        )
    return rows


@dataclass(frozen=True)
class Filters:
    """What the page was asked to narrow the log to (as typed, and as read)."""

    staff: str = ""
    resident: str = ""
    since: str = ""
    until: str = ""
    resident_id: int | None = None
    since_at: datetime | None = None
    until_at: datetime | None = None


FIRST_YEAR, LAST_YEAR = 1900, 2999  # beyond, a day is a typo (and year 1 cannot be stored)


def _day_start(text: str) -> datetime:
    """Midnight at the start of a YYYY-MM-DD day in Beijing; ValueError for anything else."""
    day = date.fromisoformat(text)
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"year {day.year}")
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def read_filters(desk: DeskRequest) -> Filters | None:
    """The query's filters; None when a resident id or a day cannot be read."""
    query = desk.request.query
    staff, resident = query.get("staff", "").strip()[:16], query.get("resident", "").strip()
    since, until = query.get("since", "").strip(), query.get("until", "").strip()
    if resident and not (resident.isdecimal() and len(resident) <= 12):
        return None
    if len(since) > 10 or len(until) > 10:
        return None
    try:
        since_at = _day_start(since) if since else None
        until_at = _day_start(until) + timedelta(days=1) if until else None  # the day included
    except ValueError:
        return None
    resident_id = int(resident) if resident else None
    return Filters(staff, resident, since, until, resident_id, since_at, until_at)


@routes.get("/access-log")
@staff_page(DeskPage.ACCESS_LOG)
async def access_log_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/access-log?staff=CODE&resident=ID&since=DAY&until=DAY: the latest views
    (of one staff member, about one resident, between two days, if asked)."""
    if not may_read_access_log(desk.staff):
        return desk.refuse(403, "desk.page_not_yours")
    filters = read_filters(desk)
    if filters is None:
        message = desk.t("access_log.desk.bad_filter")
        return _page(desk, Filters(), rows=[], person=None, error=message, status=400)
    person: Staff | None = None
    if filters.staff:
        person = await staff_by_code(desk, filters.staff)
        if person is None:
            message = desk.t("desk_admin.log_unknown_staff", code=filters.staff)
            return _page(desk, filters, rows=[], person=None, error=message, status=404)
    views = await recent_views(
        desk.session,
        staff_id=person.id if person is not None else None,
        resident_id=filters.resident_id,
        since=filters.since_at,
        until=filters.until_at,
        limit=LIMIT,
    )
    return _page(desk, filters, rows=await rows_for(desk, views), person=person, error=None)


def _page(
    desk: DeskRequest,
    filters: Filters,
    *,
    rows: list[ViewRow],
    person: Staff | None,
    error: str | None,
    status: int = 200,
) -> web.StreamResponse:
    return desk.render(
        "access_log.html",
        status=status,
        rows=rows,
        asked=filters.staff,
        filters=filters,
        person=person,
        error=error,
        limit=LIMIT,
    )
