"""When a resident asks to come: the day, part of day and clock time typed in Chinese or English.

The one reader of days and times: booking reads them here, and the understanding of free text
(models.intents) asks it whether a message names a day ("改到5点半", "改到下周六").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, time, timedelta
from enum import StrEnum

from models.matching_text import simplified

__all__ = ["DayPart", "WhenAsked", "names_when", "parse_when", "read_number", "without_when"]

# Only the start of a message is read, so no pasted essay can make the searches slow.
_MAX_CHARS = 200


class DayPart(StrEnum):
    """A part of the day a resident names (上午, 下午, 傍晚/下班后; am, pm)."""

    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"  # after work: the centre's last hour (17:00–18:00) on a weekday


@dataclass(frozen=True)
class WhenAsked:
    """What a message says about when; each field is None if the message does not say."""

    day: date | None
    part: DayPart | None
    at: time | None


# --- Text and numbers ---------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
# A space matters only between two words or numbers ("next friday", "2026-12-05 10:30").
_LONE_SPACE = re.compile(r"(?<![a-z0-9]) | (?![a-z0-9])")

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_NUM = "(?:[0-9]{1,2}|[零〇一二两三四五六七八九十]{1,3})"


def _fold(text: str) -> str:
    # Traditional characters read as simplified ones ("下週一5點半" is "下周一5点半"); a lone
    # surrogate, which no encoding can carry, is dropped first.
    kept = text[:_MAX_CHARS].encode("utf-8", "ignore").decode("utf-8")
    folded = unicodedata.normalize("NFKC", simplified(kept))[: _MAX_CHARS * 2].lower()
    return _LONE_SPACE.sub("", _SPACES.sub(" ", folded)).strip()


def _cn_digit(char: str, default: int) -> int | None:
    return _CN_DIGITS.get(char) if char else default


def read_number(text: str) -> int | None:
    """The value of "12", "五", "十一", "二十", "三十一", "零五"; None if not such a number."""
    if text.isascii():
        # Callers pass what a pattern matched, but the contract is None for anything else.
        return int(text) if text.isdigit() and len(text) <= _MAX_CHARS else None
    if len(text) > 1 and text[0] in "零〇":
        text = text[1:]
    tens, ten, units = text.partition("十")
    if not ten:
        return _CN_DIGITS.get(text) if len(text) == 1 else None
    if len(tens) > 1 or len(units) > 1:
        return None
    high, low = _cn_digit(tens, 1), _cn_digit(units, 0)
    return None if high is None or low is None else high * 10 + low


def _leftmost(text: str, patterns: Iterable[re.Pattern[str]]) -> re.Match[str] | None:
    matches = [match for pattern in patterns if (match := pattern.search(text))]
    return min(matches, key=lambda match: (match.start(), -match.end()), default=None)


def _words(words: Iterable[str]) -> re.Pattern[str]:
    longest_first = sorted(words, key=len, reverse=True)
    return re.compile(rf"(?<![a-z])(?:{'|'.join(map(re.escape, longest_first))})(?![a-z])")


# --- Days ---------------------------------------------------------------------------------------

_RELATIVE_DAYS = {
    "今天": 0,
    "今日": 0,
    "今早": 0,
    "今晚": 0,
    "today": 0,
    "tonight": 0,
    "明天": 1,
    "明日": 1,
    "明早": 1,
    "明晚": 1,
    "tomorrow": 1,
    "后天": 2,
    "day after tomorrow": 2,
    "大后天": 3,
}
_CN_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_EN_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# 这/本/this and none: see _weekday
_WEEKS_AHEAD = {"下": 1, "next": 1, "下下": 2, "上": -1}
MONTHS_STILL_RECENT = 3  # a month and day further back than this is next year's

_RELATIVE = _words(_RELATIVE_DAYS)
_YEAR_MONTH_DAY = re.compile(
    rf"(?<![0-9])([0-9]{{4}})[年/.\-]({_NUM})[月/.\-]({_NUM})[日号]?(?![0-9])"
)
_MONTH_DAY = re.compile(rf"(?<![0-9])({_NUM})月({_NUM})[日号]?(?![0-9])")
# "12/5", "12-5"; not part of a longer run of numbers, a time, or "1-2天" (one or two days).
_SLASH_DATE = re.compile(
    r"(?<![0-9/.:\-])([0-9]{1,2})[/\-]([0-9]{1,2})(?![0-9/.:\-天个周月年小分点号日人次])"
)
# "12.12", "1.1": a month and day written with a dot; not "3.5元", "1.5小时", "10.30点" or a
# longer run of numbers.
_DOT_DATE = re.compile(
    r"(?<![0-9/.:\-])([0-9]{1,2})\.([0-9]{1,2})(?![0-9/.:\-%元块点分个小天周月年])"
)
# Days of fixed-date public holidays, by name (lunar ones, 春节 and 中秋, move: not read; 国庆 and
# 五一 alone are also a given name and a road's).
_HOLIDAY_DAYS = {
    "元旦": (1, 1),
    "new year's day": (1, 1),
    "劳动节": (5, 1),
    "国庆节": (10, 1),
    "national day": (10, 1),
}
_HOLIDAY = _words(_HOLIDAY_DAYS)
# "5号", "五日"; not "5号楼" (building 5), "2号线" (metro line 2), "3日内" (within three days).
_DAY_OF_MONTH = re.compile(rf"(?<![0-9月])({_NUM})[号日](?![楼线门窗院室房床栋座层内])")
# 上 after 早/晚 ends 早上/晚上 ("晚上周日" is not "last Sunday"), and 下 after 一 ends the
# particle 一下: "约一下周六" is this Saturday, "看一下下周三" next week's Wednesday.
_CN_WEEKDAY = re.compile(
    r"((?<!一)下下|这|本|(?<!一)下|(?<![早晚])上)?个?(?:周|星期|礼拜)([一二三四五六日天]|[1-7](?![0-9]))"
)
_EN_WEEKDAY = re.compile(
    r"(?<![a-z])(?:(next|this|last) ?)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|tues|thurs|mon|tue|wed|thu|fri|sat|sun)(?![a-z])"
)


def _weekday(today: date, weekday: int, prefix: str | None) -> date:
    weeks_ahead = _WEEKS_AHEAD.get(prefix or "")
    if weeks_ahead is None:
        # "周六", and "这周六"/"this saturday" (this week's, or the next one once it has gone by):
        # both are the first such day on or after today.
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(weeks=weeks_ahead, days=weekday)


def _month_day(today: date, month: int | None, day: int | None) -> date | None:
    """That day this year; next year's once it is more than three months gone by. A day a few
    weeks back ("11月20日" on 7 December) is that day, gone by, and is said to be: reading it as
    next year's made the booking answer "only 30 days ahead" to someone who mistyped a day."""
    if month is None or day is None:
        return None
    # The year is chosen before the date is checked, so "2月29日" is kept for a leap year ahead.
    months_back = (today.month - month) * 31 + today.day - day
    long_gone = months_back > MONTHS_STILL_RECENT * 31
    return date(today.year + 1 if long_gone else today.year, month, day)


