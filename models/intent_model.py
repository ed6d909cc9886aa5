"""The trained part of understanding: a classifier over residents' labelled messages
(data/examples/*.toml, the development part of the evaluation set) that weighs how a message is
written (character n-grams and jieba words) together with what the word lists and the knowledge
search saw in it (the signals), and gives each intent a probability.

Each Chinese example is also taught as other hands would write it (`variants`). The model is
trained when the data is first read (about 30 s on one core; nothing is downloaded; kept on disk
by models.model_cache) and again when a data file changes, so staff add an example without
touching code.
"""

from __future__ import annotations

import logging
import random
import re
import tomllib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pypinyin import lazy_pinyin
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from models.answer_model import AnswerModel
from models.knowledge import Knowledge
from models.need_match import tokenize
from models.text_vectors import TextRow

EXAMPLES = "examples"  # the folder of labelled messages inside the data directory
STRENGTH = 20.0  # inverse regularisation (chosen by cross-validation on the examples)
MIN_ENTRIES = 3  # fewer knowledge entries and the search ranks them without the answer model
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    """One labelled message: what a resident wrote and what they wanted."""

    text: str
    intent: str
    kind: str = "plain"
    answers: tuple[str, ...] = ()  # for a question, the entries that answer it
    service: str | None = None  # for a booking naming one service, its code


@dataclass(frozen=True)
class Features:
    """A message as the classifier reads it."""

    folded: str  # the matching copy of the text
    signals: str  # what the rules saw, as space-separated tokens


def load_examples(folder: Path, intents: Collection[str] | None = None) -> list[Example]:
    """Every labelled message in a folder of example files (in file-name order); with intents,
    only those labelled with one of them (a mistyped label is left out and logged)."""
    found: list[Example] = []
    for path in sorted(folder.glob("*.toml")):
        for message in tomllib.loads(path.read_text(encoding="utf-8")).get("messages", []):
            example = _example(message)
            if example is None or (intents is not None and example.intent not in intents):
                _log.warning("example left out of %s: %.80r", path.name, message)
                continue
            found.append(example)
    return found


def _example(message: object) -> Example | None:
    if not isinstance(message, dict):
        return None
    text, intent = message.get("text"), message.get("intent")
    answers, service = message.get("answers", ()), message.get("service")
    if not isinstance(text, str) or not text.strip() or not isinstance(intent, str):
        return None
    return Example(
        text=text,
        intent=intent,
        kind=str(message.get("kind", "plain")),
        answers=tuple(str(a) for a in answers) if isinstance(answers, list) else (),
        service=service if isinstance(service, str) else None,
    )


def _words(folded: str) -> list[str]:
    return tokenize(folded)


def _signals(text: str) -> list[str]:
    return text.split()


class IntentModel:
    """A logistic regression over characters, words and the rules' signals."""

    def __init__(self) -> None:
        self.chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        self.words = TfidfVectorizer(analyzer=_words, sublinear_tf=True)
        self.signals = CountVectorizer(analyzer=_signals, binary=True)
        self.classifier = LogisticRegression(C=STRENGTH, max_iter=3000)
        self.answers: AnswerModel | None = None  # which entry a question is about

    def fit(self, features: Sequence[Features], intents: Sequence[str]) -> IntentModel:
        """Learn from labelled messages."""
        self.classifier.fit(self.matrix(features, fit=True), np.asarray(intents))
        self._rows = [TextRow(v) for v in (self.chars, self.words, self.signals)]
        widths = [len(row.columns) for row in self._rows]
        self._offsets = np.cumsum([0, *widths[:-1]]).tolist()
        self._weights = np.asarray(self.classifier.coef_, dtype=np.float64)
        return self

    def __getstate__(self) -> dict[str, object]:
        """What is pickled: the fitted parts (the per-message readers are rebuilt)."""
        return {k: v for k, v in self.__dict__.items() if k != "_rows"}

    def __setstate__(self, state: dict[str, object]) -> None:
        """Rebuild the per-message readers of a model read back from disk."""
        self.__dict__.update(state)
        self._rows = [TextRow(v) for v in (self.chars, self.words, self.signals)]

    def matrix(self, features: Sequence[Features], *, fit: bool = False) -> csr_matrix:
        """Messages as the classifier's input, one row each (fitting the vectorizers if asked)."""
        folded, signals = [f.folded for f in features], [f.signals for f in features]
        parts = (
            (self.chars, folded),
            (self.words, folded),
            (self.signals, signals),
        )
        blocks = [v.fit_transform(t) if fit else v.transform(t) for v, t in parts]
        return csr_matrix(hstack(blocks))

    def readings(self, features: Features) -> list[tuple[str, float]]:
        """Every intent with its probability, most likely first (computed for the one message
        directly from the fitted weights: what predict_proba gives, in a fraction of the time)."""
        scores = np.array(self.classifier.intercept_, dtype=np.float64)
        texts = (features.folded, features.folded, features.signals)
        for row, offset, text in zip(self._rows, self._offsets, texts, strict=True):
            columns, weights = row(text)
            if len(columns):
                scores += self._weights[:, columns + offset] @ weights
        chances = np.exp(scores - scores.max())
        chances /= chances.sum()
        named = zip(self.classifier.classes_, chances, strict=True)
        ranked = sorted(named, key=lambda p: -p[1])
        return [(str(intent), float(p)) for intent, p in ranked]


