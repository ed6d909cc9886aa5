"""Faults of a running `linli serve` under load: SIGKILL of the server, and PostgreSQL restarted
(fast, then a crash) under it.

Residents talk over signed WeChat XML: each books a service, submits a need and asks for proxy
handling (代办), one message at a time. A message that gets no answer is delivered again with the
same MsgId, as WeChat's retries are, until it is answered; an apology (the polite error) is
typed again as a new message, as a person would. After the fault some answered messages are
replayed too. The database must then hold every acknowledged booking, need and case (the
answer carried it), and nothing twice.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import sqlalchemy as sa

from bench.booking_rush import server_env as rush_env
from bench.booking_rush import unused_port, wait_for_health
from bench.chaos_postgres import Cluster
from bench.chaos_report import FaultResult, duplicates
from bench.wechat_webhook import AES_KEY, APP_ID, TOKEN
from bot.i18n import t
from models.db import make_engine
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.fakes.wechat_sender import WeChatAccount, WeChatServer

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-12-01T16:40:00+08:00"  # a Tuesday after work, as in the README's walkthrough
DAYS = ("明天", "后天", "下周一", "下周二", "下周三", "下周四")
TIMES = ("上午9点", "上午10点", "上午11点", "下午2点", "下午3点", "下午4点", "下午5点半")
WISHES = (
    "希望小区里装一个快递柜",
    "路灯坏了好几盏晚上看不清",
    "想在社区开一个老年书法班",
    "楼下的篮球架需要修一修",
    "希望周末有儿童托管服务",
    "小区门口的垃圾桶太少了",
)
BOOKED = re.compile(r"预约成功！预约号 (LCY-\d{8}-\d{4})")
CASE = re.compile(r"\b(LC-\d{8}-\d{4})\b")
NEED_DONE = ("已记录您的需求", "位邻居支持")
RETYPES = 20  # times a person types a message again after an apology
LOAD_SECONDS = 240.0
Fault = Callable[["Load", "Holder"], Awaitable[None]]


@dataclass
class Resident:
    """One follower of the account and what they were told."""

    openid: str
    server: WeChatServer
    script: list[str]
    said: list[tuple[dict[str, str], bytes, str]] = field(default_factory=list)
    bookings: set[str] = field(default_factory=set)
    cases: set[str] = field(default_factory=set)
    need: bool = False

    def heard(self, text: str) -> None:
        """Note what an answer acknowledged."""
        self.bookings.update(BOOKED.findall(text))
        self.cases.update(CASE.findall(text))  # bookings' numbers start LCY-
        self.need = self.need or any(words in text for words in NEED_DONE)


@dataclass
class Load:
    """Residents talking to one server, and what happened to their messages."""

    base: str
    residents: list[Resident]
    answered: int = 0
    unanswered: set[str] = field(default_factory=set)
    polite: int = 0
    replays: int = 0
    refused: int = 0
    last_error_at: float = 0.0
    first_answer_after: dict[str, float] = field(default_factory=dict)

    async def run(self, http: aiohttp.ClientSession) -> None:
        """Every resident's script, all at once."""
        await asyncio.gather(*(self._talk(http, resident) for resident in self.residents))

    async def _talk(self, http: aiohttp.ClientSession, resident: Resident) -> None:
        for text in resident.script:
            for _ in range(RETYPES):
                query, body = resident.server.request(resident.server.text(text))
                answer = await self.deliver(http, query, body)
                resident.said.append((query, body, answer))
                resident.heard(answer)
                if answer != t("zh-CN", "error.polite"):
                    break
                self.polite += 1
                self.last_error_at = time.monotonic()
                await asyncio.sleep(0.5)  # the person reads the apology and types it again

    async def deliver(self, http: aiohttp.ClientSession, query: dict[str, str], body: bytes) -> str:
        """Post until answered, the same request each time (WeChat's retry); the reply text."""
        key = query["nonce"]
        while True:
            try:
                async with http.post(f"{self.base}/wechat", params=query, data=body) as response:
                    status, raw = response.status, await response.read()
            except (aiohttp.ClientError, TimeoutError):
                status, raw = 0, b""
            if status == 200:
                self.answered += 1
                return parse_reply(raw)
            if status == 403:
                self.refused += 1  # a retry refused as a replay would be a finding
                return ""
            self.unanswered.add(key)
            self.replays += 1
            self.last_error_at = time.monotonic()
            await asyncio.sleep(0.5)


