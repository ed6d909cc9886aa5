"""The numbers leaders decide by, at /admin/numbers, and the same numbers as CSV at
/admin/numbers.csv?block=appointments|cases|ratings|demand|supervision|breakdown|all.

Every number comes from models/kpis.py (kpi_report, kpi_rows and the per-scope functions); this
module only chooses the period and the scope, checks them, and lays the numbers out: a table
beside every chart (the table is the accessible and printable version), "no data yet" where a
share has nothing to divide by, never 100% of nothing.

Who reads what is models.policy.numbers_scope, checked on the page, on the CSV and on every
parameter: a reader of the whole street may choose the street, any community, department,
window or staff member; a community's reader their community and its staff; a department's
reader their department, its window and its staff. A scope that does not exist, or is not the
reader's, answers 404 (the street, asked for by a reader of one community, 403), and no number.

Query parameters (the page, its links and the CSV take the same):
    period = this_week | last_week | this_month (the default) | last_month | custom
    from, to = YYYY-MM-DD, both days included (custom only; at most LONGEST days)
    scope = street | community:<id> | department:<id> | window:<number> | staff:<id>,
        or one of community=<id>, department=<id>, window=<number>, staff=<id>;
        without any, the reader's own scope (the street, or their community or department).

Charts are pygal SVG inlined in the page; each carries a <style> element, which the desk's
Content-Security-Policy (default-src 'self') would block, so these pages send the policy with
the SHA-256 of each of their own style elements added to style-src (never 'unsafe-inline').
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web.admin.auth import DeskRequest, staff_page
from bot.web.admin.layout import NavEntry, localized, when
from bot.web.charts import bar_chart, pie_chart
from models.base import SHANGHAI
from models.cases import RatingLevel
from models.csv_export import to_csv
from models.kpis import (
    AppointmentKpis,
    CaseKpis,
    KpiReport,
    KpiScope,
    Period,
    Rate,
    RatingKpis,
    ScopeKind,
    SupervisionItem,
    SupervisionReason,
    appointment_kpis,
    case_kpis,
    case_kpis_by_staff,
    kpi_report,
    kpi_rows,
    load_rating_scale,
    rating_kpis,
    ratings_by_staff,
    staff_in_scope,
)
from models.org import Community, Department, Staff
from models.policy import DeskPage, NumbersScope, may_open_page, numbers_scope
from models.stars import load_star_rules

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.NUMBERS, "/admin/numbers", "desk_numbers.nav_numbers"),)
HERE = "/admin/numbers"
PERIODS = ("this_week", "last_week", "this_month", "last_month", "custom")
DEFAULT_PERIOD = "this_month"
BLOCKS = ("appointments", "cases", "ratings", "demand", "supervision", "breakdown", "all")
LONGEST = 366  # days in a custom period
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
SHOWN = 200  # supervision entries listed on the page (the CSV has them all)
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
SCOPE = re.compile(r"street|(community|department|window|staff):([0-9]{1,9})")
ID = re.compile(r"[0-9]{1,9}")
ALIASES = ("community", "department", "window", "staff")
SVG_STYLE = "{http://www.w3.org/2000/svg}style"
# The numbers and stars pages' own layout (admin.css has no wide-table style): tables scroll
# sideways on a phone instead of folding into cards. Sent with its hash in the page's policy.
PAGE_CSS = (
    ".scroll{overflow-x:auto;margin:0 0 1rem}"
    ".numbers{border-collapse:collapse;background:#fff}"
    ".numbers caption{text-align:left;font-weight:600;padding:0 0 .25rem}"
    ".numbers th,.numbers td{padding:.4rem .6rem;border-bottom:1px solid #c9d6da;"
    "text-align:left;vertical-align:top;white-space:nowrap}"
    ".numbers td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".numbers td.wrap{white-space:normal;min-width:12rem}"
    ".pair{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}"
    ".pair .chart{flex:1 1 18rem;max-width:36rem;margin:0}"
    ".pair .scroll{flex:1 1 18rem}"
    ".chart svg{display:block;height:auto}"
    ".exports a{display:inline-block;padding:.5rem 0;margin-right:1rem}"
    ".stars{font-size:1.25rem;letter-spacing:.1em;color:#8a5a00}"
)


class RefusedError(Exception):
    """A request this page answers with an error page instead of numbers."""

    def __init__(self, status: int, key: str, **values: Any) -> None:
        super().__init__(key)
        self.status, self.key, self.values = status, key, values


# ───────────────────────────── period and scope ─────────────────────────────


@dataclass(frozen=True)
class PeriodChoice:
    """The chosen period, and how the form shows it."""

    kind: str
    period: Period

    @property
    def params(self) -> dict[str, str]:
        """The query parameters that choose this period again."""
        if self.kind != "custom":
            return {"period": self.kind}
        last = self.period.last_day.isoformat()
        return {"period": "custom", "from": self.period.start.isoformat(), "to": last}


def _day(text: str | None) -> date | None:
    if text is None or not DAY.fullmatch(text.strip()):
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


def choose_period(query: Mapping[str, str], today: date) -> PeriodChoice:
    """The period asked for (this month when none is), or RefusedError(400) with a polite reason."""
    kind = query.get("period", "").strip() or DEFAULT_PERIOD
    if kind not in PERIODS:
        raise RefusedError(400, "desk_numbers.bad_period")
    if kind == "this_week":
        return PeriodChoice(kind, Period.week(today))
    if kind == "last_week":
        return PeriodChoice(kind, Period.week(today - timedelta(days=7)))
    if kind == "this_month":
        return PeriodChoice(kind, Period.month(today))
    if kind == "last_month":
        return PeriodChoice(kind, Period.month(today.replace(day=1) - timedelta(days=1)))
    start, last = _day(query.get("from")), _day(query.get("to"))
    if start is None or last is None:
        raise RefusedError(400, "desk_numbers.bad_dates")
    if last < start:
        raise RefusedError(400, "desk_numbers.bad_order")
    if (last - start).days + 1 > LONGEST:
        raise RefusedError(400, "desk_numbers.bad_too_long", days=LONGEST)
    return PeriodChoice(kind, Period(start, last + timedelta(days=1)))


def asked_scope(query: Mapping[str, str]) -> KpiScope | None:
    """The scope the query names (None: none named), or RefusedError(400) when it cannot be read."""
    given = {name: query.get(name, "").strip() for name in ("scope", *ALIASES)}
    named = [(name, value) for name, value in given.items() if value]
    if not named:
        return None
    if len(named) > 1:
        raise RefusedError(400, "desk_numbers.bad_scope")
    name, value = named[0]
    if name != "scope":
        value = f"{name}:{value}"
    found = SCOPE.fullmatch(value)
    if found is None:
        raise RefusedError(400, "desk_numbers.bad_scope")
    if found.group(1) is None:
        return KpiScope.street()
    return KpiScope(ScopeKind(found.group(1)), int(found.group(2)))


def home_scope(reader: NumbersScope) -> KpiScope:
    """Where a reader starts: the street, else their community or department."""
    if reader.street:
        return KpiScope.street()
    if reader.community_id is not None:
        return KpiScope.community(reader.community_id)
    assert reader.department_id is not None  # reader.any was checked
    return KpiScope.department(reader.department_id)


async def windows(session: AsyncSession) -> list[int]:
    """The hall windows: every department's window and every active staff member's."""
    of_departments = await session.exec(
        select(Department.window).where(col(Department.window).is_not(None))
    )
    of_staff = await session.exec(
        select(Staff.window).where(col(Staff.window).is_not(None), col(Staff.active).is_(True))
    )
    return sorted({n for n in [*of_departments.all(), *of_staff.all()] if n is not None})


async def _exists(session: AsyncSession, scope: KpiScope) -> bool:
    match scope.kind, scope.value:
        case ScopeKind.COMMUNITY, int(number):
            return await session.get(Community, number) is not None
        case ScopeKind.DEPARTMENT, int(number):
            return await session.get(Department, number) is not None
        case ScopeKind.STAFF, int(number):
            return await session.get(Staff, number) is not None
        case ScopeKind.WINDOW, int(number):
            return number in await windows(session)
    return True


async def within(session: AsyncSession, reader: NumbersScope, scope: KpiScope) -> bool:
    """Whether the reader may read the scope's numbers (models.policy.numbers_scope)."""
    if reader.street:
        return True
    if scope.kind is ScopeKind.STAFF:
        person = await session.get(Staff, scope.value or 0)
        if person is None:
            return False
        if reader.community_id is not None:
            return person.community_id == reader.community_id
        return person.department_id == reader.department_id
    if reader.community_id is not None:
        return scope == KpiScope.community(reader.community_id)
    if reader.department_id is None:
        return False
    if scope.kind is ScopeKind.WINDOW:
        department = await session.get(Department, reader.department_id)
        return department is not None and department.window == scope.value
    return scope == KpiScope.department(reader.department_id)


