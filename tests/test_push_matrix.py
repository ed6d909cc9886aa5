"""The push scenario matrix (issue 17): every kind of push on every channel, in both languages.

A resident talks to the bot over WeChat (signed callbacks, wechatpy), Telegram (webhook updates,
python-telegram-bot; the scene-setting steps straight into the pipeline, see Resident.say) or
the web chat (POST /api/chat, pushes read from GET /api/chat/events); staff work on WeChat,
choosing options by number; scheduler jobs run with a JobContext. Then the outbox worker runs
until nothing is due, and what the platform received for that resident is checked: one message
for the push, in the account's language, worded as the catalogue words it, each option shown
once (numbered lines on WeChat, inline buttons and not also in the text on Telegram, buttons on
the web inbox), and nothing more on a later pass. Where a push offers options, typing "1"
answers its first option.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.i18n import format_day, t
from bot.messages import Inbound
from bot.render import paginate
from bot.web.app import create_web_app
from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus, BookingSlot, RosterShift, WaitlistEntry
from models.case_ops import CaseCatalogue
from models.cases import Case, CaseEvent, CaseKind, CaseStatus, Rating, RatingLevel
from models.messaging import ConversationState
from models.needs import Need, NeedItem
from models.org import Community as CommunityRow
from models.org import Department, Grid, Staff, list_grids
from models.people import ChannelIdentity
from models.people import Resident as ResidentRow
from models.services import Service
from scheduler.appointments import send_due_reminders
from scheduler.context import JobContext
from tests.conftest import DATA, Chat, payloads
from tests.fakes.telegram_api import FakeTelegramAPI, SentText, text_update
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.fakes.wechat_sender import WeChatAccount, WeChatServer
from tests.telegram_fixtures import SECRET, telegram_platform
from tests.test_binding import staff_code
from tests.test_web_inbox import next_event
from tests.wechat_fixtures import AES_KEY, TOKEN, platform, wechat_settings

__all__ = ["platform", "telegram_platform"]

Client = TestClient[web.Request, web.Application]

OPENID = "oPush-Resident-0001"
RESIDENT_CHAT = 930_001
WEB_USER = "web-push-resident-0001"
SERVICE_TEXT_LIMIT = 600  # one WeChat customer-service text
SSE_QUIET = 0.15  # seconds without an event after which the inbox's backlog is read

CHANNELS = ("wechat", "telegram", "web")
LANGS = ("zh-CN", "en")
MATRIX = [pytest.param(ch, lang, id=f"{ch}-{lang}") for ch in CHANNELS for lang in LANGS]
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
SATURDAY = date(2026, 11, 28)


@dataclass(frozen=True)
class Received:
    """One message as the resident's platform got it."""

    text: str
    labels: tuple[str, ...] = ()
    via: str = ""


@dataclass(frozen=True)
class Expected:
    """A push as the catalogue words it: its text and its options' labels."""

    text: str
    labels: tuple[str, ...] = ()
    data: tuple[str, ...] = ()  # words people wrote (names, titles): shown as written


@dataclass
class Rig:
    """One Linli serving WeChat, Telegram and the web chat, over loopback, with both fakes."""

    linli: Linli
    client: Client
    wechat: FakeWeChatAPI
    telegram: FakeTelegramAPI
    server: WeChatServer
    clock: ManualClock

    async def deliver(self) -> int:
        """Run the outbox worker until nothing is due; how many rows it handled."""
        handled = 0
        while claimed := await self.linli.worker.deliver_due():
            handled += claimed
        return handled

    async def telegram_update(self, update: dict[str, Any]) -> None:
        """An update as Telegram posts it to the webhook."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        response = await self.client.post("/telegram", json=update, headers=headers)
        assert response.status == 200, await response.text()

    def context(self) -> JobContext:
        """What a scheduler job runs with."""
        return JobContext(self.linli.engine, self.linli.sessions, self.clock, self.linli.settings)


_staff_msg_ids = itertools.count(25_000_000_000_000_001)  # apart from the resident's


@dataclass
class StaffMember:
    """A staff member working on WeChat, choosing options by their numbers as WeChat users do."""

    rig: Rig
    code: str
    server: WeChatServer

    async def say(self, text: str) -> str:
        """Type in the staff member's chat, then let the worker deliver what it queued."""
        xml = self.server.text(text, msg_id=next(_staff_msg_ids))
        query, body = self.server.request(xml)
        response = await self.rig.client.post("/wechat", params=query, data=body)
        assert response.status == 200, await response.text()
        reply = self.server.read_reply(await response.read())
        await self.rig.deliver()
        return reply.get("Content", "")

    async def press(self, payload: str) -> str:
        """Choose the option with this meaning among those last shown: type its number."""
        async with self.rig.linli.sessions() as session:
            stmt = select(ChannelIdentity).where(
                ChannelIdentity.channel == "wechat",
                ChannelIdentity.external_id == self.server.openid,
            )
            account = (await session.exec(stmt)).one()
            state = await session.get(ConversationState, account.id)
        options = list(state.data.get("options", [])) if state is not None else []
        assert payload in options, (payload, options)
        return await self.say(str(options.index(payload) + 1))

    async def staff(self) -> Staff:
        """The staff row."""
        async with self.rig.linli.sessions() as session:
            return (await session.exec(select(Staff).where(Staff.code == self.code))).one()