def _day_of_month(today: date, day: int | None) -> date | None:
    """That day of this month, or of next month if gone by (or missing, like 31 November)."""
    if day is None:
        return None
    this_month = today.replace(day=1)
    next_month = (this_month + timedelta(days=32)).replace(day=1)
    for month in (this_month, next_month):
        try:
            candidate = month.replace(day=day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _read_relative(match: re.Match[str], today: date) -> date | None:
    return today + timedelta(days=_RELATIVE_DAYS[match[0]])


def _read_year_month_day(match: re.Match[str], today: date) -> date | None:
    month, day = read_number(match[2]), read_number(match[3])
    return None if month is None or day is None else date(int(match[1]), month, day)


def _read_month_day(match: re.Match[str], today: date) -> date | None:
    return _month_day(today, read_number(match[1]), read_number(match[2]))


def _read_holiday(match: re.Match[str], today: date) -> date | None:
    return _month_day(today, *_HOLIDAY_DAYS[match[0]])


def _read_day_of_month(match: re.Match[str], today: date) -> date | None:
    return _day_of_month(today, read_number(match[1]))


def _read_cn_weekday(match: re.Match[str], today: date) -> date | None:
    name = match[2]
    weekday = int(name) - 1 if name.isdigit() else _CN_WEEKDAYS[name]
    return _weekday(today, weekday, match[1])


def _read_en_weekday(match: re.Match[str], today: date) -> date | None:
    weekday = _EN_WEEKDAYS.index(match[2][:3])
    if match[1] == "last":  # the latest one gone by, not 上周's: "last monday" on a Friday
        return today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)
    return _weekday(today, weekday, match[1])


