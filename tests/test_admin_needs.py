"""The desk's need pages (/admin/needs): the ranking by category, filtered by stage and community,
an item's page without personal data, and the editors' actions (move a stage on, reject with a
reason, merge, split, rename) with the supporters' news queued as from the chat; a clerk only
looks, and a form without the session's CSRF token changes nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot.app import Linli
from models.messaging import OutboxMessage
from models.need_ops import join_item, new_item, submit_need, supporters_of
from models.needs import Need, NeedItem, NeedItemEvent, NeedStage
from models.org import Community, list_communities
from models.people import Resident
from tests.test_admin_auth import Browser, set_password

Client = TestClient[web.Request, web.Application]
EDITOR = "S021"  # department staff (civil affairs): may edit need items
CLERK = "S001"  # a window clerk: may look only
PHONE = "13812345678"


@dataclass(frozen=True)
class NeedSet:
    """A small fixed set of items, with their supporters counted by hand."""

    items: dict[str, int]  # name → item id
    people: dict[str, list[int]]  # name → the residents behind its needs (a repeat counts once)
    c01: int
    c02: int


async def _residents(linli: Linli, community: Community, count: int) -> list[int]:
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        made = [Resident(community_id=community.id, created_at=now) for _ in range(count)]
        session.add_all(made)
        await session.flush()
        return [r.id or 0 for r in made]


async def _item(
    linli: Linli, title: str, category: str, community: Community, people: list[int]
) -> int:
    """An item made as the chat makes one: the first need starts it, the others join it."""
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        first, _ = await submit_need(
            session,
            resident_id=people[0],
            text=f"{title}，这是第1条意见",
            now=now,
            category=category,
            community_id=community.id,
        )
        item = await new_item(session, first, title, now)
        for number, resident in enumerate(people[1:], 2):
            need, _ = await submit_need(
                session,
                resident_id=resident,
                text=f"{title}，这是第{number}条意见",
                now=now,
                category=category,
                community_id=community.id,
            )
            await join_item(session, need, item, now)
        return item.id or 0


async def need_set(linli: Linli) -> NeedSet:
    """邻里和谐: 加装电梯 (r1 twice, r2, r3: 3 supporters), 楼道噪音 (r4: 1), and in 永宁路
    (C02) 广场舞音量 (r5, r6: 2); 法律援助: 法律咨询 (r4, r5: 2)."""
    async with linli.sessions() as session:
        communities = {c.code: c for c in await list_communities(session)}
    c01, c02 = communities["C01"], communities["C02"]
    r1, r2, r3, r4 = await _residents(linli, c01, 4)
    r5, r6 = await _residents(linli, c02, 2)
    people = {
        "lift": [r1, r2, r3, r1],
        "noise": [r4],
        "dance": [r5, r6],
        "legal": [r4, r5],
    }
    items = {
        "lift": await _item(linli, "老旧小区加装电梯", "neighbourhood", c01, people["lift"][:3]),
        "noise": await _item(linli, "楼道噪音太大", "neighbourhood", c01, people["noise"]),
        "dance": await _item(linli, "广场舞音量太大", "neighbourhood", c02, people["dance"]),
        "legal": await _item(linli, "社区法律咨询", "legal-aid", c01, people["legal"]),
    }
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():  # r1's second need, same item
        need, _ = await submit_need(
            session,
            resident_id=r1,
            text="加装电梯的事情请尽快，老人爬楼太难",
            now=now,
            category="neighbourhood",
            community_id=c01.id,
        )
        item = await session.get(NeedItem, items["lift"])
        assert item is not None
        await join_item(session, need, item, now)
    return NeedSet(items, people, c01.id or 0, c02.id or 0)


def by_hand(found: NeedSet, name: str) -> int:
    """An item's supporters counted by hand: the distinct residents behind its needs."""
    return len(set(found.people[name]))


def ranking(html: str, category: str) -> list[tuple[int, int]]:
    """(item id, supporters) in the order a category's section lists them."""
    section = re.search(rf'<section class="card" id="cat-{category}".*?</section>', html, re.S)
    if section is None:
        return []
    rows = re.findall(r'data-item="(\d+)" data-supporters="(\d+)"', section.group(0))
    return [(int(item), int(count)) for item, count in rows]


async def need_news(linli: Linli) -> list[OutboxMessage]:
    """The supporters' news in the outbox."""
    async with linli.sessions() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.kind == "need")
        return list((await session.exec(stmt.order_by(col(OutboxMessage.id)))).all())


