"""Issue 20, item 5: staff see their own stars in chat (我的星级), with the formula; residents
and other staff never see someone else's card there."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.app import Linli
from bot.i18n import t
from models.cases import Rating, RatingLevel
from models.org import Staff
from models.people import Resident
from tests.conftest import Chat, labels
from tests.test_cases import bound_chat


async def _rate(linli: Linli, staff_code: str, *levels: RatingLevel) -> None:
    """Ratings of a staff member dated early last month (one resident each)."""
    now = linli.clock.now()
    when = now.replace(day=1) - timedelta(days=20)
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == staff_code))).one()
        for number, level in enumerate(levels):
            resident = Resident(created_at=now)
            session.add(resident)
            await session.flush()
            session.add(
                Rating(
                    subject_kind="appointment",
                    subject_id=9000 + number,
                    resident_id=resident.id or 0,
                    staff_id=staff.id,
                    level=level,
                    created_at=when,
                )
            )


async def test_my_stars_shows_last_month_and_the_formula(linli: Linli) -> None:
    # Two ratings: one 很满意, one 态度差. Proficiency 2/2 = 1, attitude 1/2 = 0.5,
    # satisfaction 1/2 = 0.5, accepted 0/8 = 0, completed: no case resolved → 0.6.
    # Total 20 × (1 + 0.5 + 0.5 + 0 + 0.6) = 52.0 → two stars (≥ 40, < 60).
    await _rate(linli, "S001", RatingLevel.VERY_SATISFIED, RatingLevel.BAD_ATTITUDE)
    clerk = await bound_chat(linli, "S001", "clerk-stars")
    reply = (await clerk.send("我的星级"))[0]
    assert "★★☆☆☆（52.0 分）" in reply.text, reply.text
    assert "服务态度：得分 0.50 × 权重 20 = 10.0 分" in reply.text
    assert "按期办结：本月暂无数据，按 0.60 计" in reply.text
    assert "90 分以上五星" in reply.text  # the formula, from data/stars.toml
    pressed = (await clerk.press("stars:mine"))[0]
    assert pressed.text == reply.text


async def test_in_english_and_from_the_staff_menu(linli: Linli) -> None:
    clerk = await bound_chat(linli, "S002", "clerk-en")
    desk = (await clerk.send("工作台"))[0]
    assert t("zh-CN", "stars.button") in labels(desk)
    await clerk.send("English")
    reply = (await clerk.send("my stars"))[0]
    assert reply.text.startswith("Stars for "), reply.text
    assert "How it is counted" in reply.text


async def test_a_resident_gets_no_card(linli: Linli) -> None:
    resident = Chat(linli, user="resident-stars")
    reply = (await resident.send("我的星级"))[0]
    assert "★" not in reply.text
    assert t("zh-CN", "stars.button") not in labels(reply)
