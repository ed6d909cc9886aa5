"""The WeChat fakes themselves: crypto against WeChat's published sample and wechatpy, the API."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import requests
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import WeChatClientException
from wechatpy.utils import check_signature

from tests.fakes.wechat_api import FakeWeChatAPI
from tests.fakes.wechat_sender import (
    PUBLISHED_SAMPLE,
    WeChatAccount,
    WeChatServer,
    decrypt,
    encrypt,
    parse_flat,
    signature,
)

AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
ACCOUNT = WeChatAccount(token="linli-token", app_id="wx-linli-app", aes_key=AES_KEY)
RANDOM16 = b"0123456789abcdef"
GOOD_MENU: dict[str, Any] = {
    "button": [
        {"type": "click", "name": "办事", "key": "SERVICES"},
        {
            "name": "咨询",
            "sub_button": [{"type": "click", "name": str(i), "key": f"K{i}"} for i in range(5)],
        },
        {"type": "view", "name": "官网", "url": "http://127.0.0.1/"},
    ]
}


class LocalWeChatClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's client, fetching its token from the fake rather than api.weixin.qq.com."""

    def __init__(self, api: FakeWeChatAPI, *, secret: str | None = None, **kwargs: Any) -> None:
        super().__init__(api.appid, secret or api.secret, **kwargs)
        self.API_BASE_URL = api.base_url + "/cgi-bin/"

    def fetch_access_token(self) -> dict[str, Any]:
        """Fetch a token from API_BASE_URL."""
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        result: dict[str, Any] = self._fetch_access_token(
            url=self.API_BASE_URL + "token", params=params
        )
        return result


@pytest.fixture
async def api() -> AsyncIterator[FakeWeChatAPI]:
    """A running fake WeChat API."""
    fake = FakeWeChatAPI()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def wechat(api: FakeWeChatAPI) -> AsyncIterator[LocalWeChatClient]:
    """wechatpy's client pointed at the fake, without automatic token retries."""
    client = LocalWeChatClient(api, timeout=5, auto_retry=False)
    yield client
    client._http.close()


async def call(function: Any, *args: Any) -> Any:
    """Run one of wechatpy's blocking calls in a thread."""
    return await asyncio.to_thread(function, *args)


async def errcode_of(function: Any, *args: Any) -> int | None:
    """Run a wechatpy call that must fail and return its errcode."""
    with pytest.raises(WeChatClientException) as caught:
        await call(function, *args)
    errcode: int | None = caught.value.errcode
    return errcode


# Crypto


def test_published_sample_decrypts_to_its_plaintext_fields() -> None:
    """WeChat's own sample decrypts, and its msg_signature is reproduced."""
    sample = PUBLISHED_SAMPLE
    plain = decrypt(sample["encoding_aes_key"], sample["app_id"], sample["encrypt"])
    assert parse_flat(plain.encode()) == {
        "ToUserName": sample["to_user_name"],
        "FromUserName": sample["from_user_name"],
        "CreateTime": sample["create_time"],
        "MsgType": sample["msg_type"],
        "Content": sample["content"],
        "MsgId": sample["msg_id"],
    }
    parts = (sample["timestamp"], sample["nonce"], sample["encrypt"])
    assert signature(sample["token"], *parts) == sample["msg_signature"]


def test_published_sample_refuses_another_app_id() -> None:
    """Decrypting checks the app id at the end of the message."""
    with pytest.raises(ValueError, match="for app"):
        decrypt(PUBLISHED_SAMPLE["encoding_aes_key"], "wx-other", PUBLISHED_SAMPLE["encrypt"])


@pytest.mark.parametrize("text", ["", "你好，邻里", "x" * 8, "y" * 100])
def test_encrypt_round_trip(text: str) -> None:
    """encrypt then decrypt gives the text back; ciphertext is whole 32-byte blocks."""
    sealed = encrypt(AES_KEY, "wx-linli-app", text, RANDOM16)
    assert len(base64.b64decode(sealed)) % 32 == 0
    assert decrypt(AES_KEY, "wx-linli-app", sealed) == text
    assert sealed == encrypt(AES_KEY, "wx-linli-app", text, RANDOM16)


