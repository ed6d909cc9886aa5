"""Group commit on SQLite: messages that wait together share one COMMIT, each in a savepoint.

What must hold: a reply is given only after its writes are committed; a message that fails
rolls back alone and its neighbours' writes stay; a COMMIT that fails fails every message of
its group and writes none of them; and the pipeline answers concurrent messages as it would one
by one, with fewer commits than messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.app import Linli
from bot.group_commit import GroupCommit
from bot.messages import Inbound
from bot.unit import UnitOfWork
from models.db import make_engine
from models.messaging import InboundMessage


class Base(DeclarativeBase):
    """A mapping of this file's own table, apart from Linli's metadata."""


class Parent(Base):
    __tablename__ = "parent"
    id: Mapped[int] = mapped_column(primary_key=True)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/group.db")
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        await connection.exec_driver_sql(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER"
            " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        await connection.exec_driver_sql("INSERT INTO parent (id) VALUES (1)")
    yield engine
    await engine.dispose()


def commits_of(engine: AsyncEngine) -> list[int]:
    """A list that grows by one at each COMMIT the engine makes."""
    seen: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda _connection: seen.append(1))
    return seen


def adding(child_id: int, parent_id: int = 1, fail: bool = False):  # type: ignore[no-untyped-def]
    """A job that writes one child row, then fails if asked to."""

    async def job(connection: AsyncConnection) -> int:
        await connection.execute(
            sa.text("INSERT INTO child (id, parent_id) VALUES (:id, :parent)"),
            {"id": child_id, "parent": parent_id},
        )
        if fail:
            raise ValueError(f"message {child_id} failed")
        return child_id

    return job


async def children(engine: AsyncEngine, table: str = "child") -> set[int]:
    """The ids in this file's child table (or its parent table)."""
    async with engine.connect() as connection:
        rows = await connection.execute(sa.text(f"SELECT id FROM {table}"))
        return {row[0] for row in rows}


async def test_jobs_waiting_together_share_one_commit(engine: AsyncEngine) -> None:
    group, commits = GroupCommit(engine), commits_of(engine)
    results = await asyncio.gather(*(group.run(adding(n)) for n in range(1, 11)))
    assert results == list(range(1, 11))
    assert await children(engine) == set(range(1, 11))
    assert len(commits) == 1


async def test_a_failing_job_rolls_back_alone(engine: AsyncEngine) -> None:
    group = GroupCommit(engine)
    outcomes = await asyncio.gather(
        group.run(adding(1)),
        group.run(adding(2, fail=True)),
        group.run(adding(3)),
        return_exceptions=True,
    )
    assert outcomes[0] == 1 and outcomes[2] == 3
    assert isinstance(outcomes[1], ValueError)
    assert await children(engine) == {1, 3}


async def test_a_failed_commit_fails_the_whole_group_and_writes_nothing(
    engine: AsyncEngine,
) -> None:
    group = GroupCommit(engine)
    # The orphan's foreign key is checked only at COMMIT, which therefore fails.
    outcomes = await asyncio.gather(
        group.run(adding(1)),
        group.run(adding(2, parent_id=99)),
        group.run(adding(3, fail=True)),
        return_exceptions=True,
    )
    assert all(isinstance(outcome, sa.exc.IntegrityError) for outcome in outcomes[:2])
    assert isinstance(outcomes[2], ValueError)  # one that failed on its own keeps its error
    assert await children(engine) == set()
    assert await group.run(adding(5)) == 5  # the next group is unharmed


async def test_a_failure_that_ends_the_whole_transaction_fails_the_whole_group(
    engine: AsyncEngine,
) -> None:
    """A full disk or an I/O error makes SQLite roll back the transaction, not the statement;
    the messages before it in the group must not be answered as written (a review found they
    were: later savepoints committed on their own, and the final COMMIT did nothing)."""
    async with engine.begin() as connection:  # stands in for SQLITE_FULL at message 2
        await connection.exec_driver_sql(
            "CREATE TRIGGER full_disk BEFORE INSERT ON child WHEN NEW.id = 2"
            " BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END"
        )
    group = GroupCommit(engine)
    outcomes = await asyncio.gather(
        *(group.run(adding(n)) for n in (1, 2, 3)), return_exceptions=True
    )
    assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert await children(engine) == set()
    assert await group.run(adding(4)) == 4  # the next group begins afresh


async def test_a_job_alone_that_fails_writes_nothing(engine: AsyncEngine) -> None:
    group = GroupCommit(engine)
    with pytest.raises(ValueError, match="message 1 failed"):
        await group.run(adding(1, fail=True))
    assert await children(engine) == set()


def through_the_session(parent_id: int, then_child: int):  # type: ignore[no-untyped-def]
    """A job as a message's: the ORM session writes first, the connection after it."""

    async def job(connection: AsyncConnection) -> int:
        unit = UnitOfWork(connection)
        try:
            unit.session.add(Parent(id=parent_id))
            await unit.flush()
            await connection.execute(
                sa.text("INSERT INTO child (id, parent_id) VALUES (:id, 1)"), {"id": then_child}
            )
            return then_child
        finally:
            await unit.close()

    return job


async def test_a_message_using_the_session_keeps_every_write_in_a_group(
    engine: AsyncEngine,
) -> None:
    group = GroupCommit(engine)
    outcomes = await asyncio.gather(
        group.run(adding(1)),
        group.run(through_the_session(2, then_child=2)),
        group.run(through_the_session(1, then_child=3)),  # parent 1 exists: the flush fails
        group.run(adding(4)),
        return_exceptions=True,
    )
    assert outcomes[0] == 1 and outcomes[1] == 2 and outcomes[3] == 4
    assert isinstance(outcomes[2], sa.exc.IntegrityError)
    assert await children(engine) == {1, 2, 4}
    assert await children(engine, "parent") == {1, 2}


async def test_groups_take_turns_with_other_users_of_the_connection(engine: AsyncEngine) -> None:
    group = GroupCommit(engine, limit=4)
    commits = commits_of(engine)
    jobs = [group.run(adding(n)) for n in range(1, 10)]
    assert await asyncio.gather(*jobs) == list(range(1, 10))
    assert len(commits) == 3  # 4 + 4 + 1


async def test_the_pipeline_answers_concurrent_messages_as_it_would_one_by_one(
    linli: Linli,
) -> None:
    if linli.engine.dialect.name != "sqlite":
        pytest.skip("group commit serves SQLite's one writer; PostgreSQL has a pool")
    words = ["菜单", "办公时间", "你好", "预约", "7"]

    async def ask(n: int) -> str:
        inbound = Inbound("web", f"group-user-{n:04d}", text=words[n % 5], message_id=f"m{n}")
        replies = await linli.pipeline.handle(inbound)
        return "\n".join(reply.text for reply in replies)

    alone = [await ask(n) for n in range(5)]  # one at a time: a commit each
    commits = commits_of(linli.engine)
    together = await asyncio.gather(*(ask(n) for n in range(5, 45)))
    assert together == [alone[n % 5] for n in range(40)]
    assert 1 <= len(commits) < 40
    async with linli.engine.connect() as connection:
        stored = await connection.scalar(sa.select(sa.func.count()).select_from(InboundMessage))
    assert stored == 45  # every message's row, for redeliveries
