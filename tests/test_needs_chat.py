"""Needs in chat: submit, the match offer, +1, bad input, stage news to every supporter once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import Linli
from bot.cli_needs import needs_export, needs_merge, needs_stage, needs_top
from bot.i18n import t
from bot.messages import Attachment, Inbound, Location
from bot.outgoing import payload_replies
from models.messaging import OutboxMessage
from models.needs import Need, NeedItem
from tests.conftest import Chat, payloads
from tests.test_binding import staff_code


async def first_need(linli: Linli) -> Chat:
    chat = Chat(linli, user="first-neighbour")
    assert "自己的话" in (await chat.send("需求"))[0].text
    asked = await chat.send("希望小区附近能有个老年食堂，老人吃饭方便")
    assert payloads(asked[0])[0].endswith(":elderly-care")  # the suggested category first
    created = await chat.press(payloads(asked[0])[0])
    assert "已记录" in created[0].text
    return chat


async def test_submit_match_plus_and_the_same_words_twice(linli: Linli) -> None:
    await first_need(linli)
    second = Chat(linli, user="second-neighbour")
    await second.send("需求")
    offer = await second.send("老人吃饭不方便，社区能不能办个老年食堂")
    assert "邻居提过类似需求" in offer[0].text
    plus = payloads(offer[0])[0]
    assert plus.startswith("need:plus:") and payloads(offer[0])[-1].startswith("need:new:")
    done = await second.press(plus)
    assert "目前 2 位邻居支持" in done[0].text
    again = await second.send("需求 老人吃饭不方便，社区能不能办个老年食堂")
    assert "已经提过" in again[0].text
    async with linli.sessions() as session:
        [item] = (await session.exec(select(NeedItem))).all()
    assert item.supporters == 2


async def test_bad_input_gets_a_friendly_answer(linli: Linli) -> None:
    chat = Chat(linli, user="odd-input")
    for text, words in (("🙂🙂", "用文字"), ("好", "具体一点"), ("长" * 5000, "500 字")):
        await chat.send("需求")
        assert words in (await chat.send(text))[0].text, text


async def test_every_supporter_hears_of_a_stage_once(linli: Linli) -> None:
    await first_need(linli)
    second = Chat(linli, user="supporter")
    await second.send("需求")
    offer = await second.send("老人吃饭不方便，社区能不能办个老年食堂")
    await second.press(payloads(offer[0])[0])
    officer = Chat(linli, user="needs-officer")
    await officer.send(f"绑定 {await staff_code(linli, 'S015')}")
    top = await officer.send("需求排行")
    assert "2 人" in top[0].text
    card = await officer.press(payloads(top[0])[0])
    move = payloads(card[0])[0]
    assert move.endswith(":approved")
    assert "已通知 2 位" in (await officer.press(move))[0].text
    assert "不能进入" in (await officer.press(move))[0].text  # not twice
    async with linli.sessions() as session:
        news = (
            await session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "need")
                .order_by(col(OutboxMessage.id))
            )
        ).all()
    assert len(news) == 2 and len({n.resident_id for n in news}) == 2
    assert "立项" in payload_replies(news[0].payload, "zh-CN")[0]["text"]
    assert "没有听懂" in (await second.send("需求排行"))[0].text  # residents cannot


async def test_the_needs_command_line(
    linli: Linli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await first_need(linli)
    other = Chat(linli, user="library-fan")
    await other.send("需求")
    asked = await other.send("希望社区开个图书室，周末能看书")
    await other.press(next(p for p in payloads(asked[0]) if p.endswith(":library")))
    async with linli.sessions() as session:
        canteen, library = (await session.exec(select(NeedItem).order_by(col(NeedItem.id)))).all()
    assert await needs_top(linli, 7) == 0
    assert "#" in capsys.readouterr().out
    assert await needs_merge(linli, canteen.id or 0, canteen.id or 0) == 1
    assert await needs_merge(linli, canteen.id or 0, library.id or 0) == 0
    assert await needs_merge(linli, canteen.id or 0, library.id or 0) == 1  # merged already
    assert await needs_stage(linli, library.id or 0, "approved", None) == 1  # merged away
    assert await needs_stage(linli, canteen.id or 0, "rejected", None) == 1  # a reason is needed
    assert await needs_stage(linli, canteen.id or 0, "rejected", "场地不足") == 0
    out = tmp_path / "needs.csv"
    assert await needs_export(linli, out) == 0
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("id,title,category,stage,supporters") and len(rows) == 2
    async with linli.sessions() as session:
        news = (await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "need"))).all()
    texts = [payload_replies(n.payload, "zh-CN")[0]["text"] for n in news]
    assert len(texts) == 3 and "合并" in texts[0]  # the library fan hears of the merge,
    assert all("场地不足" in text for text in texts[1:])  # then both of the rejection


async def test_a_photo_and_location_sent_first_stay_with_the_need(linli: Linli) -> None:
    chat = Chat(linli, user="with-photo")
    await chat.send("需求")
    photo = Inbound("web", "with-photo", event="image", attachments=(Attachment("image", "m-1"),))
    assert "已收到" in (await linli.pipeline.handle(photo))[0].text
    place = Inbound("web", "with-photo", event="location", location=Location(30.27, 120.15))
    await linli.pipeline.handle(place)
    await chat.send("希望小区附近能有个老年食堂")
    async with linli.sessions() as session:
        [need] = (await session.exec(select(Need))).all()
    assert need.attachments == [{"kind": "image", "ref": "m-1"}]
    assert (need.latitude, need.longitude) == (30.27, 120.15)


async def test_track_shows_the_needs_one_raised_or_supported(linli: Linli) -> None:
    """进度 lists a resident's needs with their stage (a need used to vanish from view once
    submitted: "您目前没有在办的事项")."""
    first = await first_need(linli)
    async with linli.sessions() as session:
        [item] = (await session.exec(select(NeedItem))).all()
    shown = (await first.send("进度"))[0].text
    assert "您提出或支持的需求" in shown and f"「{item.title}」：征集，1 人支持" in shown
    second = Chat(linli, user="second-neighbour")
    await second.send("需求")
    offer = await second.send("老人吃饭不方便，社区能不能办个老年食堂")
    await second.press(payloads(offer[0])[0])  # +1
    assert f"「{item.title}」：征集，2 人支持" in (await second.send("进度"))[0].text
    english = (await second.send("track", lang="en"))[0].text
    assert "Needs you raised or supported" in english and "2 supporter(s)" in english
    nobody = (await Chat(linli, user="no-needs-yet").send("进度"))[0].text
    assert "您提出或支持的需求" not in nobody


@pytest.mark.parametrize(
    ("words", "lang"),
    [
        ("我想提个需求", "zh-CN"),
        ("我有个需求", "zh-CN"),
        ("提个建议", "zh-CN"),
        ("我要提需求", "zh-CN"),
        ("I have a suggestion", "en"),
    ],
)
async def test_saying_one_has_a_need_asks_for_it(linli: Linli, words: str, lang: str) -> None:
    """An outside walkthrough: "我想提个需求" was not understood, "我要提需求" got an FAQ page,
    and "提个建议" was saved as a need of those words (and merged with another's)."""
    chat = Chat(linli, user="need-opener-1")
    said = await chat.send(words)
    assert said[0].text == t(lang, "needs.ask"), said[0].text
    async with linli.sessions() as session:
        assert (await session.exec(select(Need))).all() == []


async def test_saying_one_has_a_suggestion_inside_a_complaint_is_the_complaint(
    linli: Linli,
) -> None:
    """A review: as chat commands, "我有个建议，…" typed as a complaint's words started a
    need instead, and the complaint was never filed."""
    chat = Chat(linli, user="need-opener-2")
    await chat.send("我要投诉")
    said = await chat.send("我有个建议，你们窗口排队太久了，应该多开几个")
    assert said[0].text != t("zh-CN", "needs.choose_category"), said[0].text
    async with linli.sessions() as session:
        assert (await session.exec(select(Need))).all() == []
