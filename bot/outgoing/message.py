"""A message Linli sends on its own, typed: catalogue keys with values, options and a link.

It is stored in the outbox as data and put into words only at delivery, in the language of the
account it goes to (which of a person's accounts that is is known only then).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Union

from bot.i18n import format_day, t
from bot.messages import Button, Link, Reply
from models.base import SHANGHAI

MESSAGE_KEY = "message"


@dataclass(frozen=True)
class Name:
    """A proper name kept in both languages (a service, a department): the reader's is shown."""

    zh: str
    en: str = ""

    def render(self, lang: str) -> str:
        """The English name for English readers when there is one, else the Chinese."""
        return self.en if lang == "en" and self.en else self.zh


@dataclass(frozen=True)
class Day:
    """A calendar day, written the reader's way (12月5日 / 5 Dec)."""

    day: date

    def render(self, lang: str) -> str:
        """The day in the reader's language."""
        return format_day(lang, self.day)


@dataclass(frozen=True)
class Moment:
    """An instant, shown as a day and a Beijing-time clock (12月5日 10:00 / 5 Dec 10:00)."""

    at: datetime

    def render(self, lang: str) -> str:
        """The moment in the reader's language and the street's time zone."""
        local = self.at.astimezone(SHANGHAI)
        return f"{format_day(lang, local.date())} {local:%H:%M}"


@dataclass(frozen=True)
class Say:
    """A catalogue text and its values; a value may itself be a Say, a Name, a Day or a Moment."""

    key: str
    values: Mapping[str, Value] = field(default_factory=dict)

    def render(self, lang: str) -> str:
        """The text in the reader's language with every value filled in."""
        return t(lang, self.key, **{k: render_value(v, lang) for k, v in self.values.items()})


@dataclass(frozen=True)
class Verbatim:
    """Text a person wrote (a notice, a staff member's words): shown as written."""

    text: str

    def render(self, lang: str) -> str:
        """The text itself."""
        return self.text


Value = Union[str, int, Say, Name, Day, Moment]  # noqa: UP007 - a runtime alias, used by Say
Line = Say | Verbatim


def render_value(value: Value, lang: str) -> str | int:
    """A value as the reader sees it."""
    if isinstance(value, str | int):
        return value
    return value.render(lang)


@dataclass(frozen=True)
class Option:
    """A choice offered with the message; its payload comes back when it is taken."""

    label: Say
    payload: str


@dataclass(frozen=True)
class MessageLink:
    """A link shown under the message."""

    url: str
    label: Say


@dataclass(frozen=True)
class Message:
    """One outgoing message: its lines, the options it offers and an optional link."""

    lines: tuple[Line, ...]
    options: tuple[Option, ...] = ()
    link: MessageLink | None = None

    def render(self, lang: str) -> Reply:
        """The message as a neutral reply in the reader's language (channels draw it)."""
        text = "\n".join(line.render(lang) for line in self.lines)
        buttons = tuple(Button(o.label.render(lang), o.payload) for o in self.options)
        link = None if self.link is None else Link(self.link.url, self.link.label.render(lang))
        return Reply(text, buttons, link)

    def to_payload(self) -> dict[str, Any]:
        """The outbox payload: the message as JSON data."""
        return {MESSAGE_KEY: _encode(self)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Message:
        """Rebuild a message stored by to_payload."""
        data = payload[MESSAGE_KEY]
        link = data.get("link")
        return cls(
            lines=tuple(_decode_line(line) for line in data.get("lines", [])),
            options=tuple(
                Option(_decode_say(o["label"]), str(o["payload"])) for o in data.get("options", [])
            ),
            link=None if not link else MessageLink(str(link["url"]), _decode_say(link["label"])),
        )


def say(key: str, **values: Value) -> Say:
    """Shorthand for Say(key, values)."""
    return Say(key, values)


def message(
    *lines: Line, options: tuple[Option, ...] = (), link: MessageLink | None = None
) -> Message:
    """Shorthand for a Message of these lines."""
    return Message(lines, options, link)


def option(label_key: str, payload: str) -> Option:
    """An option labelled by a catalogue key."""
    return Option(Say(label_key), payload)


def payload_replies(payload: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    """The replies an outbox payload stands for, in the reader's language.

    A typed message is put into words here; a conversation's own replies (already in the
    account's language) are as stored; rows written before typed messages carried every
    language, of which the reader's is picked.
    """
    if MESSAGE_KEY in payload:
        return [Message.from_payload(payload).render(lang).to_dict()]
    versions = payload.get("localized")
    if isinstance(versions, dict) and versions:
        chosen = versions.get(lang) or versions.get("zh-CN") or next(iter(versions.values()))
        return list(chosen)
    return list(payload.get("replies", []))


def _encode(value: Any) -> Any:
    if isinstance(value, Message):
        return {
            "lines": [_encode(line) for line in value.lines],
            "options": [{"label": _encode(o.label), "payload": o.payload} for o in value.options],
            "link": None
            if value.link is None
            else {"url": value.link.url, "label": _encode(value.link.label)},
        }
    if isinstance(value, Say):
        return {"say": value.key, "values": {k: _encode(v) for k, v in value.values.items()}}
    if isinstance(value, Verbatim):
        return {"verbatim": value.text}
    if isinstance(value, Name):
        return {"name": [value.zh, value.en]}
    if isinstance(value, Day):
        return {"day": value.day.isoformat()}
    if isinstance(value, Moment):
        return {"at": value.at.isoformat()}
    return value


def _decode_line(data: Mapping[str, Any]) -> Line:
    if "verbatim" in data:
        return Verbatim(str(data["verbatim"]))
    return _decode_say(data)


def _decode_say(data: Mapping[str, Any]) -> Say:
    return Say(str(data["say"]), {k: _decode_value(v) for k, v in data.get("values", {}).items()})


def _decode_value(data: Any) -> Value:
    if isinstance(data, str | int):
        return data
    if "say" in data:
        return _decode_say(data)
    if "name" in data:
        zh, en = data["name"]
        return Name(str(zh), str(en))
    if "day" in data:
        return Day(date.fromisoformat(data["day"]))
    if "at" in data:
        return Moment(datetime.fromisoformat(data["at"]))
    raise ValueError(f"not a message value: {sorted(data)}")
