"""The street's knowledge for answering questions: the FAQ (data/faq.toml) and the service
catalogue (data/services.toml, data/opening.toml), searched offline.

Every FAQ entry and every service is one document. Texts are cut into words with the need
matcher's tokenizer (jieba, near-synonym groups, single characters) and ranked with BM25
(rank_bm25); the candidates are re-ranked by how closely the question reads like the ways
residents ask for each entry (character n-grams, TF-IDF cosine, and character similarity). An
answer counts as sure only when it scores well on its own and clearly ahead of the next one;
otherwise the bot says it is not sure and offers the best three and a person.
"""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from rank_bm25 import BM25Okapi
from rapidfuzz import fuzz
from sklearn.feature_extraction.text import TfidfVectorizer

from models.data_files import Version, data_version
from models.matching_text import matching_copy as fold
from models.need_match import CHAR_MARK, tokenize
from models.text_vectors import TextRow

SURE_SCORE = 9.0  # BM25 score an answer needs on its own …
SURE_LEAD = 0.6  # … how far ahead (re-ranked) of the best answer about something else …
SURE_COVERAGE = 0.3  # … and the share of the question's words (by weight) it must contain
CANDIDATES = 10  # BM25's best and the closest in characters, re-ranked
RERANK_WEIGHT = 0.8
LIKENESS_WEIGHT = 2.0  # the character n-gram cosine's weight in the re-ranking
TRAINED_WEIGHT = 5.0  # the trained answer model's probability's weight (models.answer_model)
TRAINED_CANDIDATES = 5  # the trained model's likeliest entries join the candidates
QUESTION_WEIGHT = 3  # a FAQ question's words count this many times against its answer's


@dataclass(frozen=True)
class Entry:
    """One answer the bot can give: a FAQ entry or a service's catalogue facts."""

    id: str  # "faq:<code>" or "service:<code>"
    department: str
    title_zh: str
    title_en: str
    answer_zh: str
    answer_en: str
    service: str | None = None  # the service it is about (for "预约这个服务")
    proxy: bool = False  # door-to-door proxy handling is possible
    asked: tuple[str, ...] = ()  # how residents ask for it (folded), for the re-ranking
    phrasings: tuple[str, ...] = ()  # its questions, keywords and names, as written


@dataclass(frozen=True)
class Found:
    """An entry found for a question, its score, and whether the bot may answer with it."""

    entry: Entry
    score: float
    sure: bool
    coverage: float = 0.0  # the share of the question's words (by rarity) the entry holds


