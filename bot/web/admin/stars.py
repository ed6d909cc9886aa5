"""Staff stars (星级评定) at /admin/stars, /admin/stars/{staff_id} and /admin/stars.csv.

Everyone sees their own card, this month so far and last month, factor by factor, and how the
stars are counted, in words, from the street's own rules (models.stars.load_star_rules reads
data/stars.toml: weights, the accepted target, the no-data score, the star lines). Whoever
models.policy.may_see_scorecard lets see other people's cards (supervisors, leaders and
administrators) also gets the month's ranking of everyone scored (?month=YYYY-MM, last month
by default), one person's page and the month's CSV. Anyone else asking for another person's
card gets 404, as if there were none; the CSV holds only the cards the reader may see.
Every number is models.stars' (scorecard, monthly_scorecards); nothing is counted here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from aiohttp import web
from sqlmodel import col, select

from bot.web.admin.auth import DeskRequest, staff_page
from bot.web.admin.layout import NavEntry
from bot.web.admin.numbers import (
    PAGE_CSS,
    RefusedError,
    csv_response,
    share_text,
    staff_label,
    with_styles,
)
from models.base import SHANGHAI
from models.csv_export import to_csv
from models.kpis import Rate
from models.org import Staff
from models.policy import DeskPage, may_see_scorecard
from models.stars import FACTORS, Factor, Scorecard, load_star_rules, monthly_scorecards, scorecard

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.STARS, "/admin/stars", "desk_numbers.nav_stars"),)
HERE = "/admin/stars"
MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
YEARS = range(2000, 2100)
MONTHS_OFFERED = 24  # months in the month list, this one included


# ───────────────────────────── months ─────────────────────────────


def asked_month(query: Mapping[str, str]) -> date | None:
    """The first day of the month asked for (?month=YYYY-MM); None when none was asked;
    RefusedError(400) when it cannot be read."""
    text = query.get("month", "").strip()
    if not text:
        return None
    found = MONTH.fullmatch(text)
    if found is None or int(found.group(1)) not in YEARS or not 1 <= int(found.group(2)) <= 12:
        raise RefusedError(400, "desk_numbers.bad_month")
    return date(int(found.group(1)), int(found.group(2)), 1)


def month_before(day: date) -> date:
    """The first day of the month before the one holding the day."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def month_name(desk: DeskRequest, day: date) -> str:
    """2026年9月 / 9/2026."""
    return desk.t("desk_numbers.month", year=day.year, month=day.month)


def month_choices(desk: DeskRequest, today: date, chosen: date) -> list[tuple[str, str]]:
    """(YYYY-MM, name) for this month and the ones before it, and the chosen one."""
    months = [today.replace(day=1)]
    while len(months) < MONTHS_OFFERED:
        months.append(month_before(months[-1]))
    if chosen not in months:
        months.append(chosen)
    return [(f"{m:%Y-%m}", month_name(desk, m)) for m in sorted(months, reverse=True)]


def _today(desk: DeskRequest) -> date:
    return desk.now.astimezone(SHANGHAI).date()


# ───────────────────────────── cards in words ─────────────────────────────


@dataclass(frozen=True)
class FactorRow:
    """One factor of a card in words."""

    name: str
    data: str
    score: str
    weight: str
    points: str


@dataclass(frozen=True)
class CardView:
    """A scorecard as a page shows it."""

    title: str
    stars: str
    stars_label: str
    result: str
    rows: list[FactorRow]
    sum: str


def short(score: float) -> str:
    """0.375, 0.5, 1: at most three decimals, no trailing zeros."""
    return f"{score:.3f}".rstrip("0").rstrip(".")


def factor_data(desk: DeskRequest, factor: Factor) -> str:
    """What a factor was made of: a share in words, the accepted count, or "no data"."""
    if factor.no_data:
        return desk.t("desk_numbers.factor_no_data", score=short(factor.score))
    if factor.code == "accepted":
        return desk.t(
            "desk_numbers.accepted_data", count=factor.numerator, target=factor.denominator
        )
    return share_text(desk, Rate(factor.numerator, factor.denominator))


