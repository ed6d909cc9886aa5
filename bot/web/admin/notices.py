"""Notices at /admin/notices: compose one (text, urgency, optional link) for an audience inside
the author's scope (models.policy.scope_of: a grid leader their grid, community staff their
community or its grids, supervisors and administrators the street, a community or a grid),
preview the audience's numbers, then send; the author's recent notices; a notice's page
(/admin/notices/{id}) whose delivery progress updates itself from /admin/notices/{id}/progress
(static/admin_notices.js polls it every 2 s).

The chat's notice flow (handlers/notices_staff.py) and this page create and release a notice
through the same domain functions: models.notice_audience.allowed (asked at preview and again
at sending), models.notice_ops.count_audience / release_notice / notice_report / cancel_notice,
and bot.outgoing.tell.notice_message for what residents read. A big notice is left to the
scheduler (scheduler/notices.py) to release in steps, as from the chat.

A notice is shown only to its author and to staff whose scope covers its whole audience; anyone
else gets 404, as if it did not exist.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlmodel import col, select

from bot.outgoing.tell import notice_message
from bot.web.admin.auth import DeskRequest, see_other, staff_page
from bot.web.admin.layout import NavEntry, localized
from models.notice_audience import (
    FILTERS,
    Audience,
    allowed,
    may_see_notice,
    may_withdraw_notice,
)
from models.notice_ops import (
    TEXT_MAX,
    URL_MAX,
    NoticeReport,
    cancel_notice,
    count_audience,
    create_notice,
    notice_report,
    notice_text_ok,
    web_address,
)
from models.notices import Notice, NoticeStatus
from models.org import Community, Grid, list_communities
from models.policy import DeskPage, Scope, scope_of

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.NOTICES, "/admin/notices", "desk_work.nav_notices"),)
HERE = "/admin/notices"
RECENT = 20
DRAFTS = "notice_drafts"  # session key: the previews not yet sent (a second click sends nothing)
DRAFTS_KEPT = 5
POLL_SECONDS = 2
EXCERPT = 40


@dataclass(frozen=True)
class Draft:
    """What the composer holds: as typed, so that nothing is lost when it is sent back."""

    text: str = ""
    link: str = ""
    urgent: bool = False
    area: str = ""
    filter: str = "all"

    @classmethod
    def from_form(cls, desk: DeskRequest) -> Draft:
        """The posted composer (text as written: full-width punctuation is how Chinese is)."""
        filter_ = desk.text("filter")
        return cls(
            text=_typed(desk, "text")[: TEXT_MAX * 2],
            link=_typed(desk, "link")[: URL_MAX * 2],
            urgent=desk.text("urgent") == "yes",
            area=desk.text("area")[:40],
            filter=filter_ if filter_ in FILTERS else "all",
        )

    def audience(self) -> Audience | None:
        """The audience the area names ("street", "community:3", "grid:12"), or None."""
        kind, _, number = self.area.partition(":")
        filters = () if self.filter == "all" else (self.filter,)
        if kind == "street" and not number:
            return Audience(street=True, filters=filters)
        if not (number.isdecimal() and len(number) <= 9):
            return None
        if kind == "community":
            return Audience(communities=(int(number),), filters=filters)
        if kind == "grid":
            return Audience(grids=(int(number),), filters=filters)
        return None


def _typed(desk: DeskRequest, name: str) -> str:
    """A posted text field (NUL characters stood in for, see auth.without_nul)."""
    return desk.text(name)


def problems(draft: Draft) -> dict[str, str]:
    """What is wrong with a draft, by field (message keys); empty when it may be previewed."""
    found: dict[str, str] = {}
    if not notice_text_ok(draft.text):
        found["text"] = "desk_work.notice_text_bad"
    if draft.link and web_address(draft.link) is None:
        found["link"] = "desk_work.notice_link_bad"
    if draft.audience() is None:
        found["area"] = "desk_work.notice_area_pick"
    return found


@dataclass(frozen=True)
class Choice:
    """An area the author may send to."""

    value: str
    label: str


async def area_choices(desk: DeskRequest, scope: Scope) -> list[tuple[str, list[Choice]]]:
    """The areas inside this staff member's scope, grouped for the form's select."""
    name = localized
    if scope.grid_id is not None:
        grid = await desk.session.get(Grid, scope.grid_id)
        label = name(desk.lang, grid.name_zh, grid.name_en) if grid else ""
        mine = desk.t("desk_work.area_my_grid", name=label)
        return [(desk.t("desk_work.area_group_grid"), [Choice(f"grid:{scope.grid_id}", mine)])]
    communities = await list_communities(desk.session)
    if not scope.street:
        communities = [c for c in communities if c.id == scope.community_id]
    grids = await _grids(desk, [c.id or 0 for c in communities])
    groups: list[tuple[str, list[Choice]]] = []
    if scope.street:
        whole = [Choice("street", desk.t("desk_work.area_street"))]
        groups.append((desk.t("desk_work.area_group_street"), whole))
    groups.append(
        (
            desk.t("desk_work.area_group_community"),
            [
                Choice(f"community:{c.id}", name(desk.lang, c.name_zh, c.name_en))
                for c in communities
            ],
        )
    )
    for community in communities:
        inside = [g for g in grids if g.community_id == community.id]
        if inside:
            label = desk.t(
                "desk_work.area_group_grids",
                community=name(desk.lang, community.name_zh, community.name_en),
            )
            choices = [
                Choice(f"grid:{g.id}", name(desk.lang, g.name_zh, g.name_en)) for g in inside
            ]
            groups.append((label, choices))
    return groups


async def _grids(desk: DeskRequest, community_ids: list[int]) -> list[Grid]:
    if not community_ids:
        return []
    stmt = (
        select(Grid)
        .where(col(Grid.community_id).in_(community_ids))
        .order_by(col(Grid.community_id), col(Grid.number))
    )
    return list((await desk.session.exec(stmt)).all())


async def audience_words(desk: DeskRequest, audience: Audience) -> str:
    """Whom a notice goes to, in words: 整个街道 / 南街社区 / 南街社区第1网格 (· 老年人)."""
    parts: list[str] = []
    if audience.street:
        parts.append(desk.t("desk_work.area_street"))
    for number in audience.communities:
        community = await desk.session.get(Community, number)
        if community is not None:
            parts.append(localized(desk.lang, community.name_zh, community.name_en))
    for number in audience.grids:
        grid = await desk.session.get(Grid, number)
        if grid is not None:
            parts.append(localized(desk.lang, grid.name_zh, grid.name_en))
    words = desk.t("desk_work.list_separator").join(parts) or "—"
    for chosen in audience.filters:
        words += " · " + desk.t(f"notices.filter_{chosen}")
    return words


async def my_notices(desk: DeskRequest) -> list[Notice]:
    """This staff member's most recent notices."""
    stmt = (
        select(Notice)
        .where(Notice.author_staff_id == desk.staff.id)
        .order_by(col(Notice.id).desc())
        .limit(RECENT)
    )
    return list((await desk.session.exec(stmt)).all())