class Knowledge:
    """BM25 over the FAQ and the catalogue."""

    def __init__(self, entries: list[Entry], documents: list[list[str]]) -> None:
        self.entries = entries
        self.index = BM25Okapi(documents)
        self.vocabulary = [frozenset(words) for words in documents]
        self.by_id = {entry.id: entry for entry in entries}
        self.position = {entry.id: n for n, entry in enumerate(entries)}
        texts = [(n, fold(t)) for n, e in enumerate(entries) for t in e.phrasings if t.strip()]
        self.owner = np.array([n for n, _ in texts], dtype=np.intp)
        self.grams = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
        self.phrasings = self.grams.fit_transform([t for _, t in texts] or [""]).T.tocsr()
        self._row = TextRow(self.grams)

    def search(
        self, text: str, limit: int = 3, trained: Mapping[str, float] | None = None
    ) -> list[Found]:
        """The best entries for a question, best first; the first says whether it is sure.

        BM25 picks candidates; they are re-ranked by how closely the question reads like the
        ways residents ask for each (character similarity), which settles near ties such as
        "残疾证过期了怎么换" between getting and renewing the card, and, when given, by the
        trained answer model's probability of each entry (trained, by entry id).
        """
        words = tokenize(text)
        if not words:
            return []
        scores = self.index.get_scores(words)
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
        best_bm25 = float(scores[ranked[0]])
        if best_bm25 <= 0:
            return []
        folded = _letters(text)
        close = self._closeness(text)
        candidates = {*ranked[:CANDIDATES], *np.argsort(-close)[:CANDIDATES].tolist()}
        learned = self._learned(trained)
        candidates.update(np.argsort(-learned)[:TRAINED_CANDIDATES].tolist() if trained else ())
        plain = {
            i: float(scores[i]) / best_bm25
            + RERANK_WEIGHT * self._likeness(folded, i)
            + LIKENESS_WEIGHT * float(close[i])
            for i in candidates
        }
        final = {i: plain[i] + TRAINED_WEIGHT * float(learned[i]) for i in candidates}
        order = sorted(final, key=lambda i: -final[i])
        top = order[0]
        shown = order[: max(limit, 1)]
        coverage = {i: self.coverage(words, i) for i in shown}
        sure = (
            float(scores[top]) >= SURE_SCORE
            and self._lead(top, plain) >= SURE_LEAD
            and coverage[top] >= SURE_COVERAGE
        )
        return [
            Found(self.entries[i], float(scores[i]), sure and n == 0, coverage[i])
            for n, i in enumerate(shown)
        ]

    def _lead(self, top: int, plain: dict[int, float]) -> float:
        """How far the untrained re-ranking puts an entry ahead of the best one about another
        subject: the trained model may reorder answers but never makes one sure on its own (it
        can be confident about a fragment such as "补贴" that fits several entries)."""
        entry = self.entries[top]
        rivals = [
            score
            for i, score in plain.items()
            if i != top and not _same_subject(entry, self.entries[i])
        ]
        return plain[top] - max(rivals, default=0.0)

    def _learned(self, trained: Mapping[str, float] | None) -> np.ndarray:
        """The trained model's probabilities in entry order (zero for an entry it does not
        know, such as one added since it was trained)."""
        learned = np.zeros(len(self.entries))
        for entry, chance in (trained or {}).items():
            n = self.position.get(entry)
            if n is not None:
                learned[n] = chance
        return learned

    def _closeness(self, text: str) -> np.ndarray:
        """Per entry, the highest character n-gram cosine between the text and its phrasings."""
        columns, weights = self._row(fold(text))
        similar = np.asarray(self.phrasings[columns].T @ weights).ravel()
        best = np.zeros(len(self.entries))
        if len(self.owner):
            np.maximum.at(best, self.owner, similar)
        return best

    def _likeness(self, folded: str, document: int) -> float:
        asked = self.entries[document].asked
        return max((fuzz.token_set_ratio(folded, q) for q in asked), default=0.0) / 100

    def coverage(self, words: list[str], document: int) -> float:
        """The share of the question's words, weighted by rarity, that the document holds."""
        asked = {w for w in words if not w.startswith(CHAR_MARK)} or set(words)
        idf = self.index.idf
        rarest = 2 * max(idf.values(), default=1.0)  # a word no entry holds weighs most
        weights = {w: max(idf[w], 0.1) if w in idf else rarest for w in asked}
        held = sum(weight for w, weight in weights.items() if w in self.vocabulary[document])
        return held / sum(weights.values())


