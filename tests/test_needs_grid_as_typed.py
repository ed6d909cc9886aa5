"""Issue 18, items 7 and 9, as an outside tester met them: a need's title says what is wanted
(not who asks), its text keeps the person's punctuation, and a grid report's category step takes
a category word or a whole sentence naming one."""

from __future__ import annotations

import re

from sqlmodel import select

from bot.app import Linli
from bot.i18n import t
from models.cases import Case
from models.need_edit import clean_title
from models.need_ops import need_title
from models.needs import Need, NeedItem
from models.personal_data import clip, remove_personal_data
from models.ratings_return_visit import safe_comment
from tests.conftest import Chat, labels, payloads
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

TESTER_NEED = "我叫张伟，住幸福家园5栋301，电话13900001111，希望小区增加充电桩"
WANTED = "希望小区增加充电桩"
LAMP = "南街社区幸福小区3栋门口的路灯坏了一个星期了"
FACILITIES = "公共设施损坏（路灯、井盖等）"
REFERENCE = re.compile(r"LC-\d{8}-\d{4}")


async def _need_and_item(linli: Linli) -> tuple[Need, NeedItem]:
    async with linli.sessions() as session:
        [need] = (await session.exec(select(Need))).all()
        [item] = (await session.exec(select(NeedItem))).all()
    return need, item


async def _only_case(linli: Linli) -> Case:
    async with linli.sessions() as session:
        [case] = (await session.exec(select(Case))).all()
    return case


def _numbered(content: str) -> dict[str, str]:
    """WeChat's numbered options: label -> number."""
    return {label: n for n, label in re.findall(r"(\d+)\. ([^\n]+)", content)}


def _no_personal_data(*texts: str) -> None:
    for text in texts:
        assert "张伟" not in text and "13900001111" not in text and "301" not in text, text


async def test_web_need_title_is_what_is_wanted_and_punctuation_stays(linli: Linli) -> None:
    chat = Chat(linli, user="tester-web")
    await chat.send("需求")
    asked = (await chat.send(TESTER_NEED))[0]
    assert asked.text == t("zh-CN", "needs.choose_category")
    assert payloads(asked)[0].endswith(":traffic-parking")  # 充电桩 is parking, suggested first
    assert labels(asked)[0] == "交通停车"
    created = (await chat.press(payloads(asked)[0]))[0]
    assert f"「{WANTED}」" in created.text, created.text
    need, item = await _need_and_item(linli)
    assert item.title == WANTED and item.category == "traffic-parking"
    assert need.text == "我叫〔姓名〕，住幸福家园〔门牌〕，电话〔电话〕，希望小区增加充电桩"
    _no_personal_data(created.text, need.text, item.title)
    # A neighbour is offered the item by what it asks for.
    neighbour = Chat(linli, user="tester-neighbour")
    await neighbour.send("需求")
    offer = (await neighbour.send("小区能不能多装几个充电桩？电动车没地方充电！"))[0]
    assert f"为「{WANTED}」+1" in labels(offer), labels(offer)


async def test_wechat_need_title_and_punctuation(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("需求"))
    asked = await rig.post(rig.server.text(TESTER_NEED))
    numbers = _numbered(asked["Content"])
    assert numbers["交通停车"] == "1", asked["Content"]
    created = await rig.post(rig.server.text("1"))
    assert f"「{WANTED}」" in created["Content"], created["Content"]
    need, item = await _need_and_item(rig.linli)
    assert item.title == WANTED and "，" in need.text and "," not in need.text
    _no_personal_data(created["Content"], need.text)


async def test_a_need_typed_with_full_width_marks_is_kept_as_typed(linli: Linli) -> None:
    chat = Chat(linli, user="marks")
    await chat.send("需求")
    asked = (await chat.send("楼道的灯坏了！能不能换成声控灯？谢谢：）"))[0]
    await chat.press(payloads(asked)[0])
    need, item = await _need_and_item(linli)
    assert need.text == "楼道的灯坏了！能不能换成声控灯？谢谢：）"
    assert item.title == "楼道的灯坏了！能不能换成声控灯？谢谢：）"


def test_a_need_only_of_personal_details_keeps_its_words() -> None:
    assert need_title("我叫张伟，住幸福家园5栋301") == "我叫〔姓名〕，住幸福家园〔门牌〕"
    assert need_title("希望在3栋2单元501门口装个灯") == "希望在〔门牌〕门口装个灯"
    assert need_title("My name is Li Wei, I live in Room 1202, please add a charger") == (
        "please add a charger"
    )


def test_personal_data_removal_keeps_chinese_punctuation() -> None:
    typed = "窗口态度很差，我等了两个小时！电话13900001111。"
    assert remove_personal_data(typed) == "窗口态度很差，我等了两个小时！电话〔电话〕。"
    assert clip(remove_personal_data(typed), 12) == "窗口态度很差，我等了两个"
    assert safe_comment(f"  {typed} ") == "窗口态度很差，我等了两个小时！电话〔电话〕。"


