"""web inbox: deliveries to the web chat, and the pushes it missed before

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 17:30:00

The web chat became a push channel: a delivery to a web account is kept in `webinboxitem`
until the page has shown it. Before, every push to a web account was given up as "no reachable
chat account". Those of the last LINLI_WEB_INBOX_BACKFILL_DAYS days (30 unless set; 0 for none)
that a web account can take are put in its inbox now and their outbox rows marked sent:

- rows addressed to a web account, or to a resident or staff member with an active web account
  (the one seen last), and not to another channel;
- `{"replies": [...]}` as stored; `{"localized": {...}}` in the account's language, else
  Chinese; a notice's text as written (withdrawn notices are skipped);
- a typed message (`{"message": ...}`) can only be worded by the running code, so its row is
  made due again for that web account and the delivery worker words and stores it;
- waitlist offers (their place has passed on) and other shapes are left as they were.

Plain SQLAlchemy Core only: a migration must not depend on the code of its day.
"""

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GIVEN_UP = "no reachable chat account"
OFFER_KEY = "waitlist_entry"

outbox = sa.table(
    "outboxmessage",
    sa.column("id", sa.Integer()),
    sa.column("identity_id", sa.Integer()),
    sa.column("resident_id", sa.Integer()),
    sa.column("staff_id", sa.Integer()),
    sa.column("channel", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("status", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.column("claimed_by", sa.String()),
    sa.column("claimed_at", sa.DateTime(timezone=True)),
    sa.column("sent_at", sa.DateTime(timezone=True)),
    sa.column("last_error", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("notice_id", sa.Integer()),
)
identity = sa.table(
    "channelidentity",
    sa.column("id", sa.Integer()),
    sa.column("channel", sa.String()),
    sa.column("resident_id", sa.Integer()),
    sa.column("staff_id", sa.Integer()),
    sa.column("lang", sa.String()),
    sa.column("active", sa.Boolean()),
    sa.column("last_seen_at", sa.DateTime(timezone=True)),
)
notice = sa.table(
    "notice",
    sa.column("id", sa.Integer()),
    sa.column("text", sa.String()),
    sa.column("link_url", sa.String()),
    sa.column("status", sa.String()),
)
inbox = sa.table(
    "webinboxitem",
    sa.column("identity_id", sa.Integer()),
    sa.column("outbox_id", sa.Integer()),
    sa.column("replies", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "webinboxitem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("replies", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["channelidentity.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("outbox_id"),
    )
    with op.batch_alter_table("webinboxitem", schema=None) as batch_op:
        batch_op.create_index("ix_webinboxitem_identity_id_id", ["identity_id", "id"], unique=False)
    days = int(os.environ.get("LINLI_WEB_INBOX_BACKFILL_DAYS", "30"))
    if days > 0:
        _backfill(op.get_bind(), days)


def downgrade() -> None:
    with op.batch_alter_table("webinboxitem", schema=None) as batch_op:
        batch_op.drop_index("ix_webinboxitem_identity_id_id")
    op.drop_table("webinboxitem")


def _stamp(bind: sa.engine.Connection, moment: datetime) -> datetime:
    """UTC as the tables store it: naive on SQLite, aware elsewhere."""
    return moment.replace(tzinfo=None) if bind.dialect.name == "sqlite" else moment


def _backfill(bind: sa.engine.Connection, days: int) -> None:
    now = _stamp(bind, datetime.now(UTC))
    rows = bind.execute(
        sa.select(outbox)
        .where(
            outbox.c.status == "dead",
            outbox.c.last_error.like(GIVEN_UP + "%"),
            outbox.c.created_at >= now - timedelta(days=days),
        )
        .order_by(outbox.c.id)
    ).all()
    for row in rows:
        if row.kind == "offer":
            continue  # the place went to the next in line long ago: no live-looking Accept
        account = _web_account(bind, row)
        if account is None:
            continue
        payload = dict(row.payload or {})
        if "message" in payload and row.notice_id is None and OFFER_KEY not in payload:
            _due_again(bind, row.id, account.id, now)
            continue
        replies = _replies(bind, row, payload, account.lang)
        if replies is None:
            continue
        bind.execute(
            sa.insert(inbox).values(
                identity_id=account.id, outbox_id=row.id, replies=replies, created_at=now
            )
        )
        bind.execute(
            sa.update(outbox)
            .where(outbox.c.id == row.id)
            .values(status="sent", sent_at=now, last_error=None)
        )


def _web_account(bind: sa.engine.Connection, row: Any) -> Any:
    """The web account the row reaches: its own, or the person's most recently seen one."""
    pick = sa.select(identity.c.id, identity.c.lang).where(identity.c.channel == "web")
    if row.identity_id is not None:
        return bind.execute(pick.where(identity.c.id == row.identity_id)).first()
    if row.channel not in (None, "web"):
        return None
    if row.staff_id is not None:
        whose = identity.c.staff_id == row.staff_id
    elif row.resident_id is not None:
        whose = identity.c.resident_id == row.resident_id
    else:
        return None
    latest = pick.where(whose, identity.c.active.is_(True))
    return bind.execute(latest.order_by(identity.c.last_seen_at.desc()).limit(1)).first()


def _replies(
    bind: sa.engine.Connection, row: Any, payload: dict[str, Any], lang: str
) -> list[dict[str, Any]] | None:
    """The replies a stored payload stands for in the reader's language, or None if unknown."""
    if row.notice_id is not None or "notice" in payload:
        notice_id = row.notice_id if row.notice_id is not None else payload.get("notice")
        found = bind.execute(sa.select(notice).where(notice.c.id == notice_id)).first()
        if found is None or found.status == "cancelled":
            return None
        link = {"url": found.link_url, "label": found.link_url} if found.link_url else None
        return [{"text": found.text, "buttons": [], "link": link}]
    if isinstance(payload.get("replies"), list) and payload["replies"]:
        return list(payload["replies"])
    versions = payload.get("localized")
    if isinstance(versions, dict):
        chosen = versions.get(lang) or versions.get("zh-CN")
        if isinstance(chosen, list) and chosen:
            return list(chosen)
    return None


def _due_again(bind: sa.engine.Connection, row_id: int, account_id: int, now: datetime) -> None:
    """Hand a typed message back to the delivery worker, addressed to the web account."""
    bind.execute(
        sa.update(outbox)
        .where(outbox.c.id == row_id)
        .values(
            identity_id=account_id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            claimed_by=None,
            claimed_at=None,
            last_error=None,
        )
    )
