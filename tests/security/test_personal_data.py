"""Issue 16, finding 4: what one resident writes reaches nobody else with personal data in it.

Residents submit needs through the web chat (POST /api/chat) with phone, ID card, plate, e-mail,
bank card and house numbers and names in their first words, which is where an item's title comes
from. Another resident then submits similar needs and is shown those items; a staff member reads
the ranking, the cards and the list of an item's needs; the planning export is read too. None of
them may see any of the personal data, in any spelling it was typed in.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import alembic.command
import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import Connection
from sqlmodel import col, select

from bot.app import Linli
from bot.cli_needs import needs_export
from bot.config import Settings
from models.migrate import alembic_config
from models.needs import Need, NeedItem, NeedItemEvent
from models.people import Resident
from tests.conftest import DATA
from tests.test_binding import staff_code

Client = TestClient[web.Request, web.Application]

# (victim's words, what must never be seen again, the topic another resident asks about)
VICTIMS: list[tuple[str, tuple[str, ...], str]] = [
    ("我叫张三，手机138 1234 5678，小区想装充电桩", ("张三", "13812345678"), "充电桩"),
    ("身份证51012419900101123X，希望有老年食堂", ("51012419900101123X",), "老年食堂"),
    ("车主川AD12345，ev@qq.com，小区路灯太暗", ("川AD12345", "ev@qq.com"), "路灯"),
    ("3栋2单元501，电话028-82345678，想要图书室", ("3栋2单元501", "02882345678"), "图书室"),
    ("卡号6222 0202 0000 1234 567，停车位不够", ("6222020200001234567",), "停车位"),
    ("＋８６ １３９８７６５４３２１ 我家要课后托管", ("13987654321",), "托管"),
    ("Room 1202, Building 5 要健身器材", ("1202",), "健身"),
    ("My name is Li Si，想学太极拳", ("Li Si", "LiSi"), "太极"),
    ("5号楼1202室 粤B12345 想要快递柜", ("5号楼1202", "粤B12345"), "快递柜"),
]
NEIGHBOUR_ASKS = {
    "充电桩": "小区充电桩太少了",
    "老年食堂": "老年食堂能不能办起来",
    "路灯": "晚上路灯太暗看不清",
    "图书室": "社区图书室想多些书",
    "停车位": "停车位太少了",
    "托管": "我们家也要课后托管",
    "健身": "想要健身器材锻炼",
    "太极": "想学太极拳有老师吗",
    "快递柜": "想要个快递柜",
}


@pytest.fixture
def settings(db_url: str) -> Settings:
    """This test sends more messages a minute from one address than the default limit allows."""
    return Settings(
        database_url=db_url, data_dir=DATA, secret_key="test-secret", chat_rate_limit="600/minute"
    )


def squeezed(text: str) -> str:
    """The text folded and without spaces or dashes, so a number is found however it is split."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text))


def leaks(seen: str) -> list[str]:
    """The personal data of any victim that appears in what was seen."""
    flat = squeezed(seen)
    return [secret for _, secrets, _ in VICTIMS for secret in secrets if squeezed(secret) in flat]


async def say(client: Client, user: str, **message: str) -> dict[str, Any]:
    """One message through the web chat; the JSON answer."""
    response = await client.post("/api/chat", json={"user": user, **message})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def buttons(body: dict[str, Any]) -> list[str]:
    """Every button payload in an answer."""
    return [b["payload"] for reply in body["replies"] for b in reply.get("buttons") or []]


async def submit_as_new_item(client: Client, user: str, words: str) -> dict[str, Any]:
    """A resident's need, made a new item in the category the bot suggests first."""
    await say(client, user, text="需求")
    answer = await say(client, user, text=words)
    new = [p for p in buttons(answer) if p.startswith("need:new:")]
    if new:
        answer = await say(client, user, payload=new[0])
    category = next(p for p in buttons(answer) if p.startswith("need:cat:"))
    return await say(client, user, payload=category)


