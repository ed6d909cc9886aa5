"""The web chat channel: JSON in (POST /api/chat), JSON out; no credentials needed."""

from __future__ import annotations

import re
from typing import Any

from bot.messages import Inbound, Reply

CHANNEL = "web"
# Patterns are used with fullmatch: "$" alone would let a trailing newline through.
USER_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
PAYLOAD_LIMIT = 200
# The page's id is the account's only credential, so production wants one that cannot be
# guessed: 128 random bits are 22 base64url characters, or 32 hex digits (a UUID has those).
STRONG_ID_LENGTH = 22
HEX_DIGITS_NEEDED = 32
HEX_ID = re.compile(r"[0-9a-fA-F-]+")
# A random id of that length has about 14 (hex) or 19 (base64url) different characters; fewer
# than 8 happens to one id in tens of millions, but to every "aaaa…" or "user-0000…1".
MIN_DISTINCT = 8


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


def is_strong_user_id(user: str) -> bool:
    """Whether an id looks like the page's 128 random bits, not something short or patterned."""
    if not USER_ID.fullmatch(user) or len(user) < STRONG_ID_LENGTH:
        return False
    if HEX_ID.fullmatch(user) and len(user.replace("-", "")) < HEX_DIGITS_NEEDED:
        return False
    return len(set(user)) >= MIN_DISTINCT


def valid_user_id(user: object, *, strong_ids: bool = False) -> bool:
    """Whether a web chat user id is acceptable (with strong_ids, as production wants it)."""
    if not isinstance(user, str) or not USER_ID.fullmatch(user):
        return False
    return not strong_ids or is_strong_user_id(user)


def parse_chat_request(body: object, text_limit: int, *, strong_ids: bool = False) -> Inbound:
    """Validate the web chat JSON contract and turn it into an Inbound; with strong_ids
    (production) only ids that look random are accepted."""
    if not isinstance(body, dict):
        raise BadChatRequestError("bad_request")
    user = _optional_str(body, "user")
    text = _optional_str(body, "text")
    payload = _optional_str(body, "payload")
    message_id = _optional_str(body, "message_id")
    if user is None or not valid_user_id(user, strong_ids=strong_ids):
        raise BadChatRequestError("bad_request")
    if message_id is not None and not MESSAGE_ID.fullmatch(message_id):
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
