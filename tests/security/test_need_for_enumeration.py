"""Issue 16, finding 8: 代提需求 does not tell a grid leader which mobile numbers are registered.

A grid leader types numbers into 代提需求 through the web chat (POST /api/chat): a resident of
their own grid, a resident of another grid, and a number nobody has registered. The answers must
be the same but for the masked number itself, and a number typed without a need to follow
leaves no trace behind.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import func, select

from bot.app import Linli
from models.needs import Need
from models.org import Grid, Staff
from models.people import Resident, mask_phone, set_phone
from tests.test_binding import staff_code

Client = TestClient[web.Request, web.Application]
LEADER = "grid-leader-s027-web"
OWN_GRID, OTHER_GRID, NOBODY = "13811112222", "13933334444", "13755556666"


async def say(client: Client, text: str) -> dict[str, Any]:
    """One message from the grid leader; the JSON answer."""
    response = await client.post("/api/chat", json={"user": LEADER, "text": text})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def register_residents(linli: Linli) -> None:
    """A named resident in the leader's grid, another in a different grid."""
    async with linli.sessions() as session, session.begin():
        leader = (await session.exec(select(Staff).where(Staff.code == "S027"))).one()
        other = (await session.exec(select(Grid).where(Grid.id != leader.grid_id))).first()
        assert other is not None
        now = linli.clock.now()
        own = Resident(name="王秀英", grid_id=leader.grid_id, created_at=now)
        elsewhere = Resident(name="李建国", grid_id=other.id, created_at=now)
        set_phone(own, OWN_GRID)
        set_phone(elsewhere, OTHER_GRID)
        session.add_all([own, elsewhere])


async def residents(linli: Linli) -> int:
    async with linli.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(Resident))).one())


async def test_the_answer_is_the_same_whether_a_number_is_registered(
    client: Client, linli: Linli
) -> None:
    await register_residents(linli)
    await say(client, f"绑定 {await staff_code(linli, 'S027')}")
    before = await residents(linli)
    answers = []
    for phone in (OWN_GRID, OTHER_GRID, NOBODY):
        await say(client, "代提需求")
        answer = await say(client, f"{phone[:3]} {phone[3:7]} {phone[7:]}")
        text = answer["replies"][0]["text"]
        assert mask_phone(phone) in text
        answers.append(
            answer
            | {"replies": [{**answer["replies"][0], "text": text.replace(mask_phone(phone), "#")}]}
        )
        assert "王秀英" not in text and "李建国" not in text
        await say(client, "取消")
    assert answers[0] == answers[1] == answers[2]
    assert await residents(linli) == before  # looking a number up registers nobody


async def test_a_need_taken_down_goes_to_the_resident_or_a_new_one(
    client: Client, linli: Linli
) -> None:
    await register_residents(linli)
    await say(client, f"绑定 {await staff_code(linli, 'S027')}")
    for phone, words in ((OWN_GRID, "楼道里想装个扶手"), (NOBODY, "希望小区有个快递柜")):
        await say(client, "代提需求")
        await say(client, phone)
        answer = await say(client, words)
        assert "need:" in str(answer)  # matches or categories: the need was taken
    async with linli.sessions() as session:
        needs = (await session.exec(select(Need))).all()
        owners = {n.text: await session.get(Resident, n.resident_id) for n in needs}
        leader = (await session.exec(select(Staff).where(Staff.code == "S027"))).one()
    assert {text: r.phone for text, r in owners.items() if r} == {
        "楼道里想装个扶手": OWN_GRID,
        "希望小区有个快递柜": NOBODY,
    }
    new = owners["希望小区有个快递柜"]
    assert new is not None and new.grid_id == leader.grid_id


async def test_a_grid_leader_cannot_speak_for_another_grids_resident(
    client: Client, linli: Linli
) -> None:
    await register_residents(linli)
    await say(client, f"绑定 {await staff_code(linli, 'S027')}")
    await say(client, "代提需求")
    await say(client, OTHER_GRID)
    answer = await say(client, "希望小区有个快递柜")
    assert "其他网格" in str(answer) and "need:" not in str(answer)
    async with linli.sessions() as session:
        assert (await session.exec(select(Need))).all() == []
