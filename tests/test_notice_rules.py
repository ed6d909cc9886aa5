"""The notice rules have one home (models/notice_ops), for the chat and the desk alike, and a
released notice's start is stored as the instant it was (it read 8 hours late on SQLite)."""

from __future__ import annotations

from bot.app import Linli
from models.notice_audience import Audience
from models.notice_ops import create_notice, notice_text_ok, web_address
from models.notices import Notice


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
