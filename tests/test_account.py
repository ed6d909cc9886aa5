"""The resident's own details: community and grid, and language."""

from __future__ import annotations

from sqlmodel import select

from bot.app import Linli
from models.org import Community, Grid
from models.people import ChannelIdentity, Resident
from tests.conftest import Chat, payloads


async def resident_of(linli: Linli, user: str) -> Resident:
    async with linli.sessions() as session:
        identity = (
            await session.exec(select(ChannelIdentity).where(ChannelIdentity.external_id == user))
        ).one()
        resident = await session.get(Resident, identity.resident_id)
        assert resident is not None
        return resident


async def test_set_community_and_grid_by_numbers(chat: Chat, linli: Linli) -> None:
    account = (await chat.send("我的"))[0]
    assert "所在社区：未设置" in account.text
    communities = (await chat.send("1"))[0]
    assert len(communities.buttons) == 19
    grids = (await chat.send("3"))[0]
    saved = (await chat.send("2"))[0]
    assert saved.text.startswith("已保存：")
    resident = await resident_of(linli, chat.user)
    async with linli.sessions() as session:
        community = await session.get(Community, resident.community_id)
        grid = await session.get(Grid, resident.grid_id)
    assert community is not None
    assert grid is not None
    assert communities.buttons[2].label == community.name_zh
    assert grid.community_id == community.id
    assert grid.number == 2
    assert grids.buttons[1].payload == f"account:grid:{grid.id}"
    assert community.name_zh in (await chat.send("我的"))[0].text


async def test_typed_community_name_and_unknown_name(chat: Chat) -> None:
    await chat.press("account:community")
    unknown = (await chat.send("不存在的地方"))[0]
    assert "没有找到名为“不存在的地方”的社区" in unknown.text
    assert len(unknown.buttons) == 19  # still asking, nothing lost
    assert "永宁路社区：请选择" in (await chat.send("永宁路社区"))[0].text


async def test_grid_of_another_community_is_refused(chat: Chat, linli: Linli) -> None:
    await chat.press("account:community")
    await chat.send("永宁路")
    async with linli.sessions() as session:
        elsewhere = (
            await session.exec(select(Grid).join(Community).where(Community.code == "C19"))
        ).first()
    assert elsewhere is not None
    reply = (await chat.press(f"account:grid:{elsewhere.id}"))[0]
    assert "失效" in reply.text
    async with linli.sessions() as session:
        identity = (await session.exec(select(ChannelIdentity))).one()
    assert identity.resident_id is None  # nothing was saved, so nobody was created


async def test_browsing_menus_creates_no_resident(chat: Chat, linli: Linli) -> None:
    for text in ("菜单", "7", "我的"):
        await chat.send(text)
    async with linli.sessions() as session:
        assert (await session.exec(select(Resident))).all() == []
        identity = (await session.exec(select(ChannelIdentity))).one()
    assert identity.resident_id is None


async def test_language_switch_sticks(chat: Chat) -> None:
    switched = (await chat.press("account:lang:en"))[0]
    assert switched.text.startswith("Switched to English")
    # A later message that names Chinese as the channel language does not undo the choice.
    assert payloads((await chat.send("menu", lang="zh"))[0])[0] == "book"
    assert (await chat.send("menu", lang="zh"))[0].text.startswith("Hello!")
    assert (await chat.send("中文"))[0].text.startswith("已切换为中文")


async def test_an_ambiguous_name_asks_again(chat: Chat) -> None:
    await chat.press("account:community")
    reply = (await chat.send("社区"))[0]
    assert "有几个社区都含有“社区”" in reply.text
    assert len(reply.buttons) == 19


async def test_absurd_grid_numbers_are_just_stale(chat: Chat, caplog: object) -> None:
    await chat.press("account:community")
    await chat.send("永宁路")
    for payload in ("account:grid:" + "9" * 40, "account:grid:²", "account:grid:-1"):
        assert "失效" in (await chat.press(payload))[0].text


async def test_a_grid_typed_by_its_number(chat: Chat) -> None:
    """An outside walkthrough: "第一网格" and "第1网格" left the step with "我回答不了"."""
    await chat.press("account:community")
    await chat.send("永宁路社区")
    again = (await chat.send("我家那边"))[0]
    assert "没有找到这个网格" in again.text and "永宁路社区第1网格" in [
        b.label for b in again.buttons
    ]
    saved = (await chat.send("第一网格"))[0]
    assert "永宁路社区第1网格" in saved.text
    await chat.press("account:community")
    await chat.send("永宁路社区")
    assert "永宁路社区第2网格" in (await chat.send("第2网格"))[0].text
