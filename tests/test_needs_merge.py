"""Issue 18, item 8: needs merge at once. A neighbour's item made a moment ago, here or by another
process, is seen by the next need; the same words join it; two residents choosing a category at
the same instant make one item (on SQLite and PostgreSQL, with two sessions at once)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import Linli
from bot.i18n import t
from bot.messages import Reply
from models.db import make_engine, make_session_factory
from models.need_ops import (
    item_with_same_words,
    join_item,
    lock_item_creation,
    need_title,
    new_item,
    submit_need,
    supporters_of,
)
from models.needs import Need, NeedItem
from models.people import Resident
from tests.conftest import START, Chat, payloads
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

CANTEEN = "希望小区附近能有个老年食堂，老人吃饭方便"
CANTEEN_AGAIN = "希望小区附近能有个老年食堂!老人吃饭方便。"  # the same words, typed otherwise
CANTEEN_SIMILAR = "老人吃饭不方便，社区能不能办个老年食堂"


async def _items(linli: Linli) -> list[NeedItem]:
    async with linli.sessions() as session:
        return list((await session.exec(select(NeedItem).order_by(col(NeedItem.id)))).all())


async def _asked_category(chat: Chat, text: str) -> list[str]:
    await chat.send("需求")
    asked = await chat.send(text)
    assert asked[0].text == t("zh-CN", "needs.choose_category"), asked[0].text
    return payloads(asked[0])


async def test_the_same_words_a_moment_later_join_the_item(linli: Linli) -> None:
    first = Chat(linli, user="merge-first")
    await first.press((await _asked_category(first, CANTEEN))[0])
    second = Chat(linli, user="merge-second")
    await second.send("需求")
    joined = await second.send(CANTEEN_AGAIN)
    assert "已把您的需求并入" in joined[0].text and "2 位邻居支持" in joined[0].text
    [item] = await _items(linli)
    assert item.supporters == 2


async def test_both_waiting_on_the_category_make_one_item(linli: Linli) -> None:
    first, second = Chat(linli, user="merge-a"), Chat(linli, user="merge-b")
    first_options = await _asked_category(first, CANTEEN)
    second_options = await _asked_category(second, CANTEEN_AGAIN)  # no item yet: asked too
    assert "已记录" in (await first.press(first_options[0]))[0].text
    joined = await second.press(second_options[3])  # another category: the words decide
    assert "已把您的需求并入" in joined[0].text
    [item] = await _items(linli)
    assert item.supporters == 2


async def _offered_meanwhile(linli: Linli, *users: str) -> tuple[Chat, list[Reply]]:
    """Two neighbours choose a category for similar needs; the second is offered the first's."""
    first, second = Chat(linli, user=users[0]), Chat(linli, user=users[1])
    first_options = await _asked_category(first, CANTEEN)
    second_options = await _asked_category(second, CANTEEN_SIMILAR)
    await first.press(first_options[0])
    offer = await second.press(second_options[0])
    assert offer[0].text.startswith(t("zh-CN", "needs.similar_meanwhile")), offer[0].text
    return second, offer


async def test_a_similar_need_made_meanwhile_is_offered_before_a_second_item(
    linli: Linli,
) -> None:
    second, offer = await _offered_meanwhile(linli, "merge-c", "merge-d")
    plus, new = payloads(offer[0])[0], payloads(offer[0])[-1]
    assert plus.startswith("need:plus:") and new.startswith("need:new:")
    assert "2 位邻居支持" in (await second.press(plus))[0].text
    assert [i.supporters for i in await _items(linli)] == [2]


async def test_not_the_same_after_all_makes_a_second_item_without_asking_again(
    linli: Linli,
) -> None:
    second, offer = await _offered_meanwhile(linli, "merge-e", "merge-f")
    categories = await second.press(payloads(offer[0])[-1])
    assert all(p.endswith(":own") for p in payloads(categories[0]) if p != "menu")  # and 返回主菜单
    created = await second.send("1")  # typed, as on WeChat
    assert "已记录" in created[0].text, created[0].text
    assert [i.supporters for i in await _items(linli)] == [1, 1]


async def test_the_first_words_of_not_the_same_typed_choose_it(linli: Linli) -> None:
    """An outside walkthrough: "都不是" typed at [+1] [都不是，作为新需求] was searched in the
    FAQ, and the need was never made an item."""
    second, _offer = await _offered_meanwhile(linli, "merge-k", "merge-l")
    categories = await second.send("都不是")
    assert categories[0].text == t("zh-CN", "needs.choose_category"), categories[0].text
    assert "已记录" in (await second.send("1"))[0].text
    assert [i.supporters for i in await _items(linli)] == [1, 1]


@pytest.mark.parametrize("words", ["都不是我说的", "没有一样的", "not the same"])
async def test_saying_none_is_the_same_makes_a_new_item(linli: Linli, words: str) -> None:
    """A walkthrough: "都不是我说的" at the offer got "我不太确定您的意思", and the need was
    lost."""
    second, _offer = await _offered_meanwhile(linli, "merge-m", "merge-n")
    categories = await second.send(words)
    lang = "en" if words.isascii() else "zh-CN"  # the reply follows the words' language
    assert categories[0].text == t(lang, "needs.choose_category"), categories[0].text