async def test_web_report_a_bare_category_word_then_the_description(linli: Linli) -> None:
    chat = Chat(linli, user="grid-bare")
    await chat.send("上报")
    described = (await chat.send("路灯"))[0]  # the category, not the description
    assert described.text == t("zh-CN", "grid_report.ask_description", category=FACILITIES)
    again = (await chat.send("路灯"))[0]  # still no description: asked again, nothing lost
    assert again.text == described.text
    place = (await chat.send(LAMP))[0]
    assert place.text == t("zh-CN", "cases.question_place")
    opened = (await chat.send("幸福小区3栋门口"))[0]
    assert REFERENCE.search(opened.text), opened.text
    case = await _only_case(linli)
    assert case.summary == LAMP and case.details["category_code"] == "facilities"


async def test_web_report_a_sentence_at_the_category_step_chooses_and_describes(
    linli: Linli,
) -> None:
    chat = Chat(linli, user="grid-sentence")
    await chat.send("上报")
    asked = (await chat.send("门口那个坏了，晚上很黑"))[0]
    assert asked.text == t("zh-CN", "grid_report.choose_category")
    place = (await chat.send(LAMP))[0]  # names 路灯 inside a sentence: no "没有对上类别"
    assert place.text == t("zh-CN", "cases.question_place")
    await chat.send("幸福小区3栋门口")
    case = await _only_case(linli)
    assert case.details["category_code"] == "facilities"
    assert case.summary == f"门口那个坏了，晚上很黑\n{LAMP}"  # both, punctuation as typed


async def test_web_report_a_sentence_naming_two_categories_is_asked_about(linli: Linli) -> None:
    chat = Chat(linli, user="grid-two")
    await chat.send("上报")
    await chat.send("门口出事了")
    unclear = (await chat.send("路灯倒在路上，很危险"))[0]  # facilities and safety alike
    assert unclear.text == t("zh-CN", "grid_report.category_again")
    assert set(payloads(unclear)[:2]) == {"report:cat:facilities", "report:cat:safety"}
    place = (await chat.press("report:cat:safety"))[0]
    assert place.text == t("zh-CN", "cases.question_place")


async def test_web_report_in_english_a_bare_category(linli: Linli) -> None:
    chat = Chat(linli, user="grid-english")
    await chat.send("English")
    await chat.send("report")
    described = (await chat.send("street light"))[0]
    assert described.text.startswith("All right"), described.text
    place = (await chat.send("The street light at building 3 has been out for a week"))[0]
    assert place.text == t("en", "cases.question_place")


async def test_wechat_report_bare_category_then_sentence_then_location(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("上报"))
    described = await rig.post(rig.server.text("路灯"))
    wanted = t("zh-CN", "grid_report.ask_description", category=FACILITIES)
    assert described["Content"].startswith(wanted), described["Content"]
    place = await rig.post(rig.server.text(LAMP))
    assert t("zh-CN", "cases.question_place") in place["Content"]
    opened = await rig.post(rig.server.location(30.6812, 103.8563, "幸福小区3栋"))
    assert REFERENCE.search(opened["Content"]), opened["Content"]
    case = await _only_case(rig.linli)
    assert case.summary == LAMP and case.details["category_code"] == "facilities"


async def test_wechat_report_sentence_at_the_category_step(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("上报"))
    asked = await rig.post(rig.server.text("门口那个坏了，晚上很黑"))
    assert t("zh-CN", "grid_report.choose_category") in asked["Content"]
    place = await rig.post(rig.server.text(LAMP))
    assert t("zh-CN", "cases.question_place") in place["Content"], place["Content"]
    await rig.post(rig.server.text("幸福小区3栋门口"))
    case = await _only_case(rig.linli)
    assert case.details["category_code"] == "facilities" and LAMP in case.summary
    assert "门口那个坏了，晚上很黑" in case.summary


def test_a_title_typed_by_staff_keeps_its_punctuation() -> None:
    assert clean_title("  增设充电桩，\u3000优先3栋  ") == "增设充电桩， 优先3栋"


def test_a_title_leaves_out_a_bare_name_and_markup() -> None:
    """An outside walkthrough: neighbours were shown 张三 and "<img …>小区" as titles."""
    typed = "电话13987654321 张三 身份证510124199001011234 想要社区食堂"
    assert need_title(typed) == "想要社区食堂"
    assert need_title("电话13900001111 王建国 希望增加路灯") == "希望增加路灯"
    # With no personal data beside it, a word tagged a name is likelier a thing (幼儿园, 保姆).
    assert need_title("小区 需要 幼儿园") == "小区 需要 幼儿园"
    assert need_title("<img src=x onerror=alert(1)>小区门口想要快递柜") == "小区门口想要快递柜"
    assert need_title("<b>") == "<b>"  # nothing but markup: shown escaped rather than empty
    assert need_title("希望停车费<100元，充电桩>10个") == "希望停车费<100元，充电桩>10个"
