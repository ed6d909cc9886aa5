"""Which language a message is written in: Chinese, English, or no evidence either way.

The account follows the language its person writes in (see the pipeline), so this runs on every
message and stays cheap: one NFKC fold and two regular expressions, no dictionary beyond the
catalogues' English chat words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from pypinyin.constants import PINYIN_DICT

from bot.i18n import catalogue, misspelt_command, normalize_words

# CJK Unified Ideographs, extension A, compatibility ideographs, extensions B–H, and 〇.
_HAN = re.compile("[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
# Links, e-mail addresses and markup are data, not words: "www.example.com" is not English.
# Markup goes first, then whole tokens holding a link: a token's match may only begin where it
# begins, since "\S*" tried from every character of a long token took time quadratic in it.
_MARKUP = re.compile(r"<[^<>]*>")
_DATA = re.compile(r"(?<!\S)\S*(?:://|@|www\.)\S*")
# A word of Latin letters (apostrophes and hyphens inside, as in "don't", "check-in") that is not
# part of a code: "LC" in "LC-20261128-0042", "B" in "3B" and "wifi6" are no words.
_LETTERS = "a-z\u00df-\u00f6\u00f8-\u017f"
_WORD = re.compile(
    rf"(?<![0-9{_LETTERS}])[{_LETTERS}]+(?:['’-][{_LETTERS}]+)*(?![0-9{_LETTERS}]|-[0-9])"
)


@cache
def english_chat_words() -> frozenset[str]:
    """The English catalogue's chat words ("menu", "hi", "help", "book", …), folded."""
    chinese = {
        normalize_words(word)
        for key, value in catalogue("zh-CN").items()
        if key.startswith("commands.") and isinstance(value, list)
        for word in value
    }
    english = {
        normalize_words(word)
        for key, value in catalogue("en").items()
        if key.startswith("commands.") and isinstance(value, list)
        for word in value
    }
    return frozenset(english - chinese)  # "start" is Telegram's, whatever the language


@cache
def english_vocabulary() -> frozenset[str]:
    """Every word of the English catalogue ("open", "time", "book", "please", …)."""
    words: set[str] = set()
    pending: list[object] = list(catalogue("en").values())
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            words.update(_WORD.findall(value.lower()))
        elif isinstance(value, list):
            pending.extend(value)
    return frozenset(words)


@cache
def pinyin_syllables() -> frozenset[str]:
    """Every syllable of Mandarin as typed without tones ("hao", "de", "shuang"), from
    pypinyin's dictionary."""
    readings = {r for value in PINYIN_DICT.values() for r in value.split(",")}
    # ü is typed as v ("lv") or as u ("lu"); both count.
    plain = {_toneless(r.replace("ü", "v")) for r in readings} | {_toneless(r) for r in readings}
    return frozenset(word for word in plain if word.isascii() and word.isalpha())


def _toneless(text: str) -> str:
    """The letters without their tone marks ("wǒ" → "wo", "lǜ" → "lu")."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


PINYIN_LONGEST = 6  # letters in the longest syllable ("chuang", "zhuang")
PINYIN_WORD_LIMIT = 40  # a longer run of letters is no typed pinyin


def is_pinyin(word: str) -> bool:
    """Whether the letters split into pinyin syllables ("shebaoka", "hao", "wo")."""
    if not word or len(word) > PINYIN_WORD_LIMIT:
        return False
    syllables = pinyin_syllables()
    ends = [True] + [False] * len(word)  # ends[i]: the first i letters split into syllables
    for end in range(1, len(word) + 1):
        ends[end] = any(
            ends[start] and word[start:end] in syllables
            for start in range(max(0, end - PINYIN_LONGEST), end)
        )
    return ends[-1]


def _english(words: list[str]) -> bool:
    """Latin words that are English: two different ones at least that are no pinyin ("my
    grandma broke her leg"; "wo yao ban shebaoka", "hao de", "ok la", "app bu neng yong", typed
    with the Chinese input off, are not: an outside walkthrough saw them switch a resident to
    English), or mostly words of the English catalogue, or slips for chat words ("open time",
    "hlep me")."""
    foreign = {word for word in words if not all(map(is_pinyin, word.split("'")))}
    if len(foreign) >= 2:
        return True
    known = sum(
        word in english_vocabulary() or misspelt_command(word) is not None for word in words
    )
    return 3 * known >= 2 * len(words)


# An answer to a flow's question is often a name ("永宁路社区", "Wang Wei"), which tells nothing of
# the language its writer reads: inside a flow, a few Chinese characters alone or two Latin
# words are no evidence; a sentence still is.
ANSWER_HAN_LIMIT = 8
ANSWER_WORDS_NEEDED = 3


def written_language(text: str, *, answering: bool = False) -> str | None:
    """Chinese ("zh-CN"), English ("en"), or None when the text shows neither.

    Chinese: Han characters, unless there are more Latin words than Han characters, as in
    "I live in 南街社区, is the office open?" (who writes Chinese reads it, so a tie stays
    Chinese: "My name is Li Si，想学太极拳"). English: an English chat word
    ("menu", "hi", "help", "book") or a slip for one ("cancle"), or at least two Latin words,
    typos and all ("I wnat to book").
    No evidence: numbers, references, emoji, links, markup, a bot command ("/start"), one
    unknown word ("ok"). When answering a flow's question, a short Chinese answer alone or two
    Latin words are taken for a name, not a language.
    """
    folded = _toneless(unicodedata.normalize("NFKC", text).strip().lower())
    if not folded or folded.startswith("/"):
        return None
    han = len(_HAN.findall(folded))
    words = _WORD.findall(_DATA.sub(" ", _MARKUP.sub(" ", folded)))
    # A slip for a chat word ("cancle") counts too, but not as a flow's answer: it may be a name.
    chat_word = len(words) == 1 and (
        words[0] in english_chat_words()
        or (not answering and misspelt_command(words[0]) is not None)
    )
    enough_words = len(words) >= (ANSWER_WORDS_NEEDED if answering else 2) and _english(words)
    if han:
        if answering and not words and han <= ANSWER_HAN_LIMIT:
            return None
        return "en" if len(words) >= 2 and len(words) > han else "zh-CN"
    if enough_words:
        return "en"
    return "en" if chat_word else None