def test_padding_of_a_whole_block_adds_a_block() -> None:
    """A message filling whole blocks still gets a full 32-byte block of padding."""
    app_id = "x" * 12  # 16 + 4 + 0 + 12 bytes = one whole block
    assert len(base64.b64decode(encrypt(AES_KEY, app_id, "", RANDOM16))) == 64


def test_bad_aes_key_is_refused() -> None:
    """An EncodingAESKey must be 43 characters of base64."""
    with pytest.raises(ValueError, match="43"):
        encrypt("short", "wx", "hi")


def test_verify_query_is_signed() -> None:
    """The URL-verification query carries WeChat's signature."""
    query = WeChatServer(ACCOUNT).verify_query("echo-9")
    check_signature(ACCOUNT.token, query["signature"], query["timestamp"], query["nonce"])
    assert query["echostr"] == "echo-9"


def test_safe_request_decrypts_with_wechatpy() -> None:
    """A safe-mode callback body is accepted by wechatpy's WeChatCrypto."""
    server = WeChatServer(ACCOUNT)
    xml = server.text("我要报修路灯")
    query, body = server.request(xml, safe=True, timestamp=1_700_000_000, nonce="42")
    assert query["encrypt_type"] == "aes"
    assert query["timestamp"] == "1700000000"
    check_signature(ACCOUNT.token, query["signature"], query["timestamp"], query["nonce"])
    crypto = WeChatCrypto(ACCOUNT.token, AES_KEY, ACCOUNT.app_id)
    plain = crypto.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])
    assert plain == xml
    assert parse_flat(body)["ToUserName"] == "gh_linli_test"


def test_plain_request_is_signed_xml() -> None:
    """A plain callback has a signed query and the XML itself as body."""
    server = WeChatServer(ACCOUNT, openid="oUser-7")
    query, body = server.request(server.text("hi"))
    assert set(query) == {"signature", "timestamp", "nonce", "openid"}
    assert query["openid"] == "oUser-7"
    assert parse_flat(body)["Content"] == "hi"


def test_read_reply_reads_wechatpy_encrypted_reply() -> None:
    """A reply encrypted by wechatpy is checked and decrypted."""
    crypto = WeChatCrypto(ACCOUNT.token, AES_KEY, ACCOUNT.app_id)
    reply = "<xml><ToUserName><![CDATA[oUser-0001]]></ToUserName><MsgType><![CDATA[text]]>"
    reply += "</MsgType><Content><![CDATA[收到，谢谢]]></Content></xml>"
    body = crypto.encrypt_message(reply, "77", "1700000000").encode()
    read = WeChatServer(ACCOUNT).read_reply(body, safe=True)
    assert read == {"ToUserName": "oUser-0001", "MsgType": "text", "Content": "收到，谢谢"}


def test_read_reply_refuses_a_bad_signature() -> None:
    """A safe-mode reply whose MsgSignature does not match fails the test."""
    crypto = WeChatCrypto(ACCOUNT.token, AES_KEY, ACCOUNT.app_id)
    body = crypto.encrypt_message("<xml><Content>x</Content></xml>", "77", "1700000000")
    forged = body.replace("<TimeStamp>1700000000", "<TimeStamp>1700000001").encode()
    with pytest.raises(AssertionError, match="MsgSignature"):
        WeChatServer(ACCOUNT).read_reply(forged, safe=True)


def test_read_reply_plain_success_and_nested() -> None:
    """Plain replies flatten; "success" and empty bodies mean no reply."""
    server = WeChatServer(ACCOUNT)
    assert server.read_reply(b"success") == {}
    assert server.read_reply(b"", safe=True) == {}
    news = (
        b"<xml><MsgType><![CDATA[news]]></MsgType><ArticleCount>2</ArticleCount><Articles>"
        b"<item><Title><![CDATA[A]]></Title></item><item><Title><![CDATA[B]]></Title></item>"
        b"</Articles><Image><MediaId><![CDATA[m]]></MediaId></Image></xml>"
    )
    assert server.read_reply(news) == {
        "MsgType": "news",
        "ArticleCount": "2",
        "Articles.0.Title": "A",
        "Articles.1.Title": "B",
        "Image.MediaId": "m",
    }


