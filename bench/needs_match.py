"""Benchmark: matching a new need against 100,000 needs already held, and keeping up with new ones.

    .venv/bin/python -m bench.needs_match                  # 100,000 needs in ~20,000 items
    .venv/bin/python -m bench.needs_match --needs 10000 --new 100 --no-db

Synthetic needs: the labelled texts in tests/data/needs_labelled.toml, each varied with place
words and a suffix, spread over items of about five needs each.

In memory: builds the production matcher (models/need_match.py) and prints how long that took
and how much the process grew (jieba's dictionary is loaded before, so the growth is the
matcher's). Then times `match` for 2,000 new texts (held-out variations, half of them
paraphrases of existing items) and prints p50/p95/p99/max.

Through a new SQLite file (skip with --no-db): the same needs, submitted over two years. Times
`load_matcher`, the full build a server does once; then --new more needs arrive (some +1 items
already there, some make new items, some wait for a +1), 1% of the items are rejected or merged,
and `take_in_new_items` (run before every match) adds the new items, as another process made them;
`refresh_matcher` reads only what changed. A refresh with nothing new shows the steady cost, and the
refreshed matcher is checked against a full build on 200 texts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import tempfile
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import make_engine, make_session_factory
from models.migrate import upgrade
from models.need_match import (
    DEFAULT_THRESHOLD,
    NeedMatcher,
    load_matcher,
    refresh_matcher,
    take_in_new_items,
)
from models.needs import Need, NeedItem, NeedStage
from models.people import Resident
from models.seed import seed_residents, seed_street

ROOT = Path(__file__).resolve().parents[1]
PLACES = [
    "东区",
    "西门",
    "3号楼",
    "柳城花园",
    "河滨小区",
    "老街",
    "南苑",
    "菜场旁",
    "学校边",
    "公园里",
]
SUFFIXES = ["", "，谢谢", "，大家都很需要", "，盼望早日解决", "，老人孩子都用得上", "。"]
PER_ITEM = 5
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)  # the needs were submitted over two years


def labelled() -> list[tuple[str, str]]:
    """(category, text) of every labelled text."""
    data = tomllib.loads((ROOT / "tests/data/needs_labelled.toml").read_text(encoding="utf-8"))
    pairs = [(item["category"], text) for item in data["items"] for text in item["texts"]]
    pairs += [(s["category"], s["text"]) for s in data.get("singletons", [])]
    return pairs


def variation(rng: random.Random, text: str) -> str:
    """The same need as another resident might put it near another place."""
    return f"{rng.choice(PLACES)}{text}{rng.choice(SUFFIXES)}"


def synthetic(needs: int, rng: random.Random) -> list[tuple[int, str, str]]:
    """(item number, category, text) of `needs` synthetic needs, about five per item."""
    base = labelled()
    rows = []
    for n in range(needs):
        category, text = base[n % len(base)]
        rows.append((n // PER_ITEM, category, variation(rng, text)))
    return rows


def rss_mib() -> float:
    """The process's resident memory now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pct(timings: list[float], p: float) -> float:
    """The p-th quantile of sorted timings, in milliseconds."""
    return timings[min(len(timings) - 1, int(p * len(timings)))] * 1000


def in_memory(needs: int, queries: int) -> None:
    """Build in memory, then time `queries` matches."""
    rng = random.Random(7)
    rows = synthetic(needs, rng)
    NeedMatcher().match("预热", None)  # loads jieba's dictionary
    before = rss_mib()
    started = time.perf_counter()
    matcher = NeedMatcher(DEFAULT_THRESHOLD)
    for item, category, text in rows:
        matcher.add(item, text, category)
    built = time.perf_counter() - started
    grown = rss_mib() - before
    base = labelled()
    timings, matched = [], 0
    for _ in range(queries):
        category, text = rng.choice(base)
        started = time.perf_counter()
        found = matcher.match(variation(rng, text), category, 3)
        timings.append(time.perf_counter() - started)
        matched += bool(found)
    timings.sort()
    items = len(matcher)
    print(
        f"{needs:,} needs in {items:,} items, in memory: built in {built:.1f} s; "
        f"the process grew {grown:.0f} MiB ({grown * 2**20 / needs:,.0f} bytes a need)"
    )
    print(
        f"{queries:,} matches: p50 {pct(timings, 0.5):.2f} ms, p95 {pct(timings, 0.95):.2f} ms, "
        f"p99 {pct(timings, 0.99):.2f} ms, max {timings[-1] * 1000:.2f} ms, "
        f"mean {statistics.mean(timings) * 1000:.2f} ms; {matched:,} found a similar item"
    )
    print(f"target p99 < 50 ms: {'met' if pct(timings, 0.99) < 50 else 'NOT met'}")