async def composer(
    desk: DeskRequest,
    draft: Draft,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    preview: dict[str, Any] | None = None,
) -> web.Response:
    """The notices page: the composer (with a preview, once asked) and my recent notices."""
    scope = scope_of(desk.staff)
    return desk.render(
        "notices.html",
        status=status,
        may_send=scope.any,
        draft=draft,
        areas=await area_choices(desk, scope) if scope.any else [],
        filters=FILTERS,
        errors={k: desk.t(v) for k, v in (errors or {}).items()},
        preview=preview,
        mine=await my_notices(desk),
        excerpt=EXCERPT,
        text_max=TEXT_MAX,
        url_max=URL_MAX,
    )


@routes.get("/notices")
@staff_page(DeskPage.NOTICES)
async def notices_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/notices: the composer and my recent notices."""
    return await composer(desk, Draft())


async def _checked(desk: DeskRequest) -> tuple[Draft, Audience] | web.Response:
    """The posted draft and its audience, or the composer again saying what to put right
    (400), or that the area lies outside what this staff member may reach (403)."""
    draft = Draft.from_form(desk)
    scope = scope_of(desk.staff)
    if not scope.any:
        return desk.refuse(403, "notices.not_author", back=HERE)
    found = problems(draft)
    if found:
        return await composer(desk, draft, status=400, errors=found)
    audience = draft.audience()
    assert audience is not None  # problems() said so
    if not await allowed(desk.session, scope, audience):
        errors = {"area": "desk_work.notice_outside_scope"}
        return await composer(desk, draft, status=403, errors=errors)
    return draft, audience


@routes.post("/notices/preview")
@staff_page(DeskPage.NOTICES)
async def preview(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/notices/preview: what residents will read and how many it reaches. Nothing
    is written (the page is the answer, so that the draft need not be kept anywhere)."""
    checked = await _checked(desk)
    if isinstance(checked, web.Response):
        return checked
    draft, audience = checked
    counted = await count_audience(desk.session, audience, draft.urgent)
    shown = Notice(
        author_staff_id=desk.staff.id or 0,
        text=draft.text,
        link_url=draft.link or None,
        urgent=draft.urgent,
    )
    reply = notice_message(shown).render(desk.lang)
    token = secrets.token_urlsafe(16)
    drafts = desk.web_session.get(DRAFTS)
    kept = [d for d in drafts if isinstance(d, str)] if isinstance(drafts, list) else []
    desk.web_session[DRAFTS] = [*kept, token][-DRAFTS_KEPT:]
    return await composer(
        desk,
        draft,
        preview={
            "text": reply.text,
            "link": reply.link,
            "audience": await audience_words(desk, audience),
            "counted": counted,
            "token": token,
        },
    )


