"""Notices: composing in chat, scope enforcement, opt-out, scheduled and withdrawn notices,
replies ahead of broadcasts, and exactly-once delivery across a worker that dies mid-send."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from bot.messages import Reply
from bot.outbox import OutboxWorker, WorkerPolicy
from models.messaging import OutboxMessage, OutboxStatus, queue_message
from models.notice_audience import Audience, allowed
from models.notice_ops import cancel_notice, notice_report, release_notice
from models.notices import DeliveryStatus, Notice, NoticeDelivery, NoticeStatus
from models.org import Community, Grid, Staff, StaffRole
from models.people import ChannelIdentity, Resident
from models.policy import Scope, scope_of
from scheduler.context import JobContext
from scheduler.notices import release_due_notices, release_step, run_notices
from tests.conftest import Chat, payloads
from tests.fakes.recording_channel import RecordingChannel
from tests.test_binding import staff_code


async def grid_of(linli: Linli, code: str) -> Grid:
    async with linli.sessions() as session:
        staff = (await session.exec(select(Staff).where(Staff.code == code))).one()
        grid = await session.get(Grid, staff.grid_id)
    assert grid is not None
    return grid


async def resident(
    linli: Linli,
    grid: Grid,
    *accounts: str,
    elderly: bool = False,
    opted_out: bool = False,
    channel: str = "web",
    seen: timedelta = timedelta(0),
) -> int:
    """A resident of a grid with chat accounts of the given ids (last seen `seen` ago)."""
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        person = Resident(
            grid_id=grid.id,
            community_id=grid.community_id,
            elderly=elderly,
            notices_opt_out=opted_out,
            created_at=now,
        )
        session.add(person)
        await session.flush()
        for external_id in accounts:
            session.add(
                ChannelIdentity(
                    channel=channel,
                    external_id=external_id,
                    resident_id=person.id,
                    created_at=now,
                    last_seen_at=now - seen,
                )
            )
    return person.id or 0


async def street_of_two_grids(linli: Linli) -> tuple[Grid, Grid]:
    """Grid A (S027's): five residents, one opted out, one elderly, one without any account;
    grid B (S028's): one resident."""
    a, b = await grid_of(linli, "S027"), await grid_of(linli, "S028")
    await resident(linli, a, "a1")
    await resident(linli, a, "a2x", "a2y")
    await resident(linli, a, "a3", elderly=True)
    await resident(linli, a, "a4", opted_out=True)
    await resident(linli, a)
    await resident(linli, b, "b1")
    return a, b


async def sending_notice(
    linli: Linli, grid: Grid, text: str, urgent: bool = False
) -> tuple[Notice, int]:
    """A notice from the grid's leader, released now; with the number of rows created."""
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        leader = (await session.exec(select(Staff).where(Staff.grid_id == grid.id))).first()
        assert leader is not None
        notice = Notice(
            author_staff_id=leader.id or 0,
            text=text,
            urgent=urgent,
            audience=Audience(grids=(grid.id or 0,)).as_data(),
            status=NoticeStatus.SENDING,
            created_at=now,
        )
        session.add(notice)
        await session.flush()
        created = await release_notice(await session.connection(), notice, now)
    return notice, created


def worker(
    linli: Linli, channel: RecordingChannel, name: str = "w1", bulk: int = 25
) -> OutboxWorker:
    policy = WorkerPolicy(bulk_batch=bulk)
    return OutboxWorker(linli.sessions, {"web": channel}, linli.clock, policy=policy, name=name)


async def deliver_all(work: OutboxWorker) -> None:
    while await work.deliver_due():
        pass


async def leader_at_the_filters(linli: Linli) -> Chat:
    """S027, grid leader of a street of two grids, composing 义诊 up to the audience's filters."""
    await street_of_two_grids(linli)
    leader = Chat(linli, user="leader-27")
    await leader.send(f"绑定 {await staff_code(linli, 'S027')}")
    await leader.send("发通知")
    await leader.send("周六上午社区义诊，欢迎参加。")
    await leader.press("notice:link")
    await leader.press("notice:area:grid")
    return leader


async def compose(chat: Chat, text: str, area: str, *, urgent: bool = False) -> list[Reply]:
    """Walk the compose flow up to the preview (sending now)."""
    await chat.send("发通知")
    await chat.send(text)
    await chat.press("notice:link")
    await chat.press(area)
    await chat.press("notice:filter:all")
    await chat.press("notice:urgent:yes" if urgent else "notice:urgent:no")
    return await chat.press("notice:when")


async def test_a_grid_leader_reaches_exactly_their_grid(linli: Linli, clock: ManualClock) -> None:
    await street_of_two_grids(linli)
    leader = Chat(linli, user="leader-27")
    await leader.send(f"绑定 {await staff_code(linli, 'S027')}")
    await leader.send("发通知")
    await leader.send("明天上午9点到12点停水，请提前储水。")
    areas = await leader.press("notice:link")
    assert payloads(areas[0]) == ["notice:area:grid"]
    assert "失效" in (await leader.press("notice:area:street"))[0].text  # crafted: refused
    preview = await compose(leader, "明天上午9点到12点停水，请提前储水。", "notice:area:grid")
    text = preview[0].text
    assert "【社区通知】" in text and "退订" in text
    assert "范围内居民 5 人，其中退订 1 人；将发送 4 条" in text and "无法联系 1 人" in text
    sent = await leader.press("notice:send")
    assert "共 4 条" in sent[0].text
    channel = RecordingChannel(clock, name="web")
    await deliver_all(worker(linli, channel))
    assert sorted(a.to for a in channel.accepted) == ["a1", "a2x", "a2y", "a3"]
    assert "停水" in channel.accepted[0].text

    ctx = JobContext(linli.engine, linli.sessions, linli.clock, linli.settings)
    assert await run_notices(ctx) == 1  # the author's summary, once
    assert await run_notices(ctx) == 0
    await deliver_all(worker(linli, channel))
    summary = channel.accepted[-1]
    assert summary.to == "leader-27" and "成功 4" in summary.text and "无法联系 1" in summary.text
    async with linli.sessions() as session:
        [notice] = (await session.exec(select(Notice))).all()
        [nobody] = (await session.exec(select(NoticeDelivery))).all()
    assert notice.status == NoticeStatus.DONE and notice.audience_size == 5
    assert nobody.status == DeliveryStatus.UNREACHABLE


async def test_scopes_never_reach_beyond_their_area(linli: Linli) -> None:
    a, b = await grid_of(linli, "S027"), await grid_of(linli, "S028")
    async with linli.sessions() as session:
        leader = (await session.exec(select(Staff).where(Staff.code == "S027"))).one()
        clerk = (await session.exec(select(Staff).where(Staff.code == "S001"))).one()
        other = (
            await session.exec(select(Community).where(Community.id != a.community_id))
        ).first()
        assert other is not None
        grid_leader = scope_of(leader)
        assert await allowed(session, grid_leader, Audience(grids=(a.id or 0,)))
        for beyond in (
            Audience(grids=(a.id or 0, b.id or 0)),
            Audience(grids=(b.id or 0,)),
            Audience(communities=(a.community_id,)),
            Audience(street=True),
            Audience(),
        ):
            assert not await allowed(session, grid_leader, beyond), beyond
        community = Scope(community_id=a.community_id)
        assert await allowed(session, community, Audience(grids=(a.id or 0,)))
        assert await allowed(session, community, Audience(communities=(a.community_id,)))
        assert not await allowed(session, community, Audience(communities=(other.id or 0,)))
        assert not await allowed(session, community, Audience(grids=(b.id or 0, 999_999)))
        street = scope_of(Staff(code="x", name="x", role=StaffRole.SUPERVISOR))
        assert await allowed(session, street, Audience(street=True))
        assert not scope_of(clerk).any
    clerk_chat = Chat(linli, user="clerk")
    await clerk_chat.send(f"绑定 {await staff_code(linli, 'S001')}")
    assert "只有网格员" in (await clerk_chat.send("发通知"))[0].text
    resident_chat = Chat(linli, user="nosy")
    assert "没有听懂" in (await resident_chat.send("发通知"))[0].text


async def test_opted_out_residents_get_only_urgent_notices(
    linli: Linli, clock: ManualClock
) -> None:
    a, _ = await street_of_two_grids(linli)
    neighbour = Chat(linli, user="a1")
    assert "已退订" in (await neighbour.send("退订通知"))[0].text
    await sending_notice(linli, a, "周末义诊")
    await sending_notice(linli, a, "台风预警", urgent=True)
    channel = RecordingChannel(clock, name="web")
    await deliver_all(worker(linli, channel))
    got = sorted((a.to, "台风" in a.text) for a in channel.accepted)
    assert ("a1", False) not in got and ("a4", False) not in got  # opted out: ordinary skipped
    assert ("a1", True) in got and ("a4", True) in got  # urgent reaches everyone
    recent = await neighbour.send("通知")
    assert "台风预警" in recent[0].text and "周末义诊" not in recent[0].text
    assert "已重新订阅" in (await neighbour.press("notices:on"))[0].text
    async with linli.sessions() as session:
        me = (
            await session.exec(
                select(Resident)
                .join(ChannelIdentity, col(ChannelIdentity.resident_id) == col(Resident.id))
                .where(ChannelIdentity.external_id == "a1")
            )
        ).one()
    assert me.notices_opt_out is False


async def test_a_scheduled_notice_waits_and_a_withdrawn_one_stops(
    linli: Linli, clock: ManualClock
) -> None:
    leader = await leader_at_the_filters(linli)
    await leader.press("notice:filter:all")
    await leader.press("notice:urgent:no")
    assert "没有看懂" in (await leader.send("下周"))[0].text
    preview = await leader.send("明天8点")
    assert "-28 08:00" in preview[0].text
    assert "已安排" in (await leader.press("notice:send"))[0].text
    ctx = JobContext(linli.engine, linli.sessions, linli.clock, linli.settings)
    await run_notices(ctx)
    channel = RecordingChannel(clock, name="web")
    await deliver_all(worker(linli, channel))
    assert channel.accepted == []  # not yet
    clock.advance(timedelta(hours=22, minutes=1))  # Saturday 08:01
    await run_notices(ctx)
    work = worker(linli, channel, bulk=1)
    await work.deliver_due()
    assert len(channel.accepted) == 1
    mine = await leader.send("我的通知")
    [show] = [p for p in payloads(mine[0]) if p.startswith("notice:show:")]
    card = await leader.press(show)
    assert "发送中" in card[0].text and "待发 3" in card[0].text
    withdrawn = await leader.press(payloads(card[0])[0])
    assert "3 条尚未发出的不再发送" in withdrawn[0].text
    await deliver_all(work)
    assert len(channel.accepted) == 1
    async with linli.sessions() as session:
        [notice] = (await session.exec(select(Notice))).all()
        report = await notice_report(session, notice)
    assert (report.sent, report.cancelled, report.pending) == (1, 3, 0)
    other = Chat(linli, user="leader-28")
    await other.send(f"绑定 {await staff_code(linli, 'S028')}")
    assert "没有找到" in (await other.press(f"notice:cancel:{notice.id}"))[0].text


async def test_replies_go_ahead_of_a_broadcast(linli: Linli, clock: ManualClock) -> None:
    a, _ = await street_of_two_grids(linli)
    for n in range(60):
        await resident(linli, a, f"bulk-{n}")
    await sending_notice(linli, a, "停电通知")
    clock.advance(timedelta(seconds=5))
    reply_to = await resident(linli, a, "asking")
    async with linli.engine.begin() as connection:
        await queue_message(
            connection,
            kind="reply",
            payload={"replies": [Reply("您的预约已确认").to_dict()]},
            now=clock.now(),
            resident_id=reply_to,
        )
    channel = RecordingChannel(clock, name="web")
    work = worker(linli, channel, bulk=10)
    assert await work.deliver_due() == 11  # the reply, plus one second's worth of the notice
    assert any(a.text == "您的预约已确认" for a in channel.accepted)


async def test_a_worker_dying_mid_send_loses_and_repeats_nothing(
    linli: Linli, clock: ManualClock
) -> None:
    a, _ = await street_of_two_grids(linli)
    for n in range(20):
        await resident(linli, a, f"bulk-{n}")
    notice, created = await sending_notice(linli, a, "疫苗接种日")
    channel = RecordingChannel(clock, name="web")
    first = worker(linli, channel, "w1", bulk=5)
    await first.deliver_due()
    await first._claim()  # claims five more, then "dies" before sending or recording them
    clock.advance(timedelta(minutes=6))  # past the claim timeout
    await deliver_all(worker(linli, channel, "w2", bulk=5))
    receivers = [a.to for a in channel.accepted]
    assert len(receivers) == created == 24 and len(set(receivers)) == created
    async with linli.sessions() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.notice_id == notice.id)
        sent = (await session.exec(stmt)).all()
    assert {row.status for row in sent} == {OutboxStatus.SENT}
    assert all(
        row.payload["notice"] == notice.id and "localized" not in row.payload for row in sent
    )


async def test_a_big_notice_is_released_in_steps_and_a_withdrawal_stops_them(
    linli: Linli, clock: ManualClock
) -> None:
    await street_of_two_grids(linli)
    ctx = JobContext(linli.engine, linli.sessions, linli.clock, linli.settings)

    async def street_notice(text: str) -> int:
        async with linli.sessions() as session, session.begin():
            boss = (await session.exec(select(Staff).where(Staff.role == "supervisor"))).first()
            assert boss is not None
            notice = Notice(
                author_staff_id=boss.id or 0,
                text=text,
                audience=Audience(street=True).as_data(),
                status=NoticeStatus.SCHEDULED,
                send_at=clock.now(),
                created_at=clock.now(),
            )
            session.add(notice)
        return notice.id or 0

    whole = await street_notice("全街道消防演练")
    assert await release_due_notices(ctx, chunk=2) == 5  # a1, a2x, a2y, a3, b1 (a4 opted out)
    assert await release_due_notices(ctx, chunk=2) == 0  # nothing twice
    async with linli.sessions() as session:
        notice = await session.get(Notice, whole)
        assert notice is not None and notice.fanned_out and notice.status == NoticeStatus.SENDING
        assert (notice.accounts, notice.unreachable, notice.audience_size) == (5, 1, 6)
        assert notice.fanout_cursor > 0
    stopped = await street_notice("将被撤回的通知")
    assert await release_step(ctx, stopped, chunk=2) == 3  # the first two residents' accounts
    async with linli.sessions() as session, session.begin():
        notice = await session.get(Notice, stopped)
        assert notice is not None
        assert await cancel_notice(session, notice, clock.now()) == 3
    assert await release_step(ctx, stopped, chunk=2) is None
    async with linli.sessions() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.notice_id == stopped)
        rows = (await session.exec(stmt)).all()
    assert len(rows) == 3 and {row.status for row in rows} == {OutboxStatus.CANCELLED}


