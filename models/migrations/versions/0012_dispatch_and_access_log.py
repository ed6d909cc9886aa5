"""the dispatch step (街道呼叫) and the access log of unmasked personal data

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 05:40:00

A department called to a case by the street's dispatcher answers the call (accepted_at) or
returns it with a reason (returned_at, return_reason). Every staff view of a resident's unmasked
phone number is written to `personaldataview`. The new staff roles (dispatcher, leader) are plain
strings in the existing `staff.role` column. `staff.desk_epoch` is the desk session's epoch:
logging out moves it on, which ends every copy of the session cookie (the session lives there).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite ≥ 3.35 adds and drops columns itself): a batch copy would
    # recreate `staff`, which other tables' foreign keys point at.
    op.add_column(
        "staff", sa.Column("desk_epoch", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("casehandler", sa.Column("accepted_at", sa.DateTime(timezone=True)))
    op.add_column("casehandler", sa.Column("returned_at", sa.DateTime(timezone=True)))
    op.add_column("casehandler", sa.Column("return_reason", sa.String(length=500)))
    op.create_table(
        "personaldataview",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("field_name", sa.String(length=24), nullable=False),
        sa.Column("why", sa.String(length=80), nullable=False),
        sa.Column("place", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_personaldataview_staff_at", "personaldataview", ["staff_id", "at"])
    op.create_index(op.f("ix_personaldataview_resident_id"), "personaldataview", ["resident_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_personaldataview_resident_id"), table_name="personaldataview")
    op.drop_index("ix_personaldataview_staff_at", table_name="personaldataview")
    op.drop_table("personaldataview")
    op.drop_column("staff", "desk_epoch")
    for column in ("return_reason", "returned_at", "accepted_at"):
        op.drop_column("casehandler", column)
