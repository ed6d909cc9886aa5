"""The load of one scenario run: residents arriving over the load window, each running a short
session of weighted steps, while staff work their cases on WeChat."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from dataclasses import dataclass, field

from bench.scenario_channels import (
    Answer,
    Option,
    TelegramClient,
    WeChatClient,
)
from bench.scenario_steps import (
    STEPS,
    Exchange,
    Person,
    Record,
    book,
    expect,
    run_step,
    staff_round,
)

FIRST_CHAT_ID = 700_000_000
STAFF_PAUSE = 1.0  # seconds between a staff member's rounds
NEEDS_BOOKING = ("move", "cancel")


@dataclass(frozen=True)
class Plan:
    """The shape of the load."""

    residents: int
    seconds: float  # residents arrive over this window
    tail: float  # no step starts later than this after the window
    telegram_share: float
    steps: tuple[int, int]  # steps a session has, at least and at most
    seed: int


@dataclass
class Load:
    """What the load recorded."""

    records: list[Record] = field(default_factory=list)
    staff: list[Record] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0
    abandoned: int = 0  # sessions cut short at the deadline


class WeChatTalk:
    """A person's WeChat chat through one server."""

    def __init__(self, client: WeChatClient, url: str, openid: str) -> None:
        self.client, self.url, self.openid = client, url, openid

    async def say(self, text: str) -> Answer:
        """Type a text."""
        return await self.client.say(self.url, self.openid, text)

    async def choose(self, option: Option) -> Answer:
        """Type the option's number."""
        return await self.client.choose(self.url, self.openid, option)

    def pushed(self) -> list[str]:
        """What the server pushed to this openid."""
        return self.client.fake.pushed[self.openid]


class TelegramTalk:
    """A person's Telegram chat through one server."""

    def __init__(self, client: TelegramClient, url: str, chat_id: int) -> None:
        self.client, self.url, self.chat_id = client, url, chat_id

    async def say(self, text: str) -> Answer:
        """Type a text."""
        return await self.client.say(self.url, self.chat_id, text)

    async def choose(self, option: Option) -> Answer:
        """Press the option's button."""
        return await self.client.choose(self.url, self.chat_id, option)

    def pushed(self) -> list[str]:
        """Nothing apart: on Telegram pushes come in the same stream as replies."""
        return []


def residents(
    plan: Plan, bases: list[str], wechat: WeChatClient, telegram: TelegramClient
) -> list[Person]:
    """The residents, each on one channel and one server (round robin over the servers)."""
    rng = random.Random(plan.seed)
    people = []
    for n in range(plan.residents):
        base = bases[n % len(bases)]
        own = random.Random(rng.random())
        if rng.random() < plan.telegram_share:
            talk_tg = TelegramTalk(telegram, f"{base}/telegram", FIRST_CHAT_ID + n)
            people.append(Person(f"tg{n}", "telegram", talk_tg, own, (1.0, 2.0)))
        else:
            talk_wx = WeChatTalk(wechat, f"{base}/wechat", f"oScenario{n:06d}")
            people.append(Person(f"wx{n}", "wechat", talk_wx, own, (0.5, 1.5)))
    return people


async def session(person: Person, plan: Plan, delay: float, load: Load) -> None:
    """Arrive after delay, then run a few weighted steps with reading time between them (an
    overloaded server's residents give up the steps left once the load's time is over)."""
    await asyncio.sleep(delay)
    deadline = load.started + plan.seconds + plan.tail
    kinds = list(STEPS)
    weights = [STEPS[k][0] for k in kinds]
    for index in range(person.rng.randint(*plan.steps)):
        if index:
            await asyncio.sleep(person.rng.uniform(1.0, 3.0))
        if time.monotonic() > deadline:
            load.abandoned += 1
            return
        kind = person.rng.choices(kinds, weights)[0]
        if kind in NEEDS_BOOKING and not person.bookings:
            load.records.append(await run_step("book", person, book))
            if not person.bookings:
                continue
            await asyncio.sleep(person.rng.uniform(1.0, 3.0))
        load.records.append(await run_step(kind, person, STEPS[kind][1]))


async def staff_member(person: Person, code: str, stop: asyncio.Event, load: Load) -> None:
    """Bind with the code, then work the case list until told to stop."""

    async def bind(ex: Exchange) -> None:
        expect(await ex.say(f"绑定 {code}"), "绑定成功")

    load.staff.append(await run_step("staff bind", person, bind))
    while not stop.is_set():
        load.staff.append(await run_step("staff", person, staff_round))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), STAFF_PAUSE)


async def run_load(
    plan: Plan,
    bases: list[str],
    wechat: WeChatClient,
    telegram: TelegramClient,
    staff_codes: dict[str, str],
) -> Load:
    """Residents' sessions spread over the window, staff working until the last one ends."""
    load = Load()
    people = residents(plan, bases, wechat, telegram)
    stop = asyncio.Event()
    servers = itertools.cycle(bases)
    staff_tasks = [
        asyncio.create_task(
            staff_member(
                Person(
                    f"staff {code}",
                    "wechat",
                    WeChatTalk(wechat, f"{next(servers)}/wechat", f"oScenarioStaff{code}"),
                    random.Random(plan.seed + index),
                    (0.3, 0.6),
                ),
                bind_code,
                stop,
                load,
            )
        )
        for index, (code, bind_code) in enumerate(staff_codes.items())
    ]
    arrivals = random.Random(plan.seed + 1)
    load.started = time.monotonic()
    await asyncio.gather(
        *(session(p, plan, arrivals.uniform(0, plan.seconds), load) for p in people)
    )
    load.ended = time.monotonic()
    stop.set()
    await asyncio.gather(*staff_tasks)
    return load