def test_messages_parse_with_wechatpy() -> None:
    """Every message the fake sender builds is read by wechatpy as the right type."""
    server = WeChatServer(ACCOUNT)
    text = parse_message(server.text("a ]]> b"))
    assert (text.type, text.content, text.source, text.target) == (
        "text",
        "a ]]> b",
        "oUser-0001",
        "gh_linli_test",
    )
    voice = parse_message(server.voice("路灯坏了"))
    assert (voice.type, voice.recognition, voice.format) == ("voice", "路灯坏了", "amr")
    assert voice.id == text.id + 1 == server.last_msg_id
    location = parse_message(server.location(31.2304, 121.4737, "上海市"))
    assert (location.location, location.label) == (("31.2304", "121.4737"), "上海市")
    assert parse_message(server.image(msg_id=5)).id == 5
    assert parse_message(server.link("t", "d", "http://127.0.0.1/")).type == "link"
    assert parse_message(server.shortvideo()).type == "shortvideo"
    assert parse_flat(server.voice(None).encode()).get("Recognition") is None


def test_events_parse_with_wechatpy() -> None:
    """Event pushes are read by wechatpy with their keys."""
    server = WeChatServer(ACCOUNT)
    assert parse_message(server.event("subscribe")).event == "subscribe"
    assert parse_message(server.event("unsubscribe", create_time=7)).create_time.year == 1970
    assert parse_message(server.event("CLICK", "SERVICES")).key == "SERVICES"
    assert parse_message(server.event("VIEW", "http://127.0.0.1/")).url == "http://127.0.0.1/"
    scan = parse_message(server.event("SCAN", "123"))
    assert (scan.event, scan.scene_id, scan.ticket) == ("scan", "123", "ticket-123")
    assert "MsgId" not in parse_flat(server.event("subscribe").encode())


# The fake API, driven by wechatpy's real client