def card_view(desk: DeskRequest, card: Scorecard, title: str) -> CardView:
    """The card's stars, total, factors and its sum, in the desk's language."""
    rows = [
        FactorRow(
            desk.t(f"kpis.stars.{f.code}"),
            factor_data(desk, f),
            short(f.score),
            f"{f.weight:g}",
            f"{f.contribution:.1f}",
        )
        for f in card.factors
    ]
    terms = " + ".join(
        desk.t("desk_numbers.sum_term", name=row.name, weight=row.weight, score=row.score)
        for row in rows
    )
    total = f"{card.total:.1f}"
    return CardView(
        title,
        "★" * card.stars + "☆" * (5 - card.stars),
        desk.t("desk_numbers.stars_label", stars=card.stars),
        desk.t("desk_numbers.stars_result", stars=card.stars, total=total),
        rows,
        desk.t("desk_numbers.sum", terms=terms, total=total, stars=card.stars),
    )


def rules_text(desk: DeskRequest) -> list[str]:
    """How the stars are counted, in words, from data/stars.toml."""
    rules = load_star_rules(desk.linli.settings.data_dir)
    lines = dict(rules.lines)
    texts = [desk.t("desk_numbers.formula_intro")]
    texts += [
        desk.t(
            f"desk_numbers.rule_{code}",
            weight=f"{rules.weights[code]:g}",
            target=rules.accepted_target,
        )
        for code in FACTORS
    ]
    texts.append(desk.t("desk_numbers.rule_no_data", score=short(rules.no_data_score)))
    texts.append(
        desk.t(
            "desk_numbers.rule_lines",
            **{
                name: f"{lines[stars]:g}"
                for name, stars in (("five", 5), ("four", 4), ("three", 3), ("two", 2))
            },
        )
    )
    texts += [desk.t("desk_numbers.rule_skills"), desk.t("desk_numbers.rule_source")]
    return texts


async def own_cards(desk: DeskRequest, person: Staff, months: list[date]) -> list[CardView]:
    """A person's cards for these months (this month is titled "so far")."""
    today = _today(desk)
    views = []
    for month in months:
        card = await scorecard(desk.session, person.id or 0, month, desk.linli.settings.data_dir)
        name = month_name(desk, month)
        current = month.year == today.year and month.month == today.month
        title = desk.t(
            "desk_numbers.month_so_far" if current else "desk_numbers.month_done", month=name
        )
        views.append(card_view(desk, card, title))
    return views


# ───────────────────────────── the ranking ─────────────────────────────


@dataclass(frozen=True)
class Ranked:
    """A card in the month's ranking, with its person."""

    rank: int
    card: Scorecard
    staff: Staff


async def visible_cards(desk: DeskRequest, month: date) -> list[Ranked]:
    """The month's cards of everyone scored that this reader may see (may_see_scorecard), best
    first; equal totals share a rank."""
    cards = await monthly_scorecards(desk.session, month, desk.linli.settings.data_dir)
    ids = [card.staff_id for card in cards]
    found = await desk.session.exec(select(Staff).where(col(Staff.id).in_(ids)))
    people = {p.id or 0: p for p in found.all()}
    shown = [
        (card, people[card.staff_id])
        for card in cards
        if card.staff_id in people and may_see_scorecard(desk.staff, people[card.staff_id])
    ]
    return [
        Ranked(1 + sum(other.total > card.total for other, _ in shown), card, person)
        for card, person in shown
    ]


def sees_others(desk: DeskRequest, ranked: list[Ranked]) -> bool:
    """Whether this reader sees anyone's card but their own."""
    return any(row.card.staff_id != desk.staff.id for row in ranked)


def _not_scored(desk: DeskRequest, person: Staff) -> bool:
    return person.role not in load_star_rules(desk.linli.settings.data_dir).roles


# ───────────────────────────── pages ─────────────────────────────


