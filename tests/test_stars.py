"""Staff stars (models/stars.py, data/stars.toml) on the hand-made data set of tests/test_kpis.py,
checked against scores worked out by hand: weights 20 each, accepted target 8, no-data score
0.6, star lines 90 / 75 / 60 / 40.

September 2026 (1 – 30 September, Shanghai days):
  A: ratings rt1 很满意, rt2 满意, rt3 一般, rt4 时间长 (4)
       proficiency 4/4 not 业务差 = 1     → 20
       attitude    4/4 not 态度差 = 1     → 20
       accepted    c1 c2 c6 = 3 of 8     → 20 × 0.375 = 7.5
       completed   c1 on time, c2 late: 1/2 → 10
       satisfaction 2/4 = 0.5            → 10      total 67.5 → 3 stars
  C: ratings rt9 业务差 (19th), rt5 态度差, rt7 满意, rt8 很满意 (27th 00:00),
     rt10 满意 (30th 23:30); rt11 (1 October 00:10) is October's
       proficiency 4/5 = 0.8 → 16;  attitude 4/5 = 0.8 → 16
       accepted    c5 (18th) c10 c4 = 3 of 8 → 7.5
       completed   c5, c10 both on time: 2/2 → 20
       satisfaction 3/5 = 0.6 → 12                total 71.5 → 3 stars
  B: no ratings, nothing accepted or resolved: 0.6 × 20 for proficiency, attitude, completed and
     satisfaction (no data), 0 for accepted  → total 48 → 2 stars
October 2026, C: rt11 态度差 only: proficiency 1 → 20, attitude 0, satisfaction 0, accepted 0,
  completed no data → 12: total 32 → 1 star.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.kpis import KpiScope, Period
from models.org import Staff
from models.stars import load_star_rules, monthly_scorecards, scorecard
from tests.conftest import DATA
from tests.test_kpis import World, sessions, world

__all__ = ["sessions", "world"]  # the fixtures, shared with test_kpis

SEPTEMBER = date(2026, 9, 15)
OCTOBER = date(2026, 10, 1)


async def test_a_scorecard_adds_up_the_five_factors(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    async with sessions() as session:
        card = await scorecard(session, world.staff["A"], SEPTEMBER, DATA)
    assert card.month == Period(date(2026, 9, 1), date(2026, 10, 1))
    assert card.name == "测试A" and card.skills == 2
    rows = [(f.code, f.raw, f.numerator, f.denominator, f.score, f.no_data) for f in card.factors]
    assert rows == [
        ("proficiency", 1.0, 4, 4, 1.0, False),
        ("attitude", 1.0, 4, 4, 1.0, False),
        ("accepted", 3.0, 3, 8, 0.375, False),
        ("completed", 0.5, 1, 2, 0.5, False),
        ("satisfaction", 0.5, 2, 4, 0.5, False),
    ]
    assert [f.contribution for f in card.factors] == [20, 20, 7.5, 10, 10]
    assert (card.total, card.stars) == (67.5, 3)
    assert card.formula_text == (
        "proficiency 20 × 1 + attitude 20 × 1 + accepted 20 × 0.375 + completed 20 × 0.5"
        " + satisfaction 20 × 0.5 = 67.5 → 3★ (≥ 60)"
    )


async def test_the_month_boundary_and_a_one_star_month(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    async with sessions() as session:
        september = await scorecard(session, world.staff["C"], SEPTEMBER, DATA)
        october = await scorecard(session, world.staff["C"], OCTOBER, DATA)
    scores = {f.code: (f.numerator, f.denominator) for f in september.factors}
    assert scores == {
        "proficiency": (4, 5),
        "attitude": (4, 5),
        "accepted": (3, 8),
        "completed": (2, 2),
        "satisfaction": (3, 5),
    }
    assert september.total == pytest.approx(71.5) and september.stars == 3
    assert [f.score for f in october.factors] == [1.0, 0.0, 0.0, 0.6, 0.0]
    assert october.factor("completed").no_data
    assert (october.total, october.stars) == (32.0, 1)
    assert october.formula_text.endswith("= 32.0 → 1★; * no data this month, scored 0.6")


async def test_a_month_without_data_is_neutral_not_perfect(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    async with sessions() as session:
        card = await scorecard(session, world.staff["B"], SEPTEMBER, DATA)
    assert [(f.code, f.raw, f.score, f.no_data) for f in card.factors] == [
        ("proficiency", None, 0.6, True),
        ("attitude", None, 0.6, True),
        ("accepted", 0.0, 0.0, False),  # a count: none accepted is a real zero
        ("completed", None, 0.6, True),
        ("satisfaction", None, 0.6, True),
    ]
    assert (card.total, card.stars) == (48.0, 2)
    assert "satisfaction 20 × 0.6*" in card.formula_text


async def test_monthly_scorecards_per_scope(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    a, b, c = world.staff["A"], world.staff["B"], world.staff["C"]
    async with sessions() as session:
        street = await monthly_scorecards(session, SEPTEMBER, DATA)
        scored = (
            await session.exec(
                select(func.count())
                .select_from(Staff)
                .where(
                    col(Staff.active).is_(True),
                    col(Staff.role).in_(("clerk", "department_staff", "grid_leader")),
                )
            )
        ).one()
        found = {
            name: [(card.staff_id, card.total) for card in
                   await monthly_scorecards(session, SEPTEMBER, DATA, scope)]
            for name, scope in {
                "department D": KpiScope.department(world.dept_d),
                "window 42": KpiScope.window(42),
                "community K": KpiScope.community(world.community_k),
                "staff A": KpiScope.staff(a),
            }.items()
        }  # fmt: skip
    # Best first: C 71.5, A 67.5; everyone else (the seeded street and B) has no data: 48,
    # or 60 for a grid leader, whose accepted count cannot move and is scored neutral too
    # (12 + 12 + 12 + 12 + 12).
    assert [(card.staff_id, card.total) for card in street[:2]] == [(c, 71.5), (a, 67.5)]
    assert {card.total for card in street[2:]} == {48.0, 60.0} and b in {x.staff_id for x in street}
    async with sessions() as session:
        leaders = set(
            (await session.exec(select(Staff.id).where(Staff.role == "grid_leader"))).all()
        )
    assert {card.staff_id for card in street if card.total == 60.0} == leaders
    assert len(street) == scored
    assert found == {
        "department D": [(a, 67.5), (b, 48.0)],  # V is a supervisor: not scored
        "window 42": [(c, 71.5)],
        "community K": [(b, 48.0)],
        "staff A": [(a, 67.5)],
    }


def test_star_lines_from_the_data_file() -> None:
    rules = load_star_rules(DATA)
    assert [rules.stars(t) for t in (100, 90, 89.9, 75, 74.9, 60, 59.9, 40, 39.9, 0)] == [
        5, 5, 4, 4, 3, 3, 2, 2, 1, 1,
    ]  # fmt: skip


def test_weights_that_do_not_add_up_to_100_are_refused(tmp_path: Path) -> None:
    text = (DATA / "stars.toml").read_text(encoding="utf-8")
    (tmp_path / "stars.toml").write_text(
        text.replace("satisfaction = 20", "satisfaction = 25"), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="add up to 100"):
        load_star_rules(tmp_path)


async def test_an_unknown_staff_member_has_no_scorecard(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        with pytest.raises(LookupError):
            await scorecard(session, 999_999, SEPTEMBER, DATA)
