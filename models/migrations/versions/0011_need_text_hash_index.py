"""needs found by their words

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 19:40:00

A need in the same words as a neighbour's joins the neighbour's item at once (issue 18, item 8):
needs are looked up by text_hash, which was only indexed behind resident_id.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("need", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_need_text_hash"), ["text_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("need", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_need_text_hash"))