async def choose_scope(
    session: AsyncSession, reader: NumbersScope, query: Mapping[str, str]
) -> KpiScope:
    """The scope asked for, checked against what the reader may read: RefusedError(400) when it
    cannot be read, 403 for the street asked by a reader of less, 404 for a community,
    department, window or person that does not exist or is not the reader's."""
    if not reader.any:
        raise RefusedError(403, "desk.page_not_yours")
    scope = asked_scope(query)
    if scope is None:
        return home_scope(reader)
    if scope.kind is ScopeKind.STREET and not reader.street:
        raise RefusedError(403, "desk_numbers.scope_not_yours")
    if not await _exists(session, scope) or not await within(session, reader, scope):
        raise RefusedError(404, "desk.not_found")
    return scope


def scope_param(scope: KpiScope) -> str:
    """The scope as the form's `scope` value: street, community:3, …"""
    return scope.code


def link(path: str, choice: PeriodChoice, scope: KpiScope, **more: str) -> str:
    """A link to a numbers page or CSV for this period and scope."""
    return f"{path}?{urlencode({**more, **choice.params, 'scope': scope_param(scope)})}"


# ───────────────────────────── names ─────────────────────────────


@dataclass(frozen=True)
class Option:
    """One choice of the scope list."""

    code: str
    label: str


