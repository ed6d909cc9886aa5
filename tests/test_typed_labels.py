"""Issue 18, item 3: typing what an option says answers the question as pressing it would."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import Linli
from bot.i18n import t
from bot.outgoing import Person, queue
from bot.outgoing.message import message, option, say
from bot.render import option_by_label
from models.booking import Appointment
from models.people import ChannelIdentity
from tests.conftest import Chat, labels, payloads
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name


def test_a_label_is_found_however_it_is_typed() -> None:
    shown = ["确认", "返回主菜单", "Very satisfied"]
    assert option_by_label("确认", shown) == 0
    assert option_by_label(" “确认” ", shown) == 0
    assert option_by_label("确认！", shown) == 0
    assert option_by_label("very SATISFIED.", shown) == 2
    assert option_by_label("确", shown) is None  # a part is no choice
    assert option_by_label("确认", ["确认", "确认"]) is None  # two alike: ask again
    assert option_by_label("", shown) is None


async def _confirm_step(chat: Chat) -> list[str]:
    days = await chat.press("book:svc:ss-card-reissue")
    slots = await chat.press(payloads(days[0])[1])
    confirm = await chat.press(payloads(slots[0])[0])
    return labels(confirm[0])


async def _booked(linli: Linli, user: str) -> int:
    async with linli.sessions() as session:
        account = (
            await session.exec(select(ChannelIdentity).where(ChannelIdentity.external_id == user))
        ).one()
        found = await session.exec(
            select(Appointment).where(Appointment.resident_id == account.resident_id)
        )
        return len(found.all())


async def test_typing_confirm_books_as_the_button_would(linli: Linli) -> None:
    chat = Chat(linli, user="typist-zh-0001")
    shown = await _confirm_step(chat)
    assert shown[0] == t("zh-CN", "booking.yes")
    done = await chat.send(shown[0])
    assert "预约成功" in done[0].text, done[0].text
    assert await _booked(linli, chat.user) == 1


async def test_an_english_reader_types_the_english_label(linli: Linli) -> None:
    chat = Chat(linli, user="typist-en-0001")
    await chat.send("English")
    shown = await _confirm_step(chat)
    assert shown[0] == t("en", "booking.yes")
    done = await chat.send(shown[0].lower())
    assert await _booked(linli, chat.user) == 1, done[0].text


async def test_on_wechat_typing_a_pushed_option_answers_the_push(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("菜单"))  # an account, in the 48-hour window
    async with rig.linli.sessions() as session:
        account = (
            await session.exec(
                select(ChannelIdentity).where(ChannelIdentity.external_id == rig.server.openid)
            )
        ).one()
    news = message(
        say("cases.notice_question", ref="LC-1", question="门牌号是多少？"),
        options=(option("cases.answer", "hours"),),
    )
    async with rig.linli.engine.begin() as connection:
        to = Person(account_id=account.id, channel="wechat")
        await queue(connection, news, [to], kind="case", now=rig.linli.clock.now())
    while await rig.linli.worker.deliver_due():
        pass
    [push] = [m for m in rig.platform.sent if m.touser == rig.server.openid]
    assert push.text is not None and f"1. {t('zh-CN', 'cases.answer')}" in push.text
    answer = await rig.post(rig.server.text(t("zh-CN", "cases.answer")))
    hours = await rig.post(rig.server.text("办公时间"))
    assert answer["Content"] == hours["Content"]  # typing the label did what the option does


@pytest.mark.parametrize("answer", ["是这个", "对", "对的", "就是这个", "yes"])
async def test_agreeing_at_one_candidate_besides_none_of_these_chooses_it(
    linli: Linli, answer: str
) -> None:
    """代办 → "帮我妈办高龄补贴" → [高龄补贴申领] [都不是]: "对" means the one candidate (it
    used to drop the request with "没有听懂")."""
    chat = Chat(linli, user=f"agree-one-{len(answer)}-{answer.isascii()}")
    await chat.send("代办")
    offered = await chat.send("帮我妈办高龄补贴")
    assert labels(offered[0]) == ["高龄补贴申领", t("zh-CN", "match.none_of_these")]
    chosen = await chat.send(answer)
    presser = Chat(linli, user=f"press-one-{len(answer)}-{answer.isascii()}")
    await presser.send("代办")
    await presser.send("帮我妈办高龄补贴")
    pressed = await presser.press(payloads(offered[0])[0])
    assert chosen[0].text == pressed[0].text  # as pressing 高龄补贴申领 would


async def test_agreeing_at_several_candidates_chooses_none(linli: Linli) -> None:
    chat = Chat(linli, user="agree-several")
    offered = await chat.send("约个补贴")
    assert len(labels(offered[0])) == 4, offered[0].text  # three services and 都不是
    replies = await chat.send("对")
    assert "请携带" not in replies[0].text  # no service was chosen for the resident


async def test_a_time_with_no_service_named_asks_which_service(linli: Linli) -> None:
    """ "我想约个时间" names no service: the categories, not the first service that rhymes."""
    replies = await Chat(linli, user="time-no-service").send("我想约个时间")
    plain = await Chat(linli, user="plain-booking").send("我想预约")
    assert replies[0].text == plain[0].text
