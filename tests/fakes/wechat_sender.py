"""What WeChat's server does when it calls our webhook: signed, optionally encrypted, XML.

This is written from WeChat's published scheme, independently of wechatpy, so that tests can
check our webhook against a second implementation.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import itertools
import secrets
import string
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, cast

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_SIZE: Final = 32
RANDOM_ALPHABET: Final = string.ascii_letters + string.digits

# The sample of WeChat's "消息体签名及加解密" sample-code package for Official Accounts
# (WXBizMsgCrypt, Python version, Sample.py, "Copyright (c) 1998-2014 Tencent Inc."), as
# referenced from the 消息加解密接入指引 (access guide). It is a compatibility-mode message:
# the published from_xml carries the plaintext fields beside <Encrypt>, and decrypting
# <Encrypt> must yield a message with the same fields (to_user_name ... msg_id below).
PUBLISHED_SAMPLE: Final[dict[str, str]] = {
    "token": "spamtest",
    "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "app_id": "wx2c2769f8efd9abc2",
    "timestamp": "1409735669",
    "nonce": "1320562132",
    "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
    "encrypt": (
        "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6"
        "F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T33"
        "2jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCg"
        "avjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6Oewp"
        "usjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
    ),
    "to_user_name": "gh_10f6c3c3ac5a",
    "from_user_name": "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
    "create_time": "1409735668",
    "msg_type": "text",
    "content": "abcdteT",
    "msg_id": "6054768590064713728",
}

XmlValue = str | int | float


@dataclass(frozen=True)
class WeChatAccount:
    """An Official Account's callback settings: Token, AppID and (for safe mode) EncodingAESKey."""

    token: str
    app_id: str
    aes_key: str | None = None


def signature(token: str, *parts: str) -> str:
    """WeChat's signature: SHA-1 of the token and parts, sorted and joined."""
    return hashlib.sha1("".join(sorted((token, *parts))).encode("utf-8")).hexdigest()


def pkcs7_pad(data: bytes, block_size: int = BLOCK_SIZE) -> bytes:
    """PKCS#7 padding to a 32-byte block, as WeChat uses (always 1-32 bytes added)."""
    count = block_size - len(data) % block_size
    return data + bytes([count]) * count


def pkcs7_unpad(data: bytes, block_size: int = BLOCK_SIZE) -> bytes:
    """Remove PKCS#7 padding; raise ValueError if it is malformed."""
    count = data[-1] if data else 0
    if not 1 <= count <= block_size or data[-count:] != bytes([count]) * count:
        raise ValueError("bad PKCS#7 padding")
    return data[:-count]


def aes_key_bytes(aes_key: str) -> bytes:
    """The 32-byte AES key behind a 43-character EncodingAESKey."""
    key = base64.b64decode(aes_key + "=", validate=True) if len(aes_key) == 43 else b""
    if len(key) != 32:
        raise ValueError("an EncodingAESKey is 43 base64 characters")
    return key


def encrypt(aes_key: str, app_id: str, plaintext: str, random16: bytes | None = None) -> str:
    """Encrypt a message the way WeChat does, returning base64 text."""
    prefix = random16 if random16 is not None else _random16()
    if len(prefix) != 16:
        raise ValueError("random16 must be 16 bytes")
    message = plaintext.encode("utf-8")
    packed = prefix + struct.pack(">I", len(message)) + message + app_id.encode("utf-8")
    encryptor = _cipher(aes_key).encryptor()
    sealed = encryptor.update(pkcs7_pad(packed)) + encryptor.finalize()
    return base64.b64encode(sealed).decode("ascii")


def decrypt(aes_key: str, app_id_expected: str | None, ciphertext_b64: str) -> str:
    """Decrypt WeChat's base64 ciphertext; raise ValueError on bad data or another app id."""
    decryptor = _cipher(aes_key).decryptor()
    sealed = base64.b64decode(ciphertext_b64, validate=True)
    packed = pkcs7_unpad(decryptor.update(sealed) + decryptor.finalize())
    (length,) = struct.unpack(">I", packed[16:20])
    message, app_id = packed[20 : 20 + length], packed[20 + length :]
    if len(message) != length:
        raise ValueError("message length exceeds the decrypted data")
    if app_id_expected is not None and app_id.decode("utf-8") != app_id_expected:
        raise ValueError(f"message is for app {app_id.decode('utf-8')!r}")
    return message.decode("utf-8")


def _cipher(aes_key: str) -> Cipher[modes.CBC]:
    key = aes_key_bytes(aes_key)
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def _random16() -> bytes:
    return "".join(secrets.choice(RANDOM_ALPHABET) for _ in range(16)).encode("ascii")


def _xml_parser() -> Callable[[bytes], ET.Element]:
    """defusedxml's fromstring when installed, else the standard library's."""
    try:
        module = importlib.import_module("defusedxml.ElementTree")
    except ImportError:
        return ET.fromstring
    return cast(Callable[[bytes], ET.Element], module.fromstring)


def parse_flat(body: bytes) -> dict[str, str]:
    """Parse WeChat XML into a flat dict: nested leaves as "Parent.Child", <item>s by index."""
    flat: dict[str, str] = {}
    _flatten(_xml_parser()(body), "", flat)
    return flat


def _flatten(element: ET.Element, prefix: str, flat: dict[str, str]) -> None:
    items = itertools.count()
    for child in element:
        name = str(next(items)) if child.tag == "item" else child.tag
        key = f"{prefix}{name}"
        if len(child):
            _flatten(child, f"{key}.", flat)
        else:
            flat[key] = child.text or ""


def _element(name: str, value: XmlValue) -> str:
    if isinstance(value, str):
        return f"<{name}><![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]></{name}>"
    return f"<{name}>{value}</{name}>"