async def test_token_is_issued_and_counted(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """Each token request is counted and issues a new 64-character token."""
    first = await call(wechat.fetch_access_token)
    second = await call(wechat.fetch_access_token)
    assert len(first["access_token"]) == 64
    assert first["expires_in"] == 7200
    assert first["access_token"] != second["access_token"]
    assert api.token_requests == 2
    assert api.calls == ["token", "token"]


async def test_token_refuses_a_wrong_secret(api: FakeWeChatAPI) -> None:
    """A wrong secret gets 40125, and the attempt is counted."""
    client = LocalWeChatClient(api, secret="wrong")
    assert await errcode_of(client.fetch_access_token) == 40125
    assert api.token_requests == 1
    client._http.close()


async def test_token_refuses_a_wrong_grant_type(api: FakeWeChatAPI) -> None:
    """A grant_type other than client_credential gets 40002."""
    params = {"grant_type": "password", "appid": api.appid, "secret": api.secret}
    assert (await get_json(api, "token", params))["errcode"] == 40002


async def test_send_text_is_recorded(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """A customer-service text is accepted and recorded with the token it used."""
    result = await call(wechat.message.send_text, "oUser-0001", "您好，已为您登记")
    assert result == {"errcode": 0, "errmsg": "ok"}
    [sent] = api.sent
    assert (sent.api, sent.touser, sent.text) == ("custom", "oUser-0001", "您好，已为您登记")
    assert sent.access_token == wechat.session.get(wechat.access_token_key)
    assert api.calls == ["token", "message/custom/send"]


async def test_old_tokens_stay_valid(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """A new token does not invalidate the previous one."""
    old = (await call(wechat.fetch_access_token))["access_token"]
    await call(wechat.fetch_access_token)
    answer = await post_json(api, "message/custom/send", old, {"touser": "o1", "text": {}})
    assert answer["errcode"] == 0


async def test_expired_tokens_answer_42001(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """After expire_tokens() the next send fails with 42001 when the client does not retry."""
    await call(wechat.message.send_text, "oUser-0001", "one")
    api.expire_tokens()
    assert await errcode_of(wechat.message.send_text, "oUser-0001", "two") == 42001
    assert len(api.sent) == 1


async def test_retrying_client_recovers_from_expiry(api: FakeWeChatAPI) -> None:
    """wechatpy's auto_retry fetches a new token after 42001 and the send goes through."""
    client = LocalWeChatClient(api, timeout=5)
    await call(client.message.send_text, "oUser-0001", "one")
    api.expire_tokens()
    await call(client.message.send_text, "oUser-0001", "two")
    assert api.token_requests == 2
    assert [sent.text for sent in api.sent] == ["one", "two"]
    client._http.close()


async def test_revoked_tokens_answer_40001(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """After revoke_tokens() sends fail with 40001."""
    await call(wechat.fetch_access_token)
    api.revoke_tokens()
    assert await errcode_of(wechat.message.send_text, "oUser-0001", "x") == 40001


async def test_tokens_expire_with_time() -> None:
    """A token older than token_ttl answers 42001."""
    fake = FakeWeChatAPI(token_ttl=0)
    await fake.start()
    token = await fetch_token(fake)
    answer = await post_json(fake, "message/custom/send", token, {"touser": "o1"})
    assert answer["errcode"] == 42001
    await fake.close()


@pytest.mark.parametrize("token", ["", "not-a-token"])
async def test_unknown_token_answers_40001(api: FakeWeChatAPI, token: str) -> None:
    """A missing or unknown token is an invalid credential."""
    answer = await post_json(api, "message/custom/send", token, {"touser": "o1"})
    assert answer == {"errcode": 40001, "errmsg": answer["errmsg"]}


async def test_bad_json_answers_47001(api: FakeWeChatAPI) -> None:
    """A body that is not a JSON object is a data format error."""
    token = await fetch_token(api)
    for body in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        assert (await post_json(api, "message/custom/send", token, body))["errcode"] == 47001
    assert api.sent == []


async def test_fail_next_errcode_once(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """fail_next("custom", 45009) fails one send, then sends succeed."""
    api.fail_next("custom", 45009)
    assert await errcode_of(wechat.message.send_text, "oUser-0001", "a") == 45009
    await call(wechat.message.send_text, "oUser-0001", "b")
    assert [sent.text for sent in api.sent] == ["b"]


async def test_fail_next_times(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """fail_next(..., times=2) fails two calls."""
    api.fail_next("template", -1, times=2)
    send = wechat.message.send_template
    assert await errcode_of(send, "oUser-0001", "tpl-1", {}) == -1
    assert await errcode_of(send, "oUser-0001", "tpl-1", {}) == -1
    assert isinstance((await call(send, "oUser-0001", "tpl-1", {}))["msgid"], int)


async def test_fail_next_token(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """Token requests can be failed too."""
    api.fail_next("token", -1)
    assert await errcode_of(wechat.fetch_access_token) == -1
    assert api.token_requests == 1


async def test_fail_next_5xx(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """A 503 becomes a WeChatClientException without errcode."""
    await call(wechat.fetch_access_token)
    api.fail_next("custom", "5xx")
    assert await errcode_of(wechat.message.send_text, "oUser-0001", "a") is None
    await call(wechat.message.send_text, "oUser-0001", "b")
    assert len(api.sent) == 1


async def test_fail_next_timeout(api: FakeWeChatAPI) -> None:
    """A "timeout" failure stalls until the client gives up."""
    client = LocalWeChatClient(api, timeout=0.3, auto_retry=False)
    await call(client.fetch_access_token)
    api.fail_next("custom", "timeout")
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        await call(client.message.send_text, "oUser-0001", "a")
    assert time.monotonic() - started < 5
    client._http.close()


async def test_fail_next_close(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """A "close" failure drops the connection."""
    await call(wechat.fetch_access_token)
    api.fail_next("custom", "close")
    with pytest.raises(requests.ConnectionError):
        await call(wechat.message.send_text, "oUser-0001", "a")
    await call(wechat.message.send_text, "oUser-0001", "b")
    assert [sent.text for sent in api.sent] == ["b"]


def test_fail_next_checks_its_arguments() -> None:
    """Unknown APIs and failures are refused."""
    fake = FakeWeChatAPI()
    with pytest.raises(ValueError, match="unknown api"):
        fake.fail_next("kf", 45009)
    with pytest.raises(ValueError, match="unknown failure"):
        fake.fail_next("custom", "404")


async def test_customer_service_window(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """Outside the 48-hour window a custom send gets 45015; templates still go."""
    api.cs_window_closed.add("oUser-0001")
    assert await errcode_of(wechat.message.send_text, "oUser-0001", "a") == 45015
    await call(wechat.message.send_template, "oUser-0001", "tpl-1", {})
    assert [sent.api for sent in api.sent] == ["template"]


async def test_unsubscribed_users(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """Any send to someone who unfollowed gets 43004."""
    api.unsubscribed.add("oGone")
    assert await errcode_of(wechat.message.send_text, "oGone", "a") == 43004
    assert await errcode_of(wechat.message.send_template, "oGone", "tpl-1", {}) == 43004
    assert await errcode_of(wechat.message.send_subscribe_message, "oGone", "t", {}) == 43004
    assert api.sent == []


async def test_template_and_subscribe(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """Template sends answer a msgid; subscribe sends are recorded."""
    data = {"thing1": {"value": "路灯维修"}}
    first = await call(wechat.message.send_template, "oUser-0001", "tpl-1", data)
    second = await call(wechat.message.send_template, "oUser-0001", "tpl-1", data)
    assert second["msgid"] == first["msgid"] + 1
    await call(wechat.message.send_subscribe_message, "oUser-0001", "sub-1", data)
    assert [sent.api for sent in api.sent] == ["template", "template", "subscribe"]
    assert api.sent[2].body["data"] == data
    assert api.sent[2].text is None


async def test_menu_create_validates(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """Menus need 1-3 buttons with at most 5 sub-buttons each."""
    assert (await call(wechat.menu.create, GOOD_MENU))["errcode"] == 0
    button = {"type": "click", "name": "x", "key": "X"}
    bad_menus: list[dict[str, Any]] = [
        {"button": []},
        {"button": [button] * 4},
        {"button": [{"name": "more", "sub_button": [button] * 6}]},
        {"menu": "none"},
    ]
    for menu in bad_menus:
        assert await errcode_of(wechat.menu.create, menu) == 40017
    assert [sent.api for sent in api.sent] == ["menu"]


async def test_delay(api: FakeWeChatAPI, wechat: LocalWeChatClient) -> None:
    """Every answer waits `delay` seconds."""
    api.delay = 0.2
    started = time.monotonic()
    await call(wechat.fetch_access_token)
    assert time.monotonic() - started >= 0.2


async def test_close_ends_a_stalled_answer() -> None:
    """Closing the fake cuts a 30-second "timeout" failure short (it then answers -1)."""
    fake = FakeWeChatAPI()
    await fake.start()
    fake.fail_next("token", "timeout")
    request = asyncio.create_task(get_json(fake, "token", {}))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await fake.close()
    assert time.monotonic() - started < 5
    assert (await request)["errcode"] == -1


# Direct HTTP helpers (for what wechatpy cannot send)


async def get_json(api: FakeWeChatAPI, path: str, params: dict[str, str]) -> dict[str, Any]:
    """GET a /cgi-bin/ path and return the JSON answer."""
    url = f"{api.base_url}/cgi-bin/{path}"
    async with aiohttp.ClientSession() as session, session.get(url, params=params) as response:
        answer: dict[str, Any] = await response.json()
        return answer


async def post_json(
    api: FakeWeChatAPI, path: str, token: str, body: dict[str, Any] | bytes
) -> dict[str, Any]:
    """POST a JSON object (or raw bytes) the way wechatpy does and return the JSON answer."""
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    url = f"{api.base_url}/cgi-bin/{path}"
    params = {"access_token": token}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, params=params, data=data) as response,
    ):
        answer: dict[str, Any] = await response.json()
        return answer


async def fetch_token(api: FakeWeChatAPI) -> str:
    """Fetch a token directly."""
    params = {"grant_type": "client_credential", "appid": api.appid, "secret": api.secret}
    token: str = (await get_json(api, "token", params))["access_token"]
    return token
