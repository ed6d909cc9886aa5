"""Property-based: the words residents type (days, times, option numbers, phone and ID card
numbers, reference numbers, the language they write in) never crash their readers, and what
is read is in range and reads back the same."""

from __future__ import annotations

import re
import string
import unicodedata
from datetime import date, time, timedelta

from hypothesis import example, given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_11_2

from bot.language import written_language
from bot.render import option_number
from handlers.needs_edit import chosen_numbers
from handlers.personal_numbers import id_number_ok
from models.people import mask_id_number, mask_phone, normalise_mobile
from models.refs import _NOT_PREFIXES, canonical_reference, find_reference, parse_reference
from models.when import DayPart, names_when, parse_when, read_number, without_when
from tests.hypothesis_setup import PURE

# Text as residents' phones produce it, plus what no phone should but an attacker can.
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
DAY_WORDS = ("今天", "明天", "后天", "下周", "周", "星期", "号", "日", "月", "年", "十", "二")
TIME_WORDS = ("点", "半", "刻", "分", "上午", "下午", "晚上", "am", "pm", ":", "/", "-")
DATE_WORDS = st.sampled_from((*DAY_WORDS, *TIME_WORDS, "next", "monday", "fri"))
WORDY = st.lists(
    st.one_of(DATE_WORDS, st.text(string.digits, min_size=1, max_size=5), st.text(max_size=3), CJK),
    max_size=12,
).map("".join)
ANY_TEXT = st.one_of(st.text(max_size=300), WORDY, st.text(string.digits, min_size=4000))
TODAY = st.dates(min_value=date(2000, 1, 1), max_value=date(2098, 12, 31))
ASCII_DIGIT_RUN = re.compile(r"[0-9]{4}")


@PURE
@given(ANY_TEXT, TODAY)
@example("2026-12-05 10:30", date(2026, 11, 27))
@example("9" * 5000, date(2026, 11, 27))
def test_parse_when_reads_a_real_day_near_today(text: str, today: date) -> None:
    """Any text: a real date (near today unless a year is written), a clock time, a part of day."""
    asked = parse_when(text, today)
    assert asked.part is None or isinstance(asked.part, DayPart)
    assert asked.at is None or isinstance(asked.at, time)
    if asked.day is not None and not ASCII_DIGIT_RUN.search(unicodedata.normalize("NFKC", text)):
        assert today - timedelta(days=14) <= asked.day <= today + timedelta(days=367)
    if asked != parse_when("", today):
        assert names_when(text)
    assert len(without_when(text)) <= 2 * len(text) + 1


@PURE
@given(st.dates(min_value=date(2021, 1, 1), max_value=date(2090, 12, 30)))
def test_written_dates_read_back(day: date) -> None:
    """A date written the ways residents write it reads back as that date."""
    today = day - timedelta(days=1)
    for written in (
        f"{day.year}年{day.month}月{day.day}日",
        f"{day:%Y-%m-%d}",
        f"{day.month}月{day.day}号",
        f"{day.year}/{day.month}/{day.day}",
    ):
        assert parse_when(written, today).day == day, written


@PURE
@given(st.integers(7, 20), st.integers(0, 59))
def test_written_times_read_back(hour: int, minute: int) -> None:
    """ "09:05", "9点05分" and "下午3点" read back as that clock time."""
    today = date(2026, 11, 27)
    assert parse_when(f"{hour:02d}:{minute:02d}", today).at == time(hour, minute)
    assert parse_when(f"{hour}点{minute}分", today).at == time(hour, minute)
    if 13 <= hour <= 18:
        assert parse_when(f"下午{hour - 12}点", today).at == time(hour, 0)


@PURE
@given(ANY_TEXT)
@example("")
@example("ab")
@example("9" * 5000)
def test_read_number_is_a_small_number_or_none(text: str) -> None:
    """read_number answers a number or None (its documented refusal), never an exception."""
    number = read_number(text)
    assert number is None or number >= 0


@PURE
@given(st.integers(0, 999))
def test_option_numbers_read_back(number: int) -> None:
    """An option typed in ASCII or full-width digits, or as "第N个", is that option."""
    full_width = str(number).translate({ord(c): ord(c) + 0xFEE0 for c in string.digits})
    for typed in (str(number), full_width, f"第{number}个", f" 选 {number} "):
        assert option_number(typed) == number


@PURE
@given(ANY_TEXT)
def test_option_number_never_raises(text: str) -> None:
    """Any text is an option number in range, or none."""
    number = option_number(text)
    assert number is None or 0 <= number <= 999


