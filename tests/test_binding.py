"""Binding chat accounts: staff codes, linking a resident's channels, guessing, unbinding, roles."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.app import Linli
from bot.clock import ManualClock
from models.binding import (
    BindOutcome,
    GuessLimits,
    format_code,
    hash_code,
    issue_bind_code,
    normalize_code,
    redeem_bind_code,
)
from models.messaging import BindCode
from models.org import Community, Staff
from models.people import ChannelIdentity, Resident
from tests.conftest import Chat, payloads
from tests.telegram_fixtures import TelegramRig, button_data, telegram, telegram_platform

__all__ = ["telegram", "telegram_platform"]

CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}")


async def staff_code(linli: Linli, staff: str = "S001", hours: float = 24) -> str:
    async with linli.sessions() as session, session.begin():
        row = (await session.exec(select(Staff).where(Staff.code == staff))).one()
        issued = await issue_bind_code(
            session,
            secret="test-secret",
            now=linli.clock.now(),
            ttl=timedelta(hours=hours),
            staff_id=row.id,
        )
    return format_code(issued.code)


async def account(linli: Linli, channel: str, external_id: str) -> ChannelIdentity:
    async with linli.sessions() as session:
        stmt = select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
        return (await session.exec(stmt)).one()


def texts(replies: list[object]) -> str:
    return "\n".join(getattr(reply, "text", "") for reply in replies)


async def test_a_staff_member_binds_a_chat_account_with_a_code(linli: Linli, chat: Chat) -> None:
    code = await staff_code(linli)
    replies = await chat.send(f"绑定 {code}")
    assert "绑定成功" in replies[0].text and "王丽" in replies[0].text
    assert "staff" in payloads(replies[0])  # the staff desk joins the main menu
    bound = await account(linli, "web", chat.user)
    assert bound.staff_id is not None
    desk = await chat.send("工作台")
    assert "王丽" in desk[0].text and "网页" in desk[0].text


async def test_codes_work_typed_in_any_reasonable_shape(linli: Linli) -> None:
    shapes: list[Callable[[str], str]] = [str.lower, lambda c: c.replace("-", ""), str]
    for n, shape in enumerate(shapes):
        code = await staff_code(linli, f"S00{n + 1}")
        person = Chat(linli, user=f"staff-shape-{n}")
        text = f"/bind {shape(code)}" if n != 1 else f"绑定{shape(code)}"
        assert "绑定成功" in (await person.send(text))[0].text, text
    fullwidth = (await staff_code(linli, "S004")).translate(
        {ord(c): ord(c) + 0xFEE0 for c in "ABCDEFGHJKMNPQRSTUVWXYZ23456789"}
    )
    person = Chat(linli, user="staff-fullwidth")
    await person.send("绑定")  # a bare bind asks for the code
    assert "绑定成功" in (await person.send(fullwidth))[0].text


async def test_a_code_cannot_be_reused(linli: Linli) -> None:
    code = await staff_code(linli)
    assert "绑定成功" in (await Chat(linli, user="first").send(f"绑定 {code}"))[0].text
    second = await Chat(linli, user="second").send(f"绑定 {code}")
    assert "已经用过" in second[0].text
    assert (await account(linli, "web", "second")).staff_id is None


async def test_an_expired_code_does_not_work(linli: Linli, clock: ManualClock) -> None:
    code = await staff_code(linli, hours=24)
    clock.advance(timedelta(hours=24, seconds=1))
    replies = await Chat(linli, user="late").send(f"绑定 {code}")
    assert "已过期" in replies[0].text
    assert (await account(linli, "web", "late")).staff_id is None


async def test_a_new_code_voids_the_previous_one(linli: Linli) -> None:
    old = await staff_code(linli)
    new = await staff_code(linli)
    assert "已过期" in (await Chat(linli, user="a").send(f"绑定 {old}"))[0].text
    assert "绑定成功" in (await Chat(linli, user="b").send(f"绑定 {new}"))[0].text


async def test_guessing_is_cut_off_per_account_even_before_the_right_code(linli: Linli) -> None:
    guesser = Chat(linli, user="guesser")
    for n in range(5):
        assert "不正确" in (await guesser.send(f"绑定 AAAA-AAA{n + 2}"))[0].text
    code = await staff_code(linli)
    replies = await guesser.send(f"绑定 {code}")
    assert "尝试次数过多" in replies[0].text
    assert (await account(linli, "web", "guesser")).staff_id is None
    assert "绑定成功" in (await Chat(linli, user="honest").send(f"绑定 {code}"))[0].text


async def test_guesses_from_many_accounts_use_up_the_code_they_aim_at_not_the_street(
    linli: Linli,
) -> None:
    limits = GuessLimits(per_account=5, per_code=3)
    code = normalize_code(await staff_code(linli))
    aimed = [code[:3] + "22222", code[:3] + "33333", code[:3] + "44444"]
    elsewhere = "Z" if code[0] != "Z" else "Y"
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        accounts = [
            ChannelIdentity(channel="web", external_id=f"bot-{n}", created_at=now, last_seen_at=now)
            for n in range(25)
        ]
        session.add_all(accounts)
        await session.flush()

        async def redeem(one: ChannelIdentity, typed: str) -> BindOutcome:
            return await redeem_bind_code(
                session, one, typed, secret="test-secret", now=now, limits=limits
            )

        spread = [await redeem(one, f"{elsewhere}WRNGCODE"[:8]) for one in accounts[:20]]
        at_code = [
            await redeem(one, typed) for one, typed in zip(accounts[20:], aimed, strict=False)
        ]
        assert await redeem(accounts[23], code) is BindOutcome.LOCKED
    assert spread == [BindOutcome.INVALID] * 20  # no street-wide cut-off
    assert at_code == [BindOutcome.INVALID] * 3


async def test_only_a_keyed_hash_of_the_code_is_stored(linli: Linli) -> None:
    code = await staff_code(linli)
    async with linli.sessions() as session:
        stored = (await session.exec(select(BindCode))).all()
    assert [row.code_hash for row in stored] == [hash_code(code, "test-secret")]
    assert code.replace("-", "") not in str([row.model_dump() for row in stored])


async def test_a_resident_cannot_reach_staff_commands(linli: Linli, chat: Chat) -> None:
    for typed in ("工作台", "/staff", "值班", "/duty"):
        replies = await chat.send(typed)
        assert "没有听懂" in replies[0].text, typed
    pressed = await chat.press("staff:duty")  # a crafted button press gets nothing either
    assert "失效" in pressed[0].text and "值班" not in pressed[0].text
    menu = await chat.send("菜单")
    assert "staff" not in payloads(menu[0])
    assert "工作台" not in menu[1].text


async def test_staff_see_their_duty_from_the_roster(linli: Linli) -> None:
    person = Chat(linli, user="clerk")
    await person.send(f"绑定 {await staff_code(linli, 'S001')}")
    duty = await person.send("值班")
    assert "未来两周的值班安排" in duty[0].text
    assert re.search(r"\d\d:\d\d–\d\d:\d\d", duty[0].text)


async def test_a_deactivated_staff_member_loses_the_binding(linli: Linli) -> None:
    person = Chat(linli, user="leaver")
    await person.send(f"绑定 {await staff_code(linli, 'S002')}")
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == "S002"))).one()
        staff.active = False
        session.add(staff)
    assert "已停用" in (await person.send("工作台"))[0].text
    assert (await account(linli, "web", "leaver")).staff_id is None
    assert "没有听懂" in (await person.send("工作台"))[0].text


async def test_a_staff_button_pressed_after_deactivation_says_why(linli: Linli) -> None:
    person = Chat(linli, user="leaver-pressing")
    await person.send(f"绑定 {await staff_code(linli, 'S003')}")
    async with linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == "S003"))).one()
        staff.active = False
        session.add(staff)
    assert "已停用" in (await person.press("staff"))[0].text  # not "this option has expired"
    assert (await account(linli, "web", "leaver-pressing")).staff_id is None


async def test_staff_unbind_from_chat(linli: Linli) -> None:
    person = Chat(linli, user="unbinder")
    await person.send(f"绑定 {await staff_code(linli)}")
    choices = await person.send("解绑")
    assert "binding:unbind:staff" in payloads(choices[0])
    done = await person.press("binding:unbind:staff")
    assert "已解除" in done[0].text
    assert (await account(linli, "web", "unbinder")).staff_id is None


async def test_a_resident_links_wechat_and_telegram_into_one_profile(
    telegram: TelegramRig,
) -> None:
    linli = telegram.linli
    wechat = Chat(linli, user="oWeChatResident", channel="wechat")
    issued = await wechat.send("绑定码")
    code = CODE.search(issued[0].text)
    assert code is not None and "10 分钟" in issued[0].text
    # The Telegram account already has a record of its own: community 05 and a grid.
    await telegram.say(8001, "我的")
    await telegram.press(8001, "account:community")
    grids = await telegram.say(8001, "5")
    await telegram.press(8001, button_data(grids[0])[0])
    before = await account(linli, "telegram", "8001")
    assert before.resident_id is not None

    linked = await telegram.say(8001, f"/bind {code.group()}")
    assert "关联成功" in linked[0].text

    wechat_account = await account(linli, "wechat", "oWeChatResident")
    telegram_account = await account(linli, "telegram", "8001")
    assert telegram_account.resident_id == wechat_account.resident_id != before.resident_id
    async with linli.sessions() as session:
        merged = await session.get(Resident, wechat_account.resident_id)
        orphan = await session.get(Resident, before.resident_id)
        assert merged is not None and merged.community_id is not None
        community = await session.get(Community, merged.community_id)
    assert orphan is None  # the Telegram-only record was merged away
    assert community is not None and community.code.endswith("05")  # its answers were kept
    shown = await wechat.send("我的")
    assert community.name_zh in shown[0].text  # and WeChat sees them

    again = await telegram.say(8001, f"/bind {code.group()}")
    assert "已经用过" in again[0].text
    unlink = await telegram.say(8001, "解绑")
    assert "binding:unbind:resident" in button_data(unlink[0])
    await telegram.press(8001, "binding:unbind:resident")
    assert (await account(linli, "telegram", "8001")).resident_id is None
    assert (await account(linli, "wechat", "oWeChatResident")).resident_id == merged.id


async def test_a_staff_member_binds_in_telegram_too(telegram: TelegramRig) -> None:
    code = await staff_code(telegram.linli, "S003")
    sent = await telegram.say(9001, f"绑定 {code}")
    assert "绑定成功" in sent[0].text
    assert "staff" in button_data(sent[0])
    desk = await telegram.press(9001, "staff")
    assert "Telegram" in desk[0].text


@pytest.mark.parametrize("typed", ["绑定 ", "绑定 " + "A" * 500, "/bind <script>", "绑定 🙂🙂"])
async def test_odd_codes_get_a_polite_answer(linli: Linli, typed: str) -> None:
    replies = await Chat(linli, user="odd").send(typed)
    assert replies and "抱歉，系统" not in replies[0].text


async def test_staff_bound_on_the_web_chat_are_told_alerts_come_elsewhere(linli: Linli) -> None:
    person = Chat(linli, user="web-clerk")
    bound = (await person.send(f"绑定 {await staff_code(linli, 'S004')}"))[0].text
    assert "绑定成功" in bound and "网页聊天收不到工作提醒" in bound
