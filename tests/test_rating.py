"""Issue 18, item 6: 评价 — pick what to rate, six levels (pressed or typed), an optional comment;
a poor rating opens a return visit (回访) for the supervisor, never for the person it concerns."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

import alembic.command
import sqlalchemy as sa
from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from bot.outgoing import payload_replies
from models.base import SHANGHAI
from models.booking import Appointment
from models.cases import Case, CaseKind, Rating, RatingLevel
from models.messaging import OutboxMessage
from models.org import Department, Staff
from models.policy import Viewer, can_view_case
from models.ratings import WindowVisit
from scheduler.cases import sweep_case_deadlines
from scheduler.context import JobContext
from tests.conftest import Chat, labels, payloads
from tests.fakes.wechat_sender import WeChatServer
from tests.security.test_personal_data import migrate
from tests.test_binding import staff_code
from tests.test_booking_window import book_today
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

FRIDAY_AFTERNOON = datetime(2026, 11, 27, 15, 30, tzinfo=SHANGHAI)
MONDAY_SAME_TIME = datetime(2026, 11, 30, 15, 30, tzinfo=SHANGHAI)
LEVELS = ["很满意", "满意", "一般", "时间长", "态度差", "业务差"]
PHONE = "13812345678"
_MESSAGE_IDS = count(31_000)  # WeChat message ids of staff accounts, never repeated
CODES = ("S041", "S001")  # the social security supervisor, and 王丽 at window 4


async def staff_id(linli: Linli, code: str) -> int:
    async with linli.sessions() as session:
        row = (await session.exec(select(Staff).where(Staff.code == code))).one()
    assert row.id is not None
    return row.id


async def bound(linli: Linli, code: str, user: str) -> Chat:
    person = Chat(linli, user=user)
    assert "绑定成功" in (await person.send(f"绑定 {await staff_code(linli, code)}"))[0].text
    return person


async def return_visits(linli: Linli) -> list[Case]:
    async with linli.sessions() as session:
        stmt = select(Case).where(Case.kind == CaseKind.RETURN_VISIT).order_by(col(Case.id))
        return list((await session.exec(stmt)).all())


async def alerts_to(linli: Linli, code: str) -> list[str]:
    """The texts of the alerts queued for a staff member."""
    person = await staff_id(linli, code)
    async with linli.sessions() as session:
        stmt = select(OutboxMessage).where(
            OutboxMessage.staff_id == person, OutboxMessage.kind == "alert"
        )
        rows = (await session.exec(stmt.order_by(col(OutboxMessage.id)))).all()
    return [payload_replies(row.payload, "zh-CN")[0]["text"] for row in rows]


async def post_as(rig: WeChatRig, server: WeChatServer, text: str, msg_id: int) -> str:
    """Another WeChat user (a staff member) writes to the account."""
    query, body = server.request(server.text(text, msg_id=msg_id))
    response = await rig.client.post("/wechat", params=query, data=body)
    assert response.status == 200, await response.text()
    return server.read_reply(await response.read()).get("Content", "")


async def bound_on_wechat(rig: WeChatRig, codes: tuple[str, ...]) -> dict[str, WeChatServer]:
    """Staff bound on WeChat accounts of their own (there alerts reach them), by code."""
    staff = {}
    for code in codes:
        server = WeChatServer(rig.server.account, openid=f"oStaff-{code}")
        words = f"绑定 {await staff_code(rig.linli, code)}"
        assert "绑定成功" in await post_as(rig, server, words, next(_MESSAGE_IDS))
        staff[code] = server
    return staff


async def sweep(linli: Linli) -> int:
    """One pass of the scheduler's case sweep."""
    return await sweep_case_deadlines(
        JobContext(linli.engine, linli.sessions, linli.clock, linli.settings)
    )


async def served_appointment(linli: Linli, chat: Chat) -> str:
    """社保卡补办 today, checked in and finished by 王丽 (S001) at window 4."""
    ref = await book_today(chat)
    window = await bound(linli, "S001", "clerk-s001")
    assert "已签到" in (await window.send(f"签到 {ref}"))[0].text
    assert "已办结" in (await window.send(f"办结 {ref}"))[0].text
    return ref