@dataclass(frozen=True)
class OptionGroup:
    """A group of the scope list (street, communities, …)."""

    label: str
    options: tuple[Option, ...]


def staff_label(desk: DeskRequest, person: Staff) -> str:
    """A staff member as the desk names them: name and code."""
    return desk.t("desk_numbers.staff_name", name=person.name, code=person.code)


async def scored_staff(desk: DeskRequest, scope: KpiScope) -> list[Staff]:
    """The active staff who serve residents (the roles data/stars.toml scores) in the scope."""
    roles = load_star_rules(desk.linli.settings.data_dir).roles
    stmt = (
        select(Staff)
        .where(col(Staff.active).is_(True), col(Staff.role).in_(roles), staff_in_scope(scope))
        .order_by(col(Staff.code))
    )
    return list((await desk.session.exec(stmt)).all())


async def scope_label(desk: DeskRequest, scope: KpiScope) -> str:
    """The scope's name in the desk's language."""
    number = scope.value or 0
    match scope.kind:
        case ScopeKind.COMMUNITY:
            community = await desk.session.get(Community, number)
            return localized(desk.lang, community.name_zh, community.name_en) if community else ""
        case ScopeKind.DEPARTMENT:
            department = await desk.session.get(Department, number)
            if department is None:
                return ""
            return localized(desk.lang, department.name_zh, department.name_en)
        case ScopeKind.WINDOW:
            return desk.t("desk_numbers.window_name", number=number)
        case ScopeKind.STAFF:
            person = await desk.session.get(Staff, number)
            return staff_label(desk, person) if person else ""
    return desk.t("desk_numbers.scope_street")


async def scope_options(
    desk: DeskRequest, reader: NumbersScope, chosen: KpiScope | None
) -> list[OptionGroup]:
    """The scopes this reader may choose, grouped; the chosen one is always among them."""
    groups: list[OptionGroup] = []
    session = desk.session

    def group(key: str, options: Iterable[Option]) -> None:
        found = tuple(options)
        if found:
            groups.append(OptionGroup(desk.t(key), found))

    if reader.street:
        group("desk_numbers.group_street", [Option("street", desk.t("desk_numbers.scope_street"))])
        communities = (await session.exec(select(Community).order_by(col(Community.code)))).all()
        departments = (await session.exec(select(Department).order_by(col(Department.id)))).all()
        numbers = await windows(session)
        people_scope = KpiScope.street()
    else:
        home = home_scope(reader)
        communities = [c for c in [await session.get(Community, reader.community_id or 0)] if c]
        departments = [d for d in [await session.get(Department, reader.department_id or 0)] if d]
        numbers = [d.window for d in departments if d.window is not None]
        people_scope = home
    group(
        "desk_numbers.group_communities",
        (
            Option(f"community:{c.id}", localized(desk.lang, c.name_zh, c.name_en))
            for c in communities
        ),
    )
    group(
        "desk_numbers.group_departments",
        (
            Option(f"department:{d.id}", localized(desk.lang, d.name_zh, d.name_en))
            for d in departments
        ),
    )
    group(
        "desk_numbers.group_windows",
        (Option(f"window:{n}", desk.t("desk_numbers.window_name", number=n)) for n in numbers),
    )
    people = await scored_staff(desk, people_scope)
    chosen_person = chosen.value if chosen and chosen.kind is ScopeKind.STAFF else None
    if chosen_person is not None and chosen_person not in {p.id for p in people}:
        extra = await session.get(Staff, chosen_person)
        people += [extra] if extra is not None else []
    group(
        "desk_numbers.group_staff",
        (Option(f"staff:{p.id}", staff_label(desk, p)) for p in people),
    )
    return groups