async def test_typing_at_the_compose_steps_keeps_the_draft(linli: Linli) -> None:
    """A grid leader types instead of pressing: a label's beginning chooses it, an unknown word
    shows the step's options again, and 确认 / 好的 at the preview send the notice. Typing a
    time at the preview twice used to fail (the preview's own numbers were passed twice)."""
    leader = await leader_at_the_filters(linli)
    again = await leader.send("随便吧")
    assert "notice:filter:all" in payloads(again[0])  # the options, shown again
    urgency = await leader.send("全部")  # the start of 全部居民
    assert payloads(urgency[0])[:2] == ["notice:urgent:no", "notice:urgent:yes"]
    when = await leader.send("一般")  # the start of 一般通知
    assert payloads(when[0]) == ["notice:when"]
    for typed in ("明天上午10点", "明天上午11点"):  # a time, then another: a new preview each
        preview = await leader.send(typed)
        assert "11:00" in preview[0].text or typed.endswith("10点")
        assert "notice:send" in payloads(preview[0])
    held = await leader.send("好的")  # a mass send wants 确认, not a reflexive 好的
    assert "已安排" not in held[0].text
    sent = await leader.send("确认")
    assert "已安排在 11-28 11:00 发送" in sent[0].text  # the time said last
    async with linli.sessions() as session:
        [notice] = (await session.exec(select(Notice))).all()
    assert "义诊" in notice.text