async def item_row(linli: Linli, number: int) -> NeedItem:
    async with linli.sessions() as session:
        item = await session.get(NeedItem, number)
    assert item is not None
    return item


@pytest.fixture
async def editor(linli: Linli, client: Client) -> AsyncIterator[Browser]:
    """Department staff S021 logged in at the desk."""
    await set_password(linli, EDITOR)
    async with Browser(client) as browser:
        assert (await browser.log_in(EDITOR)).status == 303
        yield browser


@pytest.fixture
async def clerk(linli: Linli, client: Client) -> AsyncIterator[Browser]:
    """Window clerk S001 logged in at the desk."""
    await set_password(linli, CLERK)
    async with Browser(client) as browser:
        assert (await browser.log_in(CLERK)).status == 303
        yield browser


async def test_the_ranking_by_category_matches_supporters_counted_by_hand(
    linli: Linli, editor: Browser
) -> None:
    found = await need_set(linli)
    page = await editor.get("/admin/needs")
    html = await page.text()
    assert page.status == 200 and '<html lang="zh-CN">' in html
    assert "群众需求排行（按类别）" in html and 'href="/admin/needs" aria-current="page"' in html
    expected = {
        "neighbourhood": sorted(
            ((found.items[n], by_hand(found, n)) for n in ("lift", "noise", "dance")),
            key=lambda pair: (-pair[1], pair[0]),
        ),
        "legal-aid": [(found.items["legal"], by_hand(found, "legal"))],
    }
    assert expected["neighbourhood"] == [
        (found.items["lift"], 3),
        (found.items["dance"], 2),
        (found.items["noise"], 1),
    ]
    for category, rows in expected.items():
        assert ranking(html, category) == rows, category
    async with linli.sessions() as session:  # the stored counts agree with the hand count
        for name, number in found.items.items():
            assert len(await supporters_of(session, number)) == by_hand(found, name), name
    assert "邻里和谐" in html and "法律援助" in html
    assert "暂无需求的类别" in html and "特殊人群扶助" in html  # the other 16 categories
    in_c02 = await (await editor.get(f"/admin/needs?community={found.c02}")).text()
    assert ranking(in_c02, "neighbourhood") == [(found.items["dance"], 2)]
    assert ranking(in_c02, "legal-aid") == []
    one = await (await editor.get("/admin/needs?category=legal-aid")).text()
    assert ranking(one, "legal-aid") == expected["legal-aid"]
    assert ranking(one, "neighbourhood") == []
    strange = await editor.get("/admin/needs?stage=nope&community=x&category=%3Cscript%3E")
    assert strange.status == 200  # unknown filters are ignored
    assert ranking(await strange.text(), "neighbourhood") == expected["neighbourhood"]
    english = await (await editor.get("/admin/needs?lang=en")).text()
    assert "needs, ranked by category" in english and "Neighbourhood harmony" in english


async def test_a_stage_move_changes_the_item_and_tells_every_supporter_once(
    linli: Linli, editor: Browser
) -> None:
    found = await need_set(linli)
    lift = found.items["lift"]
    page = await (await editor.get(f"/admin/needs/{lift}")).text()
    assert f'action="/admin/needs/{lift}/move"' in page and 'value="approved"' in page
    moved = await editor.act(f"/admin/needs/{lift}/move", stage="approved")
    assert moved.status == 303 and moved.headers["Location"] == f"/admin/needs/{lift}"
    shown = await (await editor.get(f"/admin/needs/{lift}")).text()
    assert "已推进到「立项」，已通知 3 位支持者" in shown
    item = await item_row(linli, lift)
    assert item.stage == NeedStage.APPROVED
    news = await need_news(linli)
    assert sorted(m.resident_id or 0 for m in news) == sorted(set(found.people["lift"]))
    assert all(m.dedupe_key and m.dedupe_key.startswith(f"need:{lift}:approved:") for m in news)
    skipped = await editor.act(f"/admin/needs/{lift}/move", stage="implementing")
    assert skipped.status == 409 and "不能改到这个阶段" in await skipped.text()
    assert (await item_row(linli, lift)).stage == NeedStage.APPROVED
    assert len(await need_news(linli)) == 3
    ranked = await (await editor.get("/admin/needs?stage=approved")).text()
    assert ranking(ranked, "neighbourhood") == [(lift, 3)]
    assert ranking(ranked, "legal-aid") == []


