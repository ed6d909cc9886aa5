"""Offline similarity between a new need and the open items ("已有 37 位邻居提过类似需求").

Texts are cut into words with jieba; each word also stands for its group of near-synonyms
(data/need_synonyms.toml) and its characters. An inverted index from words to items picks
candidates by IDF-weighted word overlap, and only the best of those are scored: how much of the
text the item's words cover (a word most of the item's texts share counts more than one a single
text used), the closest single text, character-level fuzzy matching (rapidfuzz) and a bonus for
the same category. Everything is deterministic.

A matcher is built once from the database and then kept up to date by reading only what changed
(`refresh_matcher`); before each match it takes in the items made since (`take_in_new_items`), so a
neighbour's item made a moment ago, by any process, is offered.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import sys
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import jieba
import sqlalchemy as sa
from rapidfuzz import fuzz
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.needs import OPEN_ITEM, Need, NeedItem
from models.personal_data import without_placeholders

DEFAULT_THRESHOLD = 0.22
CANDIDATES = 200  # items kept after the word-overlap pass, before fuzzy scoring
# Index entries the overlap pass visits at most, rarest words first: the commonest words (single
# characters of everyday words) hold thousands of items each and weigh little, and the candidates
# they would add are scored exactly anyway if rarer words found them.
POSTINGS_BUDGET = 60_000
TEXTS_PER_ITEM = 8  # texts of an item compared one by one
COVERAGE_WEIGHT, TEXT_WEIGHT, CHARS_WEIGHT = 0.5, 0.3, 0.2
SHARE_FLOOR = 0.2  # an item word counts this much, and the rest by the share of texts using it
CATEGORY_BONUS = 0.15
OTHER_CATEGORY_FACTOR = 0.5  # both categories known and different
CHAR_MARK = "#"  # single-character tokens are marked and weigh less than words
CHAR_WEIGHT = 0.3
# A word that has near-synonyms weighs this much, as its group (shared with the synonyms) carries
# the rest: the same word said twice should not outweigh a synonym twice over.
SYNONYM_WORD_WEIGHT = 0.5
CONCEPT_MARK = "@"  # a group of near-synonyms, named by its first word
SYNONYMS_FILE = Path(__file__).resolve().parents[1] / "data" / "need_synonyms.toml"

# Words that say nothing about what the need is, including the verbs and complaints that any
# need is phrased with (办个, 多装几个, 太少, 很难, 找不到地方).
_STOP_TEXT = """
    的 了 着 过 吗 呢 吧 啊 呀 哦 嘛 和 与 及 或 跟 在 是 有 没 没有 很 太 都 也 就 还 又 再 才
    希望 想 想要 要 能 能不能 不能 能否 可以 可不可以 有没有 一个 一些 一下 一点 这个 那个 这些 那些
    这里 那里 我 我们 你 你们 他 她 他们 大家 咱们 自己 家 家里 在家 人 有人 没人 没有人
    小区 社区 附近 周边 街道 居委 居委会 物业 增加 增设 需要 建议 请 麻烦 帮忙 帮 帮助 解决
    问题 情况 什么 怎么 怎么办 为什么 多 少 好 不 不要 非常 特别 比较 经常 每天 现在 以后 时候
    个 些 把 被 给 让 对 从 到 去 来 上 下 里 中 能够 应该 可能 已经 一直 为 以 而 但 但是 所以
    因为 如果 谢谢 您好 你好 please the a an of to for and is are we i would like
    地方 东西 找 用 等 大 知道 不知道 出门 严重 方便 不方便 难 太难 很难 不到
    办 办个 开 开个 建 建个 装 装个 多装 设 设个 搞 做 弄 几个 几条 组织 安排 提供 设置 设立 开设
    举办 开展 引进 规划 好几 好多 很多 太多 太少 不够 总是 老是 到处 天天
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def _normalise(text: str) -> str:
    # A placeholder for removed personal data (〔电话〕) says nothing about what is needed.
    return unicodedata.normalize("NFKC", without_placeholders(text)).lower()


