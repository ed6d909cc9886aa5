"""How well Linli understands residents, measured on a labelled set written apart from the code.

    .venv/bin/python -m bench.eval_understanding [--part frozen|fresh|dev] [--misses N]

The development part is data/examples/ (the trained model learns from it, and it may be tuned
on); the frozen part, tests/data/eval/frozen/, may not be (its authors wrote it from the street's
data without seeing the code; see its files' headers), nor may tests/data/eval/fresh/, written
the same way after the model was built. Each message carries its intent, the acceptable answers
of a question, and the kind of writing. Every message is understood as the running bot
understands free text (models.intents, with the model trained on the development part), on one
core. The development part is scored by five-fold cross-validation: each fifth is read by a
model trained on the other four. The report gives: intent accuracy (overall, per intent, per
kind of writing), the top-1 and top-3 answers of questions, the confidently wrong rate (the
bot committed to a reading or gave an answer it was sure of, and was wrong), the out-of-scope
messages declined, and the time per message (p50 / p99).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.inquiry import quantile
from models.intent_model import EXAMPLES, Example, Features, IntentModel, load_examples, train
from models.intents import (
    Intent,
    Understood,
    by_rules,
    features,
    load_intent_model,
    load_lexicon,
    understand,
)
from models.knowledge import load_knowledge
from models.service_match import load_service_catalogue

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
EVAL = ROOT / "tests" / "data" / "eval"
OUT_OF_SCOPE = "unknown"
FOLDS = 5
Labelled = Example  # one message of the set and what it means


def load_part(part: str, root: Path = EVAL, data_dir: Path = DATA) -> list[Labelled]:
    """Every message of one part of the set (all its files, in name order)."""
    return load_examples(data_dir / EXAMPLES if part == "dev" else root / part)


@dataclass
class Tally:
    """Right out of asked, for one slice of the set."""

    right: int = 0
    asked: int = 0

    def add(self, ok: bool) -> None:
        """Count one message."""
        self.asked += 1
        self.right += ok

    @property
    def share(self) -> float:
        """The share that was right (0 for an empty slice)."""
        return self.right / self.asked if self.asked else 0.0


@dataclass
class Report:
    """What the evaluation found."""

    intent: Tally = field(default_factory=Tally)
    per_intent: dict[str, Tally] = field(default_factory=dict)
    per_kind: dict[str, Tally] = field(default_factory=dict)
    top1: Tally = field(default_factory=Tally)
    top3: Tally = field(default_factory=Tally)
    declined: Tally = field(default_factory=Tally)
    asked_back: Tally = field(default_factory=Tally)  # readings offered instead of acting
    confidently_wrong: Tally = field(default_factory=Tally)
    wrong_by_kind: dict[str, Tally] = field(default_factory=dict)
    millis: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        """A percentile of the time per message, in milliseconds."""
        return quantile(sorted(self.millis), share) if self.millis else 0.0


def answered(seen: Understood, limit: int) -> list[str]:
    """The answers the bot found for a question, best first (none if it read no question)."""
    if seen.intent is not Intent.QUESTION:
        return []
    return [found.entry.id for found in seen.found[:limit]]


def committed(seen: Understood) -> bool:
    """Whether the bot acted on its reading without asking back: any likely enough reading but
    "not ours", and for a question only an answer it was sure of."""
    if seen.intent is Intent.UNKNOWN or not seen.sure:
        return False
    return seen.intent is not Intent.QUESTION or seen.answer is not None


def right(message: Labelled, seen: Understood) -> bool:
    """Whether the reading (and, for a question, the answer given) is the labelled one."""
    if seen.intent.value != message.intent:
        return False
    if message.intent == "question" and seen.answer is not None:
        return seen.answer.entry.id in message.answers
    return True


def score(report: Report, message: Labelled, seen: Understood) -> None:
    """Add one understood message to the report."""
    intent_ok = seen.intent.value == message.intent
    report.intent.add(intent_ok)
    report.per_intent.setdefault(message.intent, Tally()).add(intent_ok)
    report.per_kind.setdefault(message.kind, Tally()).add(intent_ok)
    if message.intent == "question":
        report.top1.add(bool(set(answered(seen, 1)) & set(message.answers)))
        report.top3.add(bool(set(answered(seen, 3)) & set(message.answers)))
    if message.intent == OUT_OF_SCOPE:
        report.declined.add(seen.intent is Intent.UNKNOWN)
    report.asked_back.add(not seen.sure and seen.intent is not Intent.UNKNOWN)
    wrong = committed(seen) and not right(message, seen)
    report.confidently_wrong.add(wrong)
    report.wrong_by_kind.setdefault(message.kind, Tally()).add(wrong)
    if not intent_ok or wrong:
        got = seen.answer.entry.id if seen.answer else ""
        mark = "!" if wrong else "?" if not seen.sure else ""
        report.misses.append(
            f"{message.intent} -> {seen.intent.value}{mark} {seen.likelihood:.2f} {got}: "
            f"{message.text}"
        )


def evaluate(
    messages: Iterable[Labelled],
    data_dir: Path = DATA,
    model: IntentModel | None = None,
    report: Report | None = None,
) -> Report:
    """Understand every message as the bot does (with the model trained on the development
    part unless one is given), timing each, and score it."""
    lexicon, knowledge = load_lexicon(data_dir), load_knowledge(data_dir)
    services = load_service_catalogue(data_dir)
    model = model or load_intent_model(data_dir)
    report = report or Report()
    for message in messages:
        start = time.perf_counter()
        seen = understand(message.text, lexicon, knowledge, services, model)
        report.millis.append((time.perf_counter() - start) * 1000)
        score(report, message, seen)
    return report


def cross_validate(messages: list[Labelled], data_dir: Path = DATA) -> Report:
    """The development part scored fold by fold: each fifth read by a model trained on the rest
    (stratified by intent, so that every fold holds every intent)."""
    lexicon, knowledge = load_lexicon(data_dir), load_knowledge(data_dir)
    services = load_service_catalogue(data_dir)
    seen: dict[str, Features] = {}  # each text (and written variant) read once for all folds

    def read(text: str) -> Features:
        if text not in seen:
            ruled = by_rules(text, lexicon, knowledge, services)
            seen[text] = features(text, ruled, lexicon, knowledge)
        return seen[text]

    folds = _folds(messages)
    report = Report()
    for n, held_out in enumerate(folds):
        rest = [m for k, fold in enumerate(folds) if k != n for m in fold]
        evaluate(held_out, data_dir, train(rest, read, knowledge), report)
    return report


def _folds(messages: list[Labelled]) -> list[list[Labelled]]:
    """The messages dealt into FOLDS folds, each intent spread evenly, in a fixed order."""
    folds: list[list[Labelled]] = [[] for _ in range(FOLDS)]
    by_intent: dict[str, list[Labelled]] = {}
    for message in messages:
        by_intent.setdefault(message.intent, []).append(message)
    dealt = 0
    for intent in sorted(by_intent):
        for message in by_intent[intent]:
            folds[dealt % FOLDS].append(message)
            dealt += 1
    return folds


def _line(name: str, tally: Tally) -> str:
    return f"  {name:<16} {tally.share:6.1%}  ({tally.right}/{tally.asked})"


def render(report: Report, part: str, misses: int) -> str:
    """The report as text for people."""
    lines = [
        f"Understanding, {part} part: {report.intent.asked} messages",
        _line("intent", report.intent),
        _line("answer top-1", report.top1),
        _line("answer top-3", report.top3),
        _line("confidently wrong", report.confidently_wrong),
        _line("out of scope declined", report.declined),
        _line("asked back", report.asked_back),
        f"  time per message  p50 {report.percentile(0.5):.2f} ms, "
        f"p99 {report.percentile(0.99):.2f} ms",
        "Intent accuracy per intent:",
        *(_line(name, t) for name, t in sorted(report.per_intent.items())),
        "Intent accuracy / confidently wrong per kind of writing:",
        *(
            f"{_line(name, t)}  wrong {report.wrong_by_kind[name].share:5.1%}"
            for name, t in sorted(report.per_kind.items())
        ),
    ]
    if misses:
        lines += ["Misses (first ones):", *(f"  {m}" for m in report.misses[:misses])]
    return "\n".join(lines)


def main() -> None:
    """Evaluate one part of the set and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("frozen", "fresh", "dev"), default="frozen")
    parser.add_argument("--misses", type=int, default=0, help="list this many misses")
    args = parser.parse_args()
    messages = load_part(args.part)
    kinds = Counter(m.kind for m in messages)
    print(f"{len(messages)} messages; kinds: {dict(sorted(kinds.items()))}")
    report = cross_validate(messages) if args.part == "dev" else evaluate(messages)
    print(render(report, args.part, args.misses))


if __name__ == "__main__":
    main()
