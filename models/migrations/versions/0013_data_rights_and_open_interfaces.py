"""residents' data rights and the open interfaces: sealed phone and ID numbers, consent, API keys

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 08:40:00

`resident.phone` and the new `resident.id_number` hold Fernet-sealed values (longer than the
numbers themselves), each with a keyed lookup hash beside it. Phone numbers kept before this
revision are sealed by `linli db upgrade` right after the schema step, since only the running
application has the keys. `consent` records each answer to a consent question; `apikey` holds
hashes of the Open311 API keys; `staff.feed_epoch` signs a staff member's private calendar feed;
cases are indexed by when they were made (Open311's request list, the CSV exports).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _widen_phone(sa.String(length=255))
    op.add_column("resident", sa.Column("phone_lookup", sa.String(length=64)))
    op.add_column("resident", sa.Column("id_number", sa.String(length=255)))
    op.add_column("resident", sa.Column("id_number_lookup", sa.String(length=64)))
    op.create_index(op.f("ix_resident_phone_lookup"), "resident", ["phone_lookup"])
    op.create_index(op.f("ix_resident_id_number_lookup"), "resident", ["id_number_lookup"])
    op.add_column(
        "staff", sa.Column("feed_epoch", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_table(
        "consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        sa.Column("wording", sa.String(length=16), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_resident_purpose", "consent", ["resident_id", "purpose"])
    op.create_table(
        "apikey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index(op.f("ix_apikey_prefix"), "apikey", ["prefix"])
    # Open311's request list and the CSV exports read cases by when they were made.
    op.create_index(op.f("ix_cases_created_at"), "cases", ["created_at"])


def _widen_phone(new_type: sa.String) -> None:
    """resident.phone as the new type. SQLite cannot change a column's type in place, and a
    batch copy of `resident` would break the many foreign keys pointing at it: the values move
    through a spare column instead, with plain ALTER TABLE (SQLite >= 3.35)."""
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("resident", "phone", type_=new_type)
        return
    op.add_column("resident", sa.Column("phone_moving", new_type))
    op.execute("UPDATE resident SET phone_moving = phone")
    op.drop_column("resident", "phone")
    op.add_column("resident", sa.Column("phone", new_type))
    op.execute("UPDATE resident SET phone = phone_moving")
    op.drop_column("resident", "phone_moving")


def downgrade() -> None:
    op.drop_index(op.f("ix_cases_created_at"), table_name="cases")
    op.drop_index(op.f("ix_apikey_prefix"), table_name="apikey")
    op.drop_table("apikey")
    op.drop_index("ix_consent_resident_purpose", table_name="consent")
    op.drop_table("consent")
    op.drop_column("staff", "feed_epoch")
    op.drop_index(op.f("ix_resident_id_number_lookup"), table_name="resident")
    op.drop_index(op.f("ix_resident_phone_lookup"), table_name="resident")
    for column in ("id_number_lookup", "id_number", "phone_lookup"):
        op.drop_column("resident", column)
    # Sealed phone numbers do not fit the old width: PostgreSQL keeps the wider column, SQLite
    # (which does not hold a string to its length) gets its old declaration back.
    if op.get_bind().dialect.name == "sqlite":
        _widen_phone(sa.String(length=20))