# ───────────────────────────── charts and page policy ─────────────────────────────


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart (labelled for screen readers) and the style elements it carries."""

    svg: str
    styles: tuple[str, ...]


def chart(svg: str, label: str) -> Chart:
    """Label a chart of bot/web/charts.py (role img, aria-label) and note its styles."""
    # The drawing is our own (bot/web/charts.py), not a visitor's upload.
    drawing = ET.fromstring(svg)  # noqa: S314
    styles = tuple(node.text or "" for node in drawing.iter(SVG_STYLE))
    named = f'<svg role="img" aria-label="{html.escape(label, quote=True)}" '
    # pygal hides its (script-less, so empty) tooltip with a style attribute, which the page's
    # policy would refuse; the same as a presentation attribute, which it allows.
    drawn = svg.replace(' style="opacity: 0"', ' opacity="0"')
    return Chart(drawn.replace("<svg ", named, 1), styles)


def style_source(text: str) -> str:
    """The CSP source that allows one style element with exactly this text."""
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def with_styles(response: web.Response, charts: Iterable[Chart]) -> web.Response:
    """The desk's policy, plus the page's own style element and each chart's."""
    styles = {PAGE_CSS, *(text for one in charts for text in one.styles)}
    sources = " ".join(sorted(style_source(text) for text in styles))
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; style-src 'self' {sources}; frame-ancestors 'none'"
    )
    return response


def csv_response(body: bytes, filename: str) -> web.Response:
    """A CSV download (UTF-8 with BOM, see models.csv_export) under an ASCII file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", filename)
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{safe}"',
            "Cache-Control": "no-store",
        },
    )


# ───────────────────────────── the page's blocks ─────────────────────────────


@dataclass(frozen=True)
class Line:
    """One row of a metric table: label, count (or ''), share in words (or '')."""

    label: str
    count: str = ""
    share: str = ""


def share_text(desk: DeskRequest, rate: Rate, empty: str = "desk_numbers.no_data") -> str:
    """3/6（50%）, or "no data yet" when there is nothing to divide by (never 100% of nothing)."""
    percent = rate.percent
    if percent is None:
        return desk.t(empty)
    return desk.t(
        "desk_numbers.share",
        numerator=rate.numerator,
        denominator=rate.denominator,
        percent=percent,
    )


def percent_label(desk: DeskRequest) -> Callable[[float], str]:
    """A chart's value format for shares given in percent."""
    return lambda value: desk.t("desk_numbers.percent_of", percent=f"{value:g}")


def metric(desk: DeskRequest, code: str) -> str:
    """A metric's name (kpis.metric.*)."""
    return desk.t(f"kpis.metric.{code}")


def level_name(desk: DeskRequest, level: RatingLevel | str) -> str:
    """A six-level rating's name."""
    return desk.t(f"kpis.metric.ratings.level.{level}")


def appointments_block(desk: DeskRequest, a: AppointmentKpis) -> dict[str, Any]:
    """Counts, the after-work and weekend shares, and when the appointments fall."""
    no_data = desk.t("desk_numbers.appointments_none")
    slices = [
        (desk.t("desk_numbers.in_hours"), a.booked - a.after_work - a.non_working),
        (desk.t("desk_numbers.after_work"), a.after_work),
        (desk.t("desk_numbers.non_working"), a.non_working),
    ]
    title = desk.t("desk_numbers.appointments_chart")
    drawn = pie_chart(title, [s[0] for s in slices], [s[1] for s in slices], no_data=no_data)
    return {
        "lines": [
            Line(metric(desk, "appointments.booked"), str(a.booked)),
            Line(metric(desk, "appointments.served"), str(a.served)),
            Line(metric(desk, "appointments.no_shows"), str(a.no_shows)),
            Line(metric(desk, "appointments.cancelled"), str(a.cancelled)),
            Line(
                metric(desk, "appointments.after_work_share"),
                str(a.after_work),
                share_text(desk, a.after_work_share),
            ),
            Line(
                metric(desk, "appointments.non_working_share"),
                str(a.non_working),
                share_text(desk, a.non_working_share),
            ),
        ],
        "slices": [Line(label, str(n), share_text(desk, Rate(n, a.booked))) for label, n in slices],
        "chart": chart(drawn, title),
    }


