"""Group commit: the transactions of messages that wait together share one SQLite commit.

SQLite has one writer, so the pipeline's messages take the engine's one connection in turn,
and each paid for its own checkout, BEGIN, COMMIT and check-in: under load, a quarter of a
message's time. Here the messages waiting at one moment run one after another inside a single
transaction, each in its own SAVEPOINT (a message that fails rolls back alone), and all are
answered only after the one COMMIT: no reply speaks of a write that is not on disk. If the
COMMIT fails, every message of the group gets that error, as each would have alone.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.db import database_unreachable, transaction_open

T = TypeVar("T")
Job = Callable[[AsyncConnection], Awaitable[Any]]
GROUP_LIMIT = 32  # messages in one transaction, so that others' turns come soon


class GroupCommit:
    """Runs jobs in shared transactions, one savepoint each, on one engine."""

    def __init__(self, engine: AsyncEngine, limit: int = GROUP_LIMIT) -> None:
        self.engine = engine
        self.limit = limit
        self._waiting: deque[tuple[Job, asyncio.Future[Any]]] = deque()
        self._leader: asyncio.Task[None] | None = None

    async def run(self, job: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run job in the next group's transaction; its result once that group is committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if self._leader is None:
            self._leader = asyncio.create_task(self._lead())
        return await future

    async def _lead(self) -> None:
        try:
            while self._waiting:
                group = [
                    self._waiting.popleft() for _ in range(min(self.limit, len(self._waiting)))
                ]
                await self._run_group([(job, f) for job, f in group if not f.done()])
        finally:
            self._leader = None
            if self._waiting:  # cancelled (the loop is shutting down): nobody will run these
                for _, future in self._waiting:
                    future.cancel()
                self._waiting.clear()

    async def _run_group(self, group: list[tuple[Job, asyncio.Future[Any]]]) -> None:
        outcomes: dict[asyncio.Future[Any], tuple[bool, Any]] = {}
        try:
            async with self.engine.connect() as connection, connection.begin():
                if len(group) == 1:  # alone, its failure may roll back the whole transaction
                    job, future = group[0]
                    outcomes[future] = (True, await job(connection))
                else:
                    for job, future in group:
                        outcomes[future] = await _in_savepoint(connection, job)
                        if not outcomes[future][0]:
                            await _still_whole(connection, outcomes[future][1])
                await _still_whole(connection, None)
        except BaseException as error:  # no commit: nothing of the group was written
            for _, future in group:
                if not future.done():
                    done, own = outcomes.get(future, (True, None))
                    # A message that failed on its own keeps its own error (a replayed request
                    # is refused as such); the rest get the group's.
                    future.set_exception(error if done else own)
            if not isinstance(error, Exception):
                raise
            return
        for future, (done, value) in outcomes.items():
            if future.done():
                continue
            if done:
                future.set_result(value)
            else:
                future.set_exception(value)


async def _in_savepoint(connection: AsyncConnection, job: Job) -> tuple[bool, Any]:
    """(True, result), or (False, error) with the job's writes rolled back."""
    try:
        async with connection.begin_nested():
            return True, await job(connection)
    except Exception as error:
        return False, error


class GroupLostError(Exception):
    """The group's transaction ended under it: none of its messages may be answered as done."""


async def _still_whole(connection: AsyncConnection, cause: BaseException | None) -> None:
    """Raise unless the group's transaction is still the one it began.

    Some failures (a full disk, an I/O error) make SQLite roll back the whole transaction, not
    the statement; later savepoints would then each commit on their own and the final COMMIT do
    nothing, answering as written what was discarded. A lost connection fails the group with
    its own error, so that the pipeline tries the messages again.
    """
    if cause is not None and database_unreachable(cause):
        raise cause
    if not await transaction_open(connection):
        raise GroupLostError("the database ended the transaction") from cause
