"""Walkthroughs of the need flow: a need left at the similar-needs offer for other words was
lost from sight, and a resident offered their own item was told their +1 counted. Over the
web chat, with the real pipeline and database."""

from __future__ import annotations

from bot.app import Linli
from bot.i18n import t
from tests.conftest import Chat, payloads


async def test_a_need_left_at_its_offer_is_listed_by_track_to_finish(linli: Linli) -> None:
    """A walkthrough: a need left at the similar-needs offer for other words was lost from
    sight (进度 said nothing of it)."""
    first = Chat(linli, user="neighbour-typing-5")
    await first.send("需求")
    offered = await first.send("老人吃饭不方便，社区能不能办个老年食堂")
    await first.press(payloads(offered[0])[0])  # the category suggested: a new item
    second = Chat(linli, user="neighbour-typing-6")
    await second.send("需求")
    offer = await second.send("希望社区办个老年食堂，老人吃饭方便")
    assert "邻居提过类似需求" in offer[0].text, offer[0].text
    await second.send("办公时间")  # walks away from the offer
    track = await second.send("进度")
    assert t("zh-CN", "needs.unplaced_title") in track[0].text, track[0].text
    again = [p for p in payloads(track[0]) if p.startswith("need:again:")]
    assert len(again) == 1
    offer_again = await second.press(again[0])
    assert "邻居提过类似需求" in offer_again[0].text
    done = await second.press(payloads(offer_again[0])[0])  # +1
    assert "2 位邻居支持" in done[0].text, done[0].text
    track = await second.send("进度")
    assert t("zh-CN", "needs.unplaced_title") not in track[0].text


async def test_supporting_ones_own_item_says_so(linli: Linli) -> None:
    """A walkthrough: a resident's second need was offered their own item; "对，一样的" said
    "已为…+1" and the count did not change."""
    resident = Chat(linli, user="neighbour-typing-7")
    await resident.send("需求")
    offered = await resident.send("我们小区路灯坏了好几天了，晚上黑漆漆的")
    await resident.press(payloads(offered[0])[0])
    await resident.send("需求")
    offer = await resident.send("路灯坏了没人修，晚上走路看不见")
    assert "邻居提过类似需求" in offer[0].text, offer[0].text
    said = await resident.send("对，一样的")
    assert "之前已经支持过" in said[0].text and "1 位邻居支持" in said[0].text, said[0].text


async def test_giving_up_at_the_offer_submits_nothing(linli: Linli) -> None:
    """A walkthrough: "算了先不提了" at the similar needs got "回答不了", and the need stayed
    (进度 listed it as unfinished)."""
    first = Chat(linli, user="neighbour-typing-8")
    await first.send("需求")
    offered = await first.send("双职工多，希望放学后有地方看孩子写作业")
    await first.press(payloads(offered[0])[0])
    second = Chat(linli, user="neighbour-typing-9")
    await second.send("需求")
    offer = await second.send("希望小区放学后有人托管孩子写作业")
    assert "邻居提过类似需求" in offer[0].text, offer[0].text
    said = await second.send("算了先不提了")
    assert said[0].text.startswith(t("zh-CN", "needs.given_up")), said[0].text
    track = await second.send("进度")
    assert t("zh-CN", "needs.unplaced_title") not in track[0].text