def parse_reply(raw: bytes) -> str:
    """The text of a passive reply ("" for "success": the answer comes by the outbox)."""
    if raw.strip() in (b"", b"success"):
        return ""
    match = re.search(rb"<Content><!\[CDATA\[(.*?)\]\]></Content>", raw, re.S)
    return match.group(1).decode("utf-8") if match else ""


def residents(count: int, prefix: str) -> list[Resident]:
    """Residents with their scripts: a booking, a need, a proxy case."""
    account = WeChatAccount(TOKEN, APP_ID, AES_KEY)
    found = []
    for n in range(count):
        when = DAYS[n % len(DAYS)] + TIMES[(n // len(DAYS)) % len(TIMES)]
        script = [
            f"我想{when}去办社保卡补办",
            "确认",
            "需求",
            f"{WISHES[n % len(WISHES)]}（{prefix}{n}号）",
            "1",
            "代办",
            "帮我母亲办高龄补贴，她腿脚不便",
            "1",
            f"幸福小区{n}号楼201",
            "工作日上午",
            "不同意",
            "不同意",
        ]
        openid = f"o{prefix}{n:04d}"
        found.append(Resident(openid, WeChatServer(account, openid=openid), script))
    return found


def server_env(url: str, api_base: str, state_dir: Path) -> dict[str, str]:
    """Environment of the server under test: the booking rush's, with a WeChat account."""
    return rush_env(url, state_dir) | {
        "LINLI_LOG_LEVEL": "ERROR",
        "LINLI_NOW": NOW,
        "LINLI_WECHAT_TOKEN": TOKEN,
        "LINLI_WECHAT_APP_ID": APP_ID,
        "LINLI_WECHAT_APP_SECRET": "test-app-secret",
        "LINLI_WECHAT_AES_KEY": AES_KEY,
        "LINLI_WECHAT_MODE": "compatible",
        "LINLI_WECHAT_API_BASE": api_base,
    }


def prepare(env: dict[str, str]) -> None:
    """Migrate and seed with the `linli` commands."""
    for args in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env=env,
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )


def serve(env: dict[str, str], port: int, processes: int = 1) -> subprocess.Popen[bytes]:
    """`linli serve` in a child process (with N server processes of its own if asked)."""
    many = ["--processes", str(processes)] if processes > 1 else []
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), *many],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def under_load(
    label: str,
    done: str,
    url: str,
    state_dir: Path,
    fault: Fault,
    count: int = 12,
    processes: int = 1,
) -> FaultResult:
    """Serve on url, run the residents, apply fault mid-way, then judge the database."""
    platform = FakeWeChatAPI(appid=APP_ID)
    await platform.start()
    env = server_env(url, platform.base_url, state_dir)
    await asyncio.to_thread(prepare, env)
    port = unused_port()
    load = Load(f"http://127.0.0.1:{port}", residents(count, label[:2].upper()))
    result = FaultResult(label, done)
    holder = Holder(serve(env, port, processes), env, port, processes)
    try:
        await wait_for_health(load.base, holder.process)
        timeout = aiohttp.ClientTimeout(total=20)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            talking = asyncio.ensure_future(asyncio.wait_for(load.run(http), LOAD_SECONDS))
            try:
                await fault_when_busy(load, holder, fault, result, talking)
            except TimeoutError:
                left = [r.openid for r in load.residents if len(r.said) < len(r.script)]
                result.lost.append(f"residents not done after {LOAD_SECONDS:.0f} s: {left}")
            await replay_answered(load, http, result)
        await asyncio.sleep(3)  # late replies leave by the outbox
    finally:
        holder.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(holder.process.wait, 30)
        await platform.close()
    for message in platform.sent:
        for resident in load.residents:
            if message.touser == resident.openid and message.text:
                resident.heard(message.text)
    await judge(url, load, result)
    return result


@dataclass
class Holder:
    """The server process of the moment (a fault may replace it)."""

    process: subprocess.Popen[bytes]
    env: dict[str, str]
    port: int
    processes: int = 1