async def test_two_presses_at_the_same_instant_make_one_item(linli: Linli) -> None:
    first, second = Chat(linli, user="merge-g"), Chat(linli, user="merge-h")
    third, fourth = Chat(linli, user="merge-i"), Chat(linli, user="merge-j")
    same = [await _asked_category(c, CANTEEN) for c in (first, second)]
    similar = [await _asked_category(c, CANTEEN_SIMILAR) for c in (third, fourth)]
    answers = await asyncio.gather(
        first.press(same[0][0]),
        second.press(same[1][0]),
        third.press(similar[0][0]),
        fourth.press(similar[1][0]),
    )
    texts = [replies[0].text for replies in answers]
    assert sum("已记录" in text for text in texts) == 1, texts
    assert sum("已把您的需求并入" in text for text in texts) == 1, texts
    offered = [text for text in texts if text.startswith(t("zh-CN", "needs.similar_meanwhile"))]
    assert len(offered) == 2, texts
    [item] = await _items(linli)
    assert item.supporters == 2


async def _file(session: AsyncSession, text: str, barrier: asyncio.Barrier | None) -> bool:
    """One resident's need, made into an item unless a neighbour's in the same words exists;
    whether an item was made. The barrier holds both sessions until both have their need."""
    at = START
    resident = Resident(created_at=at)
    session.add(resident)
    await session.flush()
    need, _ = await submit_need(session, resident_id=resident.id or 0, text=text, now=at)
    if barrier is not None:
        await barrier.wait()
    await lock_item_creation(session)
    same = await item_with_same_words(session, need)
    if same is not None:
        await join_item(session, need, same, at)
        return False
    await new_item(session, need, need_title(need.text), at)
    return True


async def test_two_sessions_at_once_make_one_item(linli: Linli) -> None:
    """Two instances (two engines) on one database, each in its own transaction."""
    other = make_engine(linli.settings.database_url)
    try:
        on_pg = other.dialect.name == "postgresql"
        # PostgreSQL: both transactions hold a need before either looks. SQLite: the second
        # transaction cannot begin until the first commits (BEGIN IMMEDIATE), so no barrier.
        barrier = asyncio.Barrier(2) if on_pg else None

        async def one(engine: AsyncEngine, text: str) -> bool:
            async with make_session_factory(engine)() as session, session.begin():
                return await _file(session, text, barrier)

        made = await asyncio.gather(one(linli.engine, CANTEEN), one(other, CANTEEN_AGAIN))
    finally:
        await other.dispose()
    assert sorted(made) == [False, True]
    [item] = await _items(linli)
    async with linli.sessions() as session:
        assert len(await supporters_of(session, item.id or 0)) == 2
        needs = (await session.exec(select(Need))).all()
    assert {n.item_id for n in needs} == {item.id}


async def test_another_process_s_item_is_offered_at_once(linli: Linli) -> None:
    first = Chat(linli, user="merge-k")
    await _asked_category(first, "快递柜太少，经常放不下")  # this process's matcher is built
    async with linli.sessions() as session, session.begin():  # as another instance would
        resident = Resident(created_at=linli.clock.now())
        session.add(resident)
        await session.flush()
        need, _ = await submit_need(
            session, resident_id=resident.id or 0, text=CANTEEN, now=linli.clock.now()
        )
        need.category = "elderly-care"
        await new_item(session, need, need_title(CANTEEN), linli.clock.now())
    second = Chat(linli, user="merge-l")
    await second.send("需求")
    offer = await second.send(CANTEEN_SIMILAR)  # seconds later, long before a refresh is due
    assert "邻居提过类似需求" in offer[0].text, offer[0].text
    assert payloads(offer[0])[0].startswith("need:plus:")


async def test_on_wechat_the_same_words_join_a_web_neighbour_s_item(rig: WeChatRig) -> None:
    web = Chat(rig.linli, user="merge-web")
    await web.press((await _asked_category(web, CANTEEN))[0])
    await rig.post(rig.server.text("需求"))
    joined = await rig.post(rig.server.text(CANTEEN_AGAIN))
    assert "已把您的需求并入" in joined["Content"], joined["Content"]
    assert [i.supporters for i in await _items(rig.linli)] == [2]


async def test_on_wechat_a_typed_category_finds_the_item_made_meanwhile(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("需求"))
    asked = await rig.post(rig.server.text(CANTEEN_SIMILAR))
    assert "1." in asked["Content"]
    web = Chat(rig.linli, user="merge-web-2")
    await web.press((await _asked_category(web, CANTEEN))[0])
    offer = await rig.post(rig.server.text("1"))
    assert t("zh-CN", "needs.similar_meanwhile") in offer["Content"], offer["Content"]
    done = await rig.post(rig.server.text("1"))  # +1 the neighbour's item
    assert "2 位邻居支持" in done["Content"], done["Content"]


@pytest.mark.parametrize(
    "typed", ["+1", "就是这个", "支持", "me too", "好的 +1", "对对，一样的", "嗯，一样"]
)
async def test_support_typed_at_the_one_similar_need_joins_it(linli: Linli, typed: str) -> None:
    """An outside walkthrough: "+1", "就是这个", "支持" at the offer all ended the need."""
    second, _ = await _offered_meanwhile(linli, "typed-a", "typed-b")
    said = (await second.send(typed))[0].text
    assert "2 位邻居支持" in said or "with 2 neighbours" in said, said  # English answered so
    assert [i.supporters for i in await _items(linli)] == [2]


@pytest.mark.parametrize("typed", ["支持是支持，但是要收费吗", "好的", "ok"])
async def test_other_words_at_the_offer_are_no_support(linli: Linli, typed: str) -> None:
    """A question, or a reflexive 好的 / ok, joins nothing."""
    second, _ = await _offered_meanwhile(linli, "typed-c", "typed-d")
    said = (await second.send(typed))[0].text
    assert "位邻居支持" not in said and "with 2 neighbours" not in said, said
    assert [i.supporters for i in await _items(linli)] == [1]