async def test_other_residents_and_staff_never_see_personal_data(
    client: Client, linli: Linli, tmp_path: Path
) -> None:
    for n, (words, _, _) in enumerate(VICTIMS):
        created = await submit_as_new_item(client, f"victim-{n:04d}-resident", words)
        assert "已记录" in created["replies"][0]["text"]

    neighbour, seen = "neighbour-b-0001", []
    for topic, words in NEIGHBOUR_ASKS.items():
        await say(client, neighbour, text="需求")
        answer = await say(client, neighbour, text=words)
        shown = json.dumps(answer, ensure_ascii=False)
        assert topic in shown, f"the neighbour should be shown the {topic} item: {shown}"
        seen.append(shown)
        if topic == "充电桩":  # +1 it, so that the item has two needs a clerk can split
            plus = [p for p in buttons(answer) if p.startswith("need:plus:")]
            seen.append(json.dumps(await say(client, neighbour, payload=plus[0])))
    assert leaks("\n".join(seen)) == []

    officer = "staff-officer-s015"
    await say(client, officer, text=f"绑定 {await staff_code(linli, 'S015')}")
    ranking = await say(client, officer, text="需求排行")
    items = [p for p in buttons(ranking) if p.startswith("need:item:")]
    assert len(items) == len(VICTIMS)
    staff_seen = [json.dumps(ranking, ensure_ascii=False)]
    for payload in items:
        card = await say(client, officer, payload=payload)
        staff_seen.append(json.dumps(card, ensure_ascii=False))
        if "充电桩" in staff_seen[-1]:
            listing = await say(client, officer, payload=payload.replace("item", "split"))
            assert "2." in listing["replies"][0]["text"]  # both needs are listed
            staff_seen.append(json.dumps(listing, ensure_ascii=False))
            await say(client, officer, text="取消")
    assert leaks("\n".join(staff_seen)) == []

    out = tmp_path / "needs.csv"
    for needs in (False, True):
        assert await needs_export(linli, out, needs=needs) == 0
        assert leaks(out.read_text(encoding="utf-8")) == []


async def migrate(linli: Linli, command: Callable[..., None], revision: str) -> None:
    """Run an Alembic command on this test's database."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command(config, revision)

    async with linli.engine.begin() as connection:
        await connection.run_sync(run)


async def stored(linli: Linli) -> tuple[list[str], list[str], list[str]]:
    """Every item title, need text and item history note, oldest first."""
    async with linli.sessions() as session:
        items = await session.exec(select(NeedItem).order_by(col(NeedItem.id)))
        needs = await session.exec(select(Need).order_by(col(Need.id)))
        events = await session.exec(select(NeedItemEvent).order_by(col(NeedItemEvent.id)))
        return (
            [item.title for item in items.all()],
            [need.text for need in needs.all()],
            [event.note or "" for event in events.all()],
        )


async def test_titles_and_needs_stored_before_the_fix_are_cleaned(linli: Linli) -> None:
    await migrate(linli, alembic.command.downgrade, "0006")
    # What the code before the fix stored: the words as typed (NFKC), their first 30 characters
    # as the title (cut inside the ID number), a title a clerk typed, and the item history.
    words = "我叫张三,手机138 1234 5678,身份证51012419900101123X,想装充电桩"
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        # A resident row of 0006's shape (the ORM's Resident holds columns added in 0013).
        table = Resident.__table__  # type: ignore[attr-defined]
        old_shape = {"created_at": now, "elderly": False, "disabled": False, "synthetic": False}
        added = await session.execute(
            sa.insert(table).returning(table.c.id), [{**old_shape, "notices_opt_out": False}]
        )
        resident_id = int(added.scalar_one())
        made = NeedItem(title=words[:30], category="safety", created_at=now, updated_at=now)
        typed = NeedItem(
            title="川A12345车主的车位", category="safety", created_at=now, updated_at=now
        )
        session.add_all([made, typed])
        await session.flush()
        need = Need(resident_id=resident_id, text=words, text_hash="-", created_at=now)
        need.item_id = made.id
        session.add(need)
        for kind, note in [
            ("renamed", words[:30]),
            ("split", f"#{typed.id} {typed.title}"),
            ("approved", "请致电 028-82345678"),
        ]:
            session.add(NeedItemEvent(item_id=made.id or 0, at=now, kind=kind, note=note))
    await migrate(linli, alembic.command.upgrade, "head")
    titles, texts, notes = await stored(linli)
    clean = "我叫〔姓名〕,手机〔电话〕,身份证〔证件号〕,想装充电桩"
    assert titles == ["想装充电桩", "〔车牌〕车主的车位"]  # the title says what is wanted
    assert texts == [clean]
    assert notes == [
        "我叫〔姓名〕,手机〔电话〕,身份证",
        f"#{typed.id} 〔车牌〕车主的车位",
        "请致电 028-82345678",  # a stage's reason is the office's own words, kept
    ]
