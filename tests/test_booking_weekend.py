"""Issue 18, item 1: a resident can ask what is open at weekends and gets the weekend services
by category with the hours; "星期六可以办社保吗" is answered yes or no; the booking menu marks
the services that are open at weekends too."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from bot.app import Linli
from bot.i18n import t
from models.services import Service
from tests.conftest import Chat, labels, payloads
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

CHANNELS = pytest.mark.parametrize("channel", ["web", "wechat"])


async def _catalogue(linli: Linli) -> list[Service]:
    async with linli.sessions() as session:
        stmt = select(Service).where(col(Service.active).is_(True)).order_by(col(Service.id))
        return list((await session.exec(stmt)).all())


QUESTIONS = ["周末能办什么", "星期天可以办哪些业务？", "节假日能办啥", "周末呢？", "週末能辦什麼"]


@CHANNELS
@pytest.mark.parametrize("question", QUESTIONS)
async def test_what_is_open_at_weekends_lists_every_weekend_service_by_category(
    linli: Linli, channel: str, question: str
) -> None:
    reply = await Chat(linli, user=f"weekend-{channel}-{question}", channel=channel).send(question)
    text = reply[0].text
    services = await _catalogue(linli)
    weekend = [s for s in services if s.weekend]
    assert len(weekend) == 28 and len(services) == 72  # the street's own count
    assert "28 项" in text and "09:00–12:00" in text and "08:00–18:00" in text, text
    assert all(s.name_zh in text for s in weekend)
    listed = text.split("\n")[1:-1]  # the category lines
    assert all(line.startswith("【") for line in listed), listed
    assert len(listed) == len({s.category_zh for s in weekend})
    names = {name for line in listed for name in line.split("】", 1)[1].split("、")}
    assert names == {s.name_zh for s in weekend}
    assert payloads(reply[0]) == ["book", "menu"]


@CHANNELS
async def test_saturday_and_social_security_is_a_yes_with_the_services(
    linli: Linli, channel: str
) -> None:
    reply = await Chat(linli, user=f"weekend-ss-{channel}", channel=channel).send(
        "星期六可以办社保吗"
    )
    text = reply[0].text
    assert text.startswith("可以"), text
    social = [s for s in await _catalogue(linli) if s.category_zh == "社会保障"]
    yes_line = next(line for line in text.split("\n") if line.startswith("【社会保障】"))
    assert all((s.name_zh in yes_line) == s.weekend for s in social), yes_line
    assert "只在工作日 08:00–18:00 办理" in text
    assert "book:svc:ss-card-reissue" in payloads(reply[0])
    days = await Chat(linli, user=f"weekend-ss-{channel}", channel=channel).press(
        "book:svc:ss-card-reissue"
    )
    assert "请选择日期" in days[0].text


async def test_a_named_service_with_a_digit_for_the_day(linli: Linli) -> None:
    reply = await Chat(linli, user="weekend-digit-0001").send("星期6能办社保卡补办么")
    assert reply[0].text.startswith("可以"), reply[0].text
    assert payloads(reply[0])[0] == "book:svc:ss-card-reissue"


@CHANNELS
async def test_a_weekday_only_service_is_a_no(linli: Linli, channel: str) -> None:
    chat = Chat(linli, user=f"weekend-no-{channel}", channel=channel)
    reply = await chat.send("周六能办城乡居民养老保险参保登记吗")
    assert reply[0].text.startswith("不可以"), reply[0].text
    assert "城乡居民养老保险参保登记" in reply[0].text and "08:00–18:00" in reply[0].text
    everything = await chat.send(labels(reply[0])[0])  # "周末能办的服务", typed
    assert "28 项" in everything[0].text


async def test_in_english(linli: Linli) -> None:
    chat = Chat(linli, user="weekend-en-0001")
    reply = await chat.send("what can I do on Saturday")
    assert reply[0].text.startswith("On weekend and holiday mornings (09:00–12:00) 28"), reply
    assert "Social security card replacement" in reply[0].text
    social = await chat.send("Can I get social security things done on Sunday?")
    assert social[0].text.startswith("Yes."), social[0].text


@CHANNELS
async def test_asked_in_the_middle_of_booking_and_the_booking_goes_on(
    linli: Linli, channel: str
) -> None:
    chat = Chat(linli, user=f"weekend-midflow-{channel}", channel=channel)
    await chat.press("book:svc:ss-card-reissue")
    await chat.press("book:day:ss-card-reissue:20261130")
    reply = await chat.send("周末能办什么")
    assert "28 项" in reply[0].text
    assert labels(reply[0])[0] == t("zh-CN", "flow.resume_booking")  # the step, offered again
    back = await chat.send(labels(reply[0])[0])  # typed, as on WeChat
    assert "11月30日" in back[-1].text, back[-1].text
    confirm = await chat.send("下午5点半")  # the day step reads the time again
    assert "11月30日（周一）17:30" in confirm[0].text, confirm[0].text
    again = await chat.send("我想周六上午9点办社保卡补办")  # a booking, not a weekend question
    assert "11月28日（周六）09:00" in again[0].text, again[0].text


@CHANNELS
async def test_the_booking_menu_marks_the_weekend_services(linli: Linli, channel: str) -> None:
    chat = Chat(linli, user=f"weekend-menu-{channel}", channel=channel)
    services = await chat.press("book:cat:social_security")
    shown = dict(zip(payloads(services[0]), labels(services[0]), strict=True))
    mark = t("zh-CN", "booking.weekend_mark")
    assert shown["book:svc:ss-card-reissue"] == "社保卡补办" + mark
    assert mark not in shown["book:svc:ss-resident-pension-enrol"]
    typed = await chat.send(shown["book:svc:ss-card-reissue"])  # the marked label, typed
    assert "社保卡补办" in typed[0].text and "请选择日期" in typed[0].text


async def test_the_weekend_answer_on_wechat(rig: WeChatRig) -> None:
    reply = await rig.post(rig.server.text("周末能办什么"))
    assert "【社会保障】" in reply["Content"] and "09:00–12:00" in reply["Content"]
    booking = await rig.post(rig.server.text("1"))  # the first option: book
    assert "请选择办事类别" in booking["Content"], booking["Content"]
