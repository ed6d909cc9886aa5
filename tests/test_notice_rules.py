"""The notice rules have one home (models/notice_ops), for the chat and the desk alike, and a
released notice's start is stored as the instant it was (it read 8 hours late on SQLite)."""

from __future__ import annotations

from sqlmodel import col, select

from bot.app import Linli
from models.notice_audience import Audience, may_see_notice, may_withdraw_notice
from models.notice_ops import create_notice, notice_text_ok, web_address
from models.notices import Notice
from models.org import Staff


def test_text_and_link_rules() -> None:
    assert notice_text_ok("明天停水通知")
    assert not notice_text_ok("!!!")  # nothing said
    assert not notice_text_ok("停" * 1001)
    assert web_address(" https://example.org/a ") == "https://example.org/a"
    assert web_address("http://example.org") is None
    assert web_address("https://exa mple.org") is None
    assert web_address("https://e.org/" + "a" * 500) is None


async def test_a_small_notice_starts_at_the_instant_it_was_sent(linli: Linli) -> None:
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        notice, created = await create_notice(
            session,
            author_id=1,
            text="明天上午九点停水，请提前储水。",
            link=None,
            urgent=False,
            audience=Audience(street=True),
            residents=0,
            now=now,
        )
        assert created is not None  # small: released in this transaction
        number = notice.id
    async with linli.sessions() as session:
        stored = await session.get(Notice, number)
        assert stored is not None and stored.started_at is not None
        assert stored.started_at == now


async def test_who_may_see_and_withdraw_a_notice(linli: Linli) -> None:
    # One rule for the chat and the desk: the author, and staff whose scope covers the audience.
    async with linli.sessions() as session, session.begin():
        people = {
            s.code: s
            for s in (await session.exec(select(Staff).where(col(Staff.code).in_(CODES)))).all()
        }
        leader = people["S027"]
        notice, _ = await create_notice(
            session,
            author_id=leader.id or 0,
            text="本网格明天上午检修电梯。",
            link=None,
            urgent=False,
            audience=Audience(grids=(leader.grid_id or 0,)),
            residents=0,
            now=linli.clock.now(),
        )
        seen = {code: await may_see_notice(session, s, notice) for code, s in people.items()}
        withdraw = {code: may_withdraw_notice(s, notice) for code, s in people.items()}
    assert seen == {"S027": True, "S028": False, "S037": True, "S001": False}
    assert withdraw == {"S027": True, "S028": False, "S037": True, "S001": False}


CODES = ("S027", "S028", "S037", "S001")
