"""Personal data found and replaced in Chinese and English text, and what must stay as written."""

from __future__ import annotations

import pytest

from models.need_match import build_matcher
from models.personal_data import PLACEHOLDERS, Kind, clip, remove_personal_data

PHONE, ID, PLATE, EMAIL = (
    PLACEHOLDERS[k] for k in (Kind.PHONE, Kind.ID_CARD, Kind.PLATE, Kind.EMAIL)
)
CARD, HOUSE, NAME, ACCOUNT = (
    PLACEHOLDERS[k] for k in (Kind.BANK_CARD, Kind.ADDRESS, Kind.NAME, Kind.ACCOUNT)
)

REMOVED: list[tuple[str, str]] = [
    # mobile numbers, however typed
    ("电话13812345678", f"电话{PHONE}"),
    ("手机 138 1234 5678 找我", f"手机 {PHONE} 找我"),
    ("打138-1234-5678", f"打{PHONE}"),
    ("+86 139-8765-4321 是我", f"{PHONE} 是我"),
    ("+8613987654321", PHONE),
    ("(+86)13987654321", PHONE),
    ("0086 13987654321", PHONE),
    ("１３８１２３４５６７８有事打", f"{PHONE}有事打"),
    ("＋８６ １３９ ８７６５ ４３２１", PHONE),
    ("联系我1 3 8 1 2 3 4 5 6 7 8", f"联系我{PHONE}"),
    ("138.1234.5678", PHONE),
    ("Call me on 13812345678 please", f"Call me on {PHONE} please"),
    # landlines and other numbers after a word that says it is a phone
    ("座机028-82345678", f"座机{PHONE}"),
    ("(028) 8234 5678", PHONE),
    ("02882345678转123", PHONE),
    ("010-62345678", PHONE),
    ("电话：8234 5678", f"电话：{PHONE}"),
    ("phone: 555 0134 567", f"phone: {PHONE}"),
    ("ring +44 20 7946 0958", f"ring {PHONE}"),
    # ID card numbers
    ("身份证51012419900101123X", f"身份证{ID}"),
    ("id 110105198512121234.", f"id {ID}."),
    ("身份证号：510124 19900101 123x", f"身份证号：{ID}"),
    ("身份证号码 510124199013451234", f"身份证号码 {ID}"),  # not a real date, still an ID
    ("５１０１２４１９９００１０１１２３Ｘ", ID),
    ("身份证 5101 2419 9001 0112 3X 丢了", f"身份证 {ID} 丢了"),
    # car plates
    ("车牌川A12345", f"车牌{PLATE}"),
    ("川AD12345新能源", f"{PLATE}新能源"),
    ("粤B·12345", PLATE),
    ("川a 1b234 停门口", f"{PLATE} 停门口"),
    ("川A1234挂", PLATE),
    ("plate 川A12345F", f"plate {PLATE}"),
    # e-mail
    ("邮箱zhangsan@example.com", f"邮箱{EMAIL}"),
    ("write to li.si+needs@mail.qq.com.", f"write to {EMAIL}."),
    ("ev＠qq．com", EMAIL),
    # bank cards
    ("卡号6222020200001234567", f"卡号{CARD}"),
    ("6222 0202 0000 1234 567", CARD),
    ("card 4111-1111-1111-1111", f"card {CARD}"),
    ("6222020200001234", CARD),
    # exact house numbers
    ("住3栋2单元501", f"住{HOUSE}"),
    ("5号楼1202室漏水", f"{HOUSE}漏水"),
    ("3幢2单元501号", HOUSE),
    ("B座1202", HOUSE),
    ("三栋二单元501室", HOUSE),
    ("2单元501的邻居", f"{HOUSE}的邻居"),
    ("1202室", HOUSE),
    ("3-2-501 楼上漏水", f"{HOUSE} 楼上漏水"),
    ("三组15号", HOUSE),
    ("Room 1202, Building 5 leaks", f"{HOUSE} leaks"),
    ("Building 5, Unit 2, Room 501", HOUSE),
    ("flat 5B needs help", f"{HOUSE} needs help"),
    ("apt. #12", HOUSE),
    # names where a phrase introduces them
    ("我叫张三，想要充电桩", f"我叫{NAME}，想要充电桩"),
    ("我叫张三想要充电桩", f"我叫{NAME}想要充电桩"),
    ("我是李明。", f"我是{NAME}。"),
    ("我是住5栋的王秀英，想开个老年食堂", f"我是住5栋的{NAME}，想开个老年食堂"),
    ("我是南街社区的张建国。", f"我是南街社区的{NAME}。"),
    ("我是3栋2单元的张伟，楼道灯坏了", f"我是3栋2单元的{NAME}，楼道灯坏了"),
    ("姓名：王小红", f"姓名：{NAME}"),
    ("联系人欧阳娜娜", f"联系人{NAME}"),
    ("本人叫刘德", f"本人叫{NAME}"),
    ("My name is Li Si, I need help", f"My name is {NAME}, I need help"),
    ("my name is John Smith.", f"my name is {NAME}."),
    # chat accounts
    ("微信号 zhang_san88", f"微信号 {ACCOUNT}"),
    ("QQ:12345678", f"QQ:{ACCOUNT}"),
    # several in one text
    (
        "我叫张三，电话138 1234 5678，住3栋2单元501，车牌川A12345，邮箱a@b.cn",
        f"我叫{NAME}，电话{PHONE}，住{HOUSE}，车牌{PLATE}，邮箱{EMAIL}",
    ),
]

