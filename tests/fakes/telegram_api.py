"""A fake of the Telegram Bot API, served by aiohttp on 127.0.0.1, for python-telegram-bot."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

from aiohttp import web

Handler = Callable[[dict[str, Any]], Awaitable[Any]]

DEFAULT_TOKEN: Final = "123456:TEST-fake-token"
BOT_FIRST_NAME: Final = "Linli Test"
BOT_USERNAME: Final = "linli_test_bot"
MAX_TEXT: Final = 4096
MAX_LIMIT: Final = 100
MAX_COMMANDS: Final = 100
MAX_DESCRIPTION: Final = 256
TIMEOUT_SECONDS: Final = 30.0
AFTER_ACCEPT: Final = "timeout-after-accept"
FAILURE_KINDS: Final = frozenset({"429", "403", "5xx", "timeout", "400", AFTER_ACCEPT})
# Fields python-telegram-bot sends JSON-encoded inside a form body.
JSON_FIELDS: Final = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "allowed_updates",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
    }
)
FORM_TYPES: Final = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
COMMAND_RE: Final = re.compile(r"[a-z0-9_]{1,32}")
SECRET_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
INTEGER_RE: Final = re.compile(r"-?\d+")
NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup"
    " are exactly the same as a content and reply markup of the current message"
)
QUERY_INVALID: Final = "query is too old and response timeout expired or query ID is invalid"
WEBHOOK_ACTIVE: Final = (
    "Conflict: can't use getUpdates method while webhook is active;"
    " use deleteWebhook to delete the webhook first"
)

_update_ids = itertools.count(1)
_incoming_message_ids = itertools.count(1_000_001)
_callback_ids = itertools.count(7_000_000_001)
_file_ids = itertools.count(1)


@dataclass(frozen=True)
class Call:
    """One authorised request: the API method, its decoded parameters and when it arrived."""

    method: str
    params: dict[str, Any]
    at: float

    def int_param(self, name: str) -> int | None:
        """A parameter as an int, whether it was posted as a number or a string of digits."""
        return as_int(self.params.get(name))


@dataclass(frozen=True)
class SentText:
    """One text message the fake accepted (sent or edited into place)."""

    chat_id: int
    text: str
    reply_markup: dict[str, Any] | None
    message_id: int
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """A failure armed for the next call of one method."""

    kind: str
    retry_after: int = 1


class BotAPIError(Exception):
    """A refusal the fake answers with: HTTP status, description and optional parameters."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        """The Bot API's error answer: ok false, error_code, description (and parameters)."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters is not None:
            body["parameters"] = self.parameters
        return web.json_response(body, status=self.status)


def bad_request(description: str) -> BotAPIError:
    """A 400 whose description carries Telegram's "Bad Request: " prefix."""
    return BotAPIError(400, f"Bad Request: {description}")


def answer(result: object) -> web.Response:
    """The Bot API's success answer."""
    return web.json_response({"ok": True, "result": result})


def as_int(value: object) -> int | None:
    """An int parameter, given as an int or as the string python-telegram-bot posts."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and INTEGER_RE.fullmatch(value.strip()):
        return int(value)
    return None


def as_float(value: object) -> float | None:
    """A numeric parameter as a float, or None if it is absent or not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    return None


def as_bool(value: object) -> bool:
    """A boolean parameter: True, or the form-encoded "true"."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def same_id(value: object, expected: int) -> bool:
    """Whether a posted id (int or string) names `expected`."""
    return as_int(value) == expected


def decode_json_fields(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters with the JSON-encoded fields decoded (left as given if not valid JSON)."""
    decoded = dict(params)
    for name in JSON_FIELDS & decoded.keys():
        value = decoded[name]
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                decoded[name] = json.loads(value)
    return decoded