_DAY_READERS: dict[re.Pattern[str], Callable[[re.Match[str], date], date | None]] = {
    _RELATIVE: _read_relative,
    _YEAR_MONTH_DAY: _read_year_month_day,
    _MONTH_DAY: _read_month_day,
    _SLASH_DATE: _read_month_day,
    _HOLIDAY: _read_holiday,
    _DAY_OF_MONTH: _read_day_of_month,
    _CN_WEEKDAY: _read_cn_weekday,
    _EN_WEEKDAY: _read_en_weekday,
}


def _parse_day(text: str, today: date) -> date | None:
    # The first day mentioned decides, even if it turns out impossible: no guessing past it.
    match = _leftmost(text, _DAY_READERS)
    if match is None:
        return None
    try:
        return _DAY_READERS[match.re](match, today)
    except (ValueError, OverflowError):  # "2月30日", or a date beyond the calendar's ends
        return None


# --- Parts of the day and clock times -----------------------------------------------------------

_PART_WORDS = {
    "上午": DayPart.MORNING,
    "早上": DayPart.MORNING,
    "早晨": DayPart.MORNING,
    "今早": DayPart.MORNING,
    "明早": DayPart.MORNING,
    "morning": DayPart.MORNING,
    "下午": DayPart.AFTERNOON,
    "午后": DayPart.AFTERNOON,
    "afternoon": DayPart.AFTERNOON,
    "晚上": DayPart.EVENING,
    "傍晚": DayPart.EVENING,
    "今晚": DayPart.EVENING,
    "明晚": DayPart.EVENING,
    "下班后": DayPart.EVENING,
    "下班以后": DayPart.EVENING,
    "下了班": DayPart.EVENING,
    "evening": DayPart.EVENING,
    "tonight": DayPart.EVENING,
    "after work": DayPart.EVENING,
}
_MERIDIEM_PARTS = {"a": DayPart.MORNING, "p": DayPart.AFTERNOON}

_PART = _words(_PART_WORDS)
# "9点", "九点半", "十点一刻", "9点30分", "9时"; not "快一点"/"有一点"/"一点儿" (a little).
_CN_CLOCK = re.compile(
    r"(?<![0-9:.])(?!(?<=[快慢早晚多少大小高低有好再差])[一两]点)"
    rf"({_NUM})(?:点钟?|时)(?!儿)(?:(半)|([一1三3])刻|({_NUM})分?)?"
)
_COLON_CLOCK = re.compile(
    r"(?<![0-9:.])([0-9]{1,2}):([0-9]{2})(?![0-9:])(?: ?([ap])\.?m\.?(?![a-z]))?"
)
_AM_PM = re.compile(r"(?<![0-9:.])([0-9]{1,2}) ?([ap])\.?m\.?(?![a-z])")

_Clock = tuple[time | None, DayPart | None]


