"""Personal data in what people write, found and replaced before anyone else reads it.

Covered: mobile and landline phone numbers (+86, spaced, dashed, full-width), ID card numbers,
car plates (new-energy ones too), e-mail addresses, bank card numbers, exact house numbers
(3栋2单元501, 5号楼1202室, 3-2-501, Room 1202, Building 5), WeChat and QQ accounts, and names
where a phrase introduces them (我叫张三, 姓名：李四, my name is …). Dates, times, reference numbers
(LC-20261128-0042), money and ordinary numbers are left as they are. Each find becomes a
placeholder naming its kind, the same in every language: the text is stored once and read by
people of either language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """The kinds of personal data that are removed."""

    PHONE = "phone"
    ID_CARD = "id_card"
    PLATE = "plate"
    EMAIL = "email"
    BANK_CARD = "bank_card"
    ADDRESS = "address"
    NAME = "name"
    ACCOUNT = "account"


PLACEHOLDERS: dict[Kind, str] = {
    Kind.PHONE: "〔电话〕",
    Kind.ID_CARD: "〔证件号〕",
    Kind.PLATE: "〔车牌〕",
    Kind.EMAIL: "〔邮箱〕",
    Kind.BANK_CARD: "〔银行卡〕",
    Kind.ADDRESS: "〔门牌〕",
    Kind.NAME: "〔姓名〕",
    Kind.ACCOUNT: "〔账号〕",
}


@dataclass(frozen=True)
class Found:
    """Where in a text a piece of personal data is, and its kind."""

    start: int
    end: int
    kind: Kind


# Full-width forms, the ideographic space and the dashes people type become their ASCII
# look-alikes one character for one, so positions in the folded copy are positions in the text.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FOLD |= {0x3000: 0x20, 0x00A0: 0x20, 0x2212: 0x2D}
_FOLD |= {code: 0x2D for code in range(0x2010, 0x2016)}

_START = r"(?<![0-9A-Za-z])"
_END = r"(?![0-9A-Za-z])"
_SEP = r"[ \-]?"
_HAN = r"[\u4e00-\u9fff]"
_CN_NUMBER = r"[0-9一二三四五六七八九十两〇零]{1,4}"
_BUILDING = r"(?:[A-Za-z]|[0-9]{1,3}|[一二三四五六七八九十]{1,3})"
# A flat: three or four digits, or one or two with 室/号/户 (so 3栋20多户 is not a flat).
_FLAT = r"(?:[0-9]{3,4}(?:室|号|房|户)?|[0-9]{1,2}(?:室|号|户))(?![0-9年月日元人个块万岁])"
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# The common surnames (the first character of a name introduced by 我叫, 姓名 …).
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦"
    "俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房"
    "滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景宫费卜冷晏席卫米柏宗瞿桂全佟应臧"
    "闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝封谈匡鞠惠荆乐冀郁胥班储栗"
    "燕楚鄢劳谌奚皮粟冼蔺满闻厉伊仝郜阚权帅屠朴练廉禹井祖漆巴丰支卿狄计索宣晋相初云容来扈晁芮"
)
_COMPOUND_SURNAMES = (
    "欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|长孙|宇文|司徒|夏侯|令狐|端木|南宫"
)
# A given name's second character is not one of these words that usually follow a name.
_NOT_IN_NAME = "想要在是住的了电家今说和与跟也都就请我你他她们"
_NAME = rf"(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}]){_HAN}(?:(?![{_NOT_IN_NAME}]){_HAN})?"
# After "我是…的" a name of two or three characters, not a role ("房东", "江西人", "钟点工").
_ROLE_ENDS = "人工客户主东子女员长师爷奶婆公妈爸哥姐弟妹"
_NAME_PART = rf"(?![{_ROLE_ENDS}]){_HAN}"
_FULL_NAME = rf"(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}]){_NAME_PART}{_NAME_PART}?"
_NAME_END = r"(?=[，,。.！!；;、：:\s]|$)"


_BUILDING_EN = r"(?:building|bldg|block|blk|tower)\.?\s*(?:no\.?\s*)?#?[A-Za-z0-9]{1,4}\b"
_ENGLISH_FLAT = (
    rf"\b(?:{_BUILDING_EN}\s*,?\s*)?(?:unit\s*#?[A-Za-z0-9]{{1,4}}\s*,?\s*)?"
    r"(?:(?:room|rm)\.?\s*(?:no\.?\s*)?#?[0-9]{3,5}[A-Za-z]?"
    r"|(?:flat|apt|apartment|suite)\.?\s*(?:no\.?\s*)?#?[0-9]{1,5}[A-Za-z]?)\b"
    rf"(?:\s*,?\s*(?:of\s+|in\s+)?{_BUILDING_EN})?"
)
_DATE = re.compile(
    r"(?:19|20)[0-9]{2}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}-[0-9]{1,2}-(?:19|20)[0-9]{2}"
)


def _not_a_date(found: str) -> bool:
    """A date such as 2026-12-05 or 12-05-2026 is not a phone or house number."""
    return _DATE.fullmatch(found) is None


def _born_on_a_date(found: str) -> bool:
    """An ID card number carries its holder's birthday (digits 7 to 14, YYYYMMDD)."""
    digits = re.sub(r"[ \-]", "", found)
    year, month, day = int(digits[6:10]), int(digits[10:12]), int(digits[12:14])
    return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31


