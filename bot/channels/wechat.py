"""The WeChat Official Account channel: verify, decrypt, parse → Inbound; replies → passive XML.

Everything here treats the request as hostile until the signature is checked, and treats the
verified XML as hostile after that: no DTDs or entities, a size cap, sanitised echoes.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from xml.etree.ElementTree import ParseError

import xmltodict
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from bot.messages import INPUT_LIMIT, Attachment, Inbound, Location, Reply
from bot.render import numbered_text

CHANNEL = "wechat"
TEXT_LIMIT = 600  # characters; WeChat cuts passive text replies at 2048 bytes
PAYLOAD_LIMIT = 200
SENDER_LIMIT = 64  # openids are 28 characters; the stores allow 128
EVENT_NAME_KEPT = 24  # of an event's name in its dedupe id (the longest WeChat sends has 20)
DECRYPT_ERRORS = (InvalidAppIdException, ValueError, IndexError, struct.error)
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
# The platform's three message encryption modes: 明文模式, 兼容模式, 安全模式.
WeChatMode = Literal["plain", "compatible", "safe"]


class WeChatRejectedError(Exception):
    """A callback we refuse, with the HTTP status to answer and a short reason for the metrics."""

    def __init__(self, status: int, reason: str, code: str = "malformed") -> None:
        super().__init__(reason)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Opened:
    """A verified callback body: the message XML and the key to seal the answer with."""

    xml: str
    crypto: WeChatCrypto | None


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 over the sorted parts."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def _same(expected: str, given: str | None) -> bool:
    # Bytes, not str: compare_digest raises on non-ASCII text, which anyone can send.
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def precheck_xml(body: bytes) -> None:
    """Refuse DTDs, entity declarations and external references before anything parses.

    A declaration can only begin with "<!", so a body without one outside CDATA markers cannot
    carry any; only bodies that have one (rare: comments, or an attack) pay for defusedxml's full
    parse, which costs more than the rest of the webhook's work.
    """
    if b"<!" not in body.replace(b"<![CDATA[", b""):
        return
    try:
        fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError) as error:
        raise WeChatRejectedError(400, f"unsafe or malformed XML: {type(error).__name__}") from None


def _encrypted_part(body: bytes) -> str:
    """The Encrypt element of a safe-mode body (the body itself has passed the pre-check)."""
    try:
        root = xmltodict.parse(body, disable_entities=True)["xml"]
    except Exception:
        raise WeChatRejectedError(400, "malformed XML") from None
    encrypted = root.get("Encrypt") if isinstance(root, dict) else None
    return encrypted if isinstance(encrypted, str) else ""


class WeChatGatekeeper:
    """Checks signatures, freshness and the encryption mode, and opens safe-mode bodies
    (accepting the current and the previous AES key)."""

    def __init__(
        self,
        token: str,
        app_id: str,
        aes_keys: tuple[str, ...],
        *,
        mode: WeChatMode | None = None,
        window_seconds: float = 300.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.app_id = app_id
        self.cryptos = tuple(WeChatCrypto(token, key, app_id) for key in aes_keys if key)
        self.mode: WeChatMode = mode or ("safe" if self.cryptos else "plain")
        self.window = window_seconds
        self.wall = wall  # the platform signs with real time, whatever the demo clock says

    def check_query(self, query: dict[str, str]) -> None:
        """The plain signature every callback carries (timestamp, nonce, token), and its age."""
        expected = sign(self.token, query.get("timestamp", ""), query.get("nonce", ""))
        if not _same(expected, query.get("signature")):
            raise WeChatRejectedError(403, "bad signature", "signature")
        self._check_fresh(query.get("timestamp", ""))

    def _check_fresh(self, timestamp: str) -> None:
        try:
            age = abs(self.wall() - int(timestamp))
        except ValueError:
            raise WeChatRejectedError(403, "timestamp is not a number", "stale") from None
        if age > self.window:
            raise WeChatRejectedError(403, "timestamp outside the window", "stale")

    def open(self, query: dict[str, str], body: bytes) -> Opened:
        """Verify and, in safe mode, decrypt a POST body."""
        self.check_query(query)
        precheck_xml(body)
        encrypted_mode = query.get("encrypt_type", "raw") == "aes"
        if encrypted_mode and self.mode == "plain":
            raise WeChatRejectedError(403, "encrypted body in plain mode", "mode")
        if not encrypted_mode:
            # In safe mode the body must carry its own signature; a plain one would let
            # whoever saw one signed URL post any XML as anyone.
            if self.mode == "safe":
                raise WeChatRejectedError(403, "plain body in safe mode", "mode")
            try:
                return Opened(body.decode("utf-8"), None)
            except UnicodeDecodeError:
                raise WeChatRejectedError(400, "not UTF-8") from None
        encrypted = _encrypted_part(body)
        expected = sign(self.token, query.get("timestamp", ""), query.get("nonce", ""), encrypted)
        if not encrypted or not _same(expected, query.get("msg_signature")):
            raise WeChatRejectedError(403, "bad message signature", "signature")
        for crypto in self.cryptos:  # current key first, then the one being replaced
            try:
                plain = crypto.decrypt_message(
                    {"Encrypt": encrypted},
                    query["msg_signature"],
                    query.get("timestamp", ""),
                    query.get("nonce", ""),
                )
            except DECRYPT_ERRORS:  # wrong key, wrong app id or corrupt padding: try the next
                continue
            precheck_xml(plain.encode("utf-8") if isinstance(plain, str) else plain)
            return Opened(plain if isinstance(plain, str) else plain.decode("utf-8"), crypto)
        raise WeChatRejectedError(400, "cannot decrypt with any configured key", "decrypt")

    def seal(self, xml: str, opened: Opened) -> str:
        """Encrypt an answer in the mode the message came in."""
        if opened.crypto is None:
            return xml
        return str(opened.crypto.encrypt_message(xml, secrets.token_hex(8), str(int(time.time()))))


def sanitize(text: str) -> str:
    """Remove what could break out of CDATA or is not allowed in XML."""
    return _UNSAFE.sub("", text).replace("]]>", "]] >")


def dedupe_id(message: BaseMessage) -> str:
    """MsgId for messages; sender + time + event (+ a digest of its key) for events, which have
    no MsgId: two different menu buttons pressed within one second are two messages."""
    if message.id:
        return str(message.id)
    event = str(getattr(message, "event", ""))[:EVENT_NAME_KEPT]
    key = getattr(message, "key", None) or getattr(message, "url", None)
    if not key:
        return f"{message.source}:{message.time}:{event}"
    digest = hashlib.sha256(str(key).encode("utf-8")).hexdigest()[:16]
    return f"{message.source}:{message.time}:{event}:{digest}"  # within the stores' 128


def to_inbound(message: BaseMessage) -> Inbound:
    """Translate a parsed WeChat message into the pipeline's neutral Inbound."""
    base: dict[str, Any] = {
        "channel": CHANNEL,
        "user_ref": message.source,
        "message_id": dedupe_id(message),
        "lang": "zh-CN",
    }
    kind = message.type
    if kind == "text":
        # WeChat does not cap a text; a 60 KB one would cost every reader of it dearly.
        return Inbound(text=(message.content or "")[:INPUT_LIMIT], **base)
    if kind == "voice":
        heard = (message.recognition or "").strip()
        return Inbound(text=heard, **base) if heard else Inbound(event="voice_unrecognized", **base)
    if kind == "image":
        return Inbound(event="image", attachments=(Attachment("image", message.media_id),), **base)
    if kind == "location":
        place = _location(message)
        if place is None:
            return Inbound(event="location_unreadable", **base)
        return Inbound(event="location", location=place, **base)
    if kind == "event":
        return _event_inbound(message, base)
    return Inbound(event="unsupported", **base)