async def test_rejecting_needs_a_reason_and_keeps_what_was_typed(
    linli: Linli, editor: Browser
) -> None:
    found = await need_set(linli)
    legal = found.items["legal"]
    empty = await editor.act(f"/admin/needs/{legal}/reject", reason=" 。 ")
    assert empty.status == 400 and "请写明不予立项的原因" in await empty.text()
    assert (await item_row(linli, legal)).stage == NeedStage.COLLECTING
    reason = f"司法所每周三已有免费法律咨询，请联系{PHONE}"
    rejected = await editor.act(f"/admin/needs/{legal}/reject", reason=reason)
    assert rejected.status == 303
    item = await item_row(linli, legal)
    assert item.stage == NeedStage.REJECTED and item.stage_reason is not None
    assert PHONE not in item.stage_reason  # every supporter reads it: the domain removes it
    news = await need_news(linli)
    assert sorted(m.resident_id or 0 for m in news) == sorted(set(found.people["legal"]))
    page = await (await editor.get(f"/admin/needs/{legal}")).text()
    assert "已完成、不予立项或已并入其他条目" in page and 'action="/admin/needs/' not in page
    again = await editor.act(f"/admin/needs/{legal}/move", stage="approved")
    assert again.status == 409


async def test_merge_moves_needs_and_supporters_and_tells_the_absorbed_supporters(
    linli: Linli, editor: Browser
) -> None:
    found = await need_set(linli)
    lift, noise = found.items["lift"], found.items["noise"]
    page = await (await editor.get(f"/admin/needs/{noise}")).text()
    assert f'<option value="{lift}">' in page  # offered: the same category first
    unconfirmed = await editor.act(f"/admin/needs/{noise}/merge", into=str(lift))
    assert unconfirmed.status == 400 and "请勾选确认" in await unconfirmed.text()
    assert f'<option value="{lift}" selected>' in await unconfirmed.text()  # the choice is kept
    itself = await editor.act(f"/admin/needs/{noise}/merge", into=str(noise), confirm="yes")
    assert itself.status == 400
    assert (await item_row(linli, noise)).merged_into_id is None and not await need_news(linli)
    merged = await editor.act(f"/admin/needs/{noise}/merge", into=str(lift), confirm="yes")
    assert merged.status == 303 and merged.headers["Location"] == f"/admin/needs/{lift}"
    kept, gone = await item_row(linli, lift), await item_row(linli, noise)
    assert gone.merged_into_id == lift and gone.supporters == 0
    assert kept.supporters == len(set(found.people["lift"]) | set(found.people["noise"])) == 4
    async with linli.sessions() as session:
        needs = (await session.exec(select(Need).where(Need.item_id == noise))).all()
        assert needs == []
        events = (
            await session.exec(select(NeedItemEvent).where(NeedItemEvent.item_id == noise))
        ).all()
        assert [e.kind for e in events] == ["merged_into"]
    news = await need_news(linli)
    assert [m.resident_id for m in news] == found.people["noise"]
    assert news[0].dedupe_key == f"need:{noise}:merged:{found.people['noise'][0]}"
    shown = await (await editor.get(f"/admin/needs/{lift}")).text()
    assert "已并入「老旧小区加装电梯」" in shown and "已通知 1 人" in shown
    ranked = await (await editor.get("/admin/needs")).text()
    assert ranking(ranked, "neighbourhood") == [(lift, 4), (found.items["dance"], 2)]


async def test_split_moves_chosen_needs_to_a_new_item(linli: Linli, editor: Browser) -> None:
    found = await need_set(linli)
    lift = found.items["lift"]
    async with linli.sessions() as session:
        needs = list((await session.exec(select(Need).where(Need.item_id == lift))).all())
    by_resident = {need.resident_id: need.id or 0 for need in needs}
    r3 = found.people["lift"][2]
    every = [str(need.id) for need in needs]
    refused = await editor.act(f"/admin/needs/{lift}/split", need=every)
    assert refused.status == 400 and "不能全选" in await refused.text()
    nothing = await editor.act(f"/admin/needs/{lift}/split", need=["abc", "99999999999"])
    assert nothing.status == 400 and "请至少勾选一条" in await nothing.text()
    split = await editor.act(f"/admin/needs/{lift}/split", need=[str(by_resident[r3])])
    assert split.status == 303
    new_id = int(split.headers["Location"].rsplit("/", 1)[1])
    assert new_id != lift
    old, new = await item_row(linli, lift), await item_row(linli, new_id)
    assert old.supporters == 2 and new.supporters == 1
    assert new.category == "neighbourhood" and new.community_id == found.c01
    async with linli.sessions() as session:
        assert await supporters_of(session, new_id) == [r3]
        moved = await session.get(Need, by_resident[r3])
        assert moved is not None and moved.item_id == new_id
    page = await (await editor.get(f"/admin/needs/{new_id}")).text()
    assert "已从「老旧小区加装电梯」拆分出 1 条需求" in page