def load_synonyms(path: Path = SYNONYMS_FILE) -> dict[str, tuple[str, ...]]:
    """Each word of a synonym file mapped to the groups (marked first words) it belongs to."""
    concepts: dict[str, list[str]] = {}
    for group in tomllib.loads(path.read_text(encoding="utf-8"))["groups"]:
        name = sys.intern(CONCEPT_MARK + _normalise(group[0]))
        for word in group:
            names = concepts.setdefault(_normalise(word), [])
            if name not in names:
                names.append(name)
    return {word: tuple(names) for word, names in concepts.items()}


@cache
def synonyms() -> dict[str, tuple[str, ...]]:
    """The synonym file's words and their groups (as load_synonyms), read once."""
    return load_synonyms()


def concepts_in(text: str) -> set[str]:
    """The synonym groups of every synonym word the text holds (anywhere, uncut)."""
    folded = _normalise(text)
    return {name for word, names in synonyms().items() if word in folded for name in names}


@cache
def _vocabulary() -> tuple[jieba.Tokenizer, dict[str, tuple[str, ...]]]:
    """The tokenizer, knowing every synonym as a word, and the synonym groups."""
    concepts = synonyms()
    tokenizer = jieba.Tokenizer()
    for word in concepts:
        tokenizer.add_word(word)
    return tokenizer, concepts


jieba.setLogLevel(60)


def tokenize(text: str) -> list[str]:
    """The meaningful words of a text, in order, stop words and punctuation removed.

    Each word is followed by its synonym groups and its characters; all are interned, so the
    many texts of a large matcher share one copy of each.
    """
    return _analyse(text)[0]


def _analyse(text: str) -> tuple[list[str], str]:
    """The text's words (as tokenize) and its characters without stop words, from one cut."""
    tokenizer, concepts = _vocabulary()
    cut = [word.strip() for word in tokenizer.lcut(_normalise(text))]
    kept = [w for w in cut if w and any(ch.isalnum() for ch in w) and w not in STOP_WORDS]
    words: list[str] = []
    for word in _with_parts(kept, tokenizer.FREQ):
        if word in STOP_WORDS:
            continue
        words.append(sys.intern(word))
        words.extend(concepts.get(word, ()))
        # Single characters bridge phrasings that share a root (菜场 / 菜店, 托班 / 托育).
        words.extend(sys.intern(CHAR_MARK + ch) for ch in word if "\u4e00" <= ch <= "\u9fff")
    return words, "".join(kept)


def _with_parts(words: list[str], known: dict[str, int]) -> Iterator[str]:
    """Each word preceded by the known words of two and three characters inside it.

    The same as jieba's cut_for_search, from a cut already made.
    """
    for word in words:
        for size in (2, 3):
            if len(word) > size:
                yield from (
                    part
                    for i in range(len(word) - size + 1)
                    if known.get(part := word[i : i + size])
                )
        yield word


@dataclass(slots=True)
class _Item:
    category: str | None
    texts: int = 0  # texts added
    counts: dict[str, int] = field(default_factory=dict)  # word -> texts using it
    samples: list[tuple[tuple[str, ...], str]] = field(default_factory=list)  # (words, chars)


@dataclass
class Seen:
    """How far a matcher has read the database: the highest ids and when it last read."""

    item_id: int = 0
    need_id: int = 0
    at: datetime | None = None
    # Recent needs already added, with their item, so that re-reading them costs no tokenizing.
    placed: dict[int, int] = field(default_factory=dict)
    # Items read again lately, with the updated_at they had then, so as not to read them again.
    stamped: dict[int, datetime] = field(default_factory=dict)