def _location(message: BaseMessage) -> Location | None:
    """The place a location message names, or None when its coordinates make no sense."""
    try:
        latitude, longitude = float(message.location_x), float(message.location_y)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    if abs(latitude) > 90 or abs(longitude) > 180:
        return None
    return Location(latitude, longitude, message.label)


def check_sender(query: dict[str, str], message: BaseMessage) -> None:
    """The openid WeChat puts in the query must be the message's sender."""
    openid = query.get("openid")
    if openid is not None and not _same(openid, message.source or ""):
        raise WeChatRejectedError(403, "openid is not the sender", "openid")


# Events WeChat sends on its own: where the follower is on entering the chat, and the results
# of template and mass sends. Answering them put "not supported" and the menu over the chat.
PLATFORM_NOTICES = frozenset(
    {"location", "templatesendjobfinish", "masssendjobfinish", "subscribe_msg_sent_event"}
)


def _event_inbound(message: BaseMessage, base: dict[str, Any]) -> Inbound:
    event = message.event
    if event in ("subscribe", "subscribe_scan"):
        return Inbound(event="subscribe", **base)
    if event == "click":
        key = (message.key or "")[:PAYLOAD_LIMIT]
        return Inbound(payload=key, **base)
    if event in ("unsubscribe", "view", "scan"):
        return Inbound(event=event, **base)
    if event in PLATFORM_NOTICES:  # the platform reporting, not the person writing: silent
        return Inbound(event="view", **base)
    return Inbound(event="unsupported", **base)