def cases_block(desk: DeskRequest, c: CaseKpis) -> dict[str, Any]:
    """Counts, 回复率 and 按期办结率 ("no data yet" without a denominator)."""
    rates = [
        (metric(desk, "cases.reply_on_time"), c.reply_on_time),
        (metric(desk, "cases.completed_on_time"), c.completed_on_time),
    ]
    title = desk.t("desk_numbers.cases_chart")
    drawn = bar_chart(
        title,
        [label for label, _ in rates],
        [rate.percent for _, rate in rates],
        horizontal=True,
        value_format=percent_label(desk),
        no_data=desk.t("desk_numbers.no_data"),
        height=220,
    )
    return {
        "lines": [
            Line(metric(desk, "cases.received"), str(c.received)),
            Line(metric(desk, "cases.accepted"), str(c.accepted)),
            Line(metric(desk, "cases.resolved"), str(c.resolved)),
            Line(metric(desk, "cases.overdue"), str(c.overdue)),
        ],
        "rates": [Line(label, "", share_text(desk, rate)) for label, rate in rates],
        "chart": chart(drawn, title),
    }


def ratings_block(desk: DeskRequest, report: KpiReport) -> dict[str, Any]:
    """The six levels, the national five they map onto (data/rating_scale.toml) and the
    satisfaction; with no ratings at all, only "no ratings yet"."""
    r = report.ratings
    satisfaction = share_text(desk, r.satisfaction, "desk_numbers.no_ratings")
    if r.total == 0:
        return {"total": 0, "satisfaction": satisfaction, "charts": []}
    scale = load_rating_scale(desk.linli.settings.data_dir)
    names = {lv.code: localized(desk.lang, lv.name_zh, lv.name_en) for lv in scale.five}
    six = [
        Line(
            level_name(desk, level),
            str(r.count(level)),
            share_text(desk, Rate(r.count(level), r.total)),
        )
        for level in RatingLevel
    ]
    maps_to = {level_name(desk, level): names[scale.six[level]] for level in RatingLevel}
    five = [
        Line(names[n.level.code], str(n.count), share_text(desk, Rate(n.count, r.total)))
        for n in report.national
    ]
    sources = {
        names[n.level.code]: "、".join(
            level_name(desk, level) for level in RatingLevel if scale.six[level] == n.level.code
        )
        for n in report.national
    }
    six_title, five_title = (
        desk.t("desk_numbers.ratings_six_chart"),
        desk.t("desk_numbers.ratings_five_chart"),
    )
    six_chart = chart(
        bar_chart(six_title, [x.label for x in six], [r.count(level) for level in RatingLevel]),
        six_title,
    )
    five_chart = chart(
        pie_chart(five_title, [x.label for x in five], [n.count for n in report.national]),
        five_title,
    )
    return {
        "total": r.total,
        "satisfaction": satisfaction,
        "six": six,
        "maps_to": maps_to,
        "five": five,
        "sources": sources,
        "six_chart": six_chart,
        "five_chart": five_chart,
        "charts": [six_chart, five_chart],
    }


@dataclass(frozen=True)
class DemandRow:
    """A need category: name, supporters, its top items (id, title, supporters)."""

    name: str
    supporters: int
    items: list[tuple[int, str, int]]


def demand_block(desk: DeskRequest, report: KpiReport) -> dict[str, Any] | None:
    """Need categories ranked by supporters, with their top items; None: not for this scope."""
    if report.demand is None:
        return None
    rows = [
        DemandRow(
            localized(desk.lang, category.name_zh, category.name_en),
            category.supporters,
            [(item.id or 0, item.title, n) for item, n in category.items],
        )
        for category in report.demand
    ]
    title = desk.t("desk_numbers.demand_chart")
    drawn = bar_chart(
        title,
        [row.name for row in rows],
        [row.supporters for row in rows],
        horizontal=True,
        no_data=desk.t("desk_numbers.demand_none"),
        height=max(220, 40 * len(rows) + 120),
    )
    links = may_open_page(desk.staff, DeskPage.NEEDS)
    return {"rows": rows, "chart": chart(drawn, title) if rows else None, "links": links}


@dataclass(frozen=True)
class Watch:
    """A supervision entry in words."""

    reason: str
    at: str
    case_id: int | None
    case_ref: str
    rating: str
    staff: str
    department: str


async def watch_rows(desk: DeskRequest, items: Sequence[SupervisionItem]) -> list[Watch]:
    """The supervision entries with the names of their people and departments."""
    ids = {item.staff_id for item in items if item.staff_id is not None}
    people: dict[int, Staff] = {}
    if ids:
        found = await desk.session.exec(select(Staff).where(col(Staff.id).in_(ids)))
        people = {p.id or 0: p for p in found.all()}
    departments = {
        d.id or 0: localized(desk.lang, d.name_zh, d.name_en)
        for d in (await desk.session.exec(select(Department))).all()
    }
    rows = []
    for item in items:
        person = people.get(item.staff_id or 0)
        rating = ""
        if item.rating_id is not None:
            level = level_name(desk, item.level) if item.level is not None else ""
            rating = desk.t("desk_numbers.rating_ref", number=item.rating_id, level=level)
        rows.append(
            Watch(
                desk.t(f"kpis.metric.supervision.{item.reason}"),
                when(item.at),
                item.case_id,
                item.case_ref or "",
                rating,
                staff_label(desk, person) if person else "",
                departments.get(item.department_id or 0, ""),
            )
        )
    return rows