def train(
    examples: Sequence[Example],
    read: Callable[[str], Features],
    knowledge: Knowledge | None = None,
) -> IntentModel:
    """A model trained on the examples and their written variants (see `variants`), each read
    into features the way messages will be; with the knowledge, also the answer model."""
    sounds = _sounds(examples)
    taught = [*examples, *(v for e in examples for v in variants(e, sounds))]
    model = IntentModel().fit([read(e.text) for e in taught], [e.intent for e in taught])
    if knowledge is not None and len(knowledge.entries) >= MIN_ENTRIES:
        asked = [(e.text, e.answers[0]) for e in examples if e.intent == "question" and e.answers]
        model.answers = AnswerModel().fit(knowledge, asked)
    return model


# How the same request is written by other hands: voice input (fillers, no punctuation), an
# elderly resident (a polite frame), a pinyin keyboard (a character swapped for one that sounds
# the same). Chosen on the development part by cross-validation (intent 90.9% -> 92.5%).
FILLERS = ("那个", "就是", "嗯", "然后")
ENDINGS = ("", "嘛", "哦", "哈")
POLITE = ("同志，", "您好，麻烦问一下，", "请问同志，")
THANKS = ("", "谢谢了。", "麻烦你们了。")
PUNCTUATION = re.compile(r"[，。？！,.?!、]")


def variants(example: Example, sounds: dict[str, list[str]]) -> list[Example]:
    """The example as voice input, as an elderly resident and with a pinyin slip would write
    it (Chinese examples only; the same variants every time)."""
    if example.text.isascii():
        return []
    pick = random.Random(example.text)
    spoken = pick.choice(FILLERS) + PUNCTUATION.sub("", example.text) + pick.choice(ENDINGS)
    polite = pick.choice(POLITE) + example.text + pick.choice(THANKS)
    slipped = _slip(example.text, sounds, pick)
    return [replace(example, text=t) for t in (spoken, polite, slipped)]


def _slip(text: str, sounds: dict[str, list[str]], pick: random.Random) -> str:
    chars = list(text)
    hanzi = [n for n, ch in enumerate(chars) if _hanzi(ch)]
    for n in pick.sample(hanzi, min(len(hanzi), max(1, len(hanzi) // 8))):
        alike = [ch for ch in sounds.get(lazy_pinyin(chars[n])[0], ()) if ch != chars[n]]
        if alike:
            chars[n] = pick.choice(alike)
    return "".join(chars)


def _sounds(examples: Sequence[Example]) -> dict[str, list[str]]:
    """The examples' characters by their sound (toneless pinyin)."""
    found: dict[str, set[str]] = {}
    for example in examples:
        for ch in example.text:
            if _hanzi(ch):
                found.setdefault(lazy_pinyin(ch)[0], set()).add(ch)
    return {sound: sorted(chars) for sound, chars in found.items()}


def _hanzi(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"
