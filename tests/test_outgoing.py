"""Outgoing messages: typed, stored as data, worded in the reader's language at delivery."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from bot.i18n import t
from bot.outbox import OutboxWorker
from bot.outgoing import Message, Name, Person, for_resident, payload_replies, pushes, queue
from bot.outgoing.message import Day, Moment, Say, Verbatim, message, option, say
from models.booking import BookingSlot, WaitlistEntry, WaitlistStatus
from models.messaging import ConversationState, OutboxMessage, OutboxStatus
from models.people import ChannelIdentity
from tests.conftest import Chat, payloads
from tests.fakes.recording_channel import RecordingChannel
from tests.scheduler_data import resident_with_accounts

SATURDAY = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)  # 09:30 in Chengdu


def test_a_message_survives_the_outbox_as_data_and_reads_in_each_language() -> None:
    news = message(
        say(
            "cases.notice_transferred",
            ref="LC-20261128-0042",
            category="低保",
            department=Name("民政科", "Civil Affairs"),
        ),
        Verbatim("原文照登 <b>"),
        say(
            "reminders.hour_before",
            service=Name("社保卡补办"),
            time="09:30",
            date=Day(date(2026, 11, 28)),
            ref="R-1",
        ),
        options=(option("booking.accept", "book:accept:7"),),
    )
    stored = json.loads(json.dumps(news.to_payload()))  # what the JSON column keeps
    again = Message.from_payload(stored)
    assert again == news
    zh, en = again.render("zh-CN"), again.render("en")
    assert "民政科" in zh.text and "Civil Affairs" in en.text and "民政科" not in en.text
    assert "原文照登 <b>" in zh.text and "原文照登 <b>" in en.text
    assert "社保卡补办" in en.text  # no English name: the Chinese one, not a blank
    assert [b.label for b in zh.buttons] == [t("zh-CN", "booking.accept")]
    assert [b.label for b in en.buttons] == [t("en", "booking.accept")]
    assert zh.buttons[0].payload == en.buttons[0].payload == "book:accept:7"


def test_nested_texts_and_moments_are_worded_by_the_reader() -> None:
    stage = message(say("needs.stage_notice", title="加装电梯", stage=say("needs.stage_approved")))
    assert t("zh-CN", "needs.stage_approved") in stage.render("zh-CN").text
    assert t("en", "needs.stage_approved") in stage.render("en").text
    offer = pushes.waitlist_offer(
        service=Name("社保卡补办", "Social security card"),
        starts_at=SATURDAY,
        entry_id=3,
        minutes=30,
    )
    assert "09:30" in offer.render("zh-CN").text and "11月28日" in offer.render("zh-CN").text
    assert "28 Nov" in offer.render("en").text and "Social security card" in offer.render("en").text
    assert "社保卡补办" in offer.render("zh-CN").text
    assert Moment(SATURDAY).render("en").endswith("09:30")
    assert Say("no.such.key").render("en") == "no.such.key"  # logged, never a crash


def test_payloads_written_before_typed_messages_still_deliver() -> None:
    old = {"localized": {"zh-CN": [{"text": "旧", "buttons": []}], "en": [{"text": "old"}]}}
    assert payload_replies(old, "en")[0]["text"] == "old"
    assert payload_replies(old, "fr")[0]["text"] == "旧"
    assert payload_replies({"replies": [{"text": "对话"}]}, "en")[0]["text"] == "对话"


async def test_queue_once_per_person_and_occasion(linli: Linli) -> None:
    first = await resident_with_accounts(linli, ("fake", "a", timedelta(0)))
    second = await resident_with_accounts(linli, ("fake", "b", timedelta(0)))
    news = pushes.need_merged(old="路灯", title="路灯维修", count=3)
    people = [for_resident(first), for_resident(second)]
    async with linli.engine.begin() as connection:
        now = linli.clock.now()
        assert await queue(connection, news, people, kind="need", now=now, once="x:1:{person}") == 2
        assert await queue(connection, news, people, kind="need", now=now, once="x:1:{person}") == 0
        assert await queue(connection, news, people[:1], kind="need", now=now) == 1
        with pytest.raises(ValueError, match="person"):  # one key for several: a mistake
            await queue(connection, news, people, kind="need", now=now, once="x:2")


async def test_the_worker_words_each_copy_in_its_account_language(
    linli: Linli, clock: ManualClock
) -> None:
    channel = RecordingChannel(clock)
    english = await resident_with_accounts(linli, ("fake", "en-1", timedelta(0)), lang="en")
    chinese = await resident_with_accounts(linli, ("fake", "zh-1", timedelta(0)))
    news = pushes.case_news(
        "cases.notice_accepted",
        ref="LC-1",
        category="低保",
        department=Name("民政科", "Civil Affairs"),
    )
    async with linli.engine.begin() as connection:
        people = [for_resident(english), for_resident(chinese)]
        await queue(connection, news, people, kind="case", now=linli.clock.now())
    worker = OutboxWorker(linli.sessions, {"fake": channel.for_worker("w")}, clock)
    await worker.deliver_due()
    said = {a.to: a.text for a in channel.accepted}
    assert said["en-1"] == news.render("en").text and "Civil Affairs" in said["en-1"]
    assert said["zh-1"] == news.render("zh-CN").text and "民政科" in said["zh-1"]


async def _full_slot_with_waiters(linli: Linli, clock: ManualClock) -> tuple[int, list[Chat], str]:
    """A full Saturday slot, two residents waiting for it, and the holder's reference."""
    holder = Chat(linli, user="holder-0001")
    days = await holder.press("book:svc:ss-card-reissue")
    slots = await holder.press(payloads(days[0])[1])
    slot_id = int(payloads(slots[0])[0].rsplit(":", 1)[1])
    async with linli.sessions() as session:
        slot = await session.get(BookingSlot, slot_id)
        assert slot is not None
        capacity = slot.capacity
    for n in range(capacity - 1):
        await Chat(linli, user=f"filler-{n:04d}").press(f"book:ok:{slot_id}")
    booked = await holder.press(f"book:ok:{slot_id}")
    ref = next(w for w in booked[0].text.split() if w.startswith("LCY-"))
    waiters = [Chat(linli, user=f"waiter-{n:04d}") for n in range(2)]
    for waiter in waiters:
        await waiter.press(f"book:wait:{slot_id}")
        clock.advance(timedelta(seconds=1))
    return slot_id, waiters, ref.strip("，。,.")