def _clock(hour: int, minute: int) -> time | None:
    return time(hour, minute) if 0 <= hour <= 23 and 0 <= minute <= 59 else None


def _zero_padded(hour_text: str) -> bool:
    return len(hour_text) == 2 and hour_text[0] == "0"


def _hour_in_day(hour: int, part: DayPart | None, *, zero_padded: bool) -> int:
    if part in (DayPart.AFTERNOON, DayPart.EVENING):
        return hour + 12 if 1 <= hour <= 11 else hour
    # Residents book within office hours: without 上午/下午, "3点" means 15:00, not 03:00.
    # A zero-padded "03:00" is read as the 24-hour time it was written as.
    if part is None and not zero_padded and 1 <= hour <= 6:
        return hour + 12
    return hour


def _digital(
    hour_text: str, minute_text: str, meridiem: str | None, part: DayPart | None
) -> _Clock:
    hour, minute = int(hour_text), int(minute_text)
    if meridiem is None:
        hour = _hour_in_day(hour, part, zero_padded=_zero_padded(hour_text))
        return _clock(hour, minute), None
    if not 1 <= hour <= 12:
        return None, None
    # 12am is midnight and 12pm noon.
    return _clock(hour % 12 + (12 if meridiem == "p" else 0), minute), _MERIDIEM_PARTS[meridiem]


def _cn_minutes(match: re.Match[str]) -> int | None:
    if match[2]:
        return 30
    if match[3]:
        return 15 if match[3] in "一1" else 45
    return read_number(match[4]) if match[4] else 0


def _read_cn_clock(match: re.Match[str], part: DayPart | None) -> _Clock:
    hour, minute = read_number(match[1]), _cn_minutes(match)
    if hour is None or minute is None:
        return None, None
    return _clock(_hour_in_day(hour, part, zero_padded=_zero_padded(match[1])), minute), None


def _read_colon_clock(match: re.Match[str], part: DayPart | None) -> _Clock:
    return _digital(match[1], match[2], match[3], part)


def _read_am_pm(match: re.Match[str], part: DayPart | None) -> _Clock:
    return _digital(match[1], "0", match[2], part)


_CLOCK_READERS: dict[re.Pattern[str], Callable[[re.Match[str], DayPart | None], _Clock]] = {
    _CN_CLOCK: _read_cn_clock,
    _COLON_CLOCK: _read_colon_clock,
    _AM_PM: _read_am_pm,
}


def _parse_clock(text: str, part: DayPart | None) -> _Clock:
    """The first clock time in the text, and the part of day its am/pm names (if any)."""
    match = _leftmost(text, _CLOCK_READERS)
    return (None, None) if match is None else _CLOCK_READERS[match.re](match, part)


def parse_when(text: str, today: date) -> WhenAsked:
    """Read the day, part of day and clock time a message asks for, relative to local today."""
    folded = _fold(text)
    part_word = _PART.search(folded)
    part = _PART_WORDS[part_word[0]] if part_word else None
    at, meridiem_part = _parse_clock(folded, part)
    return WhenAsked(_parse_day(folded, today), part or meridiem_part, at)


def names_when(text: str) -> bool:
    """Whether the text names a day, a part of the day or a clock time (read or not: "2月30日"
    names a day the calendar lacks)."""
    folded = _fold(text)
    return any(pattern.search(folded) for pattern in (*_DAY_READERS, *_CLOCK_READERS, _PART))


def without_when(text: str) -> str:
    """The text (folded) with its days, parts of day and clock times taken out, so what is left
    names what is wanted ("明天下午5点去办社保卡" → "去办社保卡")."""
    folded = _fold(text)
    for pattern in (*_DAY_READERS, *_CLOCK_READERS, _PART):
        folded = pattern.sub(" ", folded)
    return _LONE_SPACE.sub("", _SPACES.sub(" ", folded)).strip()