@dataclass
class Resident:
    """A resident on one channel, and everything that channel received for them."""

    rig: Rig
    channel: str
    lang: str
    seen: int = 0  # messages received before the push under test

    @property
    def external_id(self) -> str:
        """The account's id on its channel."""
        return {"wechat": OPENID, "telegram": str(RESIDENT_CHAT), "web": WEB_USER}[self.channel]

    async def say(self, text: str, *, webhook: bool = False) -> list[str]:
        """Type a message; the bot's answers (the worker runs, as it does beside the server).

        On Telegram the steps that only set a scene go into the pipeline as the webhook hands
        them over: Telegram lets a chat receive about one message a second, and every answer
        there is a message. The first message and the answer to a push take the whole way.
        """
        answers: list[str] = []
        if self.channel == "wechat":
            query, body = self.rig.server.request(self.rig.server.text(text))
            response = await self.rig.client.post("/wechat", params=query, data=body)
            assert response.status == 200, await response.text()
            reply = self.rig.server.read_reply(await response.read())
            answers = [reply["Content"]] if reply.get("Content") else []
        elif self.channel == "telegram" and webhook:
            before = len(await self.received())
            await self.rig.telegram_update(text_update(RESIDENT_CHAT, text))
            await self.rig.deliver()
            return [m.text for m in (await self.received())[before:]]
        elif self.channel == "telegram":
            inbound = Inbound("telegram", str(RESIDENT_CHAT), text=text)
            answers = [reply.text for reply in await self.rig.linli.pipeline.handle(inbound)]
        else:
            response = await self.rig.client.post(
                "/api/chat", json={"user": WEB_USER, "text": text}
            )
            assert response.status == 200, await response.text()
            answers = [str(r["text"]) for r in (await response.json())["replies"]]
        await self.rig.deliver()
        return answers

    async def start(self) -> None:
        """The first message makes the account (in Chinese: every account starts there)."""
        answers = await self.say("你好", webhook=True)
        assert answers, "no answer to the first message"

    async def read_in_english(self) -> None:
        """An English reader says so with the explicit command, as a resident would."""
        if self.lang == "en":
            answers = await self.say("English")
            assert answers and answers[0].startswith(t("en", "account.language_set")), answers
        assert await self.account_lang() == self.lang

    async def account_lang(self) -> str:
        """The language saved with the account."""
        return (await self.identity()).lang

    async def identity(self) -> ChannelIdentity:
        """The resident's chat account."""
        async with self.rig.linli.sessions() as session:
            stmt = select(ChannelIdentity).where(
                ChannelIdentity.channel == self.channel,
                ChannelIdentity.external_id == self.external_id,
            )
            return (await session.exec(stmt)).one()

    async def resident_id(self) -> int:
        """The resident behind the account."""
        resident_id = (await self.identity()).resident_id
        assert resident_id is not None
        return resident_id

    async def received(self) -> list[Received]:
        """Every message the platform got for this account so far (web: the unshown inbox)."""
        if self.channel == "wechat":
            return [
                Received(m.text or "", (), m.api)
                for m in self.rig.wechat.sent
                if m.touser == OPENID
            ]
        if self.channel == "telegram":
            return [
                Received(m.text, labels(m), "sendMessage")
                for m in self.rig.telegram.sent_messages
                if m.chat_id == RESIDENT_CHAT
            ]
        return [item for _, item in await self.inbox()]

    async def inbox(self) -> list[tuple[int, Received]]:
        """The account's unshown deliveries, read as the page reads them: GET /api/chat/events."""
        response = await self.rig.client.get("/api/chat/events", params={"user": WEB_USER})
        try:
            if response.status == 204:
                return []
            assert response.status == 200, await response.text()
            items: list[tuple[int, Received]] = []
            while (event := await next_event(response, SSE_QUIET)) is not None:
                for reply in event["data"]["replies"]:
                    names = tuple(str(b["label"]) for b in reply.get("buttons", []))
                    items.append((int(event["id"]), Received(str(reply["text"]), names, "inbox")))
            return items
        finally:
            response.close()

    async def mark(self) -> None:
        """Everything received so far is not the push under test (the web page marks it shown)."""
        if self.channel == "web":
            items = await self.inbox()
            if items:
                body = {"user": WEB_USER, "ids": [item_id for item_id, _ in items]}
                response = await self.rig.client.post("/api/chat/seen", json=body)
                assert response.status == 200
            self.seen = 0
        else:
            self.seen = len(await self.received())

    async def since_mark(self) -> list[Received]:
        """What the platform received for the account after mark()."""
        return (await self.received())[self.seen :]