async def fault_when_busy(
    load: Load, holder: Holder, fault: Fault, result: FaultResult, talking: asyncio.Future[None]
) -> None:
    """Wait until a third of the messages are answered, apply the fault, wait for the rest."""
    total = sum(len(r.script) for r in load.residents)
    while load.answered < total // 3:  # noqa: ASYNC110 (a counter, polled)
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await fault(load, holder)
    await talking
    # Recovery: from the fault until the last failed or apologised-for message.
    result.recovery_seconds = max(0.0, load.last_error_at - started)


async def replay_answered(load: Load, http: aiohttp.ClientSession, result: FaultResult) -> None:
    """Deliver every resident's second and fifth answered messages again (an apology is not
    kept, so a message answered with one is left out): the same answer, no effect."""
    apology = t("zh-CN", "error.polite")
    for resident in load.residents:
        kept = [said for said in resident.said if said[2] != apology]
        for query, body, answer in (kept[1], kept[4]):
            again = await load.deliver(http, query, body)
            if again != answer and answer:
                result.notes.append(f"{resident.openid}: a replay answered differently")


async def judge(url: str, load: Load, result: FaultResult) -> None:
    """Acknowledged writes present, none twice; polite errors and replays counted."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            found = {
                name: list((await connection.execute(sa.text(sql))).all())
                for name, sql in QUERIES.items()
            }
    finally:
        await engine.dispose()
    by_openid = {resident.openid: resident for resident in load.residents}
    booked = {ref for ref, openid in found["appointments"] if openid in by_openid}
    opened = {ref for ref, openid in found["cases"] if openid in by_openid}
    needs = Counter(openid for (openid,) in found["needs"] if openid in by_openid)
    supported = {openid for (openid,) in found["supports"]}
    for resident in load.residents:
        result.acknowledged += len(resident.bookings) + len(resident.cases) + resident.need
        result.lost += sorted(resident.bookings - booked) + sorted(resident.cases - opened)
        if resident.need and not (needs[resident.openid] or resident.openid in supported):
            result.lost.append(f"need of {resident.openid}")
    result.duplicated += duplicates(o for _, o in found["appointments"] if o in by_openid)
    result.duplicated += duplicates(o for _, o in found["cases"] if o in by_openid)
    result.duplicated += [f"need of {o}" for o, n in needs.items() if n > 1]
    result.polite_errors = load.polite
    result.notes.append(
        f"{load.answered} answers, {len(load.unanswered)} messages unanswered at first and "
        f"delivered again {load.replays} times with the same MsgId, {load.refused} refused"
    )
    if load.refused:
        result.lost.append(f"{load.refused} WeChat retries refused (403)")


QUERIES = {
    "appointments": "SELECT a.ref, i.external_id FROM appointment a JOIN channelidentity i "
    "ON i.resident_id = a.resident_id AND i.channel = 'wechat' WHERE a.status != 'cancelled'",
    "cases": "SELECT c.ref, i.external_id FROM cases c JOIN channelidentity i "
    "ON i.resident_id = c.resident_id AND i.channel = 'wechat'",
    "needs": "SELECT i.external_id FROM need n JOIN channelidentity i "
    "ON i.resident_id = n.resident_id AND i.channel = 'wechat'",
    "supports": "SELECT i.external_id FROM needsupport s JOIN channelidentity i "
    "ON i.resident_id = s.resident_id AND i.channel = 'wechat'",
}


def restart_postgres(cluster: Cluster) -> Fault:
    """Restart the cluster under the server: fast (clients cut), then immediate (a crash)."""

    async def fault(load: Load, holder: Holder) -> None:
        await cluster.restart("fast")
        await asyncio.sleep(3)
        await cluster.restart("immediate")

    return fault


async def kill_and_restart(load: Load, holder: Holder) -> None:
    """SIGKILL the server mid-load, then start it again on the same port and database."""
    holder.process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(holder.process.wait)
    holder.process = serve(holder.env, holder.port, holder.processes)
    await wait_for_health(load.base, holder.process)


async def kill_one_child(load: Load, holder: Holder) -> None:
    """SIGKILL one server process of `linli serve --processes N`; its supervisor restarts it."""
    pid = holder.process.pid
    children = await asyncio.to_thread(_children, pid)
    os.kill(children[0], signal.SIGKILL)


def _children(pid: int) -> list[int]:
    """The process ids of pid's children (Linux)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
