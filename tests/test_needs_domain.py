"""Needs on a real database: clean input, one need per resident and text, +1 once, ranking,
stages and who is told, merging."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import Linli
from bot.clock import ManualClock
from models.need_edit import merge_items
from models.need_ops import (
    UnusableNeedError,
    change_stage,
    clean_need_text,
    load_categories,
    new_item,
    submit_need,
    suggest_category,
    support_item,
    top_items,
)
from models.needs import NeedStage
from models.people import Resident
from tests.conftest import DATA


async def residents(linli: Linli, count: int) -> list[int]:
    async with linli.sessions() as session, session.begin():
        made = [Resident(created_at=linli.clock.now()) for _ in range(count)]
        session.add_all(made)
        await session.flush()
        return [r.id or 0 for r in made]


def test_eighteen_categories_and_a_suggestion() -> None:
    categories = load_categories(DATA)
    assert len(categories) == 18
    assert {"邻里和谐", "法律援助", "特殊人群扶助", "家庭医生", "连锁图书馆"} <= {
        c.name_zh for c in categories
    }
    suggested = suggest_category("希望小区附近能开一个图书阅览室", categories)
    assert suggested is not None and suggested.name_zh == "连锁图书馆"
    assert suggest_category("你好", categories) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("好", "too_short"),
        ("🙂🙂🙂", "no_words"),
        ("？！。", "no_words"),
        ("长" * 5000, "too_long"),
    ],
)
def test_unusable_texts_say_why(text: str, reason: str) -> None:
    with pytest.raises(UnusableNeedError, match=reason):
        clean_need_text(text)


async def test_the_same_words_twice_make_one_need(linli: Linli) -> None:
    [resident] = await residents(linli, 1)
    async with linli.sessions() as session, session.begin():
        first, created = await submit_need(
            session, resident_id=resident, text="希望增加老年食堂", now=linli.clock.now()
        )
        again, created_again = await submit_need(
            session, resident_id=resident, text=" 希望增加老年食堂。", now=linli.clock.now()
        )
    assert created and not created_again and first.id == again.id


async def test_support_once_rank_stage_and_merge(linli: Linli, clock: ManualClock) -> None:
    people = await residents(linli, 6)
    async with linli.sessions() as session, session.begin():
        need, _ = await submit_need(
            session,
            resident_id=people[0],
            text="小区需要一个老年食堂",
            now=clock.now(),
            category="elderly-care",
        )
        canteen = await new_item(session, need, "老年食堂", clock.now())
        other_need, _ = await submit_need(
            session,
            resident_id=people[1],
            text="想要社区图书室",
            now=clock.now(),
            category="library",
        )
        library = await new_item(session, other_need, "社区图书室", clock.now())
        for person in people[1:4]:
            assert await support_item(session, canteen.id or 0, person, clock.now())
        assert not await support_item(session, canteen.id or 0, people[1], clock.now())  # once
        ranked = await top_items(session)
        assert [(item.title, n) for item, n in ranked] == [("老年食堂", 4), ("社区图书室", 1)]
        assert (
            await change_stage(session, canteen, NeedStage.PLANNING, clock.now()) is None
        )  # skips
        told = await change_stage(session, canteen, NeedStage.APPROVED, clock.now(), staff_id=None)
        assert told == sorted(people[:4])
        assert (
            await change_stage(session, library, NeedStage.REJECTED, clock.now()) is None
        )  # no reason
        assert await change_stage(
            session, library, NeedStage.REJECTED, clock.now(), reason="场地不足"
        ) == [people[1]]
        clock.advance(timedelta(days=8))
        for person in people[4:]:
            await support_item(session, library.id or 0, person, clock.now())
        this_week = await top_items(session, since=clock.now() - timedelta(days=7))
        assert [(item.title, n) for item, n in this_week] == [("社区图书室", 2)]
        merged = await merge_items(session, canteen, library, clock.now())
        assert merged.moved == 2  # people[1] already supported the canteen
        ranked = await top_items(session)
        assert [(item.title, n) for item, n in ranked] == [("老年食堂", 6)]
        assert canteen.supporters == 6