def labels(message: SentText) -> tuple[str, ...]:
    """The labels of a Telegram message's inline buttons."""
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return tuple(str(button["text"]) for row in rows for button in row)


@pytest.fixture
async def rig(
    db_url: str, platform: FakeWeChatAPI, telegram_platform: FakeTelegramAPI, clock: ManualClock
) -> AsyncIterator[Rig]:
    """The whole system on both fakes, served over loopback."""
    settings = wechat_settings(
        db_url,
        platform,
        telegram_token=telegram_platform.token,
        telegram_secret=SECRET,
        telegram_api_base=telegram_platform.base_url,
        # Generous: on a loaded machine a 0.5-1 s timeout turns a send into a retry, which the
        # manual clock never makes due, and the push under test seems never to arrive.
        telegram_api_timeout=5.0,
        wechat_api_timeout=5.0,
    )
    linli = build_linli(settings, clock=clock)
    server = WeChatServer(WeChatAccount(TOKEN, platform.appid, AES_KEY), openid=OPENID)
    async with TestClient(TestServer(create_web_app(linli), host="127.0.0.1")) as client:
        yield Rig(linli, client, platform, telegram_platform, server, clock)


async def staff_on_wechat(rig: Rig, code: str) -> StaffMember:
    """A staff member binds their WeChat account."""
    account = WeChatAccount(TOKEN, rig.wechat.appid, AES_KEY)
    member = StaffMember(rig, code, WeChatServer(account, openid=f"oStaff-{code}"))
    answer = await member.say(f"绑定 {await staff_code(rig.linli, code)}")
    assert "绑定成功" in answer, answer
    return member


async def resident_on(rig: Rig, channel: str, lang: str) -> Resident:
    """A resident who has written to the bot on the channel (so WeChat's 48 hours are open)."""
    person = Resident(rig, channel, lang)
    await person.start()
    return person


# --- what arrived --------------------------------------------------------------------------


def drawn(channel: str, expected: Expected) -> list[Received]:
    """How the channel shows the push: WeChat numbers the options under the text (in pages of a
    customer-service message), Telegram and the web keep them as buttons."""
    if channel == "wechat":
        lines = [expected.text, *(f"{n}. {label}" for n, label in enumerate(expected.labels, 1))]
        return [Received(page, (), "custom") for page in paginate("\n".join(lines), 600)]
    via = "sendMessage" if channel == "telegram" else "inbox"
    return [Received(expected.text, expected.labels, via)]


async def assert_arrives_once(rig: Rig, person: Resident, expected: Expected) -> None:
    """The push arrived once, as worded, options once; a later pass sends nothing more."""
    got = await person.since_mark()
    assert got == drawn(person.channel, expected), got
    every_line = [line for message in got for line in message.text.split("\n")]
    for number, label in enumerate(expected.labels, 1):
        if person.channel == "wechat":
            assert every_line.count(f"{number}. {label}") == 1, (label, got)
        else:
            assert sum(m.labels.count(label) for m in got) == 1, (label, got)
            # A button is not written into the text as well.
            assert label not in every_line and f"{number}. {label}" not in every_line, got
    if person.lang == "en":
        assert_english([m.text for m in got], expected.data)
    else:
        assert all(HAN.search(m.text) for m in got), got
    rig.clock.advance(timedelta(minutes=5))  # past any retry a worker might have scheduled
    assert await rig.deliver() == 0
    assert await person.since_mark() == got


