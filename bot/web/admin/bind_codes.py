"""Staff bind codes at /admin/bind-codes: an administrator issues the one-time code that makes a
WeChat or Telegram account a staff member's (models.binding.issue_bind_code, as `linli staff
bind-code` does: the same lifetime, and the person's earlier unused code stops working), sees
the codes not yet used and voids one that should not be used any more.

Only a keyed hash of a code is stored, so the code itself is shown once: it travels from the
form to the next page in the encrypted session cookie and is taken out of it when shown.
Everything here is for those models.policy.may_issue_bind_codes allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlmodel import col, select

from bot.web.admin.auth import DeskRequest, see_other, staff_page
from bot.web.admin.layout import NavEntry, when
from bot.web.admin.roster import staff_by_code
from models.binding import format_code, issue_bind_code, live_code, void_bind_code
from models.messaging import BindCode
from models.org import Staff
from models.policy import DeskPage, may_issue_bind_codes

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.BIND_CODES, "/admin/bind-codes", "desk_admin.nav_bind_codes"),)
HERE = "/admin/bind-codes"
SHOWN_ONCE = "bind_code_issued"  # the session key the new code waits under until shown
LIST_LIMIT = 500


@dataclass(frozen=True)
class LiveCode:
    """A staff code issued and not yet used, void or expired."""

    code: BindCode
    staff: Staff


async def live_codes(desk: DeskRequest) -> list[LiveCode]:
    """The staff codes that could still be used, soonest to expire first."""
    stmt = (
        select(BindCode, Staff)
        .join(Staff, col(Staff.id) == col(BindCode.staff_id))
        .where(live_code(desk.now))
        .order_by(col(BindCode.expires_at), col(BindCode.id))
        .limit(LIST_LIMIT)
    )
    return [LiveCode(code, person) for code, person in (await desk.session.exec(stmt)).all()]


def shown_once(desk: DeskRequest) -> dict[str, str] | None:
    """The code issued by the last form, taken out of the session (so shown only once)."""
    issued = desk.web_session.pop(SHOWN_ONCE, None)
    if not isinstance(issued, dict) or not all(isinstance(v, str) for v in issued.values()):
        return None
    return issued


async def bind_codes_for(
    desk: DeskRequest, *, status: int = 200, error: str | None = None, chosen: str = ""
) -> web.Response:
    """The page: the code just issued (once), the issue form and the unused codes."""
    people = await desk.session.exec(
        select(Staff).where(col(Staff.active)).order_by(col(Staff.code))
    )
    return desk.render(
        "bind_codes.html",
        status=status,
        issued=shown_once(desk) if error is None else None,
        codes=await live_codes(desk),
        people=list(people.all()),
        error=error,
        chosen=chosen,
        hours=f"{desk.linli.settings.bind_code_staff_hours:g}",
    )


@routes.get("/bind-codes")
@staff_page(DeskPage.BIND_CODES)
async def bind_codes_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/bind-codes."""
    if not may_issue_bind_codes(desk.staff):
        return desk.refuse(403, "desk.page_not_yours")
    return await bind_codes_for(desk)


@routes.post("/bind-codes")
@staff_page(DeskPage.BIND_CODES)
async def issue(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/bind-codes: a fresh code for an active staff member."""
    if not may_issue_bind_codes(desk.staff):
        return desk.refuse(403, "desk.page_not_yours")
    code = desk.text("staff")[:16]
    person = await staff_by_code(desk, code)
    if person is None or not person.active:
        message = desk.t("desk_admin.bind_bad_staff")
        return await bind_codes_for(desk, status=400, error=message, chosen=code)
    settings = desk.linli.settings
    issued = await issue_bind_code(
        desk.session,
        secret=settings.secret_key_value,
        now=desk.now,
        ttl=timedelta(hours=settings.bind_code_staff_hours),
        staff_id=person.id,
    )
    desk.web_session[SHOWN_ONCE] = {
        "code": format_code(issued.code),
        "name": person.name,
        "staff": person.code,
        "until": when(issued.expires_at),
    }
    return see_other(HERE)


@routes.post(r"/bind-codes/{number:\d{1,9}}/void")
@staff_page(DeskPage.BIND_CODES)
async def void(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/bind-codes/{id}/void: the code no longer binds anyone (as a newer code for
    the same person, or `linli staff unbind`, voids it: it expires now)."""
    if not may_issue_bind_codes(desk.staff):
        return desk.refuse(403, "desk.page_not_yours")
    number = int(desk.request.match_info["number"])
    row = await desk.session.get(BindCode, number)
    person = await desk.session.get(Staff, row.staff_id) if row and row.staff_id else None
    if row is None or person is None:
        return desk.refuse(404, "desk.not_found", back=HERE)
    if not await void_bind_code(desk.session, number, desk.now):
        return desk.refuse(409, "desk_admin.bind_not_live", back=HERE)
    desk.flash("desk_admin.bind_voided", name=person.name, staff=person.code)
    return see_other(HERE)
