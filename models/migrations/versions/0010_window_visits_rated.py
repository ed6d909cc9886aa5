"""window visits rated without an appointment

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 20:00:00

A resident may rate a visit to a department's window that had no appointment (评价 → 窗口办事).
The visit is recorded when it is rated, one a day per resident and department, so each visit is
rated once like an appointment or a case. Return visits (回访) opened by a poor rating are cases
of a new kind, `return_visit`, in the existing `cases` table (its kind is a plain string).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "windowvisit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resident_id", "department_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("windowvisit")