def assert_english(texts: list[str], data: tuple[str, ...]) -> None:
    """No Chinese in an English push, except the words people wrote, shown as written."""
    for text in texts:
        rest = text
        for words in sorted(data, key=len, reverse=True):
            rest = rest.replace(words, "")
        assert not HAN.search(rest), text


async def answer_first_option(person: Resident) -> list[str]:
    """The resident types "1": the pushed message's first option answers."""
    return await person.say("1", webhook=True)


# --- names as the reader sees them ---------------------------------------------------------


def named(lang: str, zh: str, en: str | None) -> str:
    """A name in the reader's language (English falls back to Chinese)."""
    return en if lang == "en" and en else zh


async def department(rig: Rig, department_id: int | None) -> Department:
    async with rig.linli.sessions() as session:
        found = await session.get(Department, department_id)
    assert found is not None
    return found


def category(case: Case, lang: str) -> str:
    """The case's category as the reader should read it."""
    code = str(case.details.get("category_code") or "")
    found = CaseCatalogue.load(DATA).category(CaseKind(case.kind), code)
    return named(lang, case.category, found.name_en if found else None)


def moment(lang: str, at: datetime) -> str:
    """A day and a Beijing-time clock, the reader's way."""
    local = at.astimezone(SHANGHAI)
    return f"{format_day(lang, local.date())} {local:%H:%M}"


# --- reminders -----------------------------------------------------------------------------


async def book_saturday(person: Resident) -> Appointment:
    """The resident books 社保卡补办 on Saturday morning in chat, typing the options' numbers."""
    await person.say("预约")
    await person.say("我想约周六上午办社保卡补办")
    await person.say("1")  # the first time
    await person.say("1")  # yes, book it
    return await appointment_of(person)


async def appointment_of(person: Resident) -> Appointment:
    resident_id = await person.resident_id()
    async with person.rig.linli.sessions() as session:
        stmt = select(Appointment).where(
            Appointment.resident_id == resident_id,
            Appointment.status == AppointmentStatus.BOOKED,
        )
        return (await session.exec(stmt)).one()


async def service_of(rig: Rig, service_id: int) -> Service:
    async with rig.linli.sessions() as session:
        found = await session.get(Service, service_id)
    assert found is not None
    return found


@pytest.mark.parametrize(("channel", "lang"), MATRIX)
async def test_reminder(rig: Rig, channel: str, lang: str) -> None:
    person = await resident_on(rig, channel, lang)
    appointment = await book_saturday(person)
    await person.read_in_english()
    await person.mark()
    rig.clock.set(datetime(2026, 11, 27, 18, 0, tzinfo=SHANGHAI))  # the evening before
    assert await send_due_reminders(rig.context()) == 1
    await rig.deliver()
    service = await service_of(rig, appointment.service_id)
    local = appointment.starts_at.astimezone(SHANGHAI)
    text = t(
        lang,
        "reminders.evening_before",
        service=named(lang, service.name_zh, service.name_en),
        time=f"{local:%H:%M}",
        date=format_day(lang, local.date()),
        ref=appointment.ref,
    )
    await assert_arrives_once(rig, person, Expected(text))


# --- cases ---------------------------------------------------------------------------------


async def open_proxy_case(person: Resident) -> Case:
    """代办 in chat: the resident describes the matter and takes the suggested category."""
    await person.say("代办")
    await person.say("帮我母亲办高龄补贴，她腿脚不便")
    await person.say("1")  # the suggested category
    await person.say("幸福小区3号楼201")
    await person.say("工作日上午")
    await person.say("不同意")  # no phone number (consent asked first, issue 21)
    await person.say("不同意")  # nor the ID number this category's forms would use
    return await case_of(person)


async def case_of(person: Resident) -> Case:
    resident_id = await person.resident_id()
    async with person.rig.linli.sessions() as session:
        return (await session.exec(select(Case).where(Case.resident_id == resident_id))).one()


async def case_ready(rig: Rig, channel: str, lang: str) -> tuple[Resident, Case, StaffMember]:
    """A resident's proxy case, in their language, and the civil affairs clerk who gets it."""
    clerk = await staff_on_wechat(rig, "S021")  # 民政科
    person = await resident_on(rig, channel, lang)
    case = await open_proxy_case(person)
    await person.read_in_english()
    return person, case, clerk