async def supervision_block(desk: DeskRequest, report: KpiReport) -> dict[str, Any]:
    """How many entries for each reason, and the oldest SHOWN of them with links."""
    items = report.supervision
    counts = [
        Line(
            desk.t(f"kpis.metric.supervision.{reason}"), str(sum(i.reason is reason for i in items))
        )
        for reason in SupervisionReason
    ]
    title = desk.t("desk_numbers.supervision_chart")
    drawn = bar_chart(
        title,
        [line.label for line in counts],
        [int(line.count) for line in counts],
        horizontal=True,
        height=280,
    )
    return {
        "counts": counts,
        "rows": await watch_rows(desk, items[:SHOWN]),
        "total": len(items),
        "shown": SHOWN,
        "chart": chart(drawn, title) if items else None,
    }


# ───────────────────────────── breakdowns ─────────────────────────────


@dataclass(frozen=True)
class Unit:
    """One row of a breakdown: a community, department, window or person, and its numbers."""

    label: str
    scope: KpiScope
    appointments: AppointmentKpis
    cases: CaseKpis
    ratings: RatingKpis


@dataclass(frozen=True)
class Breakdown:
    """A breakdown table: its kind (community, department, window, staff) and rows."""

    kind: str
    units: list[Unit]


async def _unit(desk: DeskRequest, period: Period, scope: KpiScope, label: str) -> Unit:
    session, now = desk.session, desk.now
    return Unit(
        label,
        scope,
        await appointment_kpis(session, period, scope),
        await case_kpis(session, period, scope, now),
        await rating_kpis(session, period, scope),
    )


async def _parts(
    desk: DeskRequest, scope: KpiScope
) -> list[tuple[str, list[tuple[KpiScope, str]]]]:
    """The street's communities, departments and windows; a department's window."""
    session, named = desk.session, partial(localized, desk.lang)
    parts: list[tuple[str, list[tuple[KpiScope, str]]]] = []
    numbers: list[int] = []
    if scope.kind is ScopeKind.STREET:
        communities = (await session.exec(select(Community).order_by(col(Community.code)))).all()
        departments = (await session.exec(select(Department).order_by(col(Department.id)))).all()
        parts.append(
            (
                "community",
                [(KpiScope.community(c.id or 0), named(c.name_zh, c.name_en)) for c in communities],
            )
        )
        parts.append(
            (
                "department",
                [
                    (KpiScope.department(d.id or 0), named(d.name_zh, d.name_en))
                    for d in departments
                ],
            )
        )
        numbers = await windows(session)
    elif scope.kind is ScopeKind.DEPARTMENT:
        department = await session.get(Department, scope.value or 0)
        numbers = [department.window] if department and department.window is not None else []
    window = "desk_numbers.window_name"
    parts.append(("window", [(KpiScope.window(n), desk.t(window, number=n)) for n in numbers]))
    return [(kind, units) for kind, units in parts if units]


async def breakdowns(desk: DeskRequest, period: Period, scope: KpiScope) -> list[Breakdown]:
    """The parts of the chosen scope, each with its own numbers for the period: the street by
    community, department, window and staff member; a community, department or window by its
    staff (and a department by its window). A person has no parts."""
    if scope.kind is ScopeKind.STAFF:
        return []
    tables = [
        Breakdown(kind, [await _unit(desk, period, part, label) for part, label in units])
        for kind, units in await _parts(desk, scope)
    ]
    people = await scored_staff(desk, scope)
    if people:
        session, ids = desk.session, [p.id or 0 for p in people]
        cases = await case_kpis_by_staff(session, period, ids, desk.now)
        ratings = await ratings_by_staff(session, period, ids)
        units = [
            Unit(
                staff_label(desk, p),
                KpiScope.staff(number),
                await appointment_kpis(session, period, KpiScope.staff(number)),
                cases[number],
                ratings[number],
            )
            for p, number in zip(people, ids, strict=True)
        ]
        tables.append(Breakdown("staff", units))
    return tables


