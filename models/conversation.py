"""The pipeline's hot path: dedupe, the chat account and its state in, changes and replies out.

Every message runs these few statements, so they skip the ORM's unit of work. On SQLite they run
as plain SQL on the very sqlite3 connection SQLAlchemy's transaction holds (microseconds, where
SQLAlchemy's execution path costs about 0.3 ms a statement); on other databases as prepared
SQLAlchemy Core statements. Both write what the ORM reads back: UTC timestamps, JSON, booleans.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from models.db import advisory_key, inline_sqlite
from models.messaging import ConversationState, InboundMessage, WeChatCallback, bind_callback
from models.people import ChannelIdentity, mark_seen

_IDENTITY = ChannelIdentity.__table__  # type: ignore[attr-defined]
_STATE = ConversationState.__table__  # type: ignore[attr-defined]
_INBOUND = InboundMessage.__table__  # type: ignore[attr-defined]
_CALLBACK = WeChatCallback.__table__  # type: ignore[attr-defined]
CALLBACK_FIELDS = ("timestamp", "nonce", "signature", "sender", "message_id", "seen_at")
IDENTITY_FIELDS = tuple(column.name for column in _IDENTITY.columns)
STATE_FIELDS = ("name", "data", "updated_at")


@dataclass
class ChatAccount:
    """A chat account (a ChannelIdentity row) as a plain object handlers may change."""

    id: int
    channel: str
    external_id: str
    resident_id: int | None
    staff_id: int | None
    lang: str
    display_name: str | None
    active: bool
    unreachable: bool
    created_at: datetime
    last_seen_at: datetime


@dataclass
class FlowState:
    """Where the account is in a multi-step flow (a ConversationState row)."""

    identity_id: int
    name: str
    data: dict[str, Any]
    updated_at: datetime

    def expired(self, now: datetime, timeout: timedelta) -> bool:
        """Whether a half-finished flow has waited longer than the timeout."""
        return bool(self.name) and now - self.updated_at > timeout


@dataclass
class Conversation:
    """A chat account and its state as loaded; ``save`` writes back only what changed."""

    identity: ChatAccount
    state: FlowState
    stored_replies: list[dict[str, Any]] | None
    loaded: dict[str, Any] = field(default_factory=dict)

    async def save(
        self, connection: AsyncConnection, inbound: dict[str, Any] | None = None
    ) -> None:
        """Write back what changed of the account and the state, and the handled message's row
        (see inbound_row) when given: one statement on PostgreSQL, where each is a round trip."""
        changes = {
            name: getattr(self.identity, name)
            for name in IDENTITY_FIELDS
            if getattr(self.identity, name) != self.loaded.get(name)
        }
        state: dict[str, Any] | None = {name: getattr(self.state, name) for name in STATE_FIELDS}
        if state == {name: self.loaded.get(f"state_{name}") for name in STATE_FIELDS}:
            state = None
        store = await _store(connection)
        await store.write(self.identity.id, changes, state, inbound)


async def open_conversation(
    connection: AsyncConnection,
    channel: str,
    external_id: str,
    message_id: str | None,
    now: datetime,
    lang: str | None,
) -> Conversation:
    """Account, state and (for a redelivery) the stored replies in one query; a first contact
    creates the account."""
    store = await _store(connection)
    row = await store.fetch(channel, external_id, message_id)
    if row is None:
        values = {
            "channel": channel,
            "external_id": external_id,
            "lang": lang or "zh-CN",
            "active": True,
            "unreachable": False,
            "created_at": now,
            "last_seen_at": now,
            "resident_id": None,
            "staff_id": None,
            "display_name": None,
        }
        values["id"] = await store.insert_identity(values)
        row = {**values, "name": None, "data": None, "updated_at": None, "replies": None}
    identity = ChatAccount(**{name: row[name] for name in IDENTITY_FIELDS})
    loaded = {name: row[name] for name in IDENTITY_FIELDS}
    state = FlowState(
        identity_id=identity.id,
        name=row["name"] or "",
        data=dict(row["data"] or {}),
        updated_at=row["updated_at"] or now,
    )
    # A state never stored counts as empty and fresh: only a real change is worth a row.
    loaded |= {f"state_{name}": getattr(state, name) for name in STATE_FIELDS}
    if row["updated_at"] is not None:
        loaded |= {"state_name": row["name"], "state_data": row["data"]}
    # lang (what the channel announces) is used only for a new account: afterwards the language
    # the person writes in or chooses wins (adopt_language).
    mark_seen(identity, now)
    return Conversation(identity, state, row["replies"], loaded)


def adopt_language(identity: ChatAccount, lang: str | None) -> None:
    """Read to the person in the language they just wrote in (None: no evidence, no change);
    saved with the account, so later pushes use it too."""
    if lang is not None and lang != identity.lang:
        identity.lang = lang


def inbound_row(
    *,
    channel: str,
    user_ref: str,
    message_id: str,
    identity_id: int | None,
    received_at: datetime,
    replies: list[dict[str, Any]],
) -> dict[str, Any]:
    """A handled message and its replies, remembered for redeliveries (saved by save)."""
    return {
        "channel": channel,
        "user_ref": user_ref,
        "message_id": message_id,
        "identity_id": identity_id,
        "received_at": received_at,
        "replies": replies,
    }


async def bind_signed_request(
    connection: AsyncConnection,
    key: tuple[str, str, str],
    *,
    sender: str,
    message_id: str,
    now: datetime,
    lock: str | None = None,
) -> tuple[str, str]:
    """bind_callback, in the same statement as taking the named lock (connection_lock's) on
    PostgreSQL: the (sender, message id) the signed request's key first carried."""
    store = await _store(connection)
    if await store.bind(None if lock is None else advisory_key(lock), key, sender, message_id, now):
        return sender, message_id
    # Seen before: a retry of the platform's or a replay; bind_callback reads what it carried.
    return await bind_callback(connection, key=key, sender=sender, message_id=message_id, now=now)


class _Store(Protocol):
    async def fetch(
        self, channel: str, external_id: str, message_id: str | None
    ) -> Mapping[str, Any] | None: ...

    async def insert_identity(self, values: dict[str, Any]) -> int: ...

    async def write(
        self,
        identity_id: int,
        changes: dict[str, Any],
        state: dict[str, Any] | None,
        inbound: dict[str, Any] | None,
    ) -> None: ...

    async def bind(
        self,
        lock_key: int | None,
        key: tuple[str, str, str],
        sender: str,
        message_id: str,
        now: datetime,
    ) -> bool: ...


async def _store(connection: AsyncConnection) -> _Store:
    raw = inline_sqlite((await connection.get_raw_connection()).driver_connection)
    return _CoreStore(connection) if raw is None else _SQLiteStore(raw)


# --- SQLite: plain SQL on the transaction's own sqlite3 connection -------------------------

# Column names below come from the table definitions, never from input.
_SQLITE_FETCH = f"""
SELECT {", ".join(f"i.{name}" for name in IDENTITY_FIELDS)}, s.name, s.data, s.updated_at,
       (SELECT m.replies FROM inboundmessage AS m
         WHERE m.channel = :channel AND m.user_ref = :external_id AND m.message_id = :message_id)
       AS replies
  FROM channelidentity AS i LEFT JOIN conversationstate AS s ON s.identity_id = i.id
 WHERE i.channel = :channel AND i.external_id = :external_id
"""
_BOOLEANS = frozenset({"active", "unreachable"})
_TIMES = frozenset({"created_at", "last_seen_at", "updated_at", "received_at", "seen_at"})
_JSON = frozenset({"data", "replies"})


def _to_sqlite(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _TIMES:
        # SQLAlchemy's format, "%Y-%m-%d %H:%M:%S.%f"; isoformat writes it faster than strftime
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if name in _JSON:
        return json.dumps(value)
    if name in _BOOLEANS:
        return int(value)
    return value


def _from_sqlite(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _TIMES:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if name in _JSON:
        return json.loads(value)
    if name in _BOOLEANS:
        return bool(value)
    return value


class _SQLiteStore:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection

    async def fetch(
        self, channel: str, external_id: str, message_id: str | None
    ) -> Mapping[str, Any] | None:
        params = {"channel": channel, "external_id": external_id, "message_id": message_id}
        cursor = self.db.execute(_SQLITE_FETCH, params)
        row = cursor.fetchone()
        if row is None:
            return None
        names = [column[0] for column in cursor.description]
        return {name: _from_sqlite(name, value) for name, value in zip(names, row, strict=True)}

    async def insert_identity(self, values: dict[str, Any]) -> int:
        columns = [name for name in values if name != "id"]
        sql = (
            f"INSERT INTO channelidentity ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + name for name in columns)}) RETURNING id"
        )
        params = {name: _to_sqlite(name, values[name]) for name in columns}
        return int(self.db.execute(sql, params).fetchone()[0])

    async def write(
        self,
        identity_id: int,
        changes: dict[str, Any],
        state: dict[str, Any] | None,
        inbound: dict[str, Any] | None,
    ) -> None:
        if changes:
            assignments = ", ".join(f"{name} = :{name}" for name in changes)
            params = {name: _to_sqlite(name, value) for name, value in changes.items()}
            self.db.execute(
                f"UPDATE channelidentity SET {assignments} WHERE id = :id",
                {**params, "id": identity_id},
            )
        if state is not None:
            params = {name: _to_sqlite(name, value) for name, value in state.items()}
            self.db.execute(
                "INSERT INTO conversationstate (identity_id, name, data, updated_at) "
                "VALUES (:identity_id, :name, :data, :updated_at) "
                "ON CONFLICT (identity_id) DO UPDATE SET "
                "name = excluded.name, data = excluded.data, updated_at = excluded.updated_at",
                {**params, "identity_id": identity_id},
            )
        if inbound is not None:
            params = {name: _to_sqlite(name, value) for name, value in inbound.items()}
            self.db.execute(
                "INSERT INTO inboundmessage (channel, user_ref, message_id, identity_id,"
                " received_at, replies) VALUES (:channel, :user_ref, :message_id, :identity_id,"
                " :received_at, :replies)",
                params,
            )

    async def bind(
        self,
        lock_key: int | None,
        key: tuple[str, str, str],
        sender: str,
        message_id: str,
        now: datetime,
    ) -> bool:
        # No lock to take: BEGIN IMMEDIATE already holds SQLite's one write lock.
        values = (*key, sender, message_id, _to_sqlite("seen_at", now))
        cursor = self.db.execute(
            f"INSERT INTO wechatcallback ({', '.join(CALLBACK_FIELDS)}) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            values,
        )
        return cursor.rowcount == 1


# --- Everything else: prepared SQLAlchemy Core statements ----------------------------------

_STORED = (
    sa.select(_INBOUND.c.replies)
    .where(
        _INBOUND.c.channel == sa.bindparam("channel"),
        _INBOUND.c.user_ref == sa.bindparam("external_id"),
        _INBOUND.c.message_id == sa.bindparam("message_id"),
    )
    .scalar_subquery()
)
_CORE_FETCH = (
    sa.select(
        _IDENTITY, _STATE.c.name, _STATE.c.data, _STATE.c.updated_at, _STORED.label("replies")
    )
    .select_from(_IDENTITY.outerjoin(_STATE, _STATE.c.identity_id == _IDENTITY.c.id))
    .where(
        _IDENTITY.c.channel == sa.bindparam("channel"),
        _IDENTITY.c.external_id == sa.bindparam("external_id"),
    )
)
_CORE_INSERT_IDENTITY = sa.insert(_IDENTITY).returning(_IDENTITY.c.id)
_CORE_INSERT_INBOUND = sa.insert(_INBOUND)


class _CoreStore:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def fetch(
        self, channel: str, external_id: str, message_id: str | None
    ) -> Mapping[str, Any] | None:
        params = {"channel": channel, "external_id": external_id, "message_id": message_id}
        row = (await self.connection.execute(_CORE_FETCH, params)).mappings().first()
        return None if row is None else dict(row)

    async def insert_identity(self, values: dict[str, Any]) -> int:
        insert = {name: value for name, value in values.items() if name != "id"}
        return int((await self.connection.execute(_CORE_INSERT_IDENTITY, insert)).scalar_one())

    async def write(
        self,
        identity_id: int,
        changes: dict[str, Any],
        state: dict[str, Any] | None,
        inbound: dict[str, Any] | None,
    ) -> None:
        if not (changes or state is not None or inbound is not None):
            return
        params: dict[str, Any] = {"i_id": identity_id}
        params |= {f"i_{name}": value for name, value in changes.items()}
        if state is not None:
            params |= {f"s_{name}": value for name, value in state.items()}
            params["s_identity_id"] = identity_id
        params |= {f"m_{name}": value for name, value in (inbound or {}).items()}
        shape = (tuple(changes), state is not None, None if inbound is None else tuple(inbound))
        await self.connection.execute(_core_write(*shape), params)

    async def bind(
        self,
        lock_key: int | None,
        key: tuple[str, str, str],
        sender: str,
        message_id: str,
        now: datetime,
    ) -> bool:
        values = dict(zip(CALLBACK_FIELDS, (*key, sender, message_id, now), strict=True))
        if lock_key is None:
            result = await self.connection.execute(_CORE_BIND, values)
        else:
            values["lock"] = lock_key
            result = await self.connection.execute(_CORE_LOCK_AND_BIND, values)
        return bool(result.rowcount)


@cache
def _core_write(
    changed: tuple[str, ...], state: bool, inbound: tuple[str, ...] | None
) -> sa.Executable:
    """The account's changes, the state and the handled message as one statement, built once
    per shape: building and hashing a statement per message cost more than running it."""
    parts: list[Any] = []
    if changed:
        values = {name: _param("i", _IDENTITY, name) for name in changed}
        parts.append(
            sa.update(_IDENTITY).where(_IDENTITY.c.id == sa.bindparam("i_id")).values(values)
        )
    if state:
        columns = ("identity_id", *STATE_FIELDS)
        upsert = postgresql.insert(_STATE).values({n: _param("s", _STATE, n) for n in columns})
        fresh = {name: upsert.excluded[name] for name in STATE_FIELDS}
        parts.append(upsert.on_conflict_do_update(index_elements=["identity_id"], set_=fresh))
    if inbound is not None:
        parts.append(
            sa.insert(_INBOUND).values({name: _param("m", _INBOUND, name) for name in inbound})
        )
    # One round trip: the others ride along as data-modifying WITH clauses, which PostgreSQL
    # runs exactly once each, whatever the main statement reads of them.
    main, *riders = reversed(parts)
    if riders:
        main = main.add_cte(*(rider.cte(f"w{n}") for n, rider in enumerate(riders)))
    return main  # type: ignore[no-any-return]


def _param(prefix: str, table: sa.Table, column: str) -> Any:
    return sa.bindparam(f"{prefix}_{column}", type_=table.c[column].type)


def _callback_insert(rows: sa.Select[Any]) -> Any:
    columns = [_CALLBACK.c[name] for name in CALLBACK_FIELDS]
    return (
        postgresql.insert(_CALLBACK)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["timestamp", "nonce", "signature"])
    )


_CALLBACK_ROW = [
    sa.cast(sa.bindparam(name), _CALLBACK.c[name].type).label(name) for name in CALLBACK_FIELDS
]
_CORE_BIND = _callback_insert(sa.select(*_CALLBACK_ROW))
# The row comes out of the lock, so the lock is held before the key is bound, and both cost
# one round trip. The conversation is read by a later statement, which sees whatever the
# transaction that held the lock before committed.
_HELD = sa.select(
    sa.func.pg_advisory_xact_lock(sa.bindparam("lock", type_=sa.BigInteger)).label("held")
).cte("held")
_CORE_LOCK_AND_BIND = _callback_insert(sa.select(*_CALLBACK_ROW).select_from(_HELD))