def parse(xml: str) -> BaseMessage:
    """wechatpy's parser over XML that has passed the pre-check."""
    try:
        message = parse_message(xml)
    except Exception:
        raise WeChatRejectedError(400, "not a WeChat message") from None
    if message is None or not _well_formed(message):
        raise WeChatRejectedError(400, "not a WeChat message")
    return message


def _well_formed(message: BaseMessage) -> bool:
    """Sender and account are short plain strings; MsgId and CreateTime are numbers (wechatpy
    converts them only when read, so a signed but hostile body would fail later)."""
    for name in ("source", "target"):
        value = getattr(message, name, None)
        if not isinstance(value, str) or not 0 < len(value) <= SENDER_LIMIT:
            return False
    try:
        numbers = (message.id or 0, message.time or 0)
    except (TypeError, ValueError):
        return False
    if not all(_plain_text(message, name) for name in _TEXT_FIELDS):
        return False
    return all(isinstance(n, int) and 0 <= n < 10**20 for n in numbers)


def _plain_text(message: BaseMessage, name: str) -> bool:
    """Whether a field is text or absent: markup inside it, or the field given twice, parses
    to a dict or a list (an outside walkthrough: a signed <Content><a>b</a></Content> was a
    500, and WeChat retries those)."""
    try:
        value = getattr(message, name, None)
    except KeyError:  # wechatpy raises it for a field its message type has but this one lacks
        return True
    except (TypeError, ValueError):
        return False
    return value is None or isinstance(value, str)


# The fields to_inbound reads as text, by wechatpy's names.
_TEXT_FIELDS = ("type", "content", "recognition", "media_id", "label", "event", "key", "url")


def draw(replies: Sequence[Reply]) -> str:
    """Replies the WeChat way: one text, options as numbered lines answered by their number."""
    return numbered_text(replies)


def fits_passive(replies: Sequence[Reply]) -> bool:
    """Whether the replies, drawn, fit one passive answer (else they go as service messages)."""
    return len(draw(replies)) <= TEXT_LIMIT


def render_text(message: BaseMessage, text: str) -> str:
    """A passive text reply to message, sanitised."""
    reply = TextReply(
        source=sanitize(message.target or ""),
        target=sanitize(message.source or ""),
        content=sanitize(text),
    )
    return str(reply.render())
