"""Queueing: the one way a message is put in the outbox for a list of people."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.outgoing.message import Message
from models.messaging import OutboxMessage, outbox_row

_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
PERSON = "{person}"


@dataclass(frozen=True)
class Person:
    """Who a message is for: a resident or a staff member (reached on the account they used
    last), or one chat account."""

    resident_id: int | None = None
    staff_id: int | None = None
    account_id: int | None = None
    channel: str | None = None

    @property
    def number(self) -> int:
        """The person's (or account's) row id, which tells one copy of a message from another."""
        return self.account_id or self.staff_id or self.resident_id or 0


def for_resident(resident_id: int) -> Person:
    """A resident, on whichever account they used last."""
    return Person(resident_id=resident_id)


def for_staff(staff_id: int) -> Person:
    """A staff member, on whichever account they used last."""
    return Person(staff_id=staff_id)


def outbox_values(
    message: Message, person: Person, kind: str, now: datetime, once: str | None = None
) -> dict[str, Any]:
    """The outbox row of one person's copy (for callers that insert many rows at once)."""
    return outbox_row(
        kind=kind,
        payload=message.to_payload(),
        now=now,
        identity_id=person.account_id,
        channel=person.channel,
        resident_id=person.resident_id,
        staff_id=person.staff_id,
        dedupe_key=None if once is None else once.replace(PERSON, str(person.number)),
    )


async def queue(
    connection: AsyncConnection,
    message: Message,
    people: Iterable[Person],
    *,
    kind: str,
    now: datetime,
    once: str | None = None,
    about: dict[str, Any] | None = None,
) -> int:
    """Queue message for each person in the caller's transaction; how many copies were queued.

    With once, each person gets this message at most once ever (a sweep that runs twice, or
    on two instances, queues nothing the second time): once is the occasion's key, with
    "{person}" standing for the person's id when the message goes to several. about is kept
    beside the message for the delivery worker (what the message concerns).
    """
    people = list(people)
    if once is not None and PERSON not in once and len(people) > 1:
        raise ValueError("a message queued once for several people needs {person} in its key")
    rows = [outbox_values(message, person, kind, now, once) for person in people]
    for row in rows:
        row["payload"] |= about or {}
    if not rows:
        return 0
    if once is None:
        await connection.execute(sa.insert(_OUTBOX), rows)
        return len(rows)
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    queued = 0
    for row in rows:  # one at a time: rowcount of a multi-row upsert is not portable
        stmt = insert(_OUTBOX).values(row).on_conflict_do_nothing(index_elements=["dedupe_key"])
        queued += int((await connection.execute(stmt)).rowcount or 0)
    return queued
