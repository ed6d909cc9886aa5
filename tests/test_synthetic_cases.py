"""Synthetic cases at scale: counted, uniquely numbered, visible through the chat, and no clash
with the numbers handed out afterwards."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from bot.app import Linli
from models.base import SHANGHAI
from models.cases import Case, CaseEvent, CaseHandler
from models.people import ChannelIdentity
from models.refs import next_reference
from models.seed import seed_residents
from models.synthetic_cases import seed_cases
from tests.conftest import DATA, Chat, payloads

REF = re.compile(r"LC-(\d{8})-(\d{4,})")
RESIDENTS, CASES = 300, 2_000


async def count(linli: Linli, stmt: SelectOfScalar[int]) -> int:
    async with linli.sessions() as session:
        return int((await session.exec(stmt)).one())


async def seeded(linli: Linli, cases: int = CASES) -> None:
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        await seed_residents(session, RESIDENTS, DATA, now)
        assert await seed_cases(session, cases, now) == cases


async def bind_web(linli: Linli, user: str, resident_id: int) -> Chat:
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        session.add(
            ChannelIdentity(
                channel="web",
                external_id=user,
                resident_id=resident_id,
                created_at=now,
                last_seen_at=now,
            )
        )
    return Chat(linli, user=user)


async def test_counts_refs_and_timelines_are_complete(linli: Linli) -> None:
    await seeded(linli)
    today = linli.clock.now().astimezone(SHANGHAI).date().strftime("%Y%m%d")
    async with linli.sessions() as session:
        refs = list((await session.exec(select(Case.ref))).all())
        received = await session.exec(
            select(sa.func.count()).select_from(CaseEvent).where(CaseEvent.kind == "received")
        )
        leads = await session.exec(
            select(sa.func.count()).select_from(CaseHandler).where(col(CaseHandler.lead))
        )
        statuses = dict(
            (await session.exec(select(Case.status, sa.func.count()).group_by(Case.status))).all()
        )
        assert received.one() == CASES and leads.one() == CASES
    assert len(refs) == len(set(refs)) == CASES
    days = [m.group(1) for m in map(REF.fullmatch, refs) if m is not None]
    assert len(days) == CASES and max(days) < today  # never today: that is next_reference's
    still_open = sum(statuses.get(s, 0) for s in ("assigned", "accepted", "waiting_resident"))
    assert 0.02 * CASES < still_open < 0.1 * CASES
    assert statuses["closed"] > CASES / 2


async def test_a_second_batch_continues_the_numbers(linli: Linli) -> None:
    await seeded(linli, 500)
    async with linli.sessions() as session, session.begin():
        assert await seed_cases(session, 500, linli.clock.now()) == 500  # the same seed again
    refs = await count(linli, select(sa.func.count(sa.distinct(col(Case.ref)))))
    assert refs == await count(linli, select(sa.func.count()).select_from(Case)) == 1_000


async def test_cases_need_residents(linli: Linli) -> None:
    async with linli.sessions() as session, session.begin():
        with pytest.raises(ValueError, match="residents"):
            await seed_cases(session, 10, linli.clock.now())


async def test_a_resident_sees_synthetic_cases_and_opens_a_fresh_one(linli: Linli) -> None:
    await seeded(linli)
    async with linli.sessions() as session:
        per_resident = (
            select(Case.resident_id, sa.func.count().label("n"))
            .where(col(Case.resident_id).is_not(None))
            .group_by(col(Case.resident_id))
            .order_by(sa.desc("n"), col(Case.resident_id))
        )
        resident_id, _ = (await session.exec(per_resident)).first() or (None, 0)
        assert resident_id is not None
        stmt = (
            select(Case.ref)
            .where(Case.resident_id == resident_id)
            .order_by(col(Case.created_at).desc())
        )
        mine = list((await session.exec(stmt)).all())
    chat = await bind_web(linli, "synthetic-resident", resident_id)

    listed = (await chat.send("进度"))[0]
    assert all(ref in listed.text for ref in mine[:10])
    assert f"case:view:{mine[0]}" in payloads(listed)
    shown = (await chat.send(mine[0]))[0]
    assert mine[0] in shown.text and "已登记，转" in shown.text

    await chat.send("代办")
    await chat.send("帮我母亲办高龄补贴")
    await chat.press("case:cat:ca-elderly-allowance")
    await chat.send("幸福小区3号楼201")
    await chat.send("工作日上午")
    # The synthetic resident's phone is on file: only the ID number is asked for (issue 21).
    opened = (await chat.send("不同意"))[-1]
    found = REF.search(opened.text)
    assert found is not None, opened.text
    async with linli.sessions() as session:
        refs = list((await session.exec(select(Case.ref))).all())
    assert found.group() not in mine and refs.count(found.group()) == 1
    assert found.group(1) == linli.clock.now().astimezone(SHANGHAI).strftime("%Y%m%d")
    assert found.group() in (await chat.send("进度"))[0].text


async def test_counters_move_past_the_synthetic_numbers(linli: Linli) -> None:
    await seeded(linli)
    yesterday = linli.clock.now().astimezone(SHANGHAI).date() - timedelta(days=1)
    key = yesterday.strftime("%Y%m%d")
    async with linli.sessions() as session, session.begin():
        stmt = select(Case.ref).where(col(Case.ref).startswith(f"LC-{key}-"))
        taken = set((await session.exec(stmt)).all())
        fresh = await next_reference(session, "LC", yesterday)
    assert taken and fresh not in taken
    assert int(fresh.rsplit("-", 1)[1]) == len(taken) + 1
