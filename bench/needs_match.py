"""Benchmark: matching a new need against 100,000 needs already held.

    .venv/bin/python -m bench.needs_match                  # 100,000 needs in ~20,000 items
    .venv/bin/python -m bench.needs_match --needs 10000

Builds the production matcher (models/need_match.py) from synthetic needs: the labelled texts in
tests/data/needs_labelled.toml, each varied with place words and a suffix, spread over items
of about five needs each. Then times `match` for 2,000 new texts (held-out variations, half of
them paraphrases of existing items) and prints p50/p95/p99/max. Also prints how long building
the matcher took and the process's RSS, since a server builds it once a minute at most.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time
import tomllib
from pathlib import Path

from models.need_match import DEFAULT_THRESHOLD, NeedMatcher

ROOT = Path(__file__).resolve().parents[1]
PLACES = [
    "东区",
    "西门",
    "3号楼",
    "临川花园",
    "河滨小区",
    "老街",
    "南苑",
    "菜场旁",
    "学校边",
    "公园里",
]
SUFFIXES = ["", "，谢谢", "，大家都很需要", "，盼望早日解决", "，老人孩子都用得上", "。"]


def labelled() -> list[tuple[str, str]]:
    """(category, text) of every labelled text."""
    data = tomllib.loads((ROOT / "tests/data/needs_labelled.toml").read_text(encoding="utf-8"))
    pairs = [(item["category"], text) for item in data["items"] for text in item["texts"]]
    pairs += [(s["category"], s["text"]) for s in data.get("singletons", [])]
    return pairs


def variation(rng: random.Random, text: str) -> str:
    """The same need as another resident might put it near another place."""
    return f"{rng.choice(PLACES)}{text}{rng.choice(SUFFIXES)}"


def build(needs: int, rng: random.Random) -> tuple[NeedMatcher, float]:
    """A matcher over `needs` synthetic needs (about five per item); and the seconds it took."""
    base = labelled()
    matcher = NeedMatcher(DEFAULT_THRESHOLD)
    started = time.perf_counter()
    for n in range(needs):
        category, text = base[n % len(base)]
        matcher.add(n // 5, variation(rng, text), category)
    return matcher, time.perf_counter() - started


def main() -> None:
    """Build, then time 2,000 matches."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--needs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    args = parser.parse_args()
    rng = random.Random(7)
    matcher, built = build(args.needs, rng)
    base = labelled()
    timings, matched = [], 0
    for _ in range(args.queries):
        category, text = rng.choice(base)
        started = time.perf_counter()
        found = matcher.match(variation(rng, text), category, 3)
        timings.append(time.perf_counter() - started)
        matched += bool(found)
    timings.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, int(p * len(timings)))] * 1000

    items = args.needs // 5
    print(f"{args.needs:,} needs in {items:,} items: built in {built:.1f} s, RSS {rss:.0f} MiB")
    print(
        f"{args.queries:,} matches: p50 {pct(0.5):.2f} ms, p95 {pct(0.95):.2f} ms, "
        f"p99 {pct(0.99):.2f} ms, max {timings[-1] * 1000:.2f} ms, "
        f"mean {statistics.mean(timings) * 1000:.2f} ms; "
        f"{matched:,} found a similar item"
    )
    print(f"target p99 < 50 ms: {'met' if pct(0.99) < 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
