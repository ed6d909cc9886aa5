"""One short text as a fitted vectorizer's row, without scikit-learn's per-call checks (which
cost more than the arithmetic for a single chat message): the same n-grams, counts, idf weights
and norm as `vectorizer.transform([text])`."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer


class TextRow:
    """A fitted vectorizer, ready to turn one text at a time into (columns, weights)."""

    def __init__(self, vectorizer: CountVectorizer) -> None:
        self.analyze = vectorizer.build_analyzer()
        self.columns: dict[str, int] = vectorizer.vocabulary_
        self.binary = bool(vectorizer.binary)
        tfidf = isinstance(vectorizer, TfidfVectorizer)
        self.idf = vectorizer.idf_ if tfidf and vectorizer.use_idf else None
        self.sublinear = tfidf and bool(vectorizer.sublinear_tf)
        self.norm = vectorizer.norm if tfidf else None

    def __call__(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's non-zero columns and their weights."""
        counts = Counter(c for c in map(self.columns.get, self.analyze(text)) if c is not None)
        columns = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        weights = np.array([self._tf(n) for n in counts.values()], dtype=np.float64).reshape(-1)
        if self.idf is not None and len(columns):
            weights = weights * self.idf[columns]
        if self.norm == "l2" and len(columns):
            size = math.sqrt(float(weights @ weights))
            weights = weights / size if size else weights
        return columns, weights

    def _tf(self, count: int) -> float:
        if self.binary:
            return 1.0
        return 1.0 + math.log(count) if self.sublinear else float(count)
