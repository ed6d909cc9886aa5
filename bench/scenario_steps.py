"""What a simulated resident (or staff member) does in the scenario, typed as people type it.

Each step is a short exchange: the resident types a word, then answers the options of each
reply (by number on WeChat, by button on Telegram) until the step is done. A step is "ok" when
the last reply says what it should (a reference number after booking, "改约成功" after moving
...), "wrong" when a reply says something else, and an "error" when a message got no answer.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bench.scenario_channels import Answer, Option

APPOINTMENT = re.compile(r"LCY-\d{8}-\d+")
CASE = re.compile(r"LC-\d{8}-\d+")
LEFT = re.compile(r"余(\d+)")
MAX_ROUNDS = 8
NEEDS = (
    "小区里能不能加装几把休息的椅子，老人散步走累了没地方坐",
    "希望社区开一个老年人智能手机培训班",
    "晚上小区门口的路灯坏了好几盏，走路看不清",
    "想请社区组织周末的亲子阅读活动",
    "小区电动车充电桩太少了，经常排队",
)
# A question and a word its answer must contain.
QUESTIONS = (
    ("办社保卡要带什么", "身份证"),
    ("周六能办居住证吗", "居住证"),
    ("你们几点下班", "18:00"),
)
POOR_DEPARTMENTS = ("社会保障科", "民政科", "群众工作科")  # their supervisors are on duty
OTHER_DEPARTMENTS = ("流动人口服务科", "司法所", "计划生育服务科", "教育科", "卫生健康科")
NEED_DONE = ("已记录您的需求", "已把您的需求并入", "位邻居支持")
NOT_AN_ANSWER = ("转人工", "返回主菜单")
GOOD, POOR = ("很满意", "满意"), ("态度差", "时间长")
POOR_SHARE = 0.2


class Talk(Protocol):
    """One person's side of a chat on one channel."""

    async def say(self, text: str) -> Answer:
        """Type a text."""
        ...

    async def choose(self, option: Option) -> Answer:
        """Pick an option of the last reply."""
        ...

    def pushed(self) -> list[str]:
        """Messages pushed to this person outside the replies (WeChat's customer service)."""
        ...


class WrongAnswerError(Exception):
    """A reply that does not say what the step needs."""


class NoAnswerError(Exception):
    """A message that got no answer (an HTTP error, a timeout, nothing sent)."""


@dataclass
class Record:
    """One step as it went."""

    kind: str
    channel: str
    ok: bool = False
    error: str | None = None
    wrong: bool = False
    seconds: float = 0.0  # time waiting for answers (not the person's reading time)
    messages: int = 0
    started: float = 0.0
    transcript: list[str] = field(default_factory=list)


@dataclass
class Person:
    """A simulated resident or staff member and what they know of their own records."""

    name: str
    channel: str
    talk: Talk
    rng: random.Random
    think: tuple[float, float]
    bookings: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    rated: set[str] = field(default_factory=set)  # windows rated today (once each)


class Exchange:
    """The messages of one step: timed, kept as a transcript, checked for answers."""

    def __init__(self, person: Person, record: Record) -> None:
        self.person = person
        self.record = record

    async def say(self, text: str) -> Answer:
        """Type a text (after reading the last reply) and return the answer."""
        return await self._send(text, self.person.talk.say(text))

    async def choose(self, answer: Answer, want: Callable[[Option], bool]) -> Answer:
        """Pick one option the predicate accepts, at random; WrongAnswerError if none does."""
        fitting = [o for o in answer.options if want(o)]
        if not fitting:
            raise WrongAnswerError("no fitting option")
        option = self.person.rng.choice(fitting)
        return await self._send(f"[{option.label}]", self.person.talk.choose(option))

    async def _send(self, shown: str, sending: Awaitable[Answer]) -> Answer:
        if self.record.messages:
            await asyncio.sleep(self.person.rng.uniform(*self.person.think))
        self.record.transcript.append(f"> {shown}")
        pushes = len(self.person.talk.pushed())
        answer = await sending
        self.record.messages += 1
        self.record.seconds += answer.seconds
        if answer.error is not None:
            self.record.transcript.append(f"! {answer.error}")
            raise NoAnswerError(answer.error)
        self.record.transcript.append("< " + flat(answer.text))
        # A push between two messages takes over the numbers typed next (by design): show it.
        new = self.person.talk.pushed()[pushes:]
        self.record.transcript += [f"< (push) {flat(text)}" for text in new]
        return answer


