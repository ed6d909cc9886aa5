"""Channel-neutral message types: what comes in (Inbound) and what goes out (Reply)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INPUT_LIMIT = 2000  # characters of a resident's typed text a chat channel passes on


@dataclass(frozen=True)
class Location:
    """A point a resident shared."""

    latitude: float
    longitude: float
    label: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file a resident sent (kept by reference, e.g. a WeChat media id or a URL)."""

    kind: str
    ref: str


@dataclass(frozen=True)
class Inbound:
    """One message from a person, as every channel adapter hands it to the pipeline."""

    channel: str
    user_ref: str
    text: str | None = None
    payload: str | None = None
    event: str | None = None
    message_id: str | None = None
    lang: str | None = None
    location: Location | None = None
    attachments: tuple[Attachment, ...] = ()
    # A signed request's (timestamp, nonce, signature): bound to this message in the message's
    # own transaction, so a replay carrying another message is refused with no effect.
    replay_key: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class Button:
    """An option the person can choose; the payload comes back when they do."""

    label: str
    payload: str


@dataclass(frozen=True)
class Link:
    """A link shown under a reply."""

    url: str
    label: str


@dataclass(frozen=True)
class Reply:
    """One answer bubble: text, optional options and an optional link."""

    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    link: Link | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the web chat API (also how replies are stored for dedupe)."""
        return {
            "text": self.text,
            "buttons": [{"label": b.label, "payload": b.payload} for b in self.buttons],
            "link": None if self.link is None else {"url": self.link.url, "label": self.link.label},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        """Rebuild a reply stored by to_dict."""
        link = data.get("link")
        return cls(
            text=data["text"],
            buttons=tuple(Button(b["label"], b["payload"]) for b in data.get("buttons", [])),
            link=Link(link["url"], link["label"]) if link else None,
        )