def _letters(text: str) -> str:
    """Letters and digits only, half-width and lower case (for character similarity)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def _same_subject(one: Entry, other: Entry) -> bool:
    return one.service is not None and one.service == other.service


def load_knowledge(data_dir: Path) -> Knowledge:
    """The knowledge of the street in data_dir (read again when its files change)."""
    return _knowledge(data_dir, data_version(data_dir))


@lru_cache(maxsize=8)
def _knowledge(data_dir: Path, version: Version) -> Knowledge:
    street = _read(data_dir / "street.toml")
    departments = {d["code"]: d for d in street.get("departments", [])}
    hours = _read(data_dir / "opening.toml")
    entries: list[Entry] = []
    documents: list[list[str]] = []
    for n, faq in enumerate(_read(data_dir / "faq.toml").get("faq", []), 1):
        entries.append(_faq_entry({"code": f"entry-{n}", **faq}))
        documents.append(_faq_words(faq))
    for service in _read(data_dir / "services.toml").get("services", []):
        entries.append(_service_entry(service, departments, hours))
        documents.append(_service_words(service, departments))
    return Knowledge(entries, documents)


def _read(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _faq_entry(faq: dict[str, Any]) -> Entry:
    return Entry(
        id=f"faq:{faq['code']}",
        department=faq.get("department", ""),
        title_zh=faq["question_zh"],
        title_en=faq.get("question_en", ""),
        answer_zh=faq["answer_zh"],
        answer_en=faq.get("answer_en", ""),
        service=faq.get("service"),
        asked=tuple(_letters(q) for q in (faq["question_zh"], *faq.get("alt_questions_zh", []))),
        phrasings=(
            faq["question_zh"],
            *faq.get("alt_questions_zh", []),
            faq.get("question_en", ""),
            *faq.get("alt_questions_en", []),
            " ".join(faq.get("keywords", [])),
        ),
    )


def _faq_words(faq: dict[str, Any]) -> list[str]:
    keywords = " ".join(faq.get("keywords", []))
    asked = [faq["question_zh"], *faq.get("alt_questions_zh", []), keywords]
    words = [w for text in asked for w in tokenize(text)] * QUESTION_WEIGHT
    english = " ".join([faq.get("question_en", ""), *faq.get("alt_questions_en", [])])
    return words + tokenize(english) + tokenize(faq["answer_zh"])


def _service_words(service: dict[str, Any], departments: dict[str, Any]) -> list[str]:
    department = departments.get(service.get("department", ""), {})
    named = tokenize(f"{service['name_zh']} {service.get('name_en', '')}") * QUESTION_WEIGHT
    facts = [service.get("category_zh", ""), department.get("name_zh", "")]
    about = " ".join([*facts, *service.get("documents_zh", [])])
    return named + tokenize(about)


def _service_entry(
    service: dict[str, Any], departments: dict[str, Any], hours: dict[str, Any]
) -> Entry:
    department = departments.get(service.get("department", ""), {})
    return Entry(
        id=f"service:{service['code']}",
        department=service.get("department", ""),
        title_zh=service["name_zh"],
        title_en=service.get("name_en", ""),
        answer_zh=_service_answer(service, department, hours, "zh"),
        answer_en=_service_answer(service, department, hours, "en"),
        service=service["code"],
        proxy=bool(service.get("proxy")),
        asked=(_letters(service["name_zh"]),),
        phrasings=(service["name_zh"], service.get("name_en", "")),
    )


_SERVICE_TEXT = {
    "zh": {
        "who": "「{name}」由{department}办理{window}。",
        "window": "（{window}号窗口）",
        "bring": "请带：{documents}。",
        "join": "、",
        "hours": "办理时间：工作日 {week}",
        "weekend": "；周末和节假日上午 {weekend} 也可办理。",
        "weekdays_only": "；周末和节假日不办理。",
        "proxy": "行动不便的，可以请网格员上门全程代办。",
        "sep": "",
    },
    "en": {
        "who": "“{name}” is handled by {department}{window}.",
        "window": " (window {window})",
        "bring": "Please bring: {documents}.",
        "join": "; ",
        "hours": "Hours: weekdays {week}",
        "weekend": "; also weekend and holiday mornings {weekend}.",
        "weekdays_only": "; not on weekends or holidays.",
        "proxy": "If you cannot come, a grid worker can handle it for you at home.",
        "sep": " ",
    },
}


def _service_answer(
    service: dict[str, Any], department: dict[str, Any], hours: dict[str, Any], lang: str
) -> str:
    """Who handles a service, where, what to bring, when, and whether proxy handling exists."""
    text = _SERVICE_TEXT[lang]
    suffix = "_zh" if lang == "zh" else "_en"
    name = service.get("name" + suffix) or service["name_zh"]
    window = department.get("window")
    parts = [
        text["who"].format(
            name=name,
            department=department.get("name" + suffix, ""),
            window=text["window"].format(window=window) if window else "",
        )
    ]
    documents = service.get("documents" + suffix) or service.get("documents_zh", [])
    if documents:
        parts.append(text["bring"].format(documents=text["join"].join(documents)))
    weekday, holiday = hours.get("weekday", {}), hours.get("holiday", {})
    week = f"{weekday.get('start', '08:00')}–{weekday.get('end', '18:00')}"
    weekend = f"{holiday.get('start', '09:00')}–{holiday.get('end', '12:00')}"
    when = text["weekend"] if service.get("weekend") else text["weekdays_only"]
    parts.append(text["hours"].format(week=week) + when.format(weekend=weekend))
    if service.get("proxy"):
        parts.append(text["proxy"])
    return text["sep"].join(parts)