def flat(text: str) -> str:
    """A reply on one line, shortened for the transcript."""
    return text.replace("\n", " / ")[:300]


def labelled(*labels: str) -> Callable[[Option], bool]:
    """Options whose label is one of these."""
    return lambda option: option.label in labels


def not_labelled(*labels: str) -> Callable[[Option], bool]:
    """Options whose label is none of these."""
    return lambda option: option.label not in labels and bool(option.label)


def first_of(answer: Answer) -> Callable[[Option], bool]:
    """The first option of an answer (a suggestion the bot puts first)."""
    first = answer.options[0] if answer.options else None
    return lambda option: option is first


def with_places(option: Option) -> bool:
    """A day or time button that still has places ("（余12）")."""
    left = LEFT.search(option.label)
    return left is not None and int(left.group(1)) > 0


def expect(answer: Answer, *words: str) -> None:
    """WrongAnswerError unless the answer contains every word."""
    if not all(word in answer.text for word in words):
        raise WrongAnswerError(f"expected {words}")


async def run_step(
    kind: str, person: Person, body: Callable[[Exchange], Awaitable[None]]
) -> Record:
    """Run one step's exchange and record how it went."""
    record = Record(kind, person.channel, started=time.monotonic())
    try:
        await body(Exchange(person, record))
        record.ok = True
    except NoAnswerError as error:
        record.error = str(error)
    except WrongAnswerError as error:
        record.wrong = True
        record.transcript.append(f"? {error}")
    return record


async def menu(ex: Exchange) -> None:
    """菜单: the main menu."""
    expect(await ex.say("菜单"), "请选择要办理的事项")


async def book_through(ex: Exchange, answer: Answer, done: str) -> Answer:
    """Answer the booking questions (category, service, day, time, confirm) until `done`."""
    for _ in range(MAX_ROUNDS):
        text = answer.text
        if done in text:
            return answer
        if "请确认" in text:
            answer = await ex.choose(answer, labelled("确认"))
        elif "请选择办事类别" in text:
            answer = await ex.choose(answer, not_labelled("我的预约", "返回主菜单"))
        elif "请选择要预约的服务" in text:
            answer = await ex.choose(answer, not_labelled("返回主菜单"))
        elif "请选择日期" in text or "可预约的时段" in text or "约满" in text:
            answer = await ex.choose(answer, with_places)
        else:
            raise WrongAnswerError("unexpected reply in the booking flow")
    raise WrongAnswerError("booking took too many rounds")


async def book(ex: Exchange) -> None:
    """预约 → category → service → day → time → 确认: a confirmed appointment number."""
    answer = await book_through(ex, await ex.say("预约"), "预约成功！")
    found = APPOINTMENT.search(answer.text)
    if found is None:
        raise WrongAnswerError("no appointment number")
    ex.person.bookings.append(found.group(0))


async def move(ex: Exchange) -> None:
    """我的预约 → 改约 → day → time → 确认: the same number at a new time."""
    answer = await ex.choose(await ex.say("我的预约"), labelled("改约"))
    answer = await book_through(ex, answer, "改约成功！")
    found = APPOINTMENT.search(answer.text)
    if found is None or found.group(0) not in ex.person.bookings:
        raise WrongAnswerError("moved an appointment that is not the resident's")


async def cancel(ex: Exchange) -> None:
    """我的预约 → 取消 → 确定取消: the appointment is cancelled."""
    answer = await ex.choose(await ex.say("我的预约"), labelled("取消"))
    found = APPOINTMENT.search(answer.text)
    expect(answer, "确定取消")
    answer = await ex.choose(answer, labelled("确定取消"))
    expect(answer, "已取消")
    if found is None or found.group(0) not in ex.person.bookings:
        raise WrongAnswerError("cancelled an appointment that is not the resident's")
    ex.person.bookings.remove(found.group(0))