KEPT = [
    "2026-12-05 开会",
    "12-05-2026",
    "2026/12/05 17:30",
    "2026年12月5日下午3点",
    "周六 09:00–12:00",
    "17:30 以后",
    "LC-20261128-0042",
    "LCY-20261127-0001 我的预约",
    "20261205",
    "花了 1280 元",
    "¥12,800.50",
    "￥3000",
    "310000 人，188 个小区",
    "23 km², 19 communities",
    "3栋电梯经常坏",
    "5号楼门口没有路灯",
    "3栋20多户人家",
    "3栋2026年装的电梯",
    "第2单元",
    "5楼",
    "Building 5 has no lift",
    "a meeting room 2 days a week",
    "我叫了外卖",
    "我是高三学生",
    "我是居民，希望有图书室",
    "我是3栋的住户",
    "我是3栋的居民，想要充电桩",
    "我是这个小区的老住户",
    "我是2栋的房东，",
    "我是小区的江西人，",
    "我是6栋的钟点工，",
    "打电话12次也没人接",
    "电话费太贵",
    "手机 2026年买的",
    "苏ABCDE",
    "CBD area",
    "12345",
    "1.5 米宽",
    "number 42",
    "第1、2、3项",
    "400 个车位",
    "价格 88.8 元/月",
    "微信群",
    "call me tomorrow",
    "I am worried about the lift",
    "老年食堂",
]


@pytest.mark.parametrize(("text", "expected"), REMOVED)
def test_personal_data_is_replaced(text: str, expected: str) -> None:
    assert remove_personal_data(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_other_text_is_left_as_written(text: str) -> None:
    assert remove_personal_data(text) == text


@pytest.mark.parametrize(("text", "_"), REMOVED)
def test_removing_twice_changes_nothing_more(text: str, _: str) -> None:
    once = remove_personal_data(text)
    assert remove_personal_data(once) == once


def test_a_clipped_text_never_ends_inside_a_placeholder() -> None:
    text = remove_personal_data("想装充电桩，电话13812345678")
    assert text == f"想装充电桩，电话{PHONE}"
    assert clip(text, 11) == "想装充电桩，电话"
    assert clip(text, 12) == text
    assert clip("短的", 30) == "短的"


def test_placeholders_do_not_make_needs_alike() -> None:
    matcher = build_matcher([(1, f"{NAME}{PHONE}{HOUSE}要图书室", None), (2, "想装充电桩", None)])
    assert matcher.match(f"{NAME}{PHONE}{HOUSE}路灯不亮", None) == []
    assert [item for item, _ in matcher.match(f"{NAME}社区图书室", None)] == [1]
