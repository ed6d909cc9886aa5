"""The trained part of answering: which knowledge entry a question is about, learned from the
ways each entry is asked (its own questions, keywords and names) and from the residents'
labelled questions (data/examples). Its probabilities are one more voice in the knowledge
search's re-ranking (models.knowledge), which settles questions that share few words with the
entry's own text ("孩子上学租房子行不行" for the rental-enrolment entry)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from models.knowledge import Knowledge
from models.matching_text import matching_copy as fold
from models.need_match import tokenize
from models.text_vectors import TextRow

STRENGTH = 10.0  # inverse regularisation (chosen by cross-validation on the examples)


def _words(folded: str) -> list[str]:
    return tokenize(folded)


class AnswerModel:
    """A logistic regression from a question's characters and words to the entry it is about."""

    def __init__(self) -> None:
        self.chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        self.words = TfidfVectorizer(analyzer=_words, sublinear_tf=True)
        self.classifier = LogisticRegression(C=STRENGTH, max_iter=2000)
        self.entries: list[str] = []  # the entry id of each class

    def fit(self, knowledge: Knowledge, asked: Sequence[tuple[str, str]]) -> AnswerModel:
        """Learn from the knowledge's own phrasings and from (question, entry id) pairs."""
        pairs = [(t, e.id) for e in knowledge.entries for t in e.phrasings if t.strip()]
        pairs += [(text, entry) for text, entry in asked if entry in knowledge.by_id]
        folded = [fold(text) for text, _ in pairs]
        rows = hstack([self.chars.fit_transform(folded), self.words.fit_transform(folded)])
        self.classifier.fit(csr_matrix(rows), np.asarray([entry for _, entry in pairs]))
        self.entries = [str(c) for c in self.classifier.classes_]
        self._prepare()
        return self

    def _prepare(self) -> None:
        self._rows = [TextRow(self.chars), TextRow(self.words)]
        self._offset = len(self._rows[0].columns)
        self._weights = np.asarray(self.classifier.coef_, dtype=np.float64)

    def __getstate__(self) -> dict[str, object]:
        """What is pickled: the fitted parts (the per-message readers are rebuilt)."""
        return {k: v for k, v in self.__dict__.items() if k != "_rows"}

    def __setstate__(self, state: dict[str, object]) -> None:
        """Rebuild the per-message readers of a model read back from disk."""
        self.__dict__.update(state)
        self._rows = [TextRow(self.chars), TextRow(self.words)]

    def likelihoods(self, folded: str) -> dict[str, float]:
        """Each entry's probability of being what the (folded) question is about."""
        scores = np.array(self.classifier.intercept_, dtype=np.float64)
        for row, offset in zip(self._rows, (0, self._offset), strict=True):
            columns, weights = row(folded)
            if len(columns):
                scores += self._weights[:, columns + offset] @ weights
        chances = np.exp(scores - scores.max())
        chances /= chances.sum()
        return dict(zip(self.entries, chances.tolist(), strict=True))