BREAKDOWN_COLUMNS = (
    "col_booked",
    "col_no_shows",
    "col_after_work",
    "col_non_working",
    "col_received",
    "col_accepted",
    "col_reply_rate",
    "col_on_time",
    "col_overdue",
    "col_ratings",
    "col_satisfaction",
)


def unit_cells(desk: DeskRequest, unit: Unit) -> list[str]:
    """A breakdown row's cells, in the order of BREAKDOWN_COLUMNS."""
    a, c, r = unit.appointments, unit.cases, unit.ratings
    return [
        str(a.booked),
        str(a.no_shows),
        share_text(desk, a.after_work_share),
        share_text(desk, a.non_working_share),
        str(c.received),
        str(c.accepted),
        share_text(desk, c.reply_on_time),
        share_text(desk, c.completed_on_time),
        str(c.overdue),
        str(r.total),
        share_text(desk, r.satisfaction, "desk_numbers.no_ratings"),
    ]


def breakdown_tables(
    desk: DeskRequest, tables: list[Breakdown], choice: PeriodChoice
) -> list[dict[str, Any]]:
    """The breakdowns as the template shows them: title, rows of cells, a link per row."""
    return [
        {
            "kind": table.kind,
            "title": desk.t(f"desk_numbers.breakdown_{table.kind}"),
            "rows": [
                {
                    "label": unit.label,
                    "href": link(HERE, choice, unit.scope),
                    "cells": unit_cells(desk, unit),
                }
                for unit in table.units
            ],
        }
        for table in tables
    ]


# ───────────────────────────── the page ─────────────────────────────


def _form(
    query: Mapping[str, str], choice: PeriodChoice | None, scope: KpiScope | None
) -> dict[str, str]:
    """What the form shows: the chosen period and scope (or what was typed, cut short)."""
    if choice is not None:
        return {
            "period": choice.kind,
            "from": choice.period.start.isoformat(),
            "to": choice.period.last_day.isoformat(),
            "scope": scope_param(scope) if scope is not None else "",
        }
    return {
        "period": query.get("period", "")[:20],
        "from": query.get("from", "")[:10],
        "to": query.get("to", "")[:10],
        "scope": scope_param(scope) if scope is not None else "",
    }


async def _form_page(
    desk: DeskRequest, reader: NumbersScope, refusal: RefusedError, scope: KpiScope | None
) -> web.Response:
    """The form again, with a polite reason and no numbers (400)."""
    options = await scope_options(desk, reader, scope)
    response = desk.render(
        "numbers.html",
        status=refusal.status,
        error=desk.t(refusal.key, **refusal.values),
        form=_form(desk.request.query, None, scope),
        periods=PERIODS,
        groups=options,
        view=None,
        page_css=PAGE_CSS,
    )
    return with_styles(response, [])


def _today(desk: DeskRequest) -> date:
    return desk.now.astimezone(SHANGHAI).date()