async def through_sqlite(url: str, needs: int, new: int) -> None:
    """Full load from SQLite, then refreshes after `new` needs and 1% of items closed."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    await upgrade(engine)
    rng = random.Random(11)
    rows = synthetic(needs, rng)
    items = rows[-1][0] + 1
    async with sessions() as session, session.begin():
        await seed_street(session, ROOT / "data", START.date(), START)
        await seed_residents(session, items, ROOT / "data", START)
        people = [
            p or 0 for p in await session.exec(select(Resident.id).order_by(col(Resident.id)))
        ]
        item_ids = await _insert_items(session, rows, needs)
        await _insert_needs(session, rows, item_ids, people, needs)
    now = START + SPAN
    async with sessions() as session:
        started = time.perf_counter()
        matcher = await load_matcher(session, DEFAULT_THRESHOLD, now)
        full = time.perf_counter() - started
    print(f"SQLite: load_matcher (full build) over {needs:,} needs: {full:.1f} s")

    now += timedelta(minutes=1)
    async with sessions() as session, session.begin():
        await _arrive(session, rng, item_ids, people, new, now)
    taken, took = await _timed_take_in(sessions, matcher)
    _, took_idle = await _timed_take_in(sessions, matcher)
    print(
        f"take_in_new_items (before every match) after {new} new needs made {taken} items "
        f"elsewhere: {took * 1000:.1f} ms; with nothing new: {took_idle * 1000:.1f} ms"
    )
    arrived = await _timed_refresh(sessions, matcher, now)
    now += timedelta(minutes=1)
    async with sessions() as session, session.begin():
        closed = await _close(session, rng, item_ids, now)
    after_close = await _timed_refresh(sessions, matcher, now)
    idle = await _timed_refresh(sessions, matcher, now + timedelta(minutes=1))
    print(
        f"refresh_matcher after {new} new needs: {arrived * 1000:.0f} ms; after {closed} items "
        f"were closed (half merged): {after_close * 1000:.0f} ms; with nothing new: "
        f"{idle * 1000:.0f} ms"
    )
    async with sessions() as session:
        rebuilt = await load_matcher(session, DEFAULT_THRESHOLD, now)
    base = labelled()
    texts = [rng.choice(base) for _ in range(200)]
    alike = sum(
        matcher.match(text, category, 3) == rebuilt.match(text, category, 3)
        for category, text in texts
    )
    print(f"refreshed and full build answer alike: {alike}/{len(texts)}")
    await engine.dispose()


async def _insert_items(
    session: AsyncSession, rows: list[tuple[int, str, str]], needs: int
) -> list[int]:
    """One item per five needs, titled by its first need, stamped when that was submitted."""
    table = NeedItem.__table__  # type: ignore[attr-defined]
    values = []
    for n in range(0, len(rows), PER_ITEM):
        _, category, text = rows[n]
        at = START + SPAN * n / needs
        values.append(
            {"title": text[:30], "category": category, "created_at": at, "updated_at": at}
        )
    await session.exec(sa.insert(table), params=values)
    return [i or 0 for i in await session.exec(select(NeedItem.id).order_by(col(NeedItem.id)))]


async def _insert_needs(
    session: AsyncSession,
    rows: list[tuple[int, str, str]],
    item_ids: list[int],
    people: list[int],
    needs: int,
) -> None:
    table = Need.__table__  # type: ignore[attr-defined]
    values = [
        {
            "resident_id": people[n % len(people)],
            "text": text,
            "text_hash": f"bench-{n}",
            "category": category,
            "item_id": item_ids[item],
            "attachments": [],
            "created_at": START + SPAN * n / needs,
        }
        for n, (item, category, text) in enumerate(rows)
    ]
    for start in range(0, len(values), 20_000):
        await session.exec(sa.insert(table), params=values[start : start + 20_000])


async def _timed_refresh(
    sessions: async_sessionmaker[AsyncSession], matcher: NeedMatcher, now: datetime
) -> float:
    """Seconds that one refresh took (it must patch the matcher, not build afresh)."""
    async with sessions() as session:
        started = time.perf_counter()
        same = await refresh_matcher(session, matcher, now)
        seconds = time.perf_counter() - started
    assert same is matcher, "the refresh built afresh"
    return seconds


async def _timed_take_in(
    sessions: async_sessionmaker[AsyncSession], matcher: NeedMatcher
) -> tuple[int, float]:
    """Items that one take-in added, and the seconds it took."""
    async with sessions() as session:
        started = time.perf_counter()
        taken = await take_in_new_items(session, matcher)
        return taken, time.perf_counter() - started


async def _arrive(
    session: AsyncSession,
    rng: random.Random,
    item_ids: list[int],
    people: list[int],
    new: int,
    now: datetime,
) -> None:
    """`new` needs: two in five +1 an item, one in five makes an item, the rest wait."""
    base = labelled()
    for n in range(new):
        category, text = rng.choice(base)
        need = Need(
            resident_id=people[n % len(people)],
            text=variation(rng, text),
            text_hash=f"new-{n}",
            category=category,
            created_at=now,
        )
        if n % 5 < 2:
            need.item_id = rng.choice(item_ids)
        elif n % 5 == 2:
            item = NeedItem(title=need.text[:30], category=category, created_at=now, updated_at=now)
            session.add(item)
            await session.flush()
            need.item_id = item.id
        session.add(need)


async def _close(
    session: AsyncSession, rng: random.Random, item_ids: list[int], now: datetime
) -> int:
    """Close 1% of the items, half rejected and half merged into the next; how many."""
    closed = rng.sample(item_ids, len(item_ids) // 100)
    for n, item_id in enumerate(closed):
        item = await session.get_one(NeedItem, item_id)
        item.updated_at = now
        if n % 2:
            item.stage = NeedStage.REJECTED
        else:
            keep = item_ids[(item_ids.index(item_id) + 1) % len(item_ids)]
            await session.exec(
                sa.update(Need).where(col(Need.item_id) == item_id).values(item_id=keep)
            )
            item.merged_into_id = keep
            await session.exec(
                sa.update(NeedItem).where(col(NeedItem.id) == keep).values(updated_at=now)
            )
        session.add(item)
    return len(closed)


def main() -> None:
    """Build and match in memory, then load and refresh through SQLite."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--needs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--new", type=int, default=100, help="needs arriving before a refresh")
    parser.add_argument("--no-db", action="store_true", help="only the in-memory part")
    args = parser.parse_args()
    in_memory(args.needs, args.queries)
    if not args.no_db:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(through_sqlite(f"sqlite+aiosqlite:///{tmp}/bench.db", args.needs, args.new))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole run: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