def _two_digits(found: str) -> bool:
    """A plate has digits in it (川A12345); 苏ABCDE is a word."""
    return sum(ch.isdigit() for ch in found) >= 2


@dataclass(frozen=True)
class _Rule:
    """A pattern for one kind; its `pii` group, where it has one, is the part replaced (the
    words that introduce it stay), and `valid` may still turn a match down."""

    kind: Kind
    pattern: re.Pattern[str]
    valid: Callable[[str], bool] | None = None


def _rule(kind: Kind, pattern: str, valid: Callable[[str], bool] | None = None) -> _Rule:
    return _Rule(kind, re.compile(pattern, re.IGNORECASE), valid)


_DIGITS = r"\+?[0-9](?:[ \-]?[0-9]){6,14}"
# In this order the rules claim text: an e-mail's digits are not a phone, an ID not a card.
_RULES = (
    _rule(Kind.EMAIL, r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}"),
    _rule(
        Kind.ID_CARD,
        rf"{_START}[1-9](?:{_SEP}[0-9]){{16}}{_SEP}[0-9x]{_END}",
        _born_on_a_date,
    ),
    _rule(
        Kind.ID_CARD,
        r"(?:身份证|证件)(?:号码|号)?\s*[:是为]?\s*"
        rf"(?P<pii>[0-9](?:{_SEP}[0-9]){{13,16}}[0-9x]){_END}",
    ),
    _rule(
        Kind.BANK_CARD,
        rf"{_START}(?:[0-9]{{16,19}}"
        rf"|[0-9]{{4}}(?:[ \-][0-9]{{4}}){{3}}(?:{_SEP}[0-9]{{1,3}})?){_END}",
    ),
    _rule(
        Kind.PHONE,
        rf"{_START}(?:(?:\+|00)?86[ \-]?|\(\+?86\)[ \-]?)?1[ \-.]?[3-9](?:[ \-.]?[0-9]){{9}}{_END}",
    ),
    _rule(
        Kind.PHONE,
        rf"{_START}(?:\(0[1-9][0-9]{{1,2}}\)|0[1-9][0-9]{{1,2}}){_SEP}[2-9][0-9]{{2,3}}{_SEP}"
        rf"[0-9]{{4}}(?:{_SEP}(?:转|ext\.?|x){_SEP}[0-9]{{1,5}})?{_END}",
    ),
    _rule(Kind.PHONE, rf"{_START}(?:\+|00)[1-9][0-9]{{0,2}}(?:{_SEP}[0-9]){{6,13}}{_END}"),
    _rule(
        Kind.PHONE,
        r"(?:电话|手机|座机|联系方式|tel|phone|mobile|cell|call me(?: at| on)?|whatsapp)"
        rf"(?:号码|号)?\s*[:是为]?\s*(?P<pii>{_DIGITS}){_END}",
        _not_a_date,
    ),
    _rule(
        Kind.PLATE,
        rf"[{_PROVINCES}] ?[a-z][ ·•.\-]?(?:[a-z0-9]{{5,6}}|[a-z0-9]{{4}}[挂学警港澳]){_END}",
        _two_digits,
    ),
    _rule(
        Kind.ADDRESS,
        rf"{_START}{_BUILDING}\s*(?:号楼|栋|幢|座)\s*(?:-?\s*{_CN_NUMBER}\s*单元)?\s*-?\s*{_FLAT}",
    ),
    _rule(Kind.ADDRESS, rf"{_START}{_CN_NUMBER}\s*单元\s*-?\s*{_FLAT}"),
    _rule(Kind.ADDRESS, rf"{_START}[0-9]{{3,4}}\s*(?:室|号房|房间)"),
    _rule(Kind.ADDRESS, rf"{_START}[0-9]{{1,2}}-[0-9]{{1,2}}-[0-9]{{3,4}}{_END}", _not_a_date),
    _rule(Kind.ADDRESS, rf"{_START}{_CN_NUMBER}\s*组\s*[0-9]{{1,4}}\s*号"),
    _rule(Kind.ADDRESS, _ENGLISH_FLAT),
    _rule(
        Kind.NAME,
        r"(?:我叫|我的名字(?:是|叫)|名字(?:是|叫)|本人(?:叫|名叫)|姓名(?:是|叫)?\s*:?"
        rf"|联系人(?:是)?\s*:?)\s*(?P<pii>{_NAME})",
    ),
    _rule(Kind.NAME, rf"我是\s*(?P<pii>{_NAME}){_NAME_END}"),
    # "我是住5栋的王秀英，…" (a walkthrough: the need showed the name to the neighbours)
    _rule(Kind.NAME, rf"我是[^，,。！!？?；;\s]{{1,12}}的\s*(?P<pii>{_FULL_NAME}){_NAME_END}"),
    # The cue in any case, the name itself capitalised: "my name is li si" is not taken.
    _Rule(
        Kind.NAME,
        re.compile(
            r"(?i:\b(?:my name is|my name's|i am called|i'm called|name\s*:))\s+"
            r"(?P<pii>[A-Z][a-z]+(?:[ \-][A-Z][a-z]+){0,2})"
        ),
    ),
    _rule(
        Kind.ACCOUNT,
        rf"(?:微信|wechat|qq)(?:\s*id)?(?:号码|号)?\s*[:是为]?\s*(?P<pii>[a-z0-9_\-]{{5,20}}){_END}",
    ),
)


