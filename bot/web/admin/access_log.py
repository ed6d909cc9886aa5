"""Who looked at whose unmasked personal data, at /admin/access-log: the latest views written with
models.access_log.log_view (from the chat and the desk), newest first, all or one staff
member's; for those models.policy.may_read_access_log allows (supervisors, administrators).
The page only reads; it shows which record and which datum, never the datum itself."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlmodel import col, select

from bot.i18n import catalogue
from bot.web.admin.auth import DeskRequest, staff_page
from bot.web.admin.layout import NavEntry
from bot.web.admin.roster import staff_by_code
from models.access_log import PersonalDataView, recent_views
from models.cases import Case
from models.org import Staff
from models.policy import DeskPage, may_read_access_log

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.ACCESS_LOG, "/admin/access-log", "desk_admin.nav_access_log"),)
LIMIT = 200
CASE_SUBJECT = "case:"


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


def case_number(subject: str) -> int | None:
    """The case id of a subject such as "case:12", else None."""
    rest = subject.removeprefix(CASE_SUBJECT)
    if rest == subject or not rest.isdecimal() or len(rest) > 9:
        return None
    return int(rest)


async def rows_for(desk: DeskRequest, views: list[PersonalDataView]) -> list[ViewRow]:
    """The views with their staff members and records named."""
    staff_ids = {view.staff_id for view in views}
    people = await desk.session.exec(select(Staff).where(col(Staff.id).in_(staff_ids)))
    by_id = {person.id: person for person in people.all()}
    numbers = {n for n in (case_number(view.subject) for view in views) if n is not None}
    refs = await desk.session.exec(select(Case.id, Case.ref).where(col(Case.id).in_(numbers)))
    ref_of = dict(refs.all())
    rows = []
    for view in views:
        number = case_number(view.subject)
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


@routes.get("/access-log")
@staff_page(DeskPage.ACCESS_LOG)
async def access_log_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/access-log?staff=CODE: the latest views (of one staff member, if asked)."""
    if not may_read_access_log(desk.staff):
        return desk.refuse(403, "desk.page_not_yours")
    asked = desk.request.query.get("staff", "").strip()[:16]
    person: Staff | None = None
    if asked:
        person = await staff_by_code(desk, asked)
        if person is None:
            message = desk.t("desk_admin.log_unknown_staff", code=asked)
            return desk.render(
                "access_log.html",
                status=404,
                rows=[],
                asked=asked,
                person=None,
                error=message,
                limit=LIMIT,
            )
    views = await recent_views(
        desk.session, staff_id=person.id if person is not None else None, limit=LIMIT
    )
    return desk.render(
        "access_log.html",
        rows=await rows_for(desk, views),
        asked=asked,
        person=person,
        error=None,
        limit=LIMIT,
    )
