"""bind code guesses counted per code

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 10:00:00

Wrong bind codes used to be counted street-wide, so one guesser could stop every staff member
from binding. Each code now has a selector (a keyed hash of its first characters) and a count of
wrong guesses aimed at it. Codes issued before this have no selector; they expire within a day.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('bindcode', schema=None) as batch_op:
        batch_op.add_column(sa.Column('selector', sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column('failures', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.create_index(batch_op.f('ix_bindcode_selector'), ['selector'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bindcode', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bindcode_selector'))
        batch_op.drop_column('failures')
        batch_op.drop_column('selector')
