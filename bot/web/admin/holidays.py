"""The street's holiday overrides at /admin/holidays: the dates the holiday calendar package does
not know or gets wrong for this street (a published 调休 working Saturday, a holiday of a year
the package does not cover yet), as `data/opening.toml`'s [[overrides]] seed them. Each is a
models.services.HolidayOverride that models.calendar.classify_day follows before the package.

Staff whose role opens the page read the list; those models.policy.may_edit_holidays allows add,
change and remove overrides from today on (past days stay as they were served). A change is
seen by the chat at once in this process (its reference cache is cleared) and by other
processes within a minute. Shifts already on the roster for the day are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlmodel import col, select

from bot.web.admin.auth import DeskRequest, see_other, staff_page
from bot.web.admin.layout import NavEntry
from bot.web.admin.roster import day_href, day_label, holiday_name, local_today, parse_day
from models.calendar import DayInfo, classify_day
from models.policy import DeskPage, may_edit_holidays
from models.services import DayKind, HolidayOverride

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.HOLIDAYS, "/admin/holidays", "desk_admin.nav_holidays"),)
HERE = "/admin/holidays"
NAME_ZH_LIMIT = 80  # HolidayOverride.name_zh
NAME_EN_LIMIT = 120  # HolidayOverride.name_en


@dataclass(frozen=True)
class OverrideRow:
    """An override on the page, beside what the calendar package alone says of the day."""

    override: HolidayOverride
    label: str
    name: str
    calendar: DayInfo
    past: bool
    roster_href: str


@dataclass(frozen=True)
class OverrideForm:
    """The add form as typed (shown again, untouched, when something is wrong)."""

    day: str = ""
    kind: str = DayKind.HOLIDAY.value
    name_zh: str = ""
    name_en: str = ""

    @classmethod
    def posted(cls, desk: DeskRequest) -> OverrideForm:
        """The posted fields, trimmed (names kept whole, so that one too long can be shown)."""
        return cls(
            day=desk.text("day")[:10],
            kind=desk.text("kind")[:16],
            name_zh=desk.text("name_zh")[:200],
            name_en=desk.text("name_en")[:300],
        )


async def holidays_page_for(
    desk: DeskRequest,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    entered: OverrideForm | None = None,
) -> web.Response:
    """The list of overrides and the add form (with what went wrong, and the form as typed)."""
    stmt = select(HolidayOverride).order_by(col(HolidayOverride.day))
    today = local_today(desk)
    rows = [
        OverrideRow(
            override=row,
            label=day_label(desk.lang, row.day),
            name=holiday_name(desk.lang, classify_day(row.day, {row.day: row})),
            calendar=classify_day(row.day, {}),
            past=row.day < today,
            roster_href=day_href(row.day),
        )
        for row in (await desk.session.exec(stmt)).all()
    ]
    return desk.render(
        "holidays.html",
        status=status,
        rows=rows,
        kinds=[kind.value for kind in DayKind],
        may_edit=may_edit_holidays(desk.staff),
        errors=errors or [],
        entered=entered or OverrideForm(),
        today=today,
    )


@routes.get("/holidays")
@staff_page(DeskPage.HOLIDAYS)
async def holidays_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/holidays: every override, oldest first."""
    return await holidays_page_for(desk)


def refused(desk: DeskRequest) -> web.Response:
    """The answer to a change by someone who may only read the overrides."""
    return desk.refuse(403, "desk_admin.holidays_read_only", back=HERE)


def forget_cached_overrides(desk: DeskRequest) -> None:
    """The chat keeps the overrides for a minute; in this process it reads them again now."""
    desk.linli.pipeline.reference.clear()


@routes.post("/holidays")
@staff_page(DeskPage.HOLIDAYS)
async def add_override(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/holidays: a day follows weekday (workday) or weekend/holiday rules."""
    if not may_edit_holidays(desk.staff):
        return refused(desk)
    entered = OverrideForm.posted(desk)
    day = parse_day(entered.day)
    errors: list[str] = []
    if day is None:
        errors.append(desk.t("desk_admin.holiday_bad_day"))
    elif day < local_today(desk):
        errors.append(desk.t("desk_admin.holiday_past_day", day=day.isoformat()))
    if entered.kind not in DayKind._value2member_map_:
        errors.append(desk.t("desk_admin.holiday_bad_kind"))
    if not entered.name_zh:
        errors.append(desk.t("desk_admin.holiday_name_missing"))
    elif len(entered.name_zh) > NAME_ZH_LIMIT:
        errors.append(desk.t("desk_admin.holiday_name_too_long", most=NAME_ZH_LIMIT))
    if len(entered.name_en) > NAME_EN_LIMIT:
        errors.append(desk.t("desk_admin.holiday_name_en_too_long", most=NAME_EN_LIMIT))
    if not (entered.name_zh + entered.name_en).isprintable():
        errors.append(desk.t("desk_admin.holiday_name_bad_characters"))
    if errors or day is None:
        return await holidays_page_for(desk, status=400, errors=errors, entered=entered)
    kind = DayKind(entered.kind)
    row = await desk.session.get(HolidayOverride, day)
    key = "desk_admin.holiday_changed" if row is not None else "desk_admin.holiday_added"
    row = row or HolidayOverride(day=day, day_kind=kind)
    row.day_kind, row.name_zh, row.name_en = kind, entered.name_zh, entered.name_en
    desk.session.add(row)
    await desk.session.flush()
    forget_cached_overrides(desk)
    desk.flash(key, day=day.isoformat(), kind=desk.t(f"desk_admin.kind_{kind}"))
    return see_other(HERE)


@routes.post(r"/holidays/{day:\d{4}-\d{2}-\d{2}}/remove")
@staff_page(DeskPage.HOLIDAYS)
async def remove_override(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/holidays/{YYYY-MM-DD}/remove: the day follows the calendar package again."""
    if not may_edit_holidays(desk.staff):
        return refused(desk)
    day = parse_day(desk.request.match_info["day"])
    row = await desk.session.get(HolidayOverride, day) if day is not None else None
    if row is None or day is None:
        return desk.refuse(404, "desk_admin.holiday_gone", back=HERE)
    if day < local_today(desk):
        return desk.refuse(409, "desk_admin.holiday_past_day", back=HERE, day=day.isoformat())
    await desk.session.delete(row)
    await desk.session.flush()
    forget_cached_overrides(desk)
    kind = desk.t(f"desk_admin.kind_{classify_day(day, {}).kind}")
    desk.flash("desk_admin.holiday_removed", day=day.isoformat(), kind=kind)
    return see_other(HERE)
