"""What a resident types at the rating flow's lists instead of pressing: a listed thing by its
name or part of it ("社保卡补办那个", "那个社保卡的") or its reference, a department by its short
name ("社保", "民政") or its window ("4号窗口"), and a level typed before its time."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.dates import read_number
from bot.i18n import normalize_words
from models.intents import load_lexicon

SHORTEST = 2  # fewer characters name nothing
_WINDOW = re.compile(
    r"(?:([0-9]{1,2}|[零〇一二两三四五六七八九十]{1,3})\s*号\s*(?:窗口?)?"
    r"|窗口\s*([0-9]{1,2}|[零〇一二两三四五六七八九十]{1,3})\s*号?"
    r"|window\s*(?:no\.?\s*)?([0-9]{1,2}))"
)
_CJK = re.compile(r"[\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Listed:
    """A thing shown at a list, with the names and reference a resident may type for it."""

    payload: str
    names: tuple[str, ...]
    ref: str = ""
    window: int | None = None


@cache
def _pointers(words: tuple[str, ...]) -> tuple[tuple[str, ...], frozenset[str]]:
    """Words that point rather than name ("那个", "的", "the one"): Chinese, English."""
    chinese = tuple(sorted((w for w in words if not w.isascii()), key=len, reverse=True))
    return chinese, frozenset(w for w in words if w.isascii())


def _naming_part(text: str, data_dir: Path) -> str:
    """The words of a message that could name something, pointing words left out."""
    chinese, english = _pointers(load_lexicon(data_dir).words.get("pointing", ()))
    words = normalize_words(text)
    for word in chinese:
        words = words.replace(word, " ")
    kept = [token for token in words.split() if token not in english]
    return " ".join(kept).strip(" ,，、。.")


def _names(words: str, name: str) -> bool:
    name = normalize_words(name)
    if not name or len(words) < SHORTEST:
        return False
    return words in name or name in words


def _abbreviates(words: str, name: str) -> bool:
    """A short name made of the name's characters in order from its first: 社保 for 社会保障科."""
    if len(words) < SHORTEST or not _CJK.fullmatch(words) or not name.startswith(words[0]):
        return False
    rest = iter(name)
    return all(char in rest for char in words)


def _only(found: Sequence[Listed]) -> Listed | None:
    return found[0] if len({item.payload for item in found}) == 1 else None


def _bare(text: str) -> str:
    return re.sub(r"[\s\-_]", "", normalize_words(text))


def named_by_reference(text: str, listed: Sequence[Listed]) -> Listed | None:
    """The listed thing whose reference the words hold, typed as people type it
    ("lc-20261127-0042", "LC202611270042")."""
    words = _bare(text)
    return _only([item for item in listed if item.ref and _bare(item.ref) in words])


def named_thing(text: str, listed: Sequence[Listed], data_dir: Path) -> Listed | None:
    """The one listed thing the words name (by its reference, its name or part of it)."""
    by_ref = named_by_reference(text, listed)
    if by_ref is not None:
        return by_ref
    part = _naming_part(text, data_dir)
    return _only([item for item in listed if any(_names(part, n) for n in item.names)])


def named_department(text: str, listed: Sequence[Listed], data_dir: Path) -> Listed | None:
    """The one department the words name: its window ("4号窗口"), its name or a part of it,
    or its short name ("社保")."""
    window = _WINDOW.search(normalize_words(text))
    if window is not None:
        number = read_number(next(group for group in window.groups() if group))
        return _only([item for item in listed if item.window == number])
    named = _naming_part(text, data_dir)
    part = named.replace(" ", "") if not text.isascii() else named
    found = [item for item in listed if any(_names(part, n) for n in item.names)]
    if not found:
        found = [item for item in listed if _abbreviates(part, item.names[0])]
    return _only(found)


def level_or_skip(text: str, labels: Sequence[str]) -> bool:
    """Whether the words are a rating level or 跳过 (something said before its time)."""
    words = normalize_words(text)
    return any(words == normalize_words(label) for label in labels)


# The levels a resident's own words may say, complaints with a reason first: "不满意，等太久"
# says 时间长, not a bare 不满意 (which fits three levels, so the levels are shown again).
_SAID_LEVELS = ("too_slow", "bad_attitude", "poor_skill", "very_satisfied", "average", "satisfied")


def level_in_words(text: str, data_dir: Path) -> str | None:
    """The one rating level ("satisfied", "too_slow", …) the words say ("挺好的", "还行吧",
    "等太久了"), or None when they say none, or a complaint without saying what about."""
    words = load_lexicon(data_dir).words
    typed = normalize_words(text)
    unhappy = words.get("level_unhappy", ())
    for level in _SAID_LEVELS:
        if level == "very_satisfied" and _said(typed, unhappy):
            return None  # "不满意" or "not happy", with no reason said
        phrases = words.get(f"level_{level}", ())
        if _said(typed, phrases):
            # A denial anywhere else ("不是很满意", "一点也不凶", "wasn't rude") says nothing
            # sure: the levels are shown again rather than a level saved the wrong way round.
            rest = _without(typed, (*phrases, *unhappy) if level in _COMPLAINTS else phrases)
            return None if _DENIAL.search(rest) else level
    return None


def comment_beside_level(text: str, data_dir: Path) -> str:
    """The words a typed level came with ("满意，工作人员很耐心"), kept whole as the rating's
    comment (a walkthrough: the level was saved and the words lost); "" for a level alone or
    with only thanks and endings ("非常满意，谢谢你们")."""
    if level_in_words(text, data_dir) is None:
        return ""
    lexicon = load_lexicon(data_dir)
    said = [p for level in _SAID_LEVELS for p in lexicon.words.get(f"level_{level}", ())]
    rest = _without(normalize_words(text), (*said, *lexicon.words.get("level_unhappy", ())))
    rest = _without(rest, (*lexicon.words.get("thanks", ()), *lexicon.words.get("filler", ())))
    rest = _THANKED.sub(" ", rest)
    kept = sum(ch.isalnum() for ch in _ENDINGS.sub("", rest))
    return text.strip() if kept >= COMMENT_LEAST else ""


# English thanks as written ("thanks", "thank you so much"): the lexicon's words are stems.
_THANKED = re.compile(r"(?<![a-z])(?:thanks|thank|thx|ty|you|very much|so much|a lot)(?![a-z])")
COMMENT_LEAST = 4  # letters and characters besides the level that make a comment
_ENDINGS = re.compile(r"[你们的了啊呀吧哈嘛呢]")
_COMPLAINTS = frozenset(_SAID_LEVELS[:3])
_DENIAL = re.compile(r"[不没别未无非]|(?<![a-z])(?:not|no|never|nothing)(?![a-z])|n't")


def _said(typed: str, phrases: Sequence[str]) -> bool:
    return any(_found(typed, phrase) for phrase in phrases)


def _found(typed: str, phrase: str) -> re.Match[str] | None:
    if phrase.isascii():
        return re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", typed)
    return re.search(re.escape(phrase), typed)


def _without(typed: str, phrases: Sequence[str]) -> str:
    """The words left once every listed phrase found in them is taken out."""
    for phrase in sorted(phrases, key=len, reverse=True):
        if _found(typed, phrase):
            typed = typed.replace(phrase, " ")
    return typed