async def test_a_good_rating_pressed_typed_and_commented(linli: Linli, chat: Chat) -> None:
    await served_appointment(linli, chat)
    menu = await chat.send("你好")
    assert "rate" in payloads(menu[0])
    choices = await chat.press("rate")
    assert choices[0].text.startswith("请选择要评价的服务")
    assert labels(choices[0])[0] == "预约 11月27日 社保卡补办"
    assert labels(choices[0])[1:] == ["评价窗口服务", "返回主菜单"]
    levels = await chat.send("1")  # the first option, typed as a number
    assert labels(levels[0]) == LEVELS
    thanks = await chat.send("很满意")  # typed, not pressed
    assert "感谢您的评价：很满意" in thanks[0].text
    assert labels(thanks[0])[0] == "跳过"
    kept = await chat.send(f"王丽很耐心，有事打我电话{PHONE}")
    assert "意见已记录" in kept[0].text
    async with linli.sessions() as session:
        [rating] = (await session.exec(select(Rating))).all()
        appointment = (await session.exec(select(Appointment))).one()
    assert rating.level == RatingLevel.VERY_SATISFIED
    assert rating.staff_id == appointment.served_by_staff_id == await staff_id(linli, "S001")
    assert rating.comment is not None and "王丽很耐心" in rating.comment
    assert PHONE not in rating.comment
    assert await return_visits(linli) == []  # a good rating opens nothing
    again = await chat.send("评价")
    assert "没有可评价" in again[0].text  # rated things are no longer offered
    second = await chat.press(f"rate:appt:{appointment.id}:satisfied")  # the old push's button
    assert "已经评价过" in second[0].text and "很满意" in second[0].text
    async with linli.sessions() as session:
        assert len((await session.exec(select(Rating))).all()) == 1


async def test_nothing_to_rate_says_so_and_offers_a_window_visit(chat: Chat) -> None:
    replies = await chat.send("我要评价")
    assert "没有可评价的预约或事项" in replies[0].text
    assert payloads(replies[0]) == ["rate:dept", "menu"]
    english = await chat.send("rate", lang="en")
    assert "no appointment or matter" in english[0].text


async def test_words_that_are_no_level_ask_again_and_lose_nothing(linli: Linli) -> None:
    resident = Chat(linli, user="undecided-0001")
    await resident.press("rate:dept")
    assert "民政科" in labels((await resident.send("窗口"))[0])  # no department: the list again
    assert labels((await resident.send("民政"))[0]) == LEVELS  # a department in part
    again = await resident.send("让我想想")
    assert again[0].text.startswith("请从六个等级中选一个") and labels(again[0]) == LEVELS
    assert "感谢您的评价：一般" in (await resident.send("还行吧"))[0].text  # a level in words
    english = Chat(linli, user="undecided-0002")
    await english.send("English")
    await english.press("rate:dept")
    await english.send("Civil Affairs Office")
    thanks = await english.send("took too long")
    assert "Thank you for your rating: Took too long" in thanks[0].text


async def test_bad_attitude_naming_the_clerk_goes_to_her_supervisor(
    linli: Linli, clock: ManualClock
) -> None:
    clock.set(FRIDAY_AFTERNOON)
    supervisor = await bound(linli, "S041", "ss-supervisor")
    clerk = await bound(linli, "S001", "clerk-wangli")
    colleague = await bound(linli, "S002", "clerk-chenjing")
    resident = Chat(linli, user="unhappy-0001")
    await resident.send("评价")
    departments = await resident.send("评价窗口服务")  # typing the button's words
    assert "社会保障科" in labels(departments[0])
    levels = await resident.send("社会保障科")
    assert labels(levels[0]) == LEVELS
    told = await resident.send("态度差")
    text = told[0].text
    assert "感谢您的评价：态度差" in text
    assert "社会保障科负责人将在 11月30日（周一）15:30 前与您联系回访" in text
    [visit] = await return_visits(linli)
    assert visit.ref in text
    kept = await resident.send(f"4号窗口的王丽态度很差，我的电话{PHONE}")
    assert visit.ref in kept[0].text
    [visit] = await return_visits(linli)
    assert visit.assignee_staff_id == await staff_id(linli, "S041")
    assert visit.due_at == MONDAY_SAME_TIME  # one working day after a Friday afternoon
    assert visit.details["concerns_staff_id"] == await staff_id(linli, "S001")
    assert "王丽态度很差" in visit.summary and PHONE not in visit.summary
    [alert] = await alerts_to(linli, "S041")  # one alert, once the comment is in
    assert "【评价回访】" in alert and "态度差" in alert and "涉及人员：王丽" in alert
    assert "王丽态度很差" in alert and PHONE not in alert
    assert await alerts_to(linli, "S001") == []  # the clerk concerned is never alerted
    viewed = await supervisor.press(f"case:view:{visit.ref}")
    assert visit.ref in viewed[0].text and "王丽态度很差" in viewed[0].text
    for staff in (clerk, colleague):
        assert "没有找到" in (await staff.press(f"case:view:{visit.ref}"))[0].text
        assert "没有找到" in (await staff.send(visit.ref))[0].text
        assert visit.ref not in (await staff.send("我的案件"))[0].text
    tracked = await resident.send(visit.ref)  # the resident follows their own return visit
    assert "评价回访" in tracked[0].text


