"""Issue 16, finding 3: no secret and no full phone or ID number reaches the log.

A whole scenario runs with DEBUG logging configured as `linli serve` configures it: a Telegram
update through the real /telegram webhook (the bot answers through the fake Bot API, whose URLs
carry the bot token), a web chat through /api/chat and a WeChat message through /wechat, each
with phone and ID numbers typed by the resident. Then the captured log output is searched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Linli, build_linli
from bot.clock import ManualClock
from bot.config import Settings, secret_values
from bot.logs import setup_logging
from bot.web.app import create_web_app
from tests.conftest import DATA
from tests.fakes.telegram_api import FakeTelegramAPI, SentText, callback_update, text_update
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.fakes.wechat_sender import WeChatAccount, WeChatServer
from tests.wechat_fixtures import AES_KEY, OLD_AES_KEY

BOT_TOKEN = "918273645:AAF-logtest_Zx8Qw7Er6Ty5Ui3Op2As1Df"
SECRETS = {
    "secret_key": "log-test-secret-key-5f1d0c9e7b3a4d2f",
    "telegram_secret": "log-test-telegram-webhook-secret-42",
    "wechat_token": "LogTestWeChatToken2026",
    "wechat_app_secret": "log-test-wechat-app-secret-0a9b8c",
    "wechat_aes_key": AES_KEY,
    "wechat_aes_key_previous": OLD_AES_KEY,
    "metrics_token": "log-test-metrics-bearer-token-77e1c2d3",
}
PHONES = {"13812345678": "138 1234 5678", "13987654321": "+86 139-8765-4321"}
ID_NUMBERS = {
    "51012419900101123X": "51012419900101123X",
    "110105198512121234": "110105198512121234",
}
PERSONAL = f"我的电话是{PHONES['13812345678']}，身份证号{ID_NUMBERS['51012419900101123X']}"
OTHER = f"家人电话 {PHONES['13987654321']}，身份证 {ID_NUMBERS['110105198512121234']}"

Client = TestClient[web.Request, web.Application]


@dataclass
class Town:
    """One app with every channel configured, and the platforms it talks to."""

    linli: Linli
    client: Client
    telegram: FakeTelegramAPI
    wechat: WeChatServer


@pytest.fixture
async def town(db_url: str, clock: ManualClock) -> AsyncIterator[Town]:
    """Telegram, WeChat (safe mode) and web chat, all served by one app over loopback."""
    telegram, wechat = (
        FakeTelegramAPI(BOT_TOKEN),
        FakeWeChatAPI(secret=SECRETS["wechat_app_secret"]),
    )
    await telegram.start()
    await wechat.start()
    settings = Settings(
        database_url=db_url,
        data_dir=DATA,
        telegram_token=BOT_TOKEN,
        telegram_api_base=telegram.base_url,
        telegram_api_timeout=0.5,
        wechat_app_id=wechat.appid,
        wechat_api_base=wechat.base_url,
        **SECRETS,  # type: ignore[arg-type]
    )
    linli = build_linli(settings, clock=clock)
    account = WeChatAccount(SECRETS["wechat_token"], wechat.appid, AES_KEY)
    try:
        async with TestClient(TestServer(create_web_app(linli), host="127.0.0.1")) as client:
            yield Town(linli, client, telegram, WeChatServer(account))
    finally:
        await telegram.close()
        await wechat.close()


async def run_scenario(town: Town) -> None:
    """On every channel a resident submits a need in words holding phone and ID numbers."""
    await telegram_need(town, 700_301, PERSONAL)
    chat = {"user": "resident-logs-0001"}
    await town.client.post("/api/chat", json={**chat, "text": "需求"})
    answer = await (await town.client.post("/api/chat", json={**chat, "text": OTHER})).json()
    category = answer["replies"][-1]["buttons"][0]["payload"]
    assert (await town.client.post("/api/chat", json={**chat, "payload": category})).status == 200
    for text in ("需求", PERSONAL, "1"):  # WeChat: options are numbered
        query, body = town.wechat.request(town.wechat.text(text), safe=True)
        assert (await town.client.post("/wechat", params=query, data=body)).status == 200
    await deliver(town)


async def telegram_need(town: Town, chat_id: int, text: str) -> None:
    """Through the /telegram webhook; the bot answers through the fake Bot API."""
    secret = {"X-Telegram-Bot-Api-Secret-Token": SECRETS["telegram_secret"]}
    for update in (text_update(chat_id, "需求"), text_update(chat_id, text)):
        assert (await town.client.post("/telegram", json=update, headers=secret)).status == 200
    markup = (await deliver(town))[-1].reply_markup or {}
    category = markup["inline_keyboard"][0][0]["callback_data"]
    update = callback_update(chat_id, category)
    assert (await town.client.post("/telegram", json=update, headers=secret)).status == 200


async def deliver(town: Town) -> list[SentText]:
    """Run the outbox worker until nothing is due; what the Bot API received meanwhile."""
    before = len(town.telegram.sent_messages)
    while await town.linli.worker.deliver_due():
        pass
    sent = town.telegram.sent_messages[before:]
    assert sent  # the bot really answered through the Bot API, whose URLs carry the token
    return sent


def leaks(output: str) -> list[str]:
    """Every secret, phone or ID number (in any typed form) found in the log output."""
    values = [*SECRETS.values(), BOT_TOKEN, BOT_TOKEN.partition(":")[2]]
    values += [*PHONES, *PHONES.values(), *ID_NUMBERS, *ID_NUMBERS.values()]
    return sorted({value for value in values if value in output})


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_debug_log_of_every_channel_holds_no_secret_or_personal_number(
    town: Town, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    setup_logging("DEBUG", fmt, secret_values(town.linli.settings))
    await run_scenario(town)
    output = capsys.readouterr().err
    assert "HTTP Request: POST" in output and "/sendMessage" in output  # httpx logged its URLs
    assert leaks(output) == []
    assert "[redacted LINLI_TELEGRAM_TOKEN]" in output


async def test_extra_fields_arguments_and_tracebacks_are_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(telegram_token=BOT_TOKEN, **SECRETS)  # type: ignore[arg-type]
    setup_logging("DEBUG", "json", secret_values(settings))
    log = logging.getLogger("tests.security.anything")
    log.info(
        "calling %s", f"https://api.telegram.org/bot{BOT_TOKEN}/getMe", extra={"who": PERSONAL}
    )
    try:
        raise ValueError(f"bad input {OTHER}")
    except ValueError:
        log.exception("failed for %(phone)s", {"phone": "13812345678"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert leaks(json.dumps(lines, ensure_ascii=False)) == []
    assert (
        lines[0]["message"]
        == "calling https://api.telegram.org/bot[redacted LINLI_TELEGRAM_TOKEN]/getMe"
    )
    assert lines[0]["who"] == "我的电话是〔电话〕，身份证号〔证件号〕"
    assert lines[1]["message"] == "failed for 〔电话〕"
    assert "ValueError: bad input 家人电话 〔电话〕，身份证 〔证件号〕" in lines[1]["exc_info"]


TYPED_FORMS = [
    ("电话１３８１２３４５６７８。", "电话〔电话〕。"),
    ("call 0086-138-1234-5678 or 8613987654321", "call 〔电话〕 or 〔电话〕"),
    ("tel:+86 150 1234 5678", "tel:〔电话〕"),
    ("ID 110105 19851212 123x, ok", "ID 〔证件号〕, ok"),
    ("身份证５１０１２４１９９００１０１１２３Ｘ", "身份证〔证件号〕"),
    (
        "?appid=wx1&secret=s3cr3t&access_token=AT-123",
        "?appid=wx1&secret=[redacted]&access_token=[redacted]",
    ),
    ("Authorization: Bearer abc.def", "Authorization: Bearer [redacted]"),
    # What is not personal stays readable: references, times, counts, long ids.
    ("LC-20261127-0042 at 2026-11-27 10:00", "LC-20261127-0042 at 2026-11-27 10:00"),
    ("msg 24000000000000001 took 1380 ms", "msg 24000000000000001 took 1380 ms"),
]


@pytest.mark.parametrize(("typed", "logged"), TYPED_FORMS)
def test_typed_forms_are_caught_and_the_rest_is_kept(
    capsys: pytest.CaptureFixture[str], typed: str, logged: str
) -> None:
    setup_logging("INFO", "text")
    logging.getLogger("tests.security.typed").info("%s", typed)
    assert capsys.readouterr().err.rstrip("\n").endswith(f": {logged}")