async def test_an_offer_nobody_can_be_told_of_moves_on_at_once(
    linli: Linli, clock: ManualClock
) -> None:
    slot_id, waiters, ref = await _full_slot_with_waiters(linli, clock)
    async with linli.sessions() as session, session.begin():  # the first waiter left every chat
        await session.exec(
            sa.update(ChannelIdentity)
            .where(col(ChannelIdentity.external_id) == waiters[0].user)
            .values(active=False)
        )
    holder = Chat(linli, user="holder-0001")
    asked = await holder.press(f"book:cancel:{ref}")
    await holder.press(payloads(asked[0])[0])
    channel = RecordingChannel(clock, name="web")
    worker = OutboxWorker(linli.sessions, {"web": channel.for_worker("w")}, clock)
    await worker.deliver_due()  # the first offer dies: nobody to tell
    await worker.deliver_due()  # the place went on to the next in line, no job needed
    async with linli.sessions() as session:
        entries = (await session.exec(select(WaitlistEntry).order_by(col(WaitlistEntry.id)))).all()
        offers = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "offer"))
        ).all()
    assert [e.status for e in entries] == [WaitlistStatus.EXPIRED, WaitlistStatus.OFFERED]
    assert sorted(o.status for o in offers) == [OutboxStatus.DEAD, OutboxStatus.SENT]
    assert [a.to for a in channel.accepted] == [waiters[1].user]
    # The offer's button is now the account's option 1: typing "1" takes the place.
    taken = await waiters[1].send("1")
    assert "预约成功" in taken[0].text, taken[0].text
    async with linli.sessions() as session:
        slot = await session.get(BookingSlot, slot_id)
        assert slot is not None and slot.booked == slot.capacity


async def test_a_push_with_options_becomes_what_a_typed_number_answers(
    linli: Linli, clock: ManualClock
) -> None:
    resident = await resident_with_accounts(linli, ("fake", "typist", timedelta(0)))
    news = message(
        say("booking.offer", when="明天", minutes=30), options=(option("booking.accept", "menu"),)
    )
    async with linli.engine.begin() as connection:
        await queue(connection, news, [for_resident(resident)], kind="offer", now=clock.now())
    worker = OutboxWorker(linli.sessions, {"fake": RecordingChannel(clock).for_worker("w")}, clock)
    await worker.deliver_due()
    async with linli.sessions() as session:
        account = (
            await session.exec(
                select(ChannelIdentity).where(ChannelIdentity.external_id == "typist")
            )
        ).one()
        state = await session.get(ConversationState, account.id)
    assert state is not None and state.data["options"] == ["menu"]


async def _deliver_offer_to(linli: Linli, clock: ManualClock, account_id: int) -> None:
    offer = message(
        say("booking.offer", when="明天", minutes=30), options=(option("booking.accept", "menu"),)
    )
    async with linli.engine.begin() as connection:
        to = Person(account_id=account_id, channel="web")
        await queue(connection, offer, [to], kind="offer", now=clock.now())
    channel = RecordingChannel(clock, name="web")
    await OutboxWorker(linli.sessions, {"web": channel.for_worker("w")}, clock).deliver_due()
    assert len(channel.accepted) == 1


async def _account(linli: Linli, user: str) -> ChannelIdentity:
    async with linli.sessions() as session:
        stmt = select(ChannelIdentity).where(ChannelIdentity.external_id == user)
        return (await session.exec(stmt)).one()


async def test_a_push_never_takes_the_numbers_a_step_asks_for_itself(
    linli: Linli, clock: ManualClock
) -> None:
    chat = Chat(linli, user="mid-flow-0001")
    await chat.send("菜单")
    account = await _account(linli, chat.user)
    async with linli.sessions() as session, session.begin():
        state = await session.get(ConversationState, account.id)
        assert state is not None
        # A step that lists items in its text and asks for their numbers shows no buttons.
        state.name, state.data = "needs.split", {"item": 1}
        session.add(state)
    await _deliver_offer_to(linli, clock, account.id or 0)
    async with linli.sessions() as session:
        after = await session.get(ConversationState, account.id)
    assert after is not None and after.name == "needs.split"
    assert after.data == {"item": 1}  # a typed "1" still answers the step


async def test_a_push_replaces_the_options_shown_before_it(
    linli: Linli, clock: ManualClock
) -> None:
    booking = Chat(linli, user="mid-flow-0002")
    await booking.press("book:svc:ss-card-reissue")  # a flow showing day buttons
    account = await _account(linli, booking.user)
    await _deliver_offer_to(linli, clock, account.id or 0)
    async with linli.sessions() as session:
        state = await session.get(ConversationState, account.id)
    assert state is not None and state.data["options"] == ["menu"]  # the newest on the screen
    menu = await booking.send("1")
    assert menu[0].text.startswith(t("zh-CN", "menu.greeting")[:4]), menu[0].text
