"""Which services (or proxy categories) a sentence asks for: the one matching path behind
booking, inquiries and proxy handling.

The caller passes what is being asked for, in its matching copy with the intent's own words
(预约, 代办 …) taken out, so that "预约" in a service's title (老年人体检预约) cannot outweigh the
service the person named. Each item is scored over the whole sentence:

- a name the sentence holds in full wins outright (the longest, when one name holds another);
- otherwise the characters (and English words) the sentence and a name share, counted both
  ways (how much of what was typed the name explains, how much of the name was typed), with
  a little more when what was typed is a run of the name itself;
- and, for services, the knowledge search (BM25 over the FAQ and the catalogue), which knows
  that "社保卡丢了" is about 社保卡补办.

One match that clearly leads is the answer; when several fit, the best three are offered.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pypinyin import lazy_pinyin

from models.data_files import Version, data_version
from models.knowledge import Knowledge, load_knowledge
from models.lexicon import Lexicon, load_lexicon
from models.matching_text import matching_copy

FIT = 0.6  # a score this high means the item fits what was asked
LEAD = 0.15  # the best fit alone is the answer when it leads the next by this much
CLOSE = 0.25  # fits offered beside the best must be within this of it
OFFERED = 3  # when several fit, this many are offered
TYPED_WEIGHT, NAME_WEIGHT, RUN_BONUS = 0.6, 0.4, 0.1
KNOWLEDGE_SCALE = 10.0  # a BM25 score of 6 (a service clearly found) counts as a fit of 0.6
KNOWLEDGE_CAP = 0.95  # found by search is never as sure as named in full
SEARCH_COVERAGE = 0.5  # a search hit counts only if it holds this share of the words …
SEARCH_ALONE = 0.75  # … and then fits with no characters in common ("打疫苗") at this weight
SOUND_WEIGHT = 0.9  # characters that sound alike (社宝卡 typed for 社保卡) count a little less
CORE_WEIGHT, CORE_ENOUGH = 0.85, 0.75  # a long sentence holding most of a name's core fits
# The words themselves are data (data/intents.toml): `filler`, the characters and English words
# that name nothing ("我想去办个…"), left out before scoring; `generic`, the words that say what
# is done rather than what it is done to, which a name's core leaves out (高龄补贴申领 → 高龄补贴,
# since people say "帮我母亲办高龄补贴" and not the whole title).
MIN_ENGLISH_NAME = 6  # shorter English names ("Other") are not taken as naming an item
_UNIT = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")


@dataclass(frozen=True)
class Named:
    """One thing a sentence may name: a service or a proxy category, with its names' matching
    copies (Chinese first)."""

    code: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Match:
    """An item that fits what was asked, how well (0–1), and whether it was named in full."""

    code: str
    score: float
    named: bool = False


def units(text: str, filler: frozenset[str]) -> list[str]:
    """The Chinese characters and English words of a matching copy that could name something."""
    return [
        unit
        for unit in _UNIT.findall(text)
        if unit not in filler and not (unit.isascii() and len(unit) < 2)
    ]


class ServiceMatcher:
    """Ranks a catalogue's items against what a sentence asks for."""

    def __init__(
        self, items: Iterable[Named], lexicon: Lexicon, knowledge: Knowledge | None = None
    ) -> None:
        self.items = tuple(items)
        self.knowledge = knowledge
        self.filler = lexicon.chars("filler")
        generic = lexicon.words.get("generic", ())
        # A name's every character counts (办理 in 居住证办理 is part of what it is called).
        self._units = {
            item.code: [frozenset(_UNIT.findall(name)) for name in item.names]
            for item in self.items
        }
        self._cores = {
            item.code: [_core(name, generic) for name in item.names] for item in self.items
        }
        self._sounds = {
            item.code: [_sounds(units) for units in self._units[item.code]] for item in self.items
        }

    def rank(
        self, wanted: str, limit: int = OFFERED, among: Collection[str] | None = None
    ) -> list[Match]:
        """The items that fit what is asked, best first; one item when it is clearly the one.
        among, when given, holds the only codes that may be chosen (ranked among themselves)."""
        named = self.named(wanted, among)
        if named:
            return named[:limit]
        typed = units(wanted, self.filler)
        if len(typed) < 2 and not any(len(u) > 1 for u in typed):
            return []  # one character names nothing ("办", "卡")
        heard = _sounds(frozenset(typed))
        items = self._among(among)
        scores = {item.code: self._likeness(typed, heard, item) for item in items}
        for code, found in self._searched(wanted, {item.code for item in items}):
            alike = scores.get(code, 0.0)  # the search confirms the characters, or stands alone
            scores[code] = max(alike, (alike + found) / 2, SEARCH_ALONE * found)
        return choose([Match(code, score) for code, score in scores.items() if score >= FIT], limit)

    def named(self, wanted: str, among: Collection[str] | None = None) -> list[Match]:
        """Items whose whole name the sentence holds; a name inside a longer named one drops."""
        held = {
            item.code: max((n for n in item.names if self._names_it(n, wanted)), key=len)
            for item in self._among(among)
            if any(self._names_it(n, wanted) for n in item.names)
        }
        kept = [
            code
            for code, name in held.items()
            if not any(name in other and len(other) > len(name) for other in held.values())
        ]
        kept.sort(key=lambda code: -len(held[code]))
        return [Match(code, 1.0, named=True) for code in kept]

    def _among(self, among: Collection[str] | None) -> tuple[Named, ...]:
        if among is None:
            return self.items
        return tuple(item for item in self.items if item.code in among)

    @staticmethod
    def _names_it(name: str, wanted: str) -> bool:
        if not name or name not in wanted:
            return False
        return not name.isascii() or len(name) > MIN_ENGLISH_NAME

    def _likeness(self, typed: list[str], heard: frozenset[str], item: Named) -> float:
        """How well the typed units and the item's names cover each other (best name): both
        ways for a short text, and for a long sentence how much of a name's core it holds; a
        character typed with the pinyin input's wrong homophone (宝 for 保) counts a little less."""
        asked = frozenset(typed)
        if not asked:
            return 0.0
        best = 0.0
        names = zip(
            item.names,
            self._units[item.code],
            self._cores[item.code],
            self._sounds[item.code],
            strict=True,
        )
        for name, held, core, sounds in names:
            if not held:
                continue
            score = _covering(asked, held) + (RUN_BONUS if _run_of(typed, name) else 0.0)
            score = max(score, SOUND_WEIGHT * _covering(heard, sounds))
            in_core = len(asked & core) / len(core) if core else 0.0
            if in_core >= CORE_ENOUGH:
                score = max(score, CORE_WEIGHT * in_core)
            best = max(best, score)
        return best

    def _searched(self, wanted: str, codes: set[str]) -> list[tuple[str, float]]:
        """Services (of codes) the knowledge search finds for the sentence, scored like the
        rest."""
        if self.knowledge is None:
            return []
        found = self.knowledge.search(wanted, limit=OFFERED)
        if not found or found[0].entry.service not in codes:
            return []  # the best answer is about no service ("改到" finds how to reschedule)
        return [
            (f.entry.service, min(KNOWLEDGE_CAP, f.score / KNOWLEDGE_SCALE))
            for f in found
            if f.entry.service in codes and f.coverage >= SEARCH_COVERAGE
        ]


