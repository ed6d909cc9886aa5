"""The web chat channel: JSON in (POST /api/chat), JSON out; no credentials needed."""

from __future__ import annotations

import re
from typing import Any

from bot.messages import Inbound, Reply

CHANNEL = "web"
USER_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MESSAGE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
PAYLOAD_LIMIT = 200


class BadChatRequestError(ValueError):
    """A chat request we refuse; `reason` picks the polite text shown to the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadChatRequestError("bad_request")
    try:
        value.encode("utf-8")  # lone surrogates from JSON escapes cannot be stored or echoed
    except UnicodeEncodeError:
        raise BadChatRequestError("bad_request") from None
    return value


def parse_chat_request(body: object, text_limit: int) -> Inbound:
    """Validate the web chat JSON contract and turn it into an Inbound."""
    if not isinstance(body, dict):
        raise BadChatRequestError("bad_request")
    user = _optional_str(body, "user")
    text = _optional_str(body, "text")
    payload = _optional_str(body, "payload")
    message_id = _optional_str(body, "message_id")
    if user is None or not USER_ID.match(user):
        raise BadChatRequestError("bad_request")
    if message_id is not None and not MESSAGE_ID.match(message_id):
        raise BadChatRequestError("bad_request")
    if (text is None) == (payload is None):
        raise BadChatRequestError("bad_request")
    if text is not None and len(text) > text_limit:
        raise BadChatRequestError("too_long")
    if payload is not None and len(payload) > PAYLOAD_LIMIT:
        raise BadChatRequestError("bad_request")
    return Inbound(
        channel=CHANNEL,
        user_ref=user,
        text=text,
        payload=payload,
        message_id=message_id,
        lang=_optional_str(body, "lang"),
    )


def render_replies(replies: list[Reply]) -> dict[str, Any]:
    """The JSON answer of POST /api/chat."""
    return {"replies": [reply.to_dict() for reply in replies]}