def find_personal_data(text: str, kinds: Collection[Kind] | None = None) -> list[Found]:
    """Every piece of personal data (of the given kinds, or all) in the text, in order, none
    overlapping another."""
    folded = text.translate(_FOLD)
    taken: list[Found] = []
    for rule in _RULES:
        if kinds is not None and rule.kind not in kinds:
            continue
        for start, end in _spans(rule, folded):
            if all(end <= other.start or start >= other.end for other in taken):
                taken.append(Found(start, end, rule.kind))
    return sorted(taken, key=lambda found: found.start)


def _spans(rule: _Rule, text: str) -> Iterator[tuple[int, int]]:
    group = "pii" if "pii" in rule.pattern.groupindex else 0
    for match in rule.pattern.finditer(text):
        start, end = match.span(group)
        if rule.valid is None or rule.valid(text[start:end]):
            yield start, end


def remove_personal_data(text: str, kinds: Collection[Kind] | None = None) -> str:
    """The text with each piece of personal data (of the given kinds, or all) replaced by the
    placeholder of its kind."""
    parts: list[str] = []
    position = 0
    for found in find_personal_data(text, kinds):
        parts += [text[position : found.start], PLACEHOLDERS[found.kind]]
        position = found.end
    parts.append(text[position:])
    return "".join(parts)


def without_placeholders(text: str) -> str:
    """The text with every placeholder blanked (for counting or matching its own words)."""
    for placeholder in PLACEHOLDERS.values():
        text = text.replace(placeholder, " ")
    return text


def clip(text: str, limit: int) -> str:
    """At most `limit` characters of the text, never ending inside a placeholder."""
    clipped = text[:limit]
    opened = clipped.rfind("〔")
    if opened > clipped.rfind("〕"):
        clipped = clipped[:opened]
    return clipped.rstrip()