@routes.post("/notices/send")
@staff_page(DeskPage.NOTICES)
async def send(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/notices/send: the previewed notice is created and released (a big one by the
    scheduler in steps), then its page shows the delivery."""
    checked = await _checked(desk)
    if isinstance(checked, web.Response):
        return checked
    draft, audience = checked
    drafts = desk.web_session.get(DRAFTS)
    token = desk.text("draft")
    if not token or not isinstance(drafts, list) or token not in drafts:
        errors = {"draft": "desk_work.notice_already_sent"}
        return await composer(desk, draft, status=409, errors=errors)
    desk.web_session[DRAFTS] = [d for d in drafts if d != token]
    counted = await count_audience(desk.session, audience, draft.urgent)
    notice, created = await create_notice(
        desk.session,
        author_id=desk.staff.id or 0,
        text=draft.text,
        link=web_address(draft.link) if draft.link else None,
        urgent=draft.urgent,
        audience=audience,
        residents=counted.residents,
        now=desk.now,
    )
    count = counted.reachable_accounts if created is None else created
    desk.flash("desk_work.notice_sent", id=notice.id or 0, count=count)
    return see_other(f"{HERE}/{notice.id}")


async def visible_notice(desk: DeskRequest) -> Notice | None:
    """The notice in the path, if this staff member wrote it or their scope covers its whole
    audience (else None: answered as not found)."""
    number = desk.request.match_info["number"]
    if not (number.isdecimal() and len(number) <= 9):
        return None
    notice = await desk.session.get(Notice, int(number))
    if notice is None or not await may_see_notice(desk.session, desk.staff, notice):
        return None
    return notice


def may_withdraw(desk: DeskRequest, notice: Notice) -> bool:
    """Its author withdraws a notice, and so do the street's supervisors and administrators
    (as from the chat); only while it is waiting or sending (cancel_notice says so again)."""
    return may_withdraw_notice(desk.staff, notice)


def still_going(notice: Notice) -> bool:
    """Waiting for its time, or being sent."""
    return notice.status in (NoticeStatus.SCHEDULED, NoticeStatus.SENDING)


def progress(desk: DeskRequest, notice: Notice, report: NoticeReport) -> dict[str, Any]:
    """Where the delivery stands, for the page and for its JSON: every delivery is sent,
    failed, unreachable, cancelled or still pending."""
    counts = {
        "sent": report.sent,
        "failed": report.failed,
        "unreachable": report.unreachable,
        "cancelled": report.cancelled,
        "pending": report.pending,
    }
    total = sum(counts.values())
    done = total - report.pending
    finished = notice.status in (NoticeStatus.DONE, NoticeStatus.CANCELLED) or (
        notice.fanned_out and report.pending == 0
    )
    if notice.status == NoticeStatus.SCHEDULED and not notice.fanned_out:
        text = desk.t("desk_work.progress_waiting")
    else:
        text = desk.t("desk_work.progress_text", done=done, total=total, **counts)
    return {
        "id": notice.id,
        "status": str(notice.status),
        "status_text": desk.t(f"notices.status_{notice.status}"),
        "audience": report.audience,
        "opted_out": report.opted_out,
        "accounts": report.accounts,
        "counts": counts,
        "total": total,
        "done": done,
        "finished": finished,
        "text": text,
    }


@routes.get(r"/notices/{number:\d{1,9}}")
@staff_page(DeskPage.NOTICES)
async def notice_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/notices/{id}: the notice, its audience and its live delivery progress."""
    notice = await visible_notice(desk)
    if notice is None:
        return desk.refuse(404, "desk.not_found", back=HERE)
    report = await notice_report(desk.session, notice)
    failures = report.failures.most_common(5)
    return desk.render(
        "notice.html",
        notice=notice,
        audience=await audience_words(desk, Audience.from_data(notice.audience)),
        progress=progress(desk, notice, report),
        failures=failures,
        report=report,
        withdraw=still_going(notice) and may_withdraw(desk, notice),
        poll_seconds=POLL_SECONDS,
    )


@routes.get(r"/notices/{number:\d{1,9}}/progress")
@staff_page(DeskPage.NOTICES)
async def progress_json(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/notices/{id}/progress: the delivery counts as JSON (polled by the page)."""
    notice = await visible_notice(desk)
    if notice is None:
        response = web.json_response({"error": "not_found"}, status=404)
    else:
        report = await notice_report(desk.session, notice)
        response = web.json_response(progress(desk, notice, report))
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post(r"/notices/{number:\d{1,9}}/withdraw")
@staff_page(DeskPage.NOTICES)
async def withdraw(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/notices/{id}/withdraw: what has not gone out yet will not."""
    notice = await visible_notice(desk)
    if notice is None:
        return desk.refuse(404, "desk.not_found", back=HERE)
    here = f"{HERE}/{notice.id}"
    if not may_withdraw(desk, notice):
        return desk.refuse(403, "desk_work.notice_not_yours", back=here)
    if not still_going(notice):
        return desk.refuse(409, "desk_work.notice_cannot_withdraw", back=here)
    if desk.text("confirm") != "yes":
        return desk.refuse(400, "desk_work.withdraw_confirm_needed", back=here)
    withdrawn = await cancel_notice(desk.session, notice, desk.now)
    if withdrawn < 0:
        return desk.refuse(409, "desk_work.notice_cannot_withdraw", back=here)
    desk.flash("desk_work.notice_withdrawn", id=notice.id or 0, count=withdrawn)
    return see_other(here)