async def test_a_poor_rating_of_a_served_appointment_concerns_who_served(
    linli: Linli, chat: Chat
) -> None:
    await served_appointment(linli, chat)
    await chat.send("评价")
    await chat.send("1")
    told = await chat.send("业务差")
    assert "社会保障科负责人" in told[0].text
    done = await chat.send("跳过")  # typed
    assert "评价已记录" in done[0].text
    [visit] = await return_visits(linli)
    assert visit.details["concerns_staff_id"] == await staff_id(linli, "S001")
    assert visit.assignee_staff_id == await staff_id(linli, "S041")
    assert "王丽" in (await alerts_to(linli, "S041"))[0]
    ids = [await staff_id(linli, code) for code in ("S001", "S041", "S037")]
    async with linli.sessions() as session:
        wangli, boss, hall = [await session.get(Staff, number) for number in ids]
        assert wangli is not None and boss is not None and hall is not None
        assert not await can_view_case(session, visit, Viewer(staff=wangli))
        assert await can_view_case(session, visit, Viewer(staff=boss))
        assert await can_view_case(session, visit, Viewer(staff=hall))


async def test_a_comment_naming_someone_else_moves_the_return_visit(
    linli: Linli, clock: ManualClock
) -> None:
    resident = Chat(linli, user="unhappy-0002")
    await resident.press("rate:dept")
    levels = await resident.send("民政科")
    assert labels(levels[0]) == LEVELS
    told = await resident.send("时间长")
    assert "民政科负责人" in told[0].text
    [visit] = await return_visits(linli)
    assert visit.assignee_staff_id == await staff_id(linli, "S038")
    assert await alerts_to(linli, "S038") == []  # waiting for the comment ...
    clock.set(clock.now() + timedelta(minutes=11))
    await sweep_case_deadlines(
        JobContext(linli.engine, linli.sessions, linli.clock, linli.settings)
    )
    assert "时间长" in (await alerts_to(linli, "S038"))[0]  # ... not for ever
    moved = await resident.send("其实是社保窗口的王丽让我等了一个小时")
    assert "已转社会保障科负责人" in moved[0].text
    [visit] = await return_visits(linli)
    assert visit.assignee_staff_id == await staff_id(linli, "S041")
    assert "无需跟进" in (await alerts_to(linli, "S038"))[-1]
    assert "王丽" in (await alerts_to(linli, "S041"))[0]
    await resident.press("rate:dept")
    assert "已经评价过" in (await resident.send("民政科"))[0].text  # one rating a visit


async def test_a_complaint_about_a_supervisor_goes_over_their_head(
    linli: Linli, clock: ManualClock
) -> None:
    resident = Chat(linli, user="unhappy-0003")
    await resident.press("rate:dept")
    await resident.send("社会保障科")
    await resident.send("态度差")
    await resident.send("彭立新科长态度差")  # the social security supervisor himself
    [visit] = await return_visits(linli)
    assert visit.assignee_staff_id == await staff_id(linli, "S037")  # the hall's head
    assert visit.details["concerns_staff_id"] == await staff_id(linli, "S041")
    assert await alerts_to(linli, "S041") == []
    assert "彭立新科长态度差" in (await alerts_to(linli, "S037"))[0]
    boss = await bound(linli, "S041", "ss-supervisor-2")
    assert "没有找到" in (await boss.press(f"case:view:{visit.ref}"))[0].text
    await bound(linli, "S037", "hall-head")
    assert visit.due_at is not None
    clock.set(visit.due_at + timedelta(minutes=5))  # overdue: escalated to supervisors ...
    assert await sweep(linli) >= 1
    assert any("超期" in text for text in await alerts_to(linli, "S037"))
    assert await alerts_to(linli, "S041") == []  # not him, ever


async def test_a_resident_who_walks_away_still_gets_a_call_back(
    linli: Linli, chat: Chat, clock: ManualClock
) -> None:
    await served_appointment(linli, chat)
    await chat.send("评价")
    await chat.send("1")
    await chat.send("时间长")
    await chat.send("预约")  # another flow instead of a comment
    assert await alerts_to(linli, "S041") == []
    await sweep(linli)
    assert await alerts_to(linli, "S041") == []  # a grace to write the comment
    clock.set(clock.now() + timedelta(minutes=11))
    await sweep(linli)
    await sweep(linli)  # a second sweep repeats nothing
    [alert] = await alerts_to(linli, "S041")
    assert "时间长" in alert and "涉及人员：王丽" in alert and "（暂无）" in alert
    assert await alerts_to(linli, "S001") == []


