"""Async engines and sessions for SQLite (WAL, busy timeout) and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import sqlite3
import time
from collections.abc import Callable, Generator
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_
from sqlmodel.ext.asyncio.session import AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 10_000
PING_AFTER_IDLE_SECONDS = 5.0
# No Linli transaction waits on anything but the database (channel calls happen outside), so
# one left idle this long has lost its client: a network cut the client's side never noticed.
# PostgreSQL then ends that session, and the locks it held (a chat account's, a tick's) free
# up instead of holding every later message of that person until TCP gives up, hours later.
IDLE_IN_TRANSACTION_SECONDS = 30.0


def is_sqlite(url: str) -> bool:
    """Whether a database URL points at SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """Create an async engine with the pragmas and transaction mode each backend needs."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # One connection, used in turn: SQLite has a single writer anyway, and waiting in the
        # pool's queue is fair and cheap where SQLite's busy handler sleeps and polls.
        engine = create_async_engine(
            url,
            echo=echo,
            hide_parameters=True,
            async_creator=partial(InlineSQLiteConnection.open, database or ":memory:"),
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            # Every use ends in COMMIT or ROLLBACK through a context manager; the pool's extra
            # ROLLBACK on each return was one more statement per message for nothing.
            pool_reset_on_return=None,
        )
        _configure_sqlite(engine)
        return engine
    # hide_parameters: errors must not write residents' names or phone numbers into the log.
    engine = create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        # PostgreSQL's JIT compiles any query its planner prices high, which a report's nested
        # look-ups are: 315 ms of compiling for 25 ms of work (EXPLAIN ANALYZE of the desk's
        # window numbers). Linli's queries are short; they run best interpreted.
        connect_args={"server_settings": _server_settings()} if _is_asyncpg(url) else {},
    )
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it has been idle a while.

    pool_pre_ping pinged on every checkout: three round trips (BEGIN, a query, ROLLBACK) per
    message, about 5% of a WeChat answer's CPU. A connection in steady use is known to be
    alive; one that lost its server under load fails its first statement, which invalidates
    the pool and which the pipeline tries again (bot/pipeline.py, DATABASE_RETRY_PAUSES).
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another.
            # The pool opens a new connection, and retires every older one: after a restart
            # they are all dead.
            raise sa.exc.InvalidatePoolError("idle connection found dead") from error


def _server_settings() -> dict[str, str]:
    return {
        "jit": "off",
        "idle_in_transaction_session_timeout": str(int(IDLE_IN_TRANSACTION_SECONDS * 1000)),
    }


def _is_asyncpg(url: str) -> bool:
    return make_url(url).drivername == "postgresql+asyncpg"


class InlineSQLiteConnection(aiosqlite.Connection):
    """aiosqlite's interface, but every call runs at once on the event loop's own thread.

    A SQLite statement on a warm page cache takes microseconds; handing it to aiosqlite's worker
    thread and back costs about 100 µs a hop and several hops a statement, which capped the
    pipeline near 100 messages a second. SQLite's own busy handler would sleep inside the call
    and freeze the loop, so it is off (busy_timeout=0): a statement that finds the database
    locked by another connection is retried after an asyncio sleep, for up to the busy timeout.
    """

    @classmethod
    def open(cls, database: str) -> InlineSQLiteConnection:
        """A connection (awaitable, as SQLAlchemy's aiosqlite dialect expects) to a file."""
        connector = partial(
            sqlite3.connect,
            database,
            timeout=0,
            isolation_level=None,  # SQLAlchemy's BEGIN IMMEDIATE below decides transactions
            check_same_thread=False,
        )
        return cls(connector, iter_chunk_size=64)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        loop = asyncio.get_running_loop()
        give_up = loop.time() + SQLITE_BUSY_TIMEOUT_MS / 1000
        pause = 0.001
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                # SQLITE_BUSY means the statement did nothing yet, so trying again is safe.
                if "locked" not in str(error) or loop.time() > give_up:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def _connect(self) -> InlineSQLiteConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineSQLiteConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        """Close at once; there is no worker thread to stop."""
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        """Close the connection."""
        self.stop()


def _configure_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling would start a deferred transaction that fails with
    # "database is locked" when it later needs to write; BEGIN IMMEDIATE waits instead.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=0")  # waiting happens in InlineSQLiteConnection
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        raw = inline_sqlite(connection.connection.driver_connection)
        if raw is not None and raw.in_transaction:
            # A COMMIT that failed (a deferred constraint) leaves SQLite's transaction open,
            # and the pool does not roll back on return (pool_reset_on_return=None).
            raw.execute("ROLLBACK")
        # Straight to sqlite3 (with the inline busy retry): a full SQLAlchemy execution of
        # a constant statement cost more than the statement, on every message.
        if not _inline_sql(connection, "BEGIN IMMEDIATE"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    _savepoints_inline(engine.sync_engine.dialect)


async def transaction_open(connection: AsyncConnection) -> bool:
    """Whether SQLite still holds the transaction SQLAlchemy began (an error such as a full disk
    can roll it back whole); True on other databases, which report such an end themselves."""
    raw = inline_sqlite((await connection.get_raw_connection()).driver_connection)
    return raw is None or raw.in_transaction


def inline_sqlite(driver_connection: object) -> sqlite3.Connection | None:
    """The sqlite3 connection behind an open InlineSQLiteConnection; None for any other."""
    if isinstance(driver_connection, InlineSQLiteConnection):
        return driver_connection._connection
    return None


def _inline_sql(connection: Any, sql: str) -> bool:
    """Run a constant statement straight on an inline SQLite connection; False if not one."""
    inline = connection.connection.driver_connection
    raw = inline_sqlite(inline)
    if raw is None:
        return False
    await_(inline._execute(raw.execute, sql))
    return True


def _savepoints_inline(dialect: Any) -> None:
    """SAVEPOINT, RELEASE and ROLLBACK TO straight to sqlite3, as BEGIN above: a group commit
    (bot/group_commit.py) puts each message in a savepoint, and SQLAlchemy compiled those
    statements afresh every time, at twice the cost of the message's own statements."""
    statements = {
        "do_savepoint": "SAVEPOINT {}",
        "do_release_savepoint": "RELEASE SAVEPOINT {}",
        "do_rollback_to_savepoint": "ROLLBACK TO SAVEPOINT {}",
    }
    for method, sql in statements.items():
        compiled = getattr(dialect, method)

        def inline(connection: Any, name: str, sql: str = sql, compiled: Any = compiled) -> None:
            # name is SQLAlchemy's own (sa_savepoint_N), never input
            if not _inline_sql(connection, sql.format(name)):
                compiled(connection, name)

        setattr(dialect, method, inline)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def transaction_lock(session: AsyncSession, name: str) -> None:
    """Wait until no other transaction holds the lock called name, then hold it to the end of
    this one. PostgreSQL: an advisory lock; SQLite: every transaction already holds the
    database's one write lock from its start (BEGIN IMMEDIATE)."""
    await connection_lock(await session.connection(), name)


# PostgreSQL's SQLSTATEs for "the server went away": class 08 (connection exceptions) and the
# shutdowns of class 57 (57014, a cancelled statement, is not one: it would fail again).
_UNREACHABLE_STATES = frozenset({"57P01", "57P02", "57P03"})


def database_unreachable(error: BaseException) -> bool:
    """Whether an error means the database could not be reached or dropped the connection (a
    restart, a cut network), rather than refusing the statement: trying again later may work."""
    if isinstance(error, sa.exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig or error
    # Refused, reset or aborted, or a name that did not resolve; other OSErrors (a missing
    # file, a timeout of some other call) are not the database's and would fail again.
    if isinstance(error, ConnectionError | socket.gaierror):
        return True
    state = getattr(error, "sqlstate", None)
    return isinstance(state, str) and (state.startswith("08") or state in _UNREACHABLE_STATES)


async def connection_lock(connection: AsyncConnection, name: str) -> None:
    """transaction_lock for code that holds a connection rather than a session."""
    if connection.dialect.name == "postgresql":
        key = advisory_key(name)
        await connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def advisory_key(name: str) -> int:
    """The PostgreSQL advisory lock number of the lock called name."""
    digest = hashlib.blake2b(f"linli-lock:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