@routes.get("/numbers")
@staff_page(DeskPage.NUMBERS)
async def numbers_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/numbers: the numbers of a period and a scope, block by block."""
    reader = numbers_scope(desk.staff)
    query = desk.request.query
    try:
        scope = await choose_scope(desk.session, reader, query)
    except RefusedError as refusal:
        if refusal.status != 400:
            return desk.refuse(refusal.status, refusal.key, back=HERE, **refusal.values)
        return await _form_page(desk, reader, refusal, None)
    try:
        choice = choose_period(query, _today(desk))
    except RefusedError as refusal:
        return await _form_page(desk, reader, refusal, scope)
    data_dir = desk.linli.settings.data_dir
    report = await kpi_report(desk.session, choice.period, scope, now=desk.now, data_dir=data_dir)
    appointments = appointments_block(desk, report.appointments)
    cases = cases_block(desk, report.cases)
    ratings = ratings_block(desk, report)
    demand = demand_block(desk, report)
    supervision = await supervision_block(desk, report)
    tables = await breakdowns(desk, choice.period, scope)
    charts = [appointments["chart"], cases["chart"], *ratings["charts"]]
    charts += [c for c in (demand["chart"] if demand else None, supervision["chart"]) if c]
    label = await scope_label(desk, scope)
    heading = desk.t(
        "desk_numbers.heading",
        scope=label,
        start=choice.period.start.isoformat(),
        end=choice.period.last_day.isoformat(),
    )
    csv_links = {block: link(f"{HERE}.csv", choice, scope, block=block) for block in BLOCKS}
    response = desk.render(
        "numbers.html",
        error=None,
        form=_form(query, choice, scope),
        periods=PERIODS,
        groups=await scope_options(desk, reader, scope),
        view={
            "heading": heading,
            "as_of": desk.t("desk_numbers.as_of", now=when(desk.now)),
            "appointments": appointments,
            "cases": cases,
            "ratings": ratings,
            "demand": demand,
            "supervision": supervision,
            "breakdowns": breakdown_tables(desk, tables, choice),
            "columns": [desk.t(f"desk_numbers.{name}") for name in BREAKDOWN_COLUMNS],
            "csv": csv_links,
        },
        page_css=PAGE_CSS,
    )
    return with_styles(response, charts)


# ───────────────────────────── CSV ─────────────────────────────

PREFIXES = {
    "appointments": "appointments.",
    "cases": "cases.",
    "ratings": "ratings.",
    "demand": "demand",
    "supervision": "supervision.",
}
HEAD_ROWS = 3  # kpi_rows: the column names, the period and the scope


def metric_rows(desk: DeskRequest, report: KpiReport, block: str) -> list[list[str]]:
    """kpi_rows in the desk's language: the head rows, then the block's metrics (all for
    "all"), told apart by the metric codes kpi_rows gives with its default labels."""
    codes = kpi_rows(report)
    worded = kpi_rows(report, label=lambda code: metric(desk, code), lang=desk.lang)
    body = [
        row
        for code, row in zip(codes[HEAD_ROWS:], worded[HEAD_ROWS:], strict=True)
        if block in ("all", "breakdown") or code[0].startswith(PREFIXES[block])
    ]
    return [*worded[:HEAD_ROWS], *(body if block != "breakdown" else [])]


def demand_rows(desk: DeskRequest, report: KpiReport) -> list[list[str]]:
    """Each category's ranked items: category, item, supporters."""
    if report.demand is None:
        return [[desk.t("desk_numbers.demand_not_applicable")]]
    rows = [
        [desk.t(f"desk_numbers.{name}") for name in ("col_category", "col_item", "col_supporters")]
    ]
    for category in report.demand:
        name = localized(desk.lang, category.name_zh, category.name_en)
        rows += [[name, item.title, str(n)] for item, n in category.items]
    return rows


async def supervision_rows(desk: DeskRequest, report: KpiReport) -> list[list[str]]:
    """Every supervision entry: reason, when, case, rating, staff, department, link."""
    names = (
        "col_reason",
        "col_when",
        "col_case",
        "col_rating",
        "col_staff",
        "col_department",
        "col_link",
    )
    rows = [[desk.t(f"desk_numbers.{name}") for name in names]]
    for watch in await watch_rows(desk, report.supervision):
        path = f"/admin/cases/{watch.case_id}" if watch.case_id is not None else ""
        rows.append(
            [
                watch.reason,
                watch.at,
                watch.case_ref,
                watch.rating,
                watch.staff,
                watch.department,
                path,
            ]
        )
    return rows


def unit_rows(desk: DeskRequest, tables: list[Breakdown]) -> list[list[str]]:
    """The breakdown tables one after another: kind, name, then the columns."""
    head = [desk.t("desk_numbers.col_kind"), desk.t("desk_numbers.col_name")]
    rows = [[*head, *(desk.t(f"desk_numbers.{name}") for name in BREAKDOWN_COLUMNS)]]
    for table in tables:
        kind = desk.t(f"desk_numbers.breakdown_{table.kind}")
        rows += [[kind, unit.label, *unit_cells(desk, unit)] for unit in table.units]
    return rows


@routes.get("/numbers.csv")
@staff_page(DeskPage.NUMBERS)
async def numbers_csv(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/numbers.csv?block=…: one block (or all) as CSV, checked like the page."""
    reader = numbers_scope(desk.staff)
    query = desk.request.query
    block = query.get("block", "all").strip()
    if block not in BLOCKS:
        return desk.refuse(404, "desk.not_found", back=HERE)
    try:
        scope = await choose_scope(desk.session, reader, query)
        choice = choose_period(query, _today(desk))
    except RefusedError as refusal:
        return desk.refuse(refusal.status, refusal.key, back=HERE, **refusal.values)
    data_dir = desk.linli.settings.data_dir
    report = await kpi_report(desk.session, choice.period, scope, now=desk.now, data_dir=data_dir)
    rows = metric_rows(desk, report, block)
    if block in ("demand", "all"):
        rows += [[], *demand_rows(desk, report)]
    if block in ("supervision", "all"):
        rows += [[], *(await supervision_rows(desk, report))]
    if block == "breakdown":
        rows += [[], *unit_rows(desk, await breakdowns(desk, choice.period, scope))]
    period = choice.period
    name = (
        f"linli-numbers-{block}-{scope.code.replace(':', '-')}-{period.start}-{period.last_day}.csv"
    )
    return csv_response(to_csv(rows), name)