async def test_on_wechat_a_bad_attitude_rating_reaches_the_supervisor_only(
    rig: WeChatRig, clock: ManualClock
) -> None:
    clock.set(FRIDAY_AFTERNOON)
    staff = await bound_on_wechat(rig, CODES)
    nothing = await rig.post(rig.server.text("评价"))
    assert "没有可评价" in nothing["Content"] and "1. 评价窗口服务" in nothing["Content"]
    departments = await rig.post(rig.server.text("1"))
    assert "社会保障科" in departments["Content"]
    levels = await rig.post(rig.server.text("社会保障科"))
    assert "5. 态度差" in levels["Content"]
    told = await rig.post(rig.server.text("5"))  # 态度差 by its number
    assert "社会保障科负责人将在 11月30日（周一）15:30 前与您联系回访" in told["Content"]
    kept = await rig.post(rig.server.text("窗口的王丽态度很不好"))
    assert "回访负责人" in kept["Content"]
    while await rig.linli.worker.deliver_due():
        pass
    to_boss = [m.text or "" for m in rig.platform.sent if m.touser == staff["S041"].openid]
    assert any("【评价回访】" in text and "态度差" in text for text in to_boss)
    assert any("王丽态度很不好" in text for text in to_boss)
    assert not [m for m in rig.platform.sent if m.touser == staff["S001"].openid]
    [visit] = await return_visits(rig.linli)
    assert "没有找到" in await post_as(rig, staff["S001"], visit.ref, 31_100)


async def test_on_wechat_a_good_rating_typed(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("评价"))
    await rig.post(rig.server.text("评价窗口服务"))
    await rig.post(rig.server.text("民政科"))
    thanks = await rig.post(rig.server.text("满意"))
    assert "感谢您的评价：满意" in thanks["Content"] and "1. 跳过" in thanks["Content"]
    assert "评价已记录" in (await rig.post(rig.server.text("跳过")))["Content"]
    again = await rig.post(rig.server.text("评价"))
    await rig.post(rig.server.text("1"))
    twice = await rig.post(rig.server.text("民政科"))
    assert "已经评价过" in twice["Content"] and again
    async with rig.linli.sessions() as session:
        [rating] = (await session.exec(select(Rating))).all()
    assert (rating.level, rating.subject_kind) == (RatingLevel.SATISFIED, "window")
    assert await return_visits(rig.linli) == []


async def test_migration_0010_adds_window_visits_from_0009(linli: Linli) -> None:
    await migrate(linli, alembic.command.downgrade, "0009")

    def tables(connection: sa.Connection) -> set[str]:
        return set(sa.inspect(connection).get_table_names())

    async with linli.engine.connect() as connection:
        assert "windowvisit" not in await connection.run_sync(tables)
    await migrate(linli, alembic.command.upgrade, "0010")
    async with linli.engine.connect() as connection:
        assert "windowvisit" in await connection.run_sync(tables)
    await migrate(linli, alembic.command.upgrade, "head")
    resident = Chat(linli, user="after-upgrade")
    await resident.press("rate:dept")
    await resident.send("民政科")
    async with linli.sessions() as session:
        assert len((await session.exec(select(WindowVisit))).all()) == 1


async def test_a_department_without_a_hall_window_cannot_be_rated_as_a_window_visit(
    linli: Linli, chat: Chat
) -> None:
    async with linli.sessions() as session, session.begin():
        department = (
            await session.exec(select(Department).where(Department.code == "judicial"))
        ).one()
        department.window = None  # a back office, not a hall window
        session.add(department)
    await chat.send("评价")
    refused = await chat.press(f"rate:dept:{department.id}")  # a crafted button
    assert "态度差" not in labels(refused[0])
    async with linli.sessions() as session:
        assert (await session.exec(select(WindowVisit))).all() == []


async def test_nothing_more_typed_at_the_comment_is_no_comment(linli: Linli, chat: Chat) -> None:
    """An outside walkthrough: "没什么了" was kept as the comment."""
    await served_appointment(linli, chat)
    await chat.send("评价")
    await chat.send("1")
    await chat.send("满意")
    done = await chat.send("没什么了")
    assert "评价已记录" in done[0].text
    async with linli.sessions() as session:
        [rating] = (await session.exec(select(Rating))).all()
    assert rating.level == RatingLevel.SATISFIED and not rating.comment
