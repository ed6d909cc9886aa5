"""Issue 19, item 3: matters outside the street's work are declined politely, with what the bot
can do and the street's phone, not handed to staff; on the web chat and on WeChat."""

from __future__ import annotations

import pytest

from bot.app import Linli
from tests.conftest import Chat, labels
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name


@pytest.mark.parametrize(
    "words", ["我家猫咪拉肚子了吃什么药", "明天温江会不会下雨", "最近买哪只股票能涨"]
)
async def test_an_outside_matter_is_declined_with_the_phone(linli: Linli, words: str) -> None:
    reply = (await Chat(linli, user="outsider-0001").send(words))[0]
    assert "不是街道办理的事情" in reply.text and "028-0000-0000" in reply.text, reply.text
    assert "转人工" not in labels(reply)  # nothing for staff to do


async def test_in_english_too(linli: Linli) -> None:
    reply = (await Chat(linli, user="outsider-0002").send("My cat is sick, what medicine?"))[0]
    assert "not something the street office handles" in reply.text, reply.text


async def test_a_street_question_is_still_answered(linli: Linli) -> None:
    reply = (await Chat(linli, user="insider-0001").send("社保卡丢了怎么补办？"))[0]
    assert "不是街道办理的事情" not in reply.text


async def test_on_wechat_it_is_declined_the_same_way(rig: WeChatRig) -> None:
    said = (await rig.post(rig.server.text("手机屏幕碎了哪里修")))["Content"]
    assert "不是街道办理的事情" in said and "028-0000-0000" in said, said