def _covering(asked: frozenset[str], held: frozenset[str]) -> float:
    """How much of what was asked the name explains, and how much of the name was asked."""
    shared = len(asked & held)
    return TYPED_WEIGHT * shared / len(asked) + NAME_WEIGHT * shared / len(held)


def _sounds(units: frozenset[str]) -> frozenset[str]:
    """The units as they sound (toneless pinyin for Chinese characters, words as they are)."""
    return frozenset(lazy_pinyin(unit)[0] if not unit.isascii() else unit for unit in units)


def _core(name: str, generic: tuple[str, ...]) -> frozenset[str]:
    """The units of a name without its generic action words (all of them if nothing is left)."""
    core = name
    for word in generic:
        core = core.replace(word, " ")
    return frozenset(_UNIT.findall(core)) or frozenset(_UNIT.findall(name))


def _run_of(typed: list[str], name: str) -> bool:
    """Whether all that was typed appears in the name as one run ("社保卡" in 社保卡补办)."""
    joined = "".join(typed)
    return joined in name.replace(" ", "") or " ".join(typed) in name


def choose(fits: list[Match], limit: int = OFFERED) -> list[Match]:
    """The best fit alone when it clearly leads, else the fits close to it (best first)."""
    fits = sorted(fits, key=lambda m: -m.score)
    if not fits:
        return []
    best = fits[0]
    if len(fits) == 1 or best.score - fits[1].score >= LEAD:
        return [best]
    return [m for m in fits if best.score - m.score <= CLOSE][:limit]


def service_catalogue(knowledge: Knowledge, lexicon: Lexicon) -> ServiceMatcher:
    """The catalogue's services (their Chinese and English names), with the knowledge search."""
    items = [
        Named(entry.service, _names(entry.title_zh, entry.title_en))
        for entry in knowledge.entries
        if entry.id.startswith("service:") and entry.service
    ]
    return ServiceMatcher(items, lexicon, knowledge)


def load_service_catalogue(data_dir: Path) -> ServiceMatcher:
    """The service matcher of a data directory (built again when its files change)."""
    return _catalogue(data_dir, data_version(data_dir))


@lru_cache(maxsize=8)
def _catalogue(data_dir: Path, version: Version) -> ServiceMatcher:
    return service_catalogue(load_knowledge(data_dir), load_lexicon(data_dir))


def named_items(items: Iterable[tuple[str, str, str]], lexicon: Lexicon) -> ServiceMatcher:
    """A matcher over (code, Chinese name, English name) items, e.g. the proxy categories."""
    return ServiceMatcher((Named(code, _names(zh, en)) for code, zh, en in items), lexicon)


def _names(name_zh: str, name_en: str) -> tuple[str, ...]:
    return tuple(matching_copy(name) for name in (name_zh, name_en) if name)