@routes.get("/stars")
@staff_page(DeskPage.STARS)
async def stars_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/stars: my cards, how stars are counted, and (for those who may) the month's
    ranking of everyone scored."""
    today = _today(desk)
    last_month = month_before(today)
    error, status = None, 200
    try:
        month = asked_month(desk.request.query) or last_month
    except RefusedError as refusal:
        error, status, month = desk.t(refusal.key), refusal.status, last_month
    ranked = await visible_cards(desk, month)
    others = sees_others(desk, ranked)
    rows = [
        {
            "rank": row.rank,
            "href": f"{HERE}/{row.card.staff_id}?month={month:%Y-%m}",
            "name": row.card.name,
            "code": row.staff.code,
            "total": f"{row.card.total:.1f}",
            "stars": "★" * row.card.stars + "☆" * (5 - row.card.stars),
            "stars_label": desk.t("desk_numbers.stars_label", stars=row.card.stars),
            "points": [f"{f.contribution:.1f}" for f in row.card.factors],
        }
        for row in ranked
    ]
    response = desk.render(
        "stars.html",
        status=status,
        page_title=desk.t("desk_numbers.stars_title"),
        error=error,
        not_scored=_not_scored(desk, desk.staff),
        cards_title=desk.t("desk_numbers.my_stars"),
        cards=await own_cards(desk, desk.staff, [today, last_month]),
        rules=rules_text(desk),
        month_action=HERE if others else f"{HERE}/{desk.staff.id}",
        month_title=desk.t(
            "desk_numbers.ranking_title" if others else "desk_numbers.own_month_title",
            month=month_name(desk, month),
        ),
        months=month_choices(desk, today, month),
        chosen=f"{month:%Y-%m}",
        ranking=rows if others and error is None else None,
        factor_names=[desk.t(f"kpis.stars.{code}") for code in FACTORS],
        csv=f"{HERE}.csv?month={month:%Y-%m}",
        page_css=PAGE_CSS,
    )
    return with_styles(response, [])


@routes.get(r"/stars/{number:\d{1,9}}")
@staff_page(DeskPage.STARS)
async def staff_stars_page(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/stars/{staff_id}: one person's cards (this month so far and last month, or
    ?month=YYYY-MM); 404 for a card this reader may not see."""
    person = await desk.session.get(Staff, int(desk.request.match_info["number"]))
    if person is None or not may_see_scorecard(desk.staff, person):
        return desk.refuse(404, "desk.not_found", back=HERE)
    today = _today(desk)
    error, status = None, 200
    try:
        month = asked_month(desk.request.query)
    except RefusedError as refusal:
        error, status, month = desk.t(refusal.key), refusal.status, None
    months = [month] if month is not None else [today, month_before(today)]
    response = desk.render(
        "staff_stars.html",
        status=status,
        page_title=desk.t("desk_numbers.person_title", name=person.name, code=person.code),
        error=error,
        not_scored=_not_scored(desk, person),
        cards_title=staff_label(desk, person),
        cards=await own_cards(desk, person, months),
        rules=rules_text(desk),
        month_action=f"{HERE}/{person.id}",
        month_title=desk.t("desk_numbers.ranking_month"),
        months=month_choices(desk, today, months[0].replace(day=1)),
        chosen=f"{months[0]:%Y-%m}",
        page_css=PAGE_CSS,
    )
    return with_styles(response, [])


@routes.get("/stars.csv")
@staff_page(DeskPage.STARS)
async def stars_csv(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/stars.csv?month=YYYY-MM: the month's cards this reader may see, ranked
    (UTF-8 with BOM); last month by default."""
    try:
        month = asked_month(desk.request.query) or month_before(_today(desk))
    except RefusedError as refusal:
        return desk.refuse(refusal.status, refusal.key, back=HERE)
    ranked = await visible_cards(desk, month)
    head: list[object] = [
        desk.t(f"desk_numbers.{name}")
        for name in ("col_rank", "col_code", "col_staff", "col_month")
    ]
    for code in FACTORS:
        name = desk.t(f"kpis.stars.{code}")
        head += [
            f"{name}·{desk.t('desk_numbers.col_data')}",
            f"{name}·{desk.t('desk_numbers.col_score')}",
            f"{name}·{desk.t('desk_numbers.col_points')}",
        ]
    head += [desk.t(f"desk_numbers.{name}") for name in ("col_total", "col_stars", "col_skills")]
    rows: list[list[object]] = [head]
    for row in ranked:
        card = row.card
        cells: list[object] = [row.rank, row.staff.code, card.name, f"{month:%Y-%m}"]
        for factor in card.factors:
            cells += [factor_data(desk, factor), short(factor.score), f"{factor.contribution:.1f}"]
        cells += [f"{card.total:.1f}", card.stars, card.skills]
        rows.append(cells)
    return csv_response(to_csv(rows), f"linli-stars-{month:%Y-%m}.csv")
