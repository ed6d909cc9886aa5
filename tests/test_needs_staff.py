"""Need items from staff chat: the card, rename, merge (absorbed supporters told once), split,
reject with a reason, who may do what, and grid workers taking down a need on a visit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import Linli
from bot.cli_needs import needs_export, needs_rename, needs_split
from bot.outgoing import payload_replies
from models.messaging import OutboxMessage
from models.need_ops import new_item, submit_need, support_item
from models.needs import Need, NeedItem, NeedItemEvent, NeedStage, NeedSupport
from models.org import Staff
from models.people import Resident, normalise_mobile
from tests.conftest import Chat, payloads
from tests.test_binding import staff_code


async def item_with_needs(linli: Linli, title: str, category: str, texts: list[str]) -> int:
    """An item whose needs come from one new resident per text."""
    async with linli.sessions() as session, session.begin():
        item_id = 0
        for text in texts:
            resident = Resident(created_at=linli.clock.now())
            session.add(resident)
            await session.flush()
            need, _ = await submit_need(
                session,
                resident_id=resident.id or 0,
                text=text,
                now=linli.clock.now(),
                category=category,
            )
            if not item_id:
                item_id = (await new_item(session, need, title, linli.clock.now())).id or 0
            else:
                need.item_id = item_id
                await support_item(session, item_id, resident.id or 0, linli.clock.now())
    return item_id


async def staff_chat(linli: Linli, code: str) -> Chat:
    chat = Chat(linli, user=f"staff-{code}")
    await chat.send(f"绑定 {await staff_code(linli, code)}")
    return chat


async def item(linli: Linli, item_id: int) -> NeedItem:
    async with linli.sessions() as session:
        found = await session.get(NeedItem, item_id)
    assert found is not None
    return found


async def news(linli: Linli) -> list[OutboxMessage]:
    async with linli.sessions() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.kind == "need")
        return list((await session.exec(stmt.order_by(col(OutboxMessage.id)))).all())


async def test_card_rename_and_merge_tell_the_absorbed_supporters_once(linli: Linli) -> None:
    canteen = await item_with_needs(
        linli, "老年食堂", "elderly-care", ["希望有老年食堂", "老人吃饭难", "想要社区食堂"]
    )
    meals = await item_with_needs(linli, "长者助餐", "elderly-care", ["长者助餐点", "送餐上门"])
    officer = await staff_chat(linli, "S015")
    top = await officer.send("需求排行")
    assert payloads(top[0])[:2] == [f"need:item:{canteen}", f"need:item:{meals}"]
    card = await officer.press(f"need:item:{canteen}")
    assert "支持：3 人（3 条需求）" in card[0].text
    assert f"need:rename:{canteen}" in payloads(card[0])

    await officer.press(f"need:rename:{canteen}")
    assert "2–60" in (await officer.send("食"))[0].text  # too short: asked again
    renamed = await officer.send("社区老年食堂")
    assert "已改名" in renamed[0].text and "社区老年食堂" in renamed[0].text

    await officer.press(f"need:merge:{canteen}")
    assert "没有找到" in (await officer.send(str(canteen)))[0].text  # not into itself
    confirm = await officer.send(f"＃{meals}")  # full-width sign and digits are fine
    assert "不能撤销" in confirm[0].text
    merged = await officer.press(payloads(confirm[0])[0])
    assert "新增 2 位支持者，已通知原来的 2 位" in merged[0].text
    assert "支持：5 人（5 条需求）" in merged[0].text
    assert "失效" in (await officer.press(payloads(confirm[0])[0]))[0].text  # not twice
    told = await news(linli)
    assert len(told) == 2 and "合并" in payload_replies(told[0].payload, "zh-CN")[0]["text"]
    assert (await item(linli, meals)).merged_into_id == canteen
    assert "已并入需求项" in (await officer.send(f"需求项 {meals}"))[0].text


async def test_split_moves_needs_and_their_supporters(linli: Linli) -> None:
    mixed = await item_with_needs(
        linli, "图书室", "library", ["社区图书室", "周末能借书", "加装电梯", "老楼装电梯"]
    )
    officer = await staff_chat(linli, "S015")
    listing = await officer.press(f"need:split:{mixed}")
    assert "3. 加装电梯" in listing[0].text
    assert "不能全部" in (await officer.send("1 2 3 4"))[0].text
    assert "1–4" in (await officer.send("9"))[0].text
    done = await officer.send("３、4")
    assert "拆出 2 条需求" in done[0].text and "支持：2 人（2 条需求）" in done[0].text
    assert (await item(linli, mixed)).supporters == 2
    async with linli.sessions() as session:
        needs = (await session.exec(select(Need).order_by(col(Need.id)))).all()
        supports = (await session.exec(select(NeedSupport))).all()
        events = {e.kind for e in (await session.exec(select(NeedItemEvent))).all()}
    assert len({need.item_id for need in needs}) == 2
    assert len(supports) == 4 and {"split", "split_from"} <= events


async def test_reject_needs_a_reason_that_every_supporter_reads(linli: Linli) -> None:
    parking = await item_with_needs(linli, "增设车位", "traffic", ["车位太少", "停车难"])
    officer = await staff_chat(linli, "S015")
    await officer.press(f"need:reject:{parking}")
    assert "请写明原因" in (await officer.send("🙂"))[0].text
    rejected = await officer.send("该地块规划为绿地")
    assert "已通知 2 位" in rejected[0].text and "不予立项" in rejected[0].text
    told = await news(linli)
    assert len(told) == 2
    assert "规划为绿地" in payload_replies(told[0].payload, "zh-CN")[0]["text"]
    card = await officer.send(f"需求项 {parking}")
    assert not [p for p in payloads(card[0]) if p != "menu"]  # nothing more to do with it


async def test_only_editors_change_items_and_residents_see_nothing(linli: Linli) -> None:
    canteen = await item_with_needs(linli, "老年食堂", "elderly-care", ["老年食堂", "助餐点"])
    grid = await staff_chat(linli, "S027")
    card = await grid.send(f"需求项 {canteen}")
    assert "老年食堂" in card[0].text and payloads(card[0]) == ["menu"]
    for payload in (f"need:rename:{canteen}", f"need:move:{canteen}:approved"):
        assert "只有科室人员" in (await grid.press(payload))[0].text
    resident = Chat(linli, user="curious")
    assert "没有听懂" in (await resident.send(f"需求项 {canteen}"))[0].text
    assert (await item(linli, canteen)).stage == NeedStage.COLLECTING


async def test_a_grid_worker_takes_down_a_need_on_a_visit(linli: Linli) -> None:
    worker = await staff_chat(linli, "S027")
    desk = await worker.send("工作台")
    assert "need:for" in payloads(desk[0])
    await worker.send("代提需求")
    assert "格式不对" in (await worker.send("12345"))[0].text
    found = await worker.send("138 1234 5678")
    assert "138****5678" in found[0].text
    asked = await worker.send("希望小区附近能有个老年食堂")
    created = await worker.press(payloads(asked[0])[0])
    assert "已记录" in created[0].text
    async with linli.sessions() as session:
        staff = (await session.exec(select(Staff).where(Staff.code == "S027"))).one()
        [need] = (await session.exec(select(Need))).all()
        resident = await session.get(Resident, need.resident_id)
    assert need.submitted_by_staff_id == staff.id and need.item_id is not None
    assert resident is not None and resident.grid_id == staff.grid_id
    assert resident.phone == "13812345678"
    await worker.send("代提需求")
    again = await worker.send("+86 138-1234-5678")
    assert again[0].text == found[0].text  # registered or not, the same answer
    assert "已经提过" in (await worker.send("希望小区附近能有个老年食堂"))[0].text
    officer = await staff_chat(linli, "S015")
    assert "网格员" in (await officer.send("代提需求"))[0].text


def test_mobile_numbers_are_read_however_typed() -> None:
    assert normalise_mobile("１３８ 1234-5678") == "13812345678"
    assert normalise_mobile("+8613812345678") == "13812345678"
    assert normalise_mobile("12812345678") is None and normalise_mobile("1381234567") is None


async def test_rename_split_and_needs_export_from_the_command_line(
    linli: Linli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mixed = await item_with_needs(linli, "图书室", "library", ["社区图书室", "加装电梯"])
    assert await needs_rename(linli, mixed, "x") == 1
    assert await needs_rename(linli, mixed, "社区图书室") == 0
    async with linli.sessions() as session:
        lift = (await session.exec(select(Need).where(Need.text == "加装电梯"))).one()
    assert await needs_split(linli, mixed, [lift.id or 0, 99999]) == 0
    assert await needs_split(linli, mixed, [lift.id or 0]) == 1  # it is not there any more
    out = tmp_path / "needs.csv"
    assert await needs_export(linli, out, needs=True) == 0
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("id,item_id,text") and len(rows) == 3
    assert "13" not in rows[1].split(",")[2]  # needs only; no resident or phone columns
    assert (await item(linli, mixed)).title == "社区图书室"
    capsys.readouterr()