@pytest.mark.parametrize(("channel", "lang"), MATRIX)
async def test_case_accepted(rig: Rig, channel: str, lang: str) -> None:
    person, case, clerk = await case_ready(rig, channel, lang)
    await person.mark()
    await clerk.press(f"case:accept:{case.id}")
    dept = await department(rig, case.department_id)
    text = t(
        lang,
        "cases.notice_accepted",
        ref=case.ref,
        category=category(case, lang),
        department=named(lang, dept.name_zh, dept.name_en),
    )
    await assert_arrives_once(rig, person, Expected(text))


@pytest.mark.parametrize(("channel", "lang"), MATRIX)
async def test_case_transferred(rig: Rig, channel: str, lang: str) -> None:
    person, case, clerk = await case_ready(rig, channel, lang)
    await clerk.press(f"case:accept:{case.id}")
    await clerk.press(f"case:transfer:{case.id}")
    await clerk.press(f"case:to:{case.id}:masswork")
    await person.mark()
    await clerk.say("老人有信访诉求，由群众工作科统一办理")
    moved = await case_of(person)
    dept = await department(rig, moved.department_id)
    assert dept.code == "masswork"
    text = t(
        lang,
        "cases.notice_transferred",
        ref=case.ref,
        category=category(case, lang),
        department=named(lang, dept.name_zh, dept.name_en),
    )
    await assert_arrives_once(rig, person, Expected(text))


@pytest.mark.parametrize(("channel", "lang"), MATRIX)
async def test_case_resolved(rig: Rig, channel: str, lang: str) -> None:
    person, case, clerk = await case_ready(rig, channel, lang)
    await clerk.press(f"case:accept:{case.id}")
    await person.mark()
    await clerk.press(f"case:step:{case.id}:resolved")
    window = (await clerk.staff()).window
    text = t(
        lang,
        "cases.notice_resolved",
        ref=case.ref,
        category=category(case, lang),
        window=window or "",
    )
    options = ("cases.confirm", "cases.reopen", "cases.rate_button")
    expected = Expected(text, tuple(t(lang, key) for key in options))
    await assert_arrives_once(rig, person, expected)
    await answer_first_option(person)  # 1: confirm it is solved
    assert (await case_of(person)).status == CaseStatus.CLOSED


@pytest.mark.parametrize(("channel", "lang"), [("web", "zh-CN"), ("wechat", "en")])
async def test_the_owner_hears_why_a_case_was_reopened(rig: Rig, channel: str, lang: str) -> None:
    """A second walkthrough: the owner of a case the resident reopened was sent "新事项待受理",
    without saying it was reopened or why."""
    person, case, clerk = await case_ready(rig, channel, lang)
    await clerk.press(f"case:accept:{case.id}")
    await clerk.press(f"case:step:{case.id}:resolved")
    before = len(rig.wechat.sent)
    words = "还没修好呢，晚上还是黑的" if lang == "zh-CN" else "still broken, dark again last night"
    await person.say(words, webhook=True)
    await rig.deliver()
    to_clerk = [m.text or "" for m in rig.wechat.sent[before:] if m.touser == clerk.server.openid]
    assert any("没有解决，已重新打开" in text and words in text for text in to_clerk), to_clerk
    assert not any("新事项待受理" in text for text in to_clerk)
    assert (await case_of(person)).status == CaseStatus.ACCEPTED


@pytest.mark.parametrize(("channel", "lang"), MATRIX)
async def test_staff_message_on_a_case(rig: Rig, channel: str, lang: str) -> None:
    person, case, clerk = await case_ready(rig, channel, lang)
    await clerk.press(f"case:accept:{case.id}")
    await clerk.press(f"case:ask:{case.id}")
    await person.mark()
    question = "请问老人的身份证是否在您手上？"
    await clerk.say(question)
    text = t(
        lang,
        "cases.notice_question",
        ref=case.ref,
        category=category(case, lang),
        question=question,
    )
    await assert_arrives_once(rig, person, Expected(text, (t(lang, "cases.answer"),), (question,)))
    answers = await answer_first_option(person)  # 1: answer the question
    assert answers and answers[0].startswith(t(lang, "cases.answer_prompt", ref=case.ref)), answers


