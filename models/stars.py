"""Staff stars (星级评定): a monthly scorecard per staff member from the five factors the street
scores its people on, with the weights, the target and the star lines in data/stars.toml.

Each factor has a raw value and a normalised score from 0 to 1 (the shares and counts are the
ones of models/kpis.py, for the staff scope: ratings of the person, cases assigned to them):

- proficiency (业务熟练): ratings of the person that are not 业务差 / all their ratings.
- attitude (服务态度): ratings of the person that are not 态度差 / all their ratings.
- accepted (受理): cases the person accepted in the month / the target, at most 1.
- completed (办结): the person's 按期办结率 — of their cases resolved in the month with a deadline,
  the share resolved by it.
- satisfaction (满意度): (很满意 + 满意) / all their ratings.

A factor with no data for the month (no ratings of the person; no case of theirs resolved) gets
the neutral score of ``[no_data] score`` and is marked ``no_data``; ``accepted`` is a count and
always has data (none accepted scores 0). How many services the person is trained for
(StaffSkill) is shown beside proficiency but not scored: department staff and grid leaders are
not trained for window services, and a count they cannot change should not cost them stars.

total = Σ weight × score (weights add up to 100, so 0–100), rounded to one decimal; the stars
are the highest line in ``[stars]`` the rounded total reaches (1 below the two-star line).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from pathlib import Path

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cases import RatingLevel
from models.kpis import (
    CaseKpis,
    KpiScope,
    Period,
    Rate,
    RatingKpis,
    case_kpis_by_staff,
    ratings_by_staff,
    staff_in_scope,
)
from models.org import Staff, StaffRole, StaffSkill

FACTORS = ("proficiency", "attitude", "accepted", "completed", "satisfaction")
STAR_NAMES = {"five": 5, "four": 4, "three": 3, "two": 2}


@dataclass(frozen=True)
class StarRules:
    """data/stars.toml: weights (adding up to 100), the accepted target, the neutral score for a
    factor without data, the star lines (highest first) and the roles that are scored."""

    weights: Mapping[str, float]
    accepted_target: int
    no_data_score: float
    lines: tuple[tuple[int, float], ...]
    roles: tuple[StaffRole, ...]
    without_cases: tuple[StaffRole, ...] = ()

    def stars(self, total: float) -> int:
        """The stars a total earns: the highest line it reaches, else 1."""
        return next((stars for stars, line in self.lines if total >= line), 1)


def load_star_rules(data_dir: Path) -> StarRules:
    """Read and check data/stars.toml (a mistake there is refused, not scored)."""
    data = tomllib.loads((data_dir / "stars.toml").read_text(encoding="utf-8"))
    weights = {code: float(data["weights"][code]) for code in FACTORS}
    if set(data["weights"]) != set(FACTORS) or abs(sum(weights.values()) - 100) > 1e-9:
        raise ValueError(f"stars.toml: weights of {FACTORS} must add up to 100: {weights}")
    target = int(data["targets"]["accepted"])
    neutral = float(data["no_data"]["score"])
    lines = tuple(
        sorted(((STAR_NAMES[k], float(v)) for k, v in data["stars"].items()), reverse=True)
    )
    if target < 1 or not 0 <= neutral <= 1 or [s for s, _ in lines] != [5, 4, 3, 2]:
        raise ValueError("stars.toml: target ≥ 1, no_data score 0–1, lines five…two needed")
    if any(a[1] <= b[1] for a, b in pairwise(lines)):
        raise ValueError(f"stars.toml: each star line must be above the next: {lines}")
    roles = tuple(StaffRole(role) for role in data["scored"]["roles"])
    without = tuple(StaffRole(role) for role in data["scored"].get("without_cases", []))
    return StarRules(weights, target, neutral, lines, roles, without)


@dataclass(frozen=True)
class Factor:
    """One factor of a scorecard.

    ``raw`` is the share (0–1) or, for ``accepted``, the count; None when there is no data.
    ``numerator``/``denominator`` are what the share was made of (for ``accepted``: the count and
    the target). ``score`` is the normalised value used (the neutral score when ``no_data``).
    """

    code: str
    raw: float | None
    numerator: int
    denominator: int
    score: float
    no_data: bool
    weight: float

    @property
    def contribution(self) -> float:
        """Points this factor adds to the total: weight × score."""
        return self.weight * self.score


@dataclass(frozen=True)
class Scorecard:
    """A staff member's month: five factors, a total out of 100 and 1–5 stars."""

    staff_id: int
    name: str
    month: Period
    factors: tuple[Factor, ...]
    total: float
    stars: int
    skills: int  # services the person is trained for (shown, not scored)
    lines: tuple[tuple[int, float], ...]

    def factor(self, code: str) -> Factor:
        """One factor by its code."""
        return next(f for f in self.factors if f.code == code)

    @property
    def formula_text(self) -> str:
        """The sum as a page can show it, e.g. ``proficiency 20 × 0.75 + … = 67.5 → 3★ (≥ 60)``;
        a factor scored without data is marked ``*``. Codes, not words: a page words them with
        the ``kpis.stars.*`` catalogue texts, or shows ``factors`` as a table."""
        terms = " + ".join(
            f"{f.code} {f.weight:g} × {_short(f.score)}{'*' if f.no_data else ''}"
            for f in self.factors
        )
        line = dict(self.lines).get(self.stars)
        reached = f" (≥ {line:g})" if line is not None else ""
        text = f"{terms} = {self.total:.1f} → {self.stars}★{reached}"
        neutral = [f for f in self.factors if f.no_data]
        if neutral:
            text += f"; * no data this month, scored {_short(neutral[0].score)}"
        return text