class NeedMatcher:
    """Finds the open items most like a new need text."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self.seen = Seen()
        self._items: dict[int, _Item] = {}
        self._index: dict[str, set[int]] = {}
        self._synonyms = _vocabulary()[1]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def add(self, item_id: int, text: str, category: str | None) -> None:
        """Add a text (an item's title or one of its needs) to an item, creating it if new."""
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = _Item(category)
        elif category and not item.category:
            item.category = category
        tokens, chars = _analyse(text)
        sample = (tuple(dict.fromkeys(tokens)), chars)
        # The same text again (a title that is its first need) would count its words twice.
        if not sample[0] or sample in item.samples:
            return
        item.texts += 1
        for word in sample[0]:
            count = item.counts.get(word, 0)
            if not count:
                self._index.setdefault(word, set()).add(item_id)
            item.counts[word] = count + 1
        if len(item.samples) < TEXTS_PER_ITEM:
            item.samples.append(sample)

    def remove(self, item_id: int) -> bool:
        """Forget an item (merged away, done or rejected); whether it was known."""
        item = self._items.pop(item_id, None)
        if item is None:
            return False
        for word in item.counts:
            holders = self._index[word]
            holders.discard(item_id)
            if not holders:
                del self._index[word]
        return True

    def _idf(self, word: str) -> float:
        holders = len(self._index.get(word, ()))
        idf = math.log((len(self._items) + 1) / (holders + 0.5)) + 1.0
        if word.startswith(CHAR_MARK):
            return idf * CHAR_WEIGHT
        return idf * SYNONYM_WORD_WEIGHT if word in self._synonyms else idf

    def _candidates(self, weights: dict[str, float]) -> list[int]:
        """The items sharing the most word weight with the new text."""
        overlap: dict[int, float] = {}
        visited = 0
        for word in sorted(weights, key=lambda w: (len(self._index.get(w, ())), w)):
            holders = self._index.get(word, ())
            visited += len(holders)
            if visited > POSTINGS_BUDGET and len(overlap) >= CANDIDATES:
                break
            weight = weights[word]
            for item_id in holders:
                overlap[item_id] = overlap.get(item_id, 0.0) + weight
        best = heapq.nlargest(CANDIDATES, overlap.items(), key=lambda p: (p[1], -p[0]))
        return [item_id for item_id, _ in best]

    def _score(
        self, item: _Item, weights: dict[str, float], chars: str, others: dict[str, float]
    ) -> float:
        """Similarity in 0..1 before the category is considered; others memoises weights."""
        total = sum(weights.values())
        covered = sum(
            weight * (SHARE_FLOOR + (1 - SHARE_FLOOR) * item.counts[word] / item.texts)
            for word, weight in weights.items()
            if word in item.counts
        )
        best_text = best_chars = 0.0
        for words, text_chars in item.samples:
            common = sum(weights[w] for w in words if w in weights)
            union = total + self._unshared(words, weights, others)
            best_text = max(best_text, common / union)
            best_chars = max(best_chars, fuzz.ratio(chars, text_chars) / 100.0)
        return (
            COVERAGE_WEIGHT * covered / total + TEXT_WEIGHT * best_text + CHARS_WEIGHT * best_chars
        )

    def _unshared(
        self, words: tuple[str, ...], weights: dict[str, float], others: dict[str, float]
    ) -> float:
        """The weight of the words that the new text does not have."""
        total = 0.0
        for word in words:
            if word not in weights:
                weight = others.get(word)
                if weight is None:
                    weight = others[word] = self._idf(word)
                total += weight
        return total

    def match(self, text: str, category: str | None, limit: int = 3) -> list[tuple[int, float]]:
        """The best items as (item_id, score in 0..1) above the threshold, best first."""
        tokens, chars = _analyse(text)
        if not tokens or not self._items:
            return []
        weights = {word: self._idf(word) for word in set(tokens)}
        scored: list[tuple[float, int]] = []
        others: dict[str, float] = {}
        for item_id in self._candidates(weights):
            item = self._items[item_id]
            score = self._score(item, weights, chars, others)
            if category and item.category == category:
                score += CATEGORY_BONUS
            elif category and item.category:
                score *= OTHER_CATEGORY_FACTOR
            score = min(score, 1.0)
            if score >= self.threshold:
                scored.append((score, item_id))
        scored.sort(key=lambda p: (-p[0], p[1]))
        return [(item_id, round(score, 4)) for score, item_id in scored[:limit]]


def build_matcher(
    rows: Iterable[tuple[int, str, str | None]], threshold: float = DEFAULT_THRESHOLD
) -> NeedMatcher:
    """A matcher from (item_id, text, category) rows."""
    matcher = NeedMatcher(threshold)
    for item_id, text, category in rows:
        matcher.add(item_id, text, category)
    return matcher


# Refreshing reads items changed since the last read, less this margin for clocks that differ
# between processes and for transactions that committed a little after they stamped the time.
CHANGED_MARGIN = timedelta(minutes=10)
# A need is +1'd to an item some time after it is submitted: needs this recent are read again.
RECENT_NEEDS = timedelta(days=7)
# More changed items than this, and one full build is quicker than patching the matcher.
REBUILD_CHANGED = 2_000


async def load_matcher(
    session: AsyncSession, threshold: float = DEFAULT_THRESHOLD, now: datetime | None = None
) -> NeedMatcher:
    """A matcher over the open items (not merged away, not done or rejected) and their needs.

    The rows are read on the event loop; the index is built in a worker thread, because over
    100,000 needs that takes seconds and the loop must keep answering other people meanwhile.
    """
    now = now or datetime.now(UTC)
    items = (
        await session.exec(
            select(NeedItem.id, NeedItem.title, NeedItem.category)
            .where(*OPEN_ITEM)
            .order_by(col(NeedItem.id))
        )
    ).all()
    needs = await _open_needs(session)
    first_recent = await _first_recent(session, now)
    rows = [(item_id or 0, title, category or None) for item_id, title, category in items]
    rows += [(item_id, text, category) for _, item_id, text, category in needs]
    matcher = await asyncio.to_thread(build_matcher, rows, threshold)
    matcher.seen = Seen(
        item_id=max((item_id or 0 for item_id, _, _ in items), default=0),
        need_id=max((need_id for need_id, _, _, _ in needs), default=0),
        at=now,
        placed={
            need_id: item_id
            for need_id, item_id, _, _ in needs
            if first_recent is not None and need_id >= first_recent
        },
    )
    return matcher


async def _open_needs(
    session: AsyncSession, *where: sa.ColumnElement[bool]
) -> list[tuple[int, int, str, str | None]]:
    """(need id, item id, text, category) of the needs of open items, oldest first."""
    rows = await session.exec(
        select(Need.id, Need.item_id, Need.text, NeedItem.category)
        .join(NeedItem, sa.and_(col(NeedItem.id) == col(Need.item_id), *OPEN_ITEM))
        .where(*where)
        .order_by(col(Need.id))
    )
    return [
        (need_id or 0, item_id or 0, text, category or None)
        for need_id, item_id, text, category in rows
    ]


async def refresh_matcher(
    session: AsyncSession, matcher: NeedMatcher, now: datetime
) -> NeedMatcher:
    """The matcher brought up to date with what changed since it last read the database.

    Items that are new or changed since (their updated_at: a stage, title, merge or split) are
    read again whole, or dropped when no longer open; needs newer than the last read, or recent
    enough to have been +1'd since, are added to their items. Returns a fresh full build instead
    when that is simpler: nothing read yet, the database was emptied, or too much changed.
    """
    seen = matcher.seen
    if seen.at is None or (await _highest_need(session)) < seen.need_id:
        return await load_matcher(session, matcher.threshold, now)
    changed = await _changed_items(session, seen)
    if len(changed) > REBUILD_CHANGED:
        return await load_matcher(session, matcher.threshold, now)
    whole = await _needs_of(session, [item_id for item_id, _, _, is_open, _ in changed if is_open])
    recent = await _recent_needs(session, seen, now)
    # Everything is read before the matcher changes, so a match meanwhile sees it whole.
    for item_id, title, category, is_open, _ in changed:
        _reread(matcher, item_id, title, category, whole if is_open else None)
    rebuilt = {item_id for item_id, _, _, _, _ in changed}
    for need_id, item_id, text, need_category in recent:
        if item_id not in rebuilt and seen.placed.get(need_id) != item_id:
            matcher.add(item_id, text, need_category)
        seen.placed[need_id] = item_id
    _advance(seen, changed, recent, now)
    return matcher


async def take_in_new_items(session: AsyncSession, matcher: NeedMatcher) -> int:
    """Add the open items created since the matcher last read (by another process, a moment
    ago) that it does not hold yet, with their needs; how many were added.

    Cheap enough for every new need: it reads items new by id or stamped within the margin
    (a lower id can commit after a higher one), and the needs of the few it lacks. What changed
    in items it holds is left to `refresh_matcher`.
    """
    seen = matcher.seen
    since = (seen.at or datetime.min.replace(tzinfo=UTC)) - CHANGED_MARGIN
    rows = await session.exec(
        select(NeedItem.id, NeedItem.title, NeedItem.category).where(
            sa.or_(col(NeedItem.id) > seen.item_id, col(NeedItem.updated_at) >= since),
            *OPEN_ITEM,
        )
    )
    missing = [(i or 0, title, category or None) for i, title, category in rows if i not in matcher]
    if not missing:
        return 0
    needs = await _needs_of(session, [item_id for item_id, _, _ in missing])
    added = 0
    for item_id, title, category in missing:
        if item_id in matcher:  # another message took it in while this one read
            continue
        _reread(matcher, item_id, title, category, needs)
        added += 1
    return added


_Changed = tuple[int, str, str | None, bool, datetime]  # id, title, category, open, updated_at


async def _changed_items(session: AsyncSession, seen: Seen) -> list[_Changed]:
    """Items new or stamped since the last read (less the margin), unless read as they are."""
    since = (seen.at or datetime.min.replace(tzinfo=UTC)) - CHANGED_MARGIN
    connection = await session.connection()
    rows = await connection.execute(
        sa.select(
            col(NeedItem.id),
            col(NeedItem.title),
            col(NeedItem.category),
            _is_open(),
            col(NeedItem.updated_at),
        )
        .where(sa.or_(col(NeedItem.id) > seen.item_id, col(NeedItem.updated_at) >= since))
        .order_by(col(NeedItem.id))
    )
    return [
        (item_id or 0, title, category or None, bool(is_open), updated_at)
        for item_id, title, category, is_open, updated_at in rows
        if seen.stamped.get(item_id or 0) != updated_at
    ]


def _reread(
    matcher: NeedMatcher,
    item_id: int,
    title: str,
    category: str | None,
    needs: dict[int, list[tuple[int, str]]] | None,
) -> None:
    """Replace what the matcher knows of an item; None for needs when it is no longer open."""
    matcher.remove(item_id)
    if needs is None:
        return
    matcher.add(item_id, title, category)
    for need_id, text in needs.get(item_id, ()):
        matcher.add(item_id, text, category)
        matcher.seen.placed[need_id] = item_id


def _is_open() -> sa.ColumnElement[bool]:
    return sa.and_(*OPEN_ITEM).label("is_open")


async def _highest_need(session: AsyncSession) -> int:
    return (await session.exec(select(func.max(Need.id)))).one() or 0


async def _needs_of(
    session: AsyncSession, item_ids: Sequence[int]
) -> dict[int, list[tuple[int, str]]]:
    """(need id, text) of each item's needs, oldest first."""
    needs: dict[int, list[tuple[int, str]]] = {}
    for start in range(0, len(item_ids), 500):  # stay far below the databases' bound parameters
        rows = await session.exec(
            select(Need.id, Need.item_id, Need.text)
            .where(col(Need.item_id).in_(item_ids[start : start + 500]))
            .order_by(col(Need.id))
        )
        for need_id, item_id, text in rows:
            needs.setdefault(item_id or 0, []).append((need_id or 0, text))
    return needs


async def _recent_needs(
    session: AsyncSession, seen: Seen, now: datetime
) -> list[tuple[int, int, str, str | None]]:
    """The needs of open items newer than the last read, or submitted within RECENT_NEEDS."""
    first_recent = await _first_recent(session, now)
    start = seen.need_id if first_recent is None else min(seen.need_id, first_recent - 1)
    return await _open_needs(session, col(Need.id) > start)


async def _first_recent(session: AsyncSession, now: datetime) -> int | None:
    """The first need submitted within RECENT_NEEDS, if any."""
    stmt = select(func.min(Need.id)).where(col(Need.created_at) >= now - RECENT_NEEDS)
    return (await session.exec(stmt)).one()


def _advance(
    seen: Seen,
    changed: Sequence[_Changed],
    recent: Sequence[tuple[int, int, str, str | None]],
    now: datetime,
) -> None:
    """Move the marks on past what a refresh read, and forget what the next one will not read."""
    seen.item_id = max([seen.item_id, *(item_id for item_id, _, _, _, _ in changed)])
    seen.need_id = max([seen.need_id, *(need_id for need_id, _, _, _ in recent)])
    seen.at = now
    seen.stamped.update((item_id, stamp) for item_id, _, _, _, stamp in changed)
    for item_id in [i for i, stamp in seen.stamped.items() if stamp < now - CHANGED_MARGIN]:
        del seen.stamped[item_id]
    oldest = min((need_id for need_id, _, _, _ in recent), default=seen.need_id + 1)
    for need_id in [n for n in seen.placed if n < oldest]:
        del seen.placed[need_id]