@pytest.mark.parametrize(("channel", "lang"), MATRIX)
async def test_the_answer_to_a_question_typed_in_words(rig: Rig, channel: str, lang: str) -> None:
    """An outside walkthrough: an answer typed under "工作人员想问：…" (rather than pressing
    回复 first) was read as a new question, and lost."""
    person, case, clerk = await case_ready(rig, channel, lang)
    await clerk.press(f"case:accept:{case.id}")
    await clerk.press(f"case:ask:{case.id}")
    await clerk.say("请问是哪一侧的门口？")
    await person.mark()
    words = "是东门，靠近快递柜那边" if lang == "zh-CN" else "The east gate, by the parcel lockers"
    answered = await person.say(words, webhook=True)
    assert any(t(lang, "cases.answer_sent", ref=case.ref) in said for said in answered), answered
    async with rig.linli.sessions() as session:
        events = (await session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))).all()
    assert any(event.note == words for event in events)
    assert (await case_of(person)).status != CaseStatus.WAITING_RESIDENT


@pytest.mark.parametrize(("channel", "lang"), [("web", "zh-CN"), ("wechat", "en")])
async def test_small_talk_under_the_question_is_no_answer(
    rig: Rig, channel: str, lang: str
) -> None:
    """A review: "好的" typed under the question was filed as the answer, and the real
    answer typed next was lost."""
    person, case, clerk = await case_ready(rig, channel, lang)
    await clerk.press(f"case:accept:{case.id}")
    await clerk.press(f"case:ask:{case.id}")
    await clerk.say("请问您家具体是几单元？")
    await person.mark()
    said = await person.say("好的" if lang == "zh-CN" else "ok", webhook=True)
    assert not any(t(lang, "cases.answer_sent", ref=case.ref) in s for s in said), said
    assert (await case_of(person)).status == CaseStatus.WAITING_RESIDENT


@pytest.mark.parametrize(("channel", "lang"), [("web", "zh-CN"), ("wechat", "zh-CN")])
async def test_reply_typed_after_the_question_scrolled_away(
    rig: Rig, channel: str, lang: str
) -> None:
    person, case, clerk = await case_ready(rig, channel, lang)
    await clerk.press(f"case:accept:{case.id}")
    await clerk.press(f"case:ask:{case.id}")
    await clerk.say("请问老人的户籍在本街道吗？")
    await person.mark()
    await person.say("办公时间", webhook=True)  # something else first: 回复 is off the screen
    prompt = await person.say(t(lang, "cases.answer"), webhook=True)
    assert any(t(lang, "cases.answer_prompt", ref=case.ref) in said for said in prompt), prompt


async def _asked(rig: Rig, channel: str, question: str) -> tuple[Resident, Case]:
    person, case, clerk = await case_ready(rig, channel, "zh-CN")
    await clerk.press(f"case:accept:{case.id}")
    await clerk.press(f"case:ask:{case.id}")
    await clerk.say(question)
    await person.mark()
    return person, case


@pytest.mark.parametrize("words", ["是的，户籍在南街社区", "有的，残疾证也有", "不在本街道"])
async def test_answers_read_as_small_talk_or_a_question_are_answers(rig: Rig, words: str) -> None:
    """An outside walkthrough: "是的，户籍在南街社区" under the question got "我不太确定您的
    意思", and the answer was lost; statements the bot reads as questions are answers too."""
    person, case = await _asked(rig, "web", "请问您母亲的户籍在本街道吗？")
    said = await person.say(words, webhook=True)
    assert any(t("zh-CN", "cases.answer_sent", ref=case.ref) in s for s in said), said
    assert (await case_of(person)).status != CaseStatus.WAITING_RESIDENT