async def request_params(request: web.Request) -> dict[str, Any]:
    """Query-string, form and JSON-body parameters merged (the body wins), JSON fields decoded."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.text())
        except ValueError as exc:
            raise bad_request("can't parse JSON object") from exc
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        params.update(body)
    elif request.content_type in FORM_TYPES:
        form = await request.post()
        params.update({name: value for name, value in form.items() if isinstance(value, str)})
    return decode_json_fields(params)


def chat(chat_id: int, first_name: str = "测试") -> dict[str, Any]:
    """A Chat object: private for positive ids, a group otherwise."""
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": first_name}
    return {"id": chat_id, "type": "group", "title": "Linli test group"}


def user(user_id: int, first_name: str = "测试", language_code: str = "zh-hans") -> dict[str, Any]:
    """A human User object."""
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name,
        "language_code": language_code,
    }


def scope_key(scope: object) -> str:
    """The key commands are stored under: "default", or the scope as canonical JSON."""
    if scope is None or (isinstance(scope, dict) and scope.get("type") == "default"):
        return "default"
    return json.dumps(scope, sort_keys=True, ensure_ascii=False)


def update_type(update: dict[str, Any]) -> str | None:
    """The kind of an update: the name of its one field besides update_id."""
    return next((key for key in update if key != "update_id"), None)


def utf16_length(text: str) -> int:
    """A length as Telegram counts entity offsets: in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class FakeTelegramAPI:
    """Answers the Bot API at /bot<token>/<method>, records calls and can be told to fail."""

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        bot_id, _, _ = token.partition(":")
        if not bot_id.isdigit():
            raise ValueError(f"a bot token starts with the bot's numeric id, not {token!r}")
        self.token = token
        self.me: dict[str, Any] = {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.sent_messages: list[SentText] = []
        self.edits: list[SentText] = []
        self.webhook: dict[str, Any] | None = None
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._send_times: defaultdict[int, list[float]] = defaultdict(list)
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._updates: list[dict[str, Any]] = []
        self._last_update_id = 0
        self._failures: defaultdict[str, deque[Failure]] = defaultdict(deque)
        self._message_ids = itertools.count(1)
        self._arrival = asyncio.Event()
        self._closing = asyncio.Event()
        self._gate: asyncio.Event | None = None  # while set up and not open, sends wait
        self.held = 0  # sendMessage requests waiting at the gate, not yet accepted
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
        }
        # Telegram matches method names case-insensitively.
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>; point a Bot at it with base_url=f"{base_url}/bot"."""
        if self._port is None:
            raise RuntimeError("the fake Telegram API has not been started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Queued updates not yet confirmed by an offset."""
        return list(self._updates)

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1 and return the base URL."""
        app = web.Application()
        app.router.add_get("/bot{token}/{method}", self._dispatch)
        app.router.add_post("/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        return self.base_url

    async def close(self) -> None:
        """Wake stalled answers and long polls, and stop listening."""
        self._closing.set()
        self._arrival.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def fail(self, method: str, kind: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Fail the next `times` calls of `method`: "429", "403", "5xx", "timeout" or "400"."""
        name = self._canonical(method)
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure {kind!r}; expected one of {sorted(FAILURE_KINDS)}")
        self._failures[name].extend([Failure(kind, retry_after)] * times)

    def fail_after_delivery(self, method: str, *, times: int = 1) -> None:
        """Carry out the next `times` calls of `method` but never answer (the answer was lost)."""
        self.fail(method, AFTER_ACCEPT, times=times)

    def calls_of(self, method: str) -> list[Call]:
        """The recorded calls of one method, in order."""
        name = self._canonical(method)
        return [call for call in self.calls if call.method == name]

    def send_times(self, chat_id: int | str) -> list[float]:
        """The monotonic times of the successful sendMessage calls to one chat."""
        key = as_int(chat_id)
        return list(self._send_times.get(key, [])) if key is not None else []

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The current state of a message the bot sent or edited, if the fake knows it."""
        return self._messages.get((chat_id, message_id))

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The commands set for one scope and language, as getMyCommands would answer."""
        return list(self._commands.get((scope_key(scope), language_code), []))

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates, numbering it if it has no update_id; return it."""
        queued = dict(update)
        if "update_id" not in queued:
            queued["update_id"] = self._last_update_id + 1
        self._last_update_id = max(self._last_update_id, queued["update_id"])
        self._updates.append(queued)
        self._arrival.set()
        self._arrival = asyncio.Event()
        return queued

    def _canonical(self, method: str) -> str:
        known = self._methods.get(method.lower())
        if known is None:
            raise ValueError(f"the fake does not serve {method!r}")
        return known[0]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return BotAPIError(401, "Unauthorized").response()
        requested = request.match_info["method"]
        name, handler = self._methods.get(requested.lower(), (requested, None))
        try:
            params = await request_params(request)
        except BotAPIError as exc:
            self.calls.append(Call(name, {}, time.monotonic()))
            return exc.response()
        self.calls.append(Call(name, params, time.monotonic()))
        if handler is None:
            return BotAPIError(404, "Not Found").response()
        if (
            name == "sendMessage"
            and self._gate is not None
            and not await self._through_gate(request)
        ):
            return web.Response(status=499, text="client gone")
        failure = self._failures[name].popleft() if self._failures[name] else None
        if failure is not None and failure.kind != AFTER_ACCEPT:
            return await self._injected(failure)
        try:
            result = await handler(params)
        except BotAPIError as exc:
            return exc.response()
        if failure is not None:
            await self._stall()
        return answer(result)

    def hold_sends(self) -> None:
        """From now on, sendMessage waits before accepting anything, until release_sends()."""
        self._gate = asyncio.Event()

    def release_sends(self) -> None:
        """Let waiting and later sends through."""
        if self._gate is not None:
            self._gate.set()
        self._gate = None

    async def _through_gate(self, request: web.Request) -> bool:
        """Wait at the gate; False when the client went away meanwhile (nothing accepted)."""
        gate = self._gate
        assert gate is not None
        self.held += 1
        try:
            while not gate.is_set() and not self._closing.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gate.wait(), 0.05)
                if request.transport is None or request.transport.is_closing():
                    return False
        finally:
            self.held -= 1
        return not self._closing.is_set()

    async def _injected(self, failure: Failure) -> web.Response:
        if failure.kind == "429":
            return BotAPIError(
                429,
                f"Too Many Requests: retry after {failure.retry_after}",
                {"retry_after": failure.retry_after},
            ).response()
        if failure.kind == "403":
            return BotAPIError(403, "Forbidden: bot was blocked by the user").response()
        if failure.kind == "400":
            return bad_request("chat not found").response()
        if failure.kind == "timeout":
            await self._stall()
        return BotAPIError(502, "Bad Gateway").response()

    async def _stall(self) -> None:
        """Hold the answer back until the client has given up (or the fake closes)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), TIMEOUT_SECONDS)

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.me

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = required_chat_id(params)
        text = required_text(params)
        markup = optional_markup(params)
        message = self._message_dict(chat_id, next(self._message_ids), text, markup)
        self._messages[chat_id, message["message_id"]] = message
        self._send_times[chat_id].append(time.monotonic())
        self.sent_messages.append(SentText(chat_id, text, markup, message["message_id"], params))
        return message

    async def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        text = required_text(params)
        markup = optional_markup(params)
        if "inline_message_id" in params:
            return True
        chat_id = required_chat_id(params)
        message_id = as_int(params.get("message_id"))
        if message_id is None:
            raise bad_request("message identifier is not specified")
        edited = self._message_dict(chat_id, message_id, text, markup)
        old = self._messages.get((chat_id, message_id))
        # Unknown messages (sent before the fake started, or named by a factory-made
        # callback) are edited leniently rather than refused as "message to edit not found".
        if old is not None:
            if old.get("text") == text and old.get("reply_markup") == edited.get("reply_markup"):
                raise BotAPIError(400, NOT_MODIFIED)
            edited["date"] = old["date"]
        edited["edit_date"] = int(time.time())
        self._messages[chat_id, message_id] = edited
        self.edits.append(SentText(chat_id, text, markup, message_id, params))
        return edited

    def _message_dict(
        self, chat_id: int, message_id: int, text: str, markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat(chat_id),
            "from": self.me,
            "text": text,
        }
        # A message carries only inline keyboards; reply keyboards live on the client.
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise bad_request(QUERY_INVALID)
        return True

    async def _send_chat_action(self, params: dict[str, Any]) -> bool:
        required_chat_id(params)
        return True

    async def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = valid_commands(params.get("commands"))
        key = (scope_key(params.get("scope")), str(params.get("language_code") or ""))
        if commands:
            self._commands[key] = commands
        else:
            self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        key = (scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return list(self._commands.get(key, []))

    async def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        key = (scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands.pop(key, None)
        return True

    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url")
        if not isinstance(url, str):
            raise bad_request("bad webhook: URL is not specified")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if as_bool(params.get("drop_pending_updates")):
            self._updates.clear()
        if url == "":
            self.webhook = None
            return True
        if not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = dict(params)
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if as_bool(params.get("drop_pending_updates")):
            self._updates.clear()
        self.webhook = None
        return True

    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook and self.webhook.get("allowed_updates") is not None:
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise BotAPIError(409, WEBHOOK_ACTIVE)
        offset = as_int(params.get("offset"))
        if offset is not None:
            self._confirm(offset)
        limit = min(max(as_int(params.get("limit")) or MAX_LIMIT, 1), MAX_LIMIT)
        allowed = params.get("allowed_updates")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(as_float(params.get("timeout")) or 0.0, 0.0)
        while True:
            updates = self._deliverable(allowed, limit)
            remaining = deadline - loop.time()
            if updates or remaining <= 0 or self._closing.is_set():
                return updates
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrival.wait(), remaining)

    def _confirm(self, offset: int) -> None:
        """Forget updates below offset; a negative offset keeps only the last -offset."""
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _deliverable(self, allowed: object, limit: int) -> list[dict[str, Any]]:
        updates = self._updates
        if isinstance(allowed, list) and allowed:
            updates = [u for u in updates if update_type(u) in allowed]
        return updates[:limit]


def required_chat_id(params: dict[str, Any]) -> int:
    """The chat_id parameter as an int, or Telegram's 400 if it is missing or unknown."""
    if params.get("chat_id") in (None, ""):
        raise bad_request("chat_id is empty")
    chat_id = as_int(params["chat_id"])
    if chat_id is None:
        raise bad_request("chat not found")
    return chat_id


def required_text(params: dict[str, Any]) -> str:
    """The text parameter, or Telegram's 400 if it is empty or over 4096 characters."""
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    return text


def optional_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    """The decoded reply_markup, None if absent, or Telegram's 400 if it is not an object."""
    markup = params.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def valid_commands(commands: object) -> list[dict[str, str]]:
    """A setMyCommands list checked against the Bot API's limits, or a 400."""
    if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
        raise bad_request("can't parse commands JSON object")
    checked: list[dict[str, str]] = []
    for entry in commands:
        command = entry.get("command") if isinstance(entry, dict) else None
        description = entry.get("description") if isinstance(entry, dict) else None
        if not isinstance(command, str) or not COMMAND_RE.fullmatch(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description) <= MAX_DESCRIPTION:
            raise bad_request("command description is empty or too long")
        checked.append({"command": command, "description": description})
    return checked


def text_update(
    chat_id: int,
    text: str,
    *,
    update_id: int | None = None,
    language_code: str = "zh-hans",
    first_name: str = "测试",
) -> dict[str, Any]:
    """A private-chat text message from user `chat_id`; a leading /command gets its entity."""
    body: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        body["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_length(command)}]
    return _message_update(chat_id, body, update_id, language_code, first_name)


def location_update(
    chat_id: int,
    latitude: float,
    longitude: float,
    *,
    update_id: int | None = None,
    language_code: str = "zh-hans",
    first_name: str = "测试",
) -> dict[str, Any]:
    """A private-chat message sharing a location."""
    body = {"location": {"latitude": latitude, "longitude": longitude}}
    return _message_update(chat_id, body, update_id, language_code, first_name)


def photo_update(
    chat_id: int,
    *,
    caption: str | None = None,
    update_id: int | None = None,
    language_code: str = "zh-hans",
    first_name: str = "测试",
) -> dict[str, Any]:
    """A private-chat photo, in Telegram's three sizes, with an optional caption."""
    photo_number = next(_file_ids)
    sizes = [(90, 67), (320, 240), (1280, 960)]
    body: dict[str, Any] = {
        "photo": [
            {
                "file_id": f"photo-{photo_number}-{width}",
                "file_unique_id": f"u-photo-{photo_number}-{width}",
                "width": width,
                "height": height,
                "file_size": width * height // 10,
            }
            for width, height in sizes
        ]
    }
    if caption is not None:
        body["caption"] = caption
    return _message_update(chat_id, body, update_id, language_code, first_name)


def callback_update(
    chat_id: int,
    data: str,
    *,
    update_id: int | None = None,
    language_code: str = "zh-hans",
    message_id: int = 1,
    first_name: str = "测试",
) -> dict[str, Any]:
    """A button press by user `chat_id` on the bot's message `message_id` in their chat."""
    return {
        "update_id": next(_update_ids) if update_id is None else update_id,
        "callback_query": {
            "id": str(next(_callback_ids)),
            "from": user(chat_id, first_name, language_code),
            "message": {"message_id": message_id, "date": int(time.time()), "chat": chat(chat_id)},
            "chat_instance": f"instance-{chat_id}",
            "data": data,
        },
    }


def _message_update(
    chat_id: int,
    body: dict[str, Any],
    update_id: int | None,
    language_code: str,
    first_name: str,
) -> dict[str, Any]:
    message = {
        "message_id": next(_incoming_message_ids),
        "date": int(time.time()),
        "chat": chat(chat_id, first_name),
        "from": user(chat_id, first_name, language_code),
        **body,
    }
    return {"update_id": next(_update_ids) if update_id is None else update_id, "message": message}
