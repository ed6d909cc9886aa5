"""Issue 16, finding 5: the web chat's random id is its only credential.

So in production a web chat account is a resident's and never staff: a staff bind code typed there
binds nothing (and stays usable in WeChat or Telegram), a web staff binding made earlier gives no
staff power, and ids that are short or patterned are refused. The chat page makes 128-bit ids and
a resident can make it forget its id; the old id then reaches nothing of theirs. `linli staff
unbind` and `linli staff deactivate` take a staff member off all of their chat accounts at once.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import secrets
import sys
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Dialog, Page, expect
from sqlmodel import select

from bot.app import Linli
from bot.clock import ManualClock
from models.org import Staff
from tests.conftest import DATA, ROOT, Chat
from tests.scheduler_data import bind_staff
from tests.security.web_rig import (
    STRONG_SECRET,
    Client,
    account,
    browser_id,
    buttons,
    codes,
    demo_settings,
    post,
    press,
    production_settings,
    say,
    staff_code,
    web_client,
)
from tests.test_web_browser import base_url, browser, open_chat, page, page_errors

__all__ = ["base_url", "browser", "page", "page_errors"]

DESK = "工作台："  # the staff desk's title line


async def test_a_staff_code_typed_in_production_web_chat_binds_nothing(
    db_url: str, clock: ManualClock
) -> None:
    async with web_client(production_settings(db_url), clock) as (linli, client):
        code = await staff_code(linli, "S001")
        user = browser_id()
        answer = await say(client, user, f"绑定 {code}")
        assert "仅供居民" in answer and "绑定成功" not in answer
        assert (await account(linli, user)).staff_id is None
        assert DESK not in await say(client, user, "工作台")
        assert "staff" not in buttons(await press(client, user, "menu"))
        # The code was not spent: its owner can still bind where the platform vouches for them.
        assert [row.used_at for row in await codes(linli)] == [None]
        wechat = Chat(linli, user="oStaffWeChat0001", channel="wechat")
        assert "绑定成功" in (await wechat.send(f"绑定 {code}"))[0].text


async def test_a_web_staff_binding_made_before_gives_no_staff_power_in_production(
    db_url: str, clock: ManualClock
) -> None:
    async with web_client(production_settings(db_url), clock) as (linli, client):
        user = browser_id()
        await bind_staff(linli, "S001", "web", user)  # bound while web binding was allowed
        answer = await say(client, user, "工作台")
        assert DESK not in answer and "网页聊天仅供居民使用" in answer and "停用" not in answer
        assert DESK not in "".join(r["text"] for r in await press(client, user, "staff"))
        assert "staff" not in buttons(await press(client, user, "menu"))


async def test_demo_mode_still_lets_a_web_account_be_bound_as_staff(
    db_url: str, clock: ManualClock
) -> None:
    async with web_client(demo_settings(db_url), clock) as (linli, client):
        user = "demo-clerk-0001"
        assert "绑定成功" in await say(client, user, f"绑定 {await staff_code(linli, 'S001')}")
        assert DESK in await say(client, user, "工作台")


WEAK_IDS = [
    "web-user-0001",  # short
    "0123456789abcdef0123",  # short
    "a" * 40,
    "ab" * 16,
    "deadbeef" * 4,  # 32 hex digits, but 5 different ones
    "0" * 31 + "1",
    "user-000000000000000000000001",
    "0123456789abcdef0123456789",  # hex: 104 bits only
    secrets.token_hex(16) + "\n",
    secrets.token_urlsafe(16) + " ",
]
GOOD_IDS = [
    secrets.token_urlsafe(16),
    secrets.token_urlsafe(32),
    secrets.token_hex(16),
    str(uuid.uuid4()),  # what earlier versions of the page stored
]


@pytest.mark.parametrize("user", WEAK_IDS)
async def test_production_refuses_short_or_patterned_ids(
    db_url: str, clock: ManualClock, user: str
) -> None:
    async with web_client(production_settings(db_url), clock) as (_linli, client):
        status, body = await post(client, user, payload="menu")
        assert status == 400 and "replies" not in body
        status, body = await post(client, user, text="菜单")
        assert status == 400 and "replies" not in body


async def test_production_takes_ids_with_128_random_bits(db_url: str, clock: ManualClock) -> None:
    async with web_client(production_settings(db_url), clock) as (_linli, client):
        for user in GOOD_IDS:
            status, body = await post(client, user, payload="menu")
            assert status == 200 and body["replies"], user


async def _book(client: Client, user: str) -> str:
    days = await press(client, user, "book:svc:ss-card-reissue")
    slots = await press(client, user, buttons(days)[0])
    confirm = await press(client, user, buttons(slots)[0])
    done = await press(client, user, buttons(confirm)[0])
    found = re.search(r"LCY-\d{8}-\d{4}", done[0]["text"])
    assert found is not None, done
    return found.group()


async def test_forgetting_the_browser_leaves_the_old_id_with_nothing(
    db_url: str, clock: ManualClock
) -> None:
    async with web_client(production_settings(db_url), clock) as (linli, client):
        old = browser_id()
        ref = await _book(client, old)
        mine = await press(client, old, "book:mine")
        assert ref in "".join(reply["text"] for reply in mine)
        forgotten = await press(client, old, "binding:forget")
        assert "已忘记" in forgotten[0]["text"]
        assert (await account(linli, old)).resident_id is None
        # Whoever still has the old id (a copied browser profile) sees none of it.
        for reply in (await press(client, old, "book:mine"), await press(client, old, "account")):
            assert ref not in reply[0]["text"]
        assert ref not in "".join(r["text"] for r in await press(client, browser_id(), "book:mine"))


async def test_forgetting_is_for_the_web_chat_only(linli: Linli) -> None:
    wechat = Chat(linli, user="oWeChatForget001", channel="wechat")
    await wechat.send("绑定码")  # a link code: the account now stands for a resident
    before = await account(linli, "oWeChatForget001", "wechat")
    assert before.resident_id is not None
    replies = await wechat.press("binding:forget")
    assert "已忘记" not in replies[0].text
    assert (await account(linli, "oWeChatForget001", "wechat")).resident_id == before.resident_id


async def test_the_page_makes_128_bit_ids_and_forgets_them_on_request(
    page: Page, base_url: str, linli: Linli, page_errors: list[str]
) -> None:
    await open_chat(page, base_url)
    old = await page.evaluate("localStorage.getItem('linli-user')")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", old)
    assert len(base64.urlsafe_b64decode(old + "==")) == 16
    await page.get_by_role("button", name="我的").click()
    await expect(page.locator(".msg.bot").last).to_contain_text("我的信息")
    resident = Chat(linli, user=old)  # the same account, going on through the pipeline
    await resident.press("binding:link")  # a link code: the account now stands for a resident
    assert (await account(linli, old)).resident_id is not None

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.once("dialog", lambda dialog: asyncio.ensure_future(accept(dialog)))
    await page.get_by_role("button", name="新身份").click()
    await expect(page.locator(".msg.bot").first).to_contain_text("已忘记")
    await expect(page.locator("button.option:enabled")).to_have_count(8)
    new = await page.evaluate("localStorage.getItem('linli-user')")
    assert new != old and re.fullmatch(r"[A-Za-z0-9_-]{22}", new)
    assert await page.locator(".msg.user").count() == 0  # the old conversation is gone
    assert (await account(linli, old)).resident_id is None
    assert (await account(linli, new)).resident_id is None
    await page.reload()
    await expect(page.locator("button.option")).to_have_count(8)
    assert await page.evaluate("localStorage.getItem('linli-user')") == new
    assert page_errors == []


async def _linli_cli(db_url: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {
        "LINLI_DATABASE_URL": db_url,
        "LINLI_DATA_DIR": str(DATA),
        "LINLI_STATE_DIR": str(tmp_path),
        "LINLI_SECRET_KEY": STRONG_SECRET,
        "LINLI_NOW": "2026-11-27T10:00:00+08:00",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _staff(linli: Linli, code: str) -> Staff:
    async with linli.sessions() as session:
        return (await session.exec(select(Staff).where(Staff.code == code))).one()


async def test_staff_unbind_takes_every_account_of_a_staff_member_at_once(
    db_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    async with web_client(demo_settings(db_url), clock) as (linli, client):
        for user in ("lost-phone-0001", "office-pc-0001"):
            assert "绑定成功" in await say(client, user, f"绑定 {await staff_code(linli, 'S002')}")
        wechat = Chat(linli, user="oStaffWeChat0002", channel="wechat")
        await wechat.send(f"绑定 {await staff_code(linli, 'S002')}")
        other = "colleague-0001"
        await say(client, other, f"绑定 {await staff_code(linli, 'S003')}")

        status, out, err = await _linli_cli(db_url, tmp_path, "staff", "unbind", "S002")
        assert status == 0, err
        lines = [line for line in (out + err).splitlines() if "S002" in line]
        assert len(lines) == 1 and "from 3 chat accounts" in lines[0], out + err
        assert STRONG_SECRET not in out + err

        for user in ("lost-phone-0001", "office-pc-0001"):
            assert (await account(linli, user)).staff_id is None
            assert DESK not in await say(client, user, "工作台")
        assert (await account(linli, "oStaffWeChat0002", "wechat")).staff_id is None
        assert DESK in await say(client, other, "工作台")  # nobody else is touched
        assert (await _staff(linli, "S002")).active
        # Binding again takes a new code.
        again = await say(client, "office-pc-0001", f"绑定 {await staff_code(linli, 'S002')}")
        assert "绑定成功" in again


async def test_staff_deactivate_unbinds_and_voids_codes(
    db_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    async with web_client(demo_settings(db_url), clock) as (linli, client):
        user = "leaver-pc-0001"
        assert "绑定成功" in await say(client, user, f"绑定 {await staff_code(linli, 'S004')}")
        pending = await staff_code(linli, "S004")

        status, out, err = await _linli_cli(db_url, tmp_path, "staff", "deactivate", "S004")
        assert status == 0, err
        assert len([line for line in (out + err).splitlines() if "S004" in line]) == 1

        assert not (await _staff(linli, "S004")).active
        assert (await account(linli, user)).staff_id is None
        assert DESK not in await say(client, user, "工作台")
        assert "绑定成功" not in await say(client, "leaver-phone-01", f"绑定 {pending}")

        status, _out, err = await _linli_cli(db_url, tmp_path, "staff", "unbind", "S999")
        assert status == 2 and "S999" in err