async def test_words_after_the_question_scrolled_away_offer_to_answer_it(rig: Rig) -> None:
    """An outside walkthrough: the answer typed after another reply came in between was read
    as anything else, and lost. Filing such words unasked took a new leak report for the
    answer (a review), so 回复 is offered beside the reply, and what is typed next is the
    answer; a question asked then is still answered as a question."""
    person, case = await _asked(rig, "wechat", "请问老人的户籍在本街道吗？")
    await person.say("办公时间", webhook=True)  # something else first: 回复 is off the screen
    asked = await person.say("社保卡怎么办理？", webhook=True)
    assert not any(t("zh-CN", "cases.answer_sent", ref=case.ref) in s for s in asked), asked
    offer = t("zh-CN", "cases.answer_waiting", ref=case.ref)
    leak = await person.say("邻居家漏水到我家", webhook=True)
    assert any(offer in s for s in leak), leak
    more = await person.say("就在三楼厨房，天花板一直滴水", webhook=True)  # still not the answer
    for said in (leak, more):
        assert not any(t("zh-CN", "cases.answer_sent", ref=case.ref) in s for s in said), said
    assert (await case_of(person)).status == CaseStatus.WAITING_RESIDENT  # nothing filed
    await person.say("户籍在南街社区", webhook=True)  # with 回复工作人员的问题 on the screen again
    prompt = await person.say(offer, webhook=True)  # typed, as its label
    assert any(t("zh-CN", "cases.answer_prompt", ref=case.ref) in s for s in prompt), prompt
    said = await person.say("户籍在南街社区，已经住了三十年", webhook=True)
    assert any(t("zh-CN", "cases.answer_sent", ref=case.ref) in s for s in said), said
    async with rig.linli.sessions() as session:
        events = (await session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))).all()
    assert [event.note for event in events if event.kind == "answer"] == [
        "户籍在南街社区，已经住了三十年"
    ]


# --- hand-over -----------------------------------------------------------------------------


async def on_duty(rig: Rig, code: str) -> StaffMember:
    """A staff member on WeChat with a shift now."""
    member = await staff_on_wechat(rig, code)
    now = rig.clock.now()
    async with rig.linli.sessions() as session, session.begin():
        staff = (await session.exec(select(Staff).where(Staff.code == code))).one()
        session.add(
            RosterShift(
                staff_id=staff.id or 0,
                day=now.date(),
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(hours=3),
            )
        )
    return member


@pytest.mark.parametrize(("channel", "lang"), MATRIX)
async def test_hand_over_reply(rig: Rig, channel: str, lang: str) -> None:
    duty = await on_duty(rig, "S015")
    person = await resident_on(rig, channel, lang)
    await person.read_in_english()
    await person.say("human" if lang == "en" else "转人工")
    case = await case_of(person)
    await duty.press(f"handover:take:{case.id}")
    await person.mark()
    words = "您好，我是值班的工作人员，请问有什么可以帮您？"
    await duty.say(words)
    staff = await duty.staff()
    text = t(
        lang,
        "handover.from_staff",
        ref=case.ref,
        summary=case.summary[:80],
        staff=staff.name,
        text=words,
    )
    options = (t(lang, "handover.reply"), t(lang, "handover.end"))
    await assert_arrives_once(rig, person, Expected(text, options, (words, staff.name)))
    answers = await answer_first_option(person)  # 1: reply to the staff member
    assert answers and answers[0].startswith(t(lang, "handover.resident_prompt")), answers


# --- notices -------------------------------------------------------------------------------

NOTICE = "明天上午9点到12点停水，请提前储水。"


async def live_in_grid_of(person: Resident, code: str) -> None:
    """The resident tells the bot their community and grid (我的 → 设置社区), by typing."""
    rig = person.rig
    async with rig.linli.sessions() as session:
        leader = (await session.exec(select(Staff).where(Staff.code == code))).one()
        grid = await session.get(Grid, leader.grid_id)
        assert grid is not None
        community = await session.get(CommunityRow, grid.community_id)
        assert community is not None
        grids = await list_grids(session, community.id or 0)
    await person.say("我的")
    await person.say("1")  # set my community
    await person.say(community.name_zh)
    await person.say(str([g.id for g in grids].index(grid.id) + 1))
    async with rig.linli.sessions() as session:
        resident = await session.get(ResidentRow, await person.resident_id())
    assert resident is not None and resident.grid_id == grid.id


@pytest.mark.parametrize(("channel", "lang"), MATRIX)
async def test_notice(rig: Rig, channel: str, lang: str) -> None:
    leader = await staff_on_wechat(rig, "S027")
    person = await resident_on(rig, channel, lang)
    await live_in_grid_of(person, "S027")
    await person.read_in_english()
    await person.mark()
    await leader.say("发通知")
    await leader.say(NOTICE)
    for step in (
        "notice:link",
        "notice:area:grid",
        "notice:filter:all",
        "notice:urgent:no",
        "notice:when",
        "notice:send",
    ):
        await leader.press(step)
    written = NOTICE  # kept as written, full-width punctuation and all
    text = "\n".join([t(lang, "notices.heading"), written, t(lang, "notices.opt_out_hint")])
    await assert_arrives_once(rig, person, Expected(text, (), (written,)))


