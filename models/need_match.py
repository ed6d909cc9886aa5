"""Offline similarity between a new need and the open items ("已有 37 位邻居提过类似需求").

Texts are cut into words with jieba; an inverted index from words to items picks candidates by
IDF-weighted word overlap, and only the best of those are scored with character-level fuzzy
matching (rapidfuzz) and a bonus for the same category. Everything is deterministic.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import jieba
import sqlalchemy as sa
from rapidfuzz import fuzz
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.needs import Need, NeedItem, NeedStage

DEFAULT_THRESHOLD = 0.28
CANDIDATES = 200  # items kept after the word-overlap pass, before fuzzy scoring
TEXTS_PER_ITEM = 8  # texts of an item compared character by character
CATEGORY_BONUS = 0.15
OTHER_CATEGORY_FACTOR = 0.5  # both categories known and different
CHAR_MARK = "#"  # single-character tokens are marked and weigh less than words
CHAR_WEIGHT = 0.5

# Words that say nothing about what the need is.
_STOP_TEXT = """
    的 了 着 过 吗 呢 吧 啊 呀 哦 嘛 和 与 及 或 跟 在 是 有 没 没有 很 太 都 也 就 还 又 再 才
    希望 想 想要 要 能 能不能 能否 可以 可不可以 一个 一些 一下 一点 这个 那个 这些 那些 这里 那里
    我 我们 你 你们 他 她 他们 大家 咱们 自己 家 家里 人 有人
    小区 社区 附近 周边 街道 居委 居委会 物业 增加 增设 需要 建议 请 麻烦 帮忙 帮 帮助 解决
    问题 情况 什么 怎么 怎么办 为什么 多 少 好 不 不要 非常 特别 比较 经常 每天 现在 以后 时候
    个 些 把 被 给 让 对 从 到 去 来 上 下 里 中 能够 应该 可能 已经 一直 为 以 而 但 但是 所以
    因为 如果 谢谢 您好 你好 please the a an of to for and is are we i would like
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

# A few everyday synonyms folded onto one word, so different phrasings share words.
SYNONYMS = {
    "老年": "老人",
    "老年人": "老人",
    "长者": "老人",
    "老人家": "老人",
    "电瓶车": "电动车",
    "电动自行车": "电动车",
    "犬": "狗",
    "狗狗": "狗",
    "小孩": "孩子",
    "小朋友": "孩子",
    "孩子们": "孩子",
    "娃": "孩子",
    "儿童": "孩子",
    "摄像头": "监控",
    "监控器": "监控",
    "图书馆": "图书",
    "图书室": "图书",
    "阅览室": "图书",
    "看书": "读书",
    "拴": "牵",
    "绳子": "绳",
    "狗绳": "绳",
    "停车位": "车位",
    "停车场": "车位",
    "食堂": "吃饭",
    "助餐": "吃饭",
    "助餐点": "吃饭",
    "用餐": "吃饭",
    "做饭": "吃饭",
    "公交车": "公交",
    "巴士": "公交",
    "剪发": "理发",
    "剪头发": "理发",
    "漏雨": "漏水",
    "渗水": "漏水",
    "噪声": "噪音",
    "吵": "噪音",
    "扰民": "噪音",
}

_jieba = jieba.Tokenizer()
jieba.setLogLevel(60)


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def tokenize(text: str) -> list[str]:
    """The meaningful words of a text, in order, stop words and punctuation removed."""
    words: list[str] = []
    for raw in _jieba.lcut_for_search(_normalise(text)):
        word = raw.strip()
        if not word or not any(ch.isalnum() for ch in word) or word in STOP_WORDS:
            continue
        word = SYNONYMS.get(word, word)
        words.append(word)
        # Single characters bridge phrasings that share a root (菜场 / 菜店, 托班 / 托育).
        words.extend(CHAR_MARK + ch for ch in word if "\u4e00" <= ch <= "\u9fff")
    return words


def _chars(text: str) -> str:
    """The text without stop words and punctuation, for character-level comparison."""
    return "".join(w for w in _jieba.lcut(_normalise(text)) if w.strip() and w not in STOP_WORDS)


@dataclass
class _Item:
    category: str | None
    words: set[str] = field(default_factory=set)
    texts: list[tuple[frozenset[str], str]] = field(default_factory=list)


class NeedMatcher:
    """Finds the open items most like a new need text."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._items: dict[int, _Item] = {}
        self._index: dict[str, set[int]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item_id: int, text: str, category: str | None) -> None:
        """Add a text (an item's title or one of its needs) to an item, creating it if new."""
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = _Item(category)
        elif category and not item.category:
            item.category = category
        words = tokenize(text)
        for word in words:
            if word not in item.words:
                item.words.add(word)
                self._index.setdefault(word, set()).add(item_id)
        if len(item.texts) < TEXTS_PER_ITEM and words:
            entry = (frozenset(words), _chars(text))
            if entry not in item.texts:
                item.texts.append(entry)

    def _idf(self, word: str) -> float:
        holders = len(self._index.get(word, ()))
        idf = math.log((len(self._items) + 1) / (holders + 0.5)) + 1.0
        return idf * CHAR_WEIGHT if word.startswith(CHAR_MARK) else idf

    def match(self, text: str, category: str | None, limit: int = 3) -> list[tuple[int, float]]:
        """The best items as (item_id, score in 0..1) above the threshold, best first."""
        words = set(tokenize(text))
        if not words or not self._items:
            return []
        weights = {word: self._idf(word) for word in words}
        total = sum(weights.values())
        overlap: dict[int, float] = {}
        for word, weight in weights.items():
            for item_id in self._index.get(word, ()):
                overlap[item_id] = overlap.get(item_id, 0.0) + weight
        candidates = heapq.nlargest(CANDIDATES, overlap.items(), key=lambda p: (p[1], -p[0]))
        chars = _chars(text)
        scored: list[tuple[float, int]] = []
        for item_id, shared in candidates:
            item = self._items[item_id]
            coverage = shared / total
            best_text = 0.0
            best_chars = 0.0
            for text_words, text_chars in item.texts:
                common = sum(weights.get(w, 0.0) for w in text_words & words)
                union = total + sum(self._idf(w) for w in text_words - words)
                best_text = max(best_text, common / union)
                best_chars = max(best_chars, fuzz.ratio(chars, text_chars) / 100.0)
            score = 0.5 * coverage + 0.3 * best_text + 0.2 * best_chars
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


async def load_matcher(session: AsyncSession, threshold: float = DEFAULT_THRESHOLD) -> NeedMatcher:
    """A matcher over the open items (not merged away, not done or rejected) and their needs.

    The rows are read on the event loop; the index is built in a worker thread, because over
    100,000 needs that takes seconds and the loop must keep answering other people meanwhile.
    """
    open_items = (
        col(NeedItem.merged_into_id).is_(None),
        col(NeedItem.stage).not_in([NeedStage.DONE, NeedStage.REJECTED]),
    )
    items = (
        await session.exec(
            select(NeedItem.id, NeedItem.title, NeedItem.category)
            .where(*open_items)
            .order_by(col(NeedItem.id))
        )
    ).all()
    needs = (
        await session.exec(
            select(Need.item_id, Need.text, NeedItem.category)
            .join(NeedItem, sa.and_(col(NeedItem.id) == col(Need.item_id), *open_items))
            .order_by(col(Need.id))
        )
    ).all()
    rows = [(item_id or 0, text, category or None) for item_id, text, category in (*items, *needs)]
    return await asyncio.to_thread(build_matcher, rows, threshold)
