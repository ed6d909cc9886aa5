"""How well Linli understands residents, measured on a labelled set written apart from the code.

    .venv/bin/python -m bench.eval_understanding [--part frozen|dev] [--misses N]

The set lives in tests/data/eval/: `dev/` may be tuned and trained on, `frozen/` may not (its
authors wrote it from the street's data without seeing the code; see its files' headers). Each
message carries its intent, the acceptable answers of a question, and the kind of writing.
Every message is understood as the running bot understands free text (models.intents), on one
core, and the report gives: intent accuracy (overall, per intent, per kind of writing), the
top-1 and top-3 answers of questions, the confidently wrong rate (the bot committed to a reading
or gave an answer it was sure of, and was wrong), the out-of-scope messages declined, and the
time per message (p50 / p99).
"""

from __future__ import annotations

import argparse
import time
import tomllib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.inquiry import quantile
from models.intents import Intent, Understood, load_lexicon, understand
from models.knowledge import load_knowledge
from models.service_match import load_service_catalogue

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
EVAL = ROOT / "tests" / "data" / "eval"
OUT_OF_SCOPE = "unknown"


@dataclass(frozen=True)
class Labelled:
    """One message of the set and what it means."""

    text: str
    intent: str
    kind: str
    answers: tuple[str, ...] = ()
    service: str | None = None


def load_part(part: str, root: Path = EVAL) -> list[Labelled]:
    """Every message of one part of the set (all its files, in name order)."""
    found: list[Labelled] = []
    for path in sorted((root / part).glob("*.toml")):
        for message in tomllib.loads(path.read_text(encoding="utf-8")).get("messages", []):
            found.append(
                Labelled(
                    text=str(message["text"]),
                    intent=str(message["intent"]),
                    kind=str(message["kind"]),
                    answers=tuple(message.get("answers", ())),
                    service=message.get("service"),
                )
            )
    return found


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
    """Whether the bot acted on its reading without asking back: any reading but "not sure",
    and for a question only an answer it was sure of."""
    if seen.intent is Intent.UNKNOWN:
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
    wrong = committed(seen) and not right(message, seen)
    report.confidently_wrong.add(wrong)
    report.wrong_by_kind.setdefault(message.kind, Tally()).add(wrong)
    if not intent_ok or wrong:
        got = seen.answer.entry.id if seen.answer else ""
        report.misses.append(f"{message.intent} -> {seen.intent.value} {got}: {message.text}")


def evaluate(messages: Iterable[Labelled], data_dir: Path = DATA) -> Report:
    """Understand every message as the bot does, timing each, and score it."""
    lexicon, knowledge = load_lexicon(data_dir), load_knowledge(data_dir)
    services = load_service_catalogue(data_dir)
    report = Report()
    for message in messages:
        start = time.perf_counter()
        seen = understand(message.text, lexicon, knowledge, services)
        report.millis.append((time.perf_counter() - start) * 1000)
        score(report, message, seen)
    return report


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
    parser.add_argument("--part", choices=("frozen", "dev"), default="frozen")
    parser.add_argument("--misses", type=int, default=0, help="list this many misses")
    args = parser.parse_args()
    messages = load_part(args.part)
    kinds = Counter(m.kind for m in messages)
    print(f"{len(messages)} messages; kinds: {dict(sorted(kinds.items()))}")
    print(render(evaluate(messages), args.part, args.misses))


if __name__ == "__main__":
    main()
