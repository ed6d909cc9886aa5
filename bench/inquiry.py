"""Benchmark: answering a free-text message with the full FAQ and catalogue loaded.

    .venv/bin/python -m bench.inquiry [--rounds 20]

Loads data/ (FAQ and service catalogue) once, then understands every message of
tests/data/inquiries_labelled.toml --rounds times, in a shuffled order: the intent rules and,
for most messages, the BM25 search with its re-ranking. Reports the load time and the latency
of retrieval alone and of the whole understanding, p50 / p99 / max. Target: p99 < 30 ms.
"""

from __future__ import annotations

import argparse
import random
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from models.intents import load_lexicon, understand
from models.knowledge import load_knowledge
from models.service_match import service_catalogue

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
LABELLED = ROOT / "tests" / "data" / "inquiries_labelled.toml"


def timings(work: Callable[[str], object], texts: list[str]) -> list[float]:
    """Milliseconds per call of work over the texts, sorted."""
    spent = []
    for text in texts:
        started = time.perf_counter()
        work(text)
        spent.append((time.perf_counter() - started) * 1000)
    return sorted(spent)


def quantile(values: list[float], share: float) -> float:
    """The share-th quantile of sorted values."""
    return values[min(len(values) - 1, int(share * len(values)))]


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    knowledge = load_knowledge(DATA)
    lexicon = load_lexicon(DATA)
    names = service_catalogue(knowledge, lexicon)
    loaded = time.perf_counter() - started
    messages = tomllib.loads(LABELLED.read_text(encoding="utf-8"))["messages"]
    texts = [str(m["text"]) for m in messages] * args.rounds
    random.Random(7).shuffle(texts)
    print(
        f"{len(knowledge.entries)} entries loaded in {loaded * 1000:.0f} ms; {len(texts)} messages"
    )
    for label, work in (
        ("retrieval (search)", knowledge.search),
        ("understanding (intent + search)", lambda t: understand(t, lexicon, knowledge, names)),
    ):
        spent = timings(work, texts)
        p50, p99 = quantile(spent, 0.5), quantile(spent, 0.99)
        verdict = "met" if p99 < 30 else "NOT met"
        print(
            f"{label:<34} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {spent[-1]:6.2f} ms"
            f"  (target p99 < 30 ms: {verdict})"
        )


if __name__ == "__main__":
    main()