def _short(score: float) -> str:
    """A score with at most three decimals and no trailing zeros (0.375, 0.5, 1)."""
    return f"{score:.3f}".rstrip("0").rstrip(".")


def _share(code: str, rate: Rate, rules: StarRules) -> Factor:
    value = rate.value
    score = rules.no_data_score if value is None else value
    weight = rules.weights[code]
    return Factor(code, value, rate.numerator, rate.denominator, score, value is None, weight)


def _card(
    staff: Staff,
    period: Period,
    ratings: RatingKpis,
    cases: CaseKpis,
    skills: int,
    rules: StarRules,
) -> Scorecard:
    target = rules.accepted_target
    takes_cases = staff.role not in rules.without_cases
    accepted = Factor(
        "accepted",
        float(cases.accepted) if takes_cases else None,
        cases.accepted,
        target,
        min(1.0, cases.accepted / target) if takes_cases else rules.no_data_score,
        not takes_cases,
        rules.weights["accepted"],
    )
    completed = cases.completed_on_time if takes_cases else Rate(0, 0)
    factors = (
        _share("proficiency", ratings.not_level(RatingLevel.POOR_SKILL), rules),
        _share("attitude", ratings.not_level(RatingLevel.BAD_ATTITUDE), rules),
        accepted,
        _share("completed", completed, rules),
        _share("satisfaction", ratings.satisfaction, rules),
    )
    total = round(sum(f.contribution for f in factors), 1)
    return Scorecard(
        staff.id or 0,
        staff.name,
        period,
        factors,
        total,
        rules.stars(total),
        skills,
        rules.lines,
    )


async def _skills(session: AsyncSession, staff_ids: list[int]) -> dict[int, int]:
    stmt = (
        select(StaffSkill.staff_id, func.count())
        .where(col(StaffSkill.staff_id).in_(staff_ids))
        .group_by(col(StaffSkill.staff_id))
    )
    return {int(staff_id): int(n) for staff_id, n in (await session.exec(stmt)).all()}


async def _cards(
    session: AsyncSession, people: list[Staff], period: Period, rules: StarRules
) -> list[Scorecard]:
    ids = [person.id or 0 for person in people]
    ratings = await ratings_by_staff(session, period, ids)
    # Stars read only counts fixed by the month's own dates (accepted, resolved), not "now".
    cases = await case_kpis_by_staff(session, period, ids, period.end_at)
    skills = await _skills(session, ids)
    return [
        _card(p, period, ratings[p.id or 0], cases[p.id or 0], skills.get(p.id or 0, 0), rules)
        for p in people
    ]


async def scorecard(session: AsyncSession, staff_id: int, month: date, data_dir: Path) -> Scorecard:
    """One staff member's scorecard for the calendar month holding ``month`` (any role)."""
    staff = await session.get(Staff, staff_id)
    if staff is None:
        raise LookupError(f"no staff member {staff_id}")
    [card] = await _cards(session, [staff], Period.month(month), load_star_rules(data_dir))
    return card


async def monthly_scorecards(
    session: AsyncSession, month: date, data_dir: Path, scope: KpiScope | None = None
) -> list[Scorecard]:
    """The scorecards of the active staff in the scope whose role is scored (``[scored]``),
    best first (total, then name). Scope: the street; a community's, a department's or a
    window's staff (``Staff.community_id`` / ``department_id`` / ``window``); one person."""
    rules = load_star_rules(data_dir)
    stmt = (
        select(Staff)
        .where(
            col(Staff.active).is_(True),
            col(Staff.role).in_(rules.roles),
            staff_in_scope(scope or KpiScope.street()),
        )
        .order_by(col(Staff.id))
    )
    people = list((await session.exec(stmt)).all())
    cards = await _cards(session, people, Period.month(month), rules)
    return sorted(cards, key=lambda card: (-card.total, card.name, card.staff_id))
