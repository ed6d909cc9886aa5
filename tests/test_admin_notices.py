"""The desk's notice pages (/admin/notices): composing within the author's scope (a crafted area
beyond it is refused and nothing is queued), the preview's numbers, sending once, the live
delivery progress as the real outbox worker delivers, withdrawing, and a notice that is not
yours to see answering 404 on its page and its progress JSON."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from models.messaging import OutboxMessage, OutboxStatus
from models.notices import Notice, NoticeStatus
from models.org import Grid
from scheduler.context import JobContext
from scheduler.notices import run_notices
from tests.fakes.recording_channel import RecordingChannel
from tests.test_admin_auth import Browser, set_password
from tests.test_notices import deliver_all, street_of_two_grids, worker

Client = TestClient[web.Request, web.Application]
LEADER, OTHER_LEADER, SUPERVISOR, CLERK = "S027", "S028", "S037", "S001"
TEXT = "明天上午9点到12点停水，请提前储水。"
DRAFT = re.compile(r'name="draft" value="([^"]+)"')


async def logged_in(linli: Linli, client: Client, code: str) -> Browser:
    """A browser with this staff member logged in (closed by the caller)."""
    await set_password(linli, code)
    browser = Browser(client)
    assert (await browser.log_in(code)).status == 303
    return browser


@pytest.fixture
async def leader(linli: Linli, client: Client) -> AsyncIterator[Browser]:
    """Grid leader S027 (南街社区, grid 1) at the desk."""
    async with await logged_in(linli, client, LEADER) as browser:
        yield browser


async def previewed(browser: Browser, **fields: str) -> tuple[int, str, str | None]:
    """Preview a notice: the status, the page and the draft token to send it with."""
    answer = await browser.act("/admin/notices/preview", **fields)
    html = await answer.text()
    found = DRAFT.search(html)
    return answer.status, html, found.group(1) if found else None


async def notices(linli: Linli) -> list[Notice]:
    async with linli.sessions() as session:
        return list((await session.exec(select(Notice).order_by(col(Notice.id)))).all())


async def notice_rows(linli: Linli) -> list[OutboxMessage]:
    """Every notice delivery in the outbox."""
    async with linli.sessions() as session:
        stmt = select(OutboxMessage).where(col(OutboxMessage.notice_id).is_not(None))
        return list((await session.exec(stmt)).all())


async def progress(browser: Browser, number: int) -> dict[str, Any]:
    answer = await browser.get(f"/admin/notices/{number}/progress")
    assert answer.status == 200 and answer.headers["Cache-Control"] == "no-store"
    data: dict[str, Any] = await answer.json()
    return data


def areas(html: str) -> list[str]:
    """The areas the composer offers (its select's option values)."""
    found = re.search(r'<select id="notice-area".*?</select>', html, re.S)
    assert found is not None
    return re.findall(r'<option value="([^"]+)"', found.group(0))


def form(grid: Grid | str, text: str = TEXT, **more: str) -> dict[str, str]:
    area = grid if isinstance(grid, str) else f"grid:{grid.id}"
    return {"text": text, "area": area, "urgent": "no", "filter": "all", **more}


async def test_a_grid_leader_composes_for_their_own_grid_only(
    linli: Linli, leader: Browser
) -> None:
    a, b = await street_of_two_grids(linli)
    page = await leader.get("/admin/notices")
    html = await page.text()
    assert page.status == 200 and "写通知" in html and '<label for="notice-text">' in html
    assert areas(html) == [f"grid:{a.id}"]
    status, preview, token = await previewed(leader, **form(a))
    assert status == 200 and token is not None
    assert "【社区通知】" in preview and TEXT in preview and "退订" in preview
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', preview))
    assert counts == {"residents": "5", "opted_out": "1", "accounts": "4", "unreachable": "1"}
    assert await notices(linli) == []  # a preview writes nothing

    beyond = await leader.act("/admin/notices/preview", **form(b))
    assert beyond.status == 403
    text = await beyond.text()
    assert "超出了您的权限" in text and TEXT in text  # refused, and the text is still there
    for area in ("street", f"community:{a.community_id}", f"grid:{b.id}", "grid:999999"):
        crafted = await leader.act("/admin/notices/send", **form(area, draft=token))
        assert crafted.status == 403, area
    assert await notices(linli) == [] and await notice_rows(linli) == []

    sent = await leader.act("/admin/notices/send", **form(a, draft=token))
    assert sent.status == 303
    [notice] = await notices(linli)
    assert sent.headers["Location"] == f"/admin/notices/{notice.id}"
    assert notice.audience["grids"] == [a.id] and not notice.audience["street"]
    assert notice.status == NoticeStatus.SENDING and notice.text == TEXT
    assert len(await notice_rows(linli)) == 4
    shown = await (await leader.get(f"/admin/notices/{notice.id}")).text()
    assert f"通知 #{notice.id} 已开始发送（4 条）" in shown  # the flash after the redirect
    again = await leader.act("/admin/notices/send", **form(a, draft=token))
    assert again.status == 409 and "已经发出" in await again.text()
    assert len(await notices(linli)) == 1 and len(await notice_rows(linli)) == 4
    listed = await (await leader.get("/admin/notices")).text()
    assert f'href="/admin/notices/{notice.id}"' in listed


async def test_bad_input_is_explained_and_nothing_typed_is_lost(
    linli: Linli, client: Client, leader: Browser
) -> None:
    a, _ = await street_of_two_grids(linli)
    short = await leader.act("/admin/notices/preview", **form(a, text="停水"))
    html = await short.text()
    assert short.status == 400 and "至少 4 个字" in html and ">停水</textarea>" in html
    assert 'aria-invalid="true"' in html
    link = "http://example.com/停水"
    insecure = await leader.act("/admin/notices/preview", **form(a, link=link))
    html = await insecure.text()
    assert insecure.status == 400 and "https://" in html and f'value="{link}"' in html
    assert TEXT in html
    nowhere = await leader.act("/admin/notices/preview", **form("moon:1"))
    assert nowhere.status == 400 and "请选择发送范围" in await nowhere.text()
    english = await leader.act("/admin/notices/preview?lang=en", **form(a, text="x"))
    assert english.status == 400 and "at least 4 characters" in await english.text()
    async with Browser(client) as other:
        foreign = await other.csrf()
    for path in ("/admin/notices/preview", "/admin/notices/send"):
        for token in ({}, {"csrf": foreign}):
            refused = await leader.post(path, {**token, **form(a)})
            assert refused.status == 403 and "nothing was changed" in await refused.text()
    assert await notices(linli) == [] and await notice_rows(linli) == []


async def test_progress_moves_as_the_outbox_worker_delivers(
    linli: Linli, clock: ManualClock, leader: Browser
) -> None:
    a, _ = await street_of_two_grids(linli)
    _, _, token = await previewed(leader, **form(a))
    assert token is not None
    sent = await leader.act("/admin/notices/send", **form(a, draft=token))
    number = int(sent.headers["Location"].rsplit("/", 1)[1])
    page = await (await leader.get(f"/admin/notices/{number}")).text()
    assert f'data-progress-url="/admin/notices/{number}/progress"' in page
    assert '<progress id="notice-progress" max="5" value="1"' in page
    assert 'aria-live="polite"' in page and '<label for="notice-progress">' in page
    assert '<script src="/static/admin_notices.js" defer></script>' in page
    assert "<script>" not in page  # no inline script (CSP default-src 'self')

    start = await progress(leader, number)
    assert start["counts"] == {
        "sent": 0,
        "failed": 0,
        "unreachable": 1,  # the resident without any chat account
        "cancelled": 0,
        "pending": 4,
    }
    assert (start["total"], start["done"], start["finished"]) == (5, 1, False)
    assert start["status"] == "sending" and "待发送 4" in start["text"]

    channel = RecordingChannel(clock, name="web", blocked={"a3"})
    work = worker(linli, channel, bulk=2)
    assert await work.deliver_due() == 2
    middle = await progress(leader, number)
    assert middle["counts"]["pending"] == 2 and middle["done"] == 3 and not middle["finished"]
    assert middle["counts"]["sent"] + middle["counts"]["unreachable"] == 3

    await deliver_all(work)
    end = await progress(leader, number)
    assert end["counts"] == {
        "sent": 3,
        "failed": 0,
        "unreachable": 2,
        "cancelled": 0,
        "pending": 0,
    }
    assert (end["total"], end["done"], end["finished"]) == (5, 5, True)
    assert sorted(m.to for m in channel.accepted) == ["a1", "a2x", "a2y"]

    ctx = JobContext(linli.engine, linli.sessions, linli.clock, linli.settings)
    assert await run_notices(ctx) == 1  # the author's summary, as for a notice from the chat
    done = await progress(leader, number)
    assert done["status"] == "done" and done["status_text"] == "已发完"
    english = await leader.get(f"/admin/notices/{number}/progress?lang=en")
    assert "3 sent" in (await english.json())["text"]


async def test_a_notice_is_not_found_by_staff_whose_scope_does_not_cover_it(
    linli: Linli, client: Client, leader: Browser
) -> None:
    a, _ = await street_of_two_grids(linli)
    _, _, token = await previewed(leader, **form(a))
    sent = await leader.act("/admin/notices/send", **form(a, draft=token or ""))
    number = int(sent.headers["Location"].rsplit("/", 1)[1])
    async with await logged_in(linli, client, OTHER_LEADER) as other:
        page = await other.get(f"/admin/notices/{number}")
        assert page.status == 404 and TEXT not in await page.text()
        data = await other.get(f"/admin/notices/{number}/progress")
        assert data.status == 404 and await data.json() == {"error": "not_found"}
        withdraw = await other.act(f"/admin/notices/{number}/withdraw", confirm="yes")
        assert withdraw.status == 404
        listed = await (await other.get("/admin/notices")).text()
        assert f'href="/admin/notices/{number}"' not in listed
        assert (await other.get("/admin/notices/99999999/progress")).status == 404
    async with await logged_in(linli, client, SUPERVISOR) as supervisor:
        assert (await supervisor.get(f"/admin/notices/{number}")).status == 200
        assert (await progress(supervisor, number))["id"] == number
    async with await logged_in(linli, client, CLERK) as clerk:
        assert (await clerk.get("/admin/notices")).status == 403
        assert (await clerk.get(f"/admin/notices/{number}/progress")).status == 403
    assert len(await notice_rows(linli)) == 4
    rows = await notice_rows(linli)
    assert all(row.status == OutboxStatus.PENDING for row in rows)


async def test_a_supervisor_sends_to_a_chosen_community_and_withdraws_it(
    linli: Linli, client: Client
) -> None:
    a, _ = await street_of_two_grids(linli)
    async with await logged_in(linli, client, SUPERVISOR) as supervisor:
        html = await (await supervisor.get("/admin/notices")).text()
        offered = areas(html)
        assert offered[0] == "street" and f"community:{a.community_id}" in offered
        assert f"grid:{a.id}" in offered and len(offered) > 20
        area = f"community:{a.community_id}"
        status, preview, token = await previewed(supervisor, **form(area, urgent="yes"))
        assert status == 200 and token is not None and "【紧急通知】" in preview
        counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', preview))
        assert counts["accounts"] == "5"  # urgent: the opted-out resident too
        sent = await supervisor.act("/admin/notices/send", **form(area, urgent="yes", draft=token))
        number = int(sent.headers["Location"].rsplit("/", 1)[1])
        [notice] = await notices(linli)
        assert notice.urgent and notice.audience["communities"] == [a.community_id]
        page = await (await supervisor.get(f"/admin/notices/{number}")).text()
        assert f'action="/admin/notices/{number}/withdraw"' in page
        unconfirmed = await supervisor.act(f"/admin/notices/{number}/withdraw")
        assert unconfirmed.status == 400
        withdrawn = await supervisor.act(f"/admin/notices/{number}/withdraw", confirm="yes")
        assert withdrawn.status == 303
        after = await progress(supervisor, number)
        assert after["counts"]["cancelled"] == 5 and after["counts"]["pending"] == 0
        assert after["status"] == "cancelled" and after["finished"]
        twice = await supervisor.act(f"/admin/notices/{number}/withdraw", confirm="yes")
        assert twice.status == 409