def _nonce() -> str:
    return str(secrets.randbelow(9_000_000_000) + 1_000_000_000)


class WeChatServer:
    """Builds signed callback requests exactly as WeChat does, and reads our replies."""

    def __init__(
        self, account: WeChatAccount, openid: str = "oUser-0001", account_id: str = "gh_linli_test"
    ) -> None:
        self.account = account
        self.openid = openid
        self.account_id = account_id
        self.last_msg_id: int | None = None
        self._msg_ids = itertools.count(24_000_000_000_000_001)

    def verify_query(self, echostr: str = "echo-123") -> dict[str, str]:
        """The GET query WeChat sends to verify the callback URL."""
        timestamp, nonce = str(int(time.time())), _nonce()
        sign = signature(self.account.token, timestamp, nonce)
        return {"signature": sign, "timestamp": timestamp, "nonce": nonce, "echostr": echostr}

    def text(self, content: str, msg_id: int | None = None) -> str:
        """A text message."""
        return self._message("text", [("Content", content)], msg_id)

    def voice(self, recognition: str | None, msg_id: int | None = None) -> str:
        """A voice message, with speech recognition's result when given."""
        fields: list[tuple[str, XmlValue]] = [("MediaId", "voice-media-1"), ("Format", "amr")]
        if recognition is not None:
            fields.append(("Recognition", recognition))
        return self._message("voice", fields, msg_id)

    def image(
        self,
        pic_url: str = "http://127.0.0.1/x.jpg",
        media_id: str = "media-1",
        msg_id: int | None = None,
    ) -> str:
        """An image message."""
        return self._message("image", [("PicUrl", pic_url), ("MediaId", media_id)], msg_id)

    def location(self, lat: float, lng: float, label: str, msg_id: int | None = None) -> str:
        """A location message (Location_X is the latitude, Location_Y the longitude)."""
        fields: list[tuple[str, XmlValue]] = [
            ("Location_X", lat),
            ("Location_Y", lng),
            ("Scale", 15),
            ("Label", label),
        ]
        return self._message("location", fields, msg_id)

    def link(self, title: str, description: str, url: str, msg_id: int | None = None) -> str:
        """A link message."""
        fields: list[tuple[str, XmlValue]] = [
            ("Title", title),
            ("Description", description),
            ("Url", url),
        ]
        return self._message("link", fields, msg_id)

    def shortvideo(
        self, media_id: str = "video-1", thumb_media_id: str = "thumb-1", msg_id: int | None = None
    ) -> str:
        """A short-video message."""
        fields = [("MediaId", media_id), ("ThumbMediaId", thumb_media_id)]
        return self._message("shortvideo", fields, msg_id)

    def event(self, event: str, key: str | None = None, create_time: int | None = None) -> str:
        """An event push: subscribe, unsubscribe, CLICK, VIEW or SCAN (with its EventKey)."""
        fields: list[tuple[str, XmlValue]] = [("Event", event)]
        if key is not None:
            fields.append(("EventKey", key))
            if event == "SCAN" or event == "subscribe":
                fields.append(("Ticket", f"ticket-{key}"))
        return self._xml("event", fields, create_time)

    def request(
        self,
        xml: str,
        *,
        safe: bool = False,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The query and body of WeChat's POST for a message, in plain or safe (AES) mode."""
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce if nonce is not None else _nonce()
        query = {
            "signature": signature(self.account.token, stamp, nonce),
            "timestamp": stamp,
            "nonce": nonce,
            "openid": self.openid,
        }
        if not safe:
            return query, xml.encode("utf-8")
        sealed = encrypt(self._aes_key(), self.account.app_id, xml)
        query["encrypt_type"] = "aes"
        query["msg_signature"] = signature(self.account.token, stamp, nonce, sealed)
        body = "<xml>" + _element("ToUserName", self.account_id) + _element("Encrypt", sealed)
        return query, (body + "</xml>").encode("utf-8")

    def read_reply(self, body: bytes, *, safe: bool = False) -> dict[str, str]:
        """Our webhook's reply as a flat dict ({} for "success" or empty); checks safe mode."""
        if body.strip() in (b"", b"success"):
            return {}
        outer = parse_flat(body)
        if not safe:
            return outer
        fields = ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")
        missing = [name for name in fields if name not in outer]
        if missing:
            raise AssertionError(f"safe-mode reply lacks {missing}: {body!r}")
        expected = signature(
            self.account.token, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"]
        )
        if outer["MsgSignature"] != expected:
            raise AssertionError(f"bad MsgSignature {outer['MsgSignature']!r}")
        inner = decrypt(self._aes_key(), self.account.app_id, outer["Encrypt"])
        return parse_flat(inner.encode("utf-8"))

    def _message(
        self, msg_type: str, fields: Sequence[tuple[str, XmlValue]], msg_id: int | None
    ) -> str:
        number = msg_id if msg_id is not None else next(self._msg_ids)
        self.last_msg_id = number
        return self._xml(msg_type, [*fields, ("MsgId", number)], None)

    def _xml(
        self, msg_type: str, fields: Sequence[tuple[str, XmlValue]], create_time: int | None
    ) -> str:
        header: list[tuple[str, XmlValue]] = [
            ("ToUserName", self.account_id),
            ("FromUserName", self.openid),
            ("CreateTime", create_time if create_time is not None else int(time.time())),
            ("MsgType", msg_type),
        ]
        return (
            "<xml>"
            + "".join(_element(name, value) for name, value in [*header, *fields])
            + "</xml>"
        )

    def _aes_key(self) -> str:
        if self.account.aes_key is None:
            raise ValueError("safe mode needs the account's aes_key")
        return self.account.aes_key
