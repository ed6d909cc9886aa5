"""wechat callback replay memory

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('wechatcallback',
    sa.Column('timestamp', sa.String(length=16), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=128), nullable=False),
    sa.Column('message_id', sa.String(length=160), nullable=False),
    sa.Column('seen_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('timestamp', 'nonce', 'signature')
    )
    with op.batch_alter_table('wechatcallback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wechatcallback_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('wechatcallback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechatcallback_seen_at'))
    op.drop_table('wechatcallback')
