"""Hypothesis profiles for the property tests (tests/test_properties_*.py), and what they check
of the database after each hostile example: row counts, integrity, no logged failure.

"ci" (the default) keeps `make test` fast: few examples, no per-example deadline (the first
example of a test pays for warming caches, and the machine is shared). "deep" runs many more:
`LINLI_HYPOTHESIS_PROFILE=deep .venv/bin/pytest tests/test_properties_*.py`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

# One app per test function, shared by its examples: the fixtures are meant to outlive them.
_SHARED_APP = (HealthCheck.function_scoped_fixture, HealthCheck.too_slow)
# Examples per test: (pure parsers, requests over HTTP into the database).
_EXAMPLES = {"ci": (150, 20), "deep": (5_000, 400)}

PROFILE = os.environ.get("LINLI_HYPOTHESIS_PROFILE", "ci")
if PROFILE not in _EXAMPLES:
    raise ValueError(f"LINLI_HYPOTHESIS_PROFILE is one of {sorted(_EXAMPLES)}, not {PROFILE!r}")
for name, (pure, _http) in _EXAMPLES.items():
    settings.register_profile(
        name,
        max_examples=pure,
        deadline=None,
        suppress_health_check=_SHARED_APP,
        # Explaining a failure re-runs it hundreds of times: minutes over HTTP, for a hint.
        phases=tuple(phase for phase in Phase if phase is not Phase.explain),
        print_blob=True,
    )
settings.load_profile(PROFILE)

# Decorators for the kinds of test: pure parsers, requests over HTTP, and examples that render a
# whole desk page or walk a flow of several messages (about a second each on the shared machine).
PURE = settings(max_examples=_EXAMPLES[PROFILE][0])
HTTP = settings(max_examples=_EXAMPLES[PROFILE][1])
PAGES = settings(max_examples=_EXAMPLES[PROFILE][1] // 4)


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """How many rows every table holds, in one round trip."""
    tables = [table.name for table in SQLModel.metadata.sorted_tables]
    columns = ", ".join(f'(SELECT count(*) FROM "{name}") AS "{name}"' for name in tables)
    async with engine.connect() as connection:
        row = (await connection.execute(sa.text(f"SELECT {columns}"))).one()
    return dict(zip(tables, row, strict=True))


async def assert_consistent(engine: AsyncEngine) -> None:
    """SQLite's own integrity and foreign key checks pass (PostgreSQL enforces keys itself)."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as connection:
        integrity = (await connection.execute(sa.text("PRAGMA integrity_check"))).scalars().all()
        orphans = (await connection.execute(sa.text("PRAGMA foreign_key_check"))).all()
    assert list(integrity) == ["ok"]
    assert orphans == []


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def logged_failures() -> Iterator[list[logging.LogRecord]]:
    """The ERROR records logged meanwhile (a handler's traceback, aiohttp's "Error handling
    request"): a hostile input must be answered, not crash something that then apologises."""
    handler = _Failures()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