# --- needs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "lang"), MATRIX)
async def test_need_stage(rig: Rig, channel: str, lang: str) -> None:
    officer = await staff_on_wechat(rig, "S015")
    person = await resident_on(rig, channel, lang)
    await person.say("需求")
    await person.say("希望小区附近能有个老年食堂，老人吃饭方便")
    await person.say("1")  # the suggested category
    await person.read_in_english()
    resident_id = await person.resident_id()
    async with rig.linli.sessions() as session:
        need = (await session.exec(select(Need).where(Need.resident_id == resident_id))).one()
        item = await session.get(NeedItem, need.item_id)
    assert item is not None
    await officer.say(f"需求项 {item.id}")
    await person.mark()
    await officer.press(f"need:move:{item.id}:approved")
    stage = t(lang, "needs.stage_approved")
    text = t(lang, "needs.stage_notice", title=item.title, stage=stage)
    await assert_arrives_once(rig, person, Expected(text, (), (item.title,)))


# --- the waitlist --------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "lang"), MATRIX)
async def test_waitlist_offer(rig: Rig, channel: str, lang: str) -> None:
    person = await resident_on(rig, channel, lang)
    await person.say("预约")
    await person.say("我想约周六上午办社保卡补办")
    await person.say("1")  # the first time: asked to confirm
    starts = datetime.combine(SATURDAY, datetime.min.time(), SHANGHAI).replace(hour=9)
    async with rig.linli.sessions() as session:
        slot = (
            await session.exec(select(BookingSlot).where(BookingSlot.starts_at == starts))
        ).one()
    # Meanwhile others take every place; one of them will cancel.
    holder = Chat(rig.linli, user="holder-0001")
    await holder.press(f"book:ok:{slot.id}")
    for n in range(slot.capacity - slot.booked - 1):
        await Chat(rig.linli, user=f"filler-{n:04d}").press(f"book:ok:{slot.id}")
    await person.say("1")  # yes, book it: full now, so the waitlist is offered first
    await person.say("1")  # wait for a place
    resident_id = await person.resident_id()
    async with rig.linli.sessions() as session:
        entry = (
            await session.exec(
                select(WaitlistEntry).where(WaitlistEntry.resident_id == resident_id)
            )
        ).one()
        held = (
            await session.exec(
                select(Appointment)
                .where(Appointment.slot_id == slot.id)
                .order_by(col(Appointment.id))
            )
        ).first()
    assert held is not None
    await person.read_in_english()
    await person.mark()
    asked = await holder.press(f"book:cancel:{held.ref}")
    await holder.press(payloads(asked[0])[0])
    await rig.deliver()
    async with rig.linli.sessions() as session:
        service = await session.get(Service, slot.service_id)
    assert service is not None
    name = service.name_en if lang == "en" and service.name_en else service.name_zh
    when = moment(lang, slot.starts_at)
    text = t(lang, "booking.offer", service=name, when=when, minutes=30)
    await assert_arrives_once(rig, person, Expected(text, (t(lang, "booking.accept"),)))
    await answer_first_option(person)  # 1: take the place
    taken = await appointment_of(person)
    assert taken.slot_id == slot.id and entry.slot_id == slot.id


# --- rating --------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "lang"), MATRIX)
async def test_rating_request(rig: Rig, channel: str, lang: str) -> None:
    window = await staff_on_wechat(rig, "S001")
    person = await resident_on(rig, channel, lang)
    await person.say("预约")
    await person.say("社保")  # the one service with 社保 in its name: its days
    await person.say("1")  # today
    await person.say("1")  # the first time
    await person.say("1")  # yes, book it
    appointment = await appointment_of(person)
    assert appointment.starts_at.astimezone(SHANGHAI).date() == rig.clock.now().date()
    await person.read_in_english()
    await window.say(f"签到 {appointment.ref}")
    await person.mark()
    await window.say(f"办结 {appointment.ref}")
    text = t(lang, "window.rate_request", ref=appointment.ref)
    options = tuple(t(lang, f"rating.{level}") for level in RatingLevel)
    await assert_arrives_once(rig, person, Expected(text, options))
    await answer_first_option(person)  # 1: 很满意
    async with rig.linli.sessions() as session:
        [rating] = (await session.exec(select(Rating))).all()
    assert rating.level == RatingLevel.VERY_SATISFIED