async def test_confirm_typed_at_the_preview_sends(linli: Linli) -> None:
    await street_of_two_grids(linli)
    leader = Chat(linli, user="leader-27")
    await leader.send(f"绑定 {await staff_code(linli, 'S027')}")
    preview = await compose(leader, "今晚8点停电检修。", "notice:area:grid")
    assert "notice:send" in payloads(preview[0])
    sent = await leader.send("确认")
    assert "共" in sent[0].text
    async with linli.sessions() as session:
        assert len((await session.exec(select(Notice))).all()) == 1


async def test_no_link_and_send_now_in_words(linli: Linli) -> None:
    """An outside walkthrough: "不用" at the link step and "马上发" at the time were asked
    again."""
    await street_of_two_grids(linli)
    leader = Chat(linli, user="leader-27")
    await leader.send(f"绑定 {await staff_code(linli, 'S027')}")
    await leader.send("发通知")
    await leader.send("周日下午小区停水两小时。")
    area = await leader.send("不用")
    assert "notice:area:grid" in payloads(area[0])
    await leader.press("notice:area:grid")
    await leader.press("notice:filter:all")
    await leader.press("notice:urgent:no")
    await leader.send("明天上午10点")
    preview = await leader.send("马上发")  # at once after all: the time said before is gone
    assert "notice:send" in payloads(preview[0])
    sent = await leader.send("确认")
    assert "共" in sent[0].text and "已安排" not in sent[0].text
    async with linli.sessions() as session:
        [notice] = (await session.exec(select(Notice))).all()
    assert notice.link_url is None