async def test_rename_keeps_a_bad_title_in_the_form(linli: Linli, editor: Browser) -> None:
    found = await need_set(linli)
    noise = found.items["noise"]
    bad = await editor.act(f"/admin/needs/{noise}/rename", title="吵")
    text = await bad.text()
    assert bad.status == 400 and "名称需要 2–60 个字" in text and 'value="吵"' in text
    assert (await item_row(linli, noise)).title == "楼道噪音太大"
    good = await editor.act(f"/admin/needs/{noise}/rename", title="夜间楼道噪音")
    assert good.status == 303
    assert (await item_row(linli, noise)).title == "夜间楼道噪音"
    history = await (await editor.get(f"/admin/needs/{noise}")).text()
    assert "改名（原名「楼道噪音太大」）" in history and "邓秀英" in history


async def test_the_item_page_shows_no_personal_data(linli: Linli, editor: Browser) -> None:
    found = await need_set(linli)
    lift = found.items["lift"]
    async with linli.sessions() as session, session.begin():  # an old row, stored unclean
        session.add(
            Need(
                resident_id=found.people["lift"][1],
                text=f"我叫张三，电话{PHONE}，身份证510123199001011234，希望加装电梯",
                text_hash="legacy-row",
                item_id=lift,
                community_id=found.c01,
                created_at=linli.clock.now(),
            )
        )
    page = await (await editor.get(f"/admin/needs/{lift}")).text()
    assert "希望加装电梯" in page
    assert PHONE not in page and "510123199001011234" not in page
    assert "个人信息已隐去" in page
    missing = await editor.get("/admin/needs/99999999")
    assert missing.status == 404
    unknown = await editor.act(f"/admin/needs/{lift}/explode")
    assert unknown.status == 404


async def test_a_clerk_sees_the_needs_but_every_edit_is_refused(
    linli: Linli, clerk: Browser
) -> None:
    found = await need_set(linli)
    lift, noise = found.items["lift"], found.items["noise"]
    ranked = await clerk.get("/admin/needs")
    assert ranked.status == 200
    assert ranking(await ranked.text(), "neighbourhood")[0] == (lift, 3)
    page = await clerk.get(f"/admin/needs/{lift}")
    html = await page.text()
    assert page.status == 200
    assert f'action="/admin/needs/{lift}/' not in html and "不能修改" in html
    async with linli.sessions() as session:
        need = (await session.exec(select(Need).where(Need.item_id == lift))).first()
    assert need is not None
    for action, form in (
        ("move", {"stage": "approved"}),
        ("reject", {"reason": "不需要"}),
        ("rename", {"title": "改个名字"}),
        ("merge", {"into": str(noise), "confirm": "yes"}),
        ("split", {"need": str(need.id)}),
    ):
        refused = await clerk.act(f"/admin/needs/{lift}/{action}", **form)
        assert refused.status == 403, action
        assert "只能查看" in await refused.text()
    item = await item_row(linli, lift)
    assert item.stage == NeedStage.COLLECTING and item.title == "老旧小区加装电梯"
    assert item.supporters == 3 and (await item_row(linli, noise)).merged_into_id is None
    assert await need_news(linli) == []


async def test_edits_without_the_csrf_token_change_nothing(
    linli: Linli, client: Client, editor: Browser
) -> None:
    found = await need_set(linli)
    lift = found.items["lift"]
    async with Browser(client) as other:
        foreign = await other.csrf()
    for form in ({}, {"csrf": ""}, {"csrf": foreign}):
        refused = await editor.post(f"/admin/needs/{lift}/move", {**form, "stage": "approved"})
        assert refused.status == 403
        assert "没有做任何修改" in await refused.text()
    assert (await item_row(linli, lift)).stage == NeedStage.COLLECTING
    assert await need_news(linli) == []
    async with Browser(client) as stranger:  # nobody logged in: off to the login page
        token = await stranger.csrf()
        answer = await stranger.post(f"/admin/needs/{lift}/move", {"csrf": token})
        assert answer.status == 303 and answer.headers["Location"] == "/admin/login"
