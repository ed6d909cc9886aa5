"""The scenario's two chat channels: the fakes that tell waiters what arrived, and the clients.

A resident on WeChat posts signed XML to POST /wechat and reads the passive XML answer (or, when
the server answers "success" because the reply took too long, the customer-service message it
pushes to the fake WeChat API). A resident on Telegram posts updates to POST /telegram and reads
the sendMessage calls that reach the fake Bot API for their chat.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, text_update
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.fakes.wechat_sender import WeChatAccount, WeChatServer

TELEGRAM_SECRET = "scenario-telegram-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WECHAT_TOKEN = "scenario-wechat-token"
WECHAT_APP_ID = "wx-scenario-app"
WECHAT_APP_SECRET = "scenario-app-secret"
REPLY_TIMEOUT = 30.0  # seconds a resident waits for any answer before calling it an error
TELEGRAM_QUIET = 2.5  # seconds after a keyboard-less message before the reply counts as whole
NUMBERED = re.compile(r"^(\d+)\. (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Option:
    """A choice offered in a reply: its label and what choosing it sends."""

    label: str
    send: str  # the number to type (WeChat) or the button's callback data (Telegram)
    message_id: int = 0  # the Telegram message that carries the button


@dataclass
class Answer:
    """What one message of a resident got back."""

    text: str = ""
    options: list[Option] = field(default_factory=list)
    seconds: float = 0.0  # from the POST to the answer (Telegram: to the first sendMessage)
    error: str | None = None


Received = tuple[float, str, dict[str, Any] | None, int]  # time, text, markup, message id


class WatchedTelegram(FakeTelegramAPI):
    """The fake Bot API, waking whoever waits on a chat when a message is sent to it."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.by_chat: defaultdict[int, list[Received]] = defaultdict(list)

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        message = await super()._send_message(params)
        chat_id = int(message["chat"]["id"])
        markup = message.get("reply_markup")
        self.by_chat[chat_id].append(
            (time.monotonic(), str(message["text"]), markup, int(message["message_id"]))
        )
        self.arrived[chat_id].set()
        return message


class WatchedWeChat(FakeWeChatAPI):
    """The fake WeChat API, waking whoever waits on an openid when something is pushed to it."""

    def __init__(self) -> None:
        super().__init__(appid=WECHAT_APP_ID, secret=WECHAT_APP_SECRET)
        self.arrived: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.pushed: defaultdict[str, list[str]] = defaultdict(list)

    def _accepted(self, api: str) -> web.Response:
        sent = self.sent[-1]
        if sent.touser is not None:
            self.pushed[sent.touser].append(sent.text or json.dumps(sent.body, ensure_ascii=False))
            self.arrived[sent.touser].set()
        return super()._accepted(api)


def wechat_options(text: str) -> list[Option]:
    """The numbered options of a WeChat text ("3. 社会保障科")."""
    return [Option(label.strip(), number) for number, label in NUMBERED.findall(text)]


def telegram_options(markup: dict[str, Any] | None, message_id: int) -> list[Option]:
    """The buttons of an inline keyboard."""
    rows = (markup or {}).get("inline_keyboard") or []
    return [
        Option(str(b.get("text", "")), str(b.get("callback_data", "")), message_id)
        for row in rows
        for b in row
        if b.get("callback_data")
    ]


class WeChatClient:
    """Sends as WeChat does and reads the passive answer, falling back to pushed messages."""

    def __init__(self, session: aiohttp.ClientSession, fake: WatchedWeChat) -> None:
        self.session = session
        self.fake = fake
        self.account = WeChatAccount(WECHAT_TOKEN, WECHAT_APP_ID)
        self.msg_ids = itertools.count(10**15)

    async def say(self, url: str, openid: str, text: str) -> Answer:
        """One text message from openid; the answer as the resident sees it."""
        sender = WeChatServer(self.account, openid=openid)
        query, body = sender.request(sender.text(text, msg_id=next(self.msg_ids)))
        pushed_before = len(self.fake.pushed[openid])
        started = time.monotonic()
        try:
            async with self.session.post(url, params=query, data=body) as response:
                raw = await response.read()
                if response.status != 200:
                    return Answer(error=f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as error:
            return Answer(error=type(error).__name__, seconds=time.monotonic() - started)
        content = sender.read_reply(raw).get("Content", "")
        if not content:
            content = await self._pushed(openid, pushed_before, started)
            if not content:
                return Answer(error="no answer", seconds=time.monotonic() - started)
        return Answer(content, wechat_options(content), time.monotonic() - started)

    async def _pushed(self, openid: str, before: int, started: float) -> str:
        """The first customer-service message pushed to openid after `before`, or ''."""
        event = self.fake.arrived[openid]
        while len(self.fake.pushed[openid]) <= before:
            left = REPLY_TIMEOUT - (time.monotonic() - started)
            if left <= 0:
                return ""
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), left)
            except TimeoutError:
                return ""
        return self.fake.pushed[openid][before]

    async def choose(self, url: str, openid: str, option: Option) -> Answer:
        """Answer with the option's number."""
        return await self.say(url, openid, option.send)


class TelegramClient:
    """Posts updates to the webhook and collects the sendMessage calls of the reply."""

    def __init__(self, session: aiohttp.ClientSession, fake: WatchedTelegram) -> None:
        self.session = session
        self.fake = fake
        self.update_ids = itertools.count(1)
        self.headers = {SECRET_HEADER: TELEGRAM_SECRET, "Content-Type": "application/json"}

    async def say(self, url: str, chat_id: int, text: str) -> Answer:
        """A typed text from chat_id."""
        update = text_update(chat_id, text, update_id=next(self.update_ids))
        return await self._post(url, chat_id, update)

    async def choose(self, url: str, chat_id: int, option: Option) -> Answer:
        """A press of the option's button on the message that carries it."""
        update = callback_update(
            chat_id, option.send, update_id=next(self.update_ids), message_id=option.message_id
        )
        return await self._post(url, chat_id, update)

    async def _post(self, url: str, chat_id: int, update: dict[str, Any]) -> Answer:
        seen = len(self.fake.by_chat[chat_id])
        body = json.dumps(update, ensure_ascii=False).encode()
        started = time.monotonic()
        try:
            async with self.session.post(url, data=body, headers=self.headers) as response:
                await response.read()
                if response.status != 200:
                    return Answer(error=f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as error:
            return Answer(error=type(error).__name__, seconds=time.monotonic() - started)
        return await self._collect(chat_id, seen, started)

    async def _collect(self, chat_id: int, seen: int, started: float) -> Answer:
        """Wait for the reply's messages: up to one with a keyboard, or a quiet spell."""
        event = self.fake.arrived[chat_id]
        while True:
            got = self.fake.by_chat[chat_id][seen:]
            if got and (got[-1][2] is not None or time.monotonic() - got[-1][0] > TELEGRAM_QUIET):
                return self._answer(got, started)
            limit = TELEGRAM_QUIET if got else REPLY_TIMEOUT - (time.monotonic() - started)
            if limit <= 0:
                return Answer(error="no answer", seconds=time.monotonic() - started)
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), limit)
            except TimeoutError:
                if not got:
                    return Answer(error="no answer", seconds=time.monotonic() - started)
                return self._answer(got, started)

    @staticmethod
    def _answer(got: list[Received], started: float) -> Answer:
        options: list[Option] = []
        for _, _, markup, message_id in got:
            options = telegram_options(markup, message_id) or options
        text = "\n\n".join(text for _, text, _, _ in got)
        return Answer(text, options, got[0][0] - started)