async def track(ex: Exchange) -> None:
    """进度: every case the resident opened in this run is listed."""
    answer = await ex.say("进度")
    if ex.person.cases:
        expect(answer, *ex.person.cases)
    elif "事项" not in answer.text:
        raise WrongAnswerError("not a case list")


async def need(ex: Exchange) -> None:
    """需求 → the need in one's own words → its category: the need is recorded."""
    expect(await ex.say("需求"), "请用自己的话说说")
    answer = await ex.say(ex.person.rng.choice(NEEDS))
    for _ in range(MAX_ROUNDS):
        if any(done in answer.text for done in NEED_DONE):
            return
        if "请选择需求类别" in answer.text:
            answer = await ex.choose(answer, first_of(answer))
        elif any("+1" in o.label for o in answer.options):
            answer = await ex.choose(answer, lambda o: "+1" in o.label or "新需求" in o.label)
        else:
            raise WrongAnswerError("unexpected reply in the need flow")
    raise WrongAnswerError("need took too many rounds")


async def rate(ex: Exchange) -> None:
    """评价 → 评价窗口服务 → a department → a level (now and then a poor one, which opens a
    return-visit case) → 跳过."""
    answer = await ex.say("评价")
    poor = ex.person.rng.random() < POOR_SHARE
    if "评价窗口服务" in answer.text:
        departments = POOR_DEPARTMENTS if poor else POOR_DEPARTMENTS + OTHER_DEPARTMENTS
        left = [d for d in departments if d not in ex.person.rated]
        if not left:
            return  # every window rated today: nothing left to rate, as the bot would say
        answer = await ex.choose(answer, labelled("评价窗口服务"))
        department = ex.person.rng.choice(left)
        answer = await ex.choose(answer, labelled(department))
        ex.person.rated.add(department)
    else:
        answer = await ex.choose(answer, not_labelled("评价窗口服务", "返回主菜单"))
    answer = await ex.choose(answer, labelled(*(POOR if poor else GOOD)))
    expect(answer, "感谢您的评价")
    opened = CASE.search(answer.text)
    if poor and opened is None and "回访" in answer.text:
        raise WrongAnswerError("a return visit without a case number")
    if opened is not None:
        ex.person.cases.append(opened.group(0))
    expect(await ex.choose(answer, labelled("跳过")), "评价已记录")


async def ask(ex: Exchange) -> None:
    """A free-text question; when the bot asks which one was meant, the first suggestion."""
    question, word = ex.person.rng.choice(QUESTIONS)
    answer = await ex.say(question)
    if "您是想问" in answer.text:
        suggested = [o for o in answer.options if o.label not in NOT_AN_ANSWER]
        suggested = [o for o in suggested if not o.label.startswith("继续")]
        answer = await ex.choose(answer, first_of(Answer(options=suggested)))
    expect(answer, word)


STEPS: dict[str, tuple[int, Callable[[Exchange], Awaitable[None]]]] = {
    "menu": (15, menu),
    "book": (22, book),
    "move": (8, move),
    "cancel": (7, cancel),
    "track": (12, track),
    "need": (10, need),
    "rate": (12, rate),
    "ask": (14, ask),
}


async def staff_round(ex: Exchange) -> None:
    """我的案件 → a case → accept if offered → 办结: the case is resolved."""
    answer = await ex.say("我的案件")
    if not any(CASE.fullmatch(o.label) for o in answer.options):
        return
    answer = await ex.choose(answer, lambda o: CASE.fullmatch(o.label) is not None)
    if any(o.label in ("接单", "受理") for o in answer.options):
        answer = await ex.choose(answer, labelled("接单", "受理"))
        expect(answer, "LC-")
    answer = await ex.choose(answer, labelled("办结"))
    expect(answer, "已办结")