@PURE
@given(ANY_TEXT, st.integers(1, 30))
@example("9" * 5000, 3)
def test_chosen_numbers_are_options_in_range(text: str, count: int) -> None:
    """Typed option numbers ("1 3 4") are distinct, sorted and within the list, or None."""
    numbers = chosen_numbers(text, count)
    if numbers is not None:
        assert numbers == sorted(set(numbers)) and all(1 <= n <= count for n in numbers)


MOBILE = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text(string.digits, min_size=9, max_size=9),
)


@PURE
@given(ANY_TEXT)
@example("13٠٠٠٠٠٠٠٠٠")
@example("138፩፩፩፩፩፩፩፩")
def test_a_kept_mobile_is_eleven_ascii_digits(text: str) -> None:
    """Whatever is typed, a phone number kept is a mainland mobile in ASCII digits."""
    number = normalise_mobile(text)
    assert number is None or re.fullmatch(r"1[3-9][0-9]{9}", number)


@PURE
@given(MOBILE, st.sampled_from(["{}", "+86 {}", "{:3} {}", "86-{}", "full"]))
def test_mobiles_typed_any_way_read_back(mobile: str, way: str) -> None:
    """Spaces, dashes, +86 and full-width digits do not change the number; the mask hides the
    middle four."""
    if way == "full":
        typed = mobile.translate({ord(c): ord(c) + 0xFEE0 for c in string.digits})
    elif way == "{:3} {}":
        typed = f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    else:
        typed = way.format(mobile)
    assert normalise_mobile(typed) == mobile
    assert mask_phone(mobile) == mobile[:3] + "****" + mobile[7:]


def _id_number(born: date, county: str, order: str) -> str:
    body = f"{county}{born:%Y%m%d}{order}"
    return body + mod_11_2.calc_check_digit(body)


ID_NUMBER = st.builds(
    _id_number,
    st.dates(min_value=date(1890, 1, 1), max_value=date(2026, 11, 27)),
    st.text(string.digits, min_size=6, max_size=6),
    st.text(string.digits, min_size=3, max_size=3),
)


@PURE
@given(ANY_TEXT)
@example("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X")
def test_an_accepted_id_number_is_ascii(text: str) -> None:
    """An ID card number accepted is 17 ASCII digits and a check digit or X."""
    number = "".join(unicodedata.normalize("NFKC", text).split()).upper()
    if id_number_ok(number):
        assert re.fullmatch(r"[0-9]{17}[0-9X]", number)


@PURE
@given(ID_NUMBER, st.integers(0, 16))
def test_id_numbers_check_their_check_digit(number: str, position: int) -> None:
    """A right number is accepted; changing any one digit of it is caught by the check digit."""
    assert id_number_ok(number)
    changed = str((int(number[position]) + 1) % 10)
    assert not id_number_ok(number[:position] + changed + number[position + 1 :])
    masked = mask_id_number(number)
    assert (masked[0], masked[-1], set(masked[1:-1])) == (number[0], number[-1], {"*"})


REFERENCE = st.builds(
    lambda prefix, day, seq: f"{prefix}-{day:%Y%m%d}-{seq:04d}",
    st.text(string.ascii_uppercase, min_size=2, max_size=4),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(1, 99_999),
)


@PURE
@given(ANY_TEXT)
def test_reference_readers_answer_a_printed_reference_or_none(text: str) -> None:
    """Whatever is typed, a reference read is in its printed form, and reads as itself."""
    for read in (canonical_reference(text), find_reference(text)):
        if read is not None:
            assert re.fullmatch(r"[A-Z]{2,4}-[0-9]{8}-[0-9]{4,6}", read)
            assert canonical_reference(read) == read
    parsed = parse_reference(text)
    assert parsed is None or (parsed[0].isalpha() and parsed[1].isdecimal() and parsed[2] >= 0)


@PURE
@given(REFERENCE, st.sampled_from(["{}", "lower", "spaced", "in a sentence"]))
def test_references_typed_any_way_read_back(printed: str, way: str) -> None:
    """A printed reference, typed in lower case, spaced, or inside a sentence, is found as is."""
    prefix, day, seq = printed.split("-")
    typed = {
        "{}": printed,
        "lower": printed.lower(),
        "spaced": f"{prefix} {day} {seq}",
        "in a sentence": f"我的编号是{printed}，请查一下",
    }[way]
    assert canonical_reference(printed) == printed
    assert parse_reference(printed) == (prefix, day, int(seq))
    if way != "in a sentence":
        assert canonical_reference(typed) == printed
    if prefix.lower() not in _NOT_PREFIXES:  # "on 2026 12 09 …" is a date, not a reference
        assert find_reference(typed) == printed


@PURE
@given(ANY_TEXT, st.booleans())
def test_written_language_is_one_we_speak_or_none(text: str, answering: bool) -> None:
    """The language detector names Chinese, English or nothing, for any text."""
    assert written_language(text, answering=answering) in (None, "zh-CN", "en")
