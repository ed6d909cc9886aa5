"""The word lists of data/intents.toml that matching reads (what tells a booking, a question, the
weekend, words that name no service …), so that staff change the words without touching code."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from models.data_files import Version, data_version
from models.matching_text import matching_copy

# 约 on its own asks for a booking, except in words such as 大约, 节约, 约定, 合约.
BOOKING_YUE = re.compile(r"(?<![大节合契公条隐])约(?![定束谈])")


_AROUND_WORDS = " ,.!?~;:，。！？～；：、"
_BETWEEN_WORDS = re.compile(r"[\s,.!?;:~、，。！？；：～]+")


def word_parts(folded: str) -> list[str]:
    """The pieces of a folded message between its spaces and punctuation ("好的，确认")."""
    return [part for part in _BETWEEN_WORDS.split(folded) if part]


@cache
def _word_set(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(words)


# "可以的", "好的呀": still agreeing; not 吧, 嘛 or 了, which make "是吧", "对吧", "是嘛" questions
# and "对了" "by the way"
AGREEING_ENDINGS = frozenset("的啊呀哈啦")
AGREE_JOINED = 12  # characters of a part worth reading as several agreeing words together


def _made_of(part: str, words: frozenset[str]) -> bool:
    """Whether a part is one of the words, or several written together, with an ending or two
    ("嗯可以", "好的呀"); not endings alone, nor any other character."""
    if part in words:
        return True
    if len(part) > AGREE_JOINED or part.isascii():
        return False
    # reachable[i]: the first i characters are words and endings, at least one of them a word
    reachable: list[bool | None] = [None] * (len(part) + 1)
    reachable[0] = False
    for end in range(1, len(part) + 1):
        for start in range(end):
            before = reachable[start]
            if before is None:
                continue
            piece = part[start:end]
            if piece in words:
                reachable[end] = True
                break
            if end - start == 1 and piece in AGREEING_ENDINGS:
                reachable[end] = before or reachable[end] or False
    return reachable[-1] is True


AGREEING = ("agree", "agree_dialect")  # the kinds of words that agree


@dataclass(frozen=True)
class Lexicon:
    """The word lists of data/intents.toml, each word in its matching copy."""

    words: dict[str, tuple[str, ...]]

    def has(self, kind: str, text: str) -> bool:
        """Whether the folded text contains one of the kind's words."""
        return _any_word(self.words.get(kind, ())).search(text) is not None

    def word_set(self, kind: str) -> frozenset[str]:
        """The kind's words as a set (built once per reading of the file)."""
        return _word_set(self.words.get(kind, ()))

    def only_agrees(self, text: str) -> bool:
        """Whether the message is made only of agreeing words ("好的", "是的，确认", "yes ok"),
        written together too ("嗯可以", "嗯嗯好的", "可以的")."""
        return self.only_words_of(AGREEING, text)

    def agreeing_words(self) -> frozenset[str]:
        """Every word that agrees: agree and agree_dialect."""
        return self.word_set("agree") | self.word_set("agree_dialect")

    def only_words_of(self, kinds: tuple[str, ...], text: str) -> bool:
        """Whether the message is made only of the kinds' words, written together too, with
        an ending or two ("对对，一样的" of plus_one and agree)."""
        words = frozenset().union(*(self.word_set(kind) for kind in kinds))
        parts = word_parts(fold(text))
        return bool(parts) and all(_made_of(part, words) for part in parts)

    def is_only(self, kind: str, text: str) -> bool:
        """Whether the text as a whole, folded and without the marks around it, is one of the
        kind's words ("同上。", "没什么了！", "马上发")."""
        return fold(text).strip(_AROUND_WORDS) in self.words.get(kind, ())

    def only_with_filler(self, kind: str, filler: str, text: str) -> bool:
        """Whether the text holds one of the kind's words and nothing else but the filler's
        ("算了不办了", "算了，先不改了吧": gives_up with gives_up_filler)."""
        folded = fold(text)
        if not self.has(kind, folded):
            return False
        rest = self.pattern(kind, filler).sub(" ", folded)
        return not any(ch.isalnum() for ch in rest)

    def found(self, kind: str, text: str) -> list[str]:
        """The kind's words the folded text contains."""
        return [word for word in self.words.get(kind, ()) if _contains(text, word)]

    def without(self, kind: str, text: str) -> str:
        """The folded text with the kind's words taken out (longest first)."""
        for word in sorted(self.words.get(kind, ()), key=len, reverse=True):
            if not _english(word):
                text = text.replace(word, " ")
        return BOOKING_YUE.sub(" ", text) if kind == "booking" else text

    def pattern(self, *kinds: str) -> re.Pattern[str]:
        """One pattern for the kinds' words, longest first; an English word only as a whole
        word ("sat" is not in "satisfied")."""
        return _pattern(tuple(sorted({w for kind in kinds for w in self.words.get(kind, ())})))

    def chars(self, kind: str) -> frozenset[str]:
        """The kind's words as a set (e.g. the characters that name no service)."""
        return frozenset(self.words.get(kind, ()))


def _english(word: str) -> bool:
    return word.isascii() and word.replace(" ", "").isalpha()


def _contains(text: str, word: str) -> bool:
    if _english(word):
        return re.search(rf"\b{re.escape(word)}\b", text) is not None  # "hi" is not in "this"
    return word in text


@cache
def _any_word(words: tuple[str, ...]) -> re.Pattern[str]:
    """One search for what any(_contains(text, word)) asks, word by word: run on every message
    (the danger words), the loop cost more than the rest of reading it."""
    alternatives = [rf"\b{re.escape(w)}\b" if _english(w) else re.escape(w) for w in words]
    return re.compile("|".join(alternatives) or r"(?!)")


@cache
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = [
        rf"(?<![a-z]){re.escape(w)}(?![a-z])" if _english(w) else re.escape(w)
        for w in sorted(words, key=len, reverse=True)
    ]
    return re.compile("|".join(alternatives) or r"(?!)")


def load_lexicon(data_dir: Path) -> Lexicon:
    """The intent words of a data directory (read again when its files change)."""
    version = data_version(data_dir)
    held = _last.get(data_dir)
    if held is not None and held[0] is version:  # the same check of the files: no hashing
        return held[1]
    lexicon = _lexicon(data_dir, version)
    _last[data_dir] = (version, lexicon)
    return lexicon


_last: dict[Path, tuple[Version, Lexicon]] = {}


@lru_cache(maxsize=8)
def _lexicon(data_dir: Path, version: Version) -> Lexicon:
    path = data_dir / "intents.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return Lexicon({kind: tuple(fold(w) for w in words) for kind, words in data.items()})


def fold(text: str) -> str:
    """Half-width, lower case, simplified characters, single spaces (the matching copy)."""
    return matching_copy(text)
