"""personal data out of needs, need item titles and their history

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 16:00:00

Needs are stored with personal data removed since issue 16; this cleans what was stored before.
A title that is the start of one of the needs (as every title made from a need is) is made
again from that need's whole text, so a phone or ID number cut in half at the 30th character
goes too; a title a staff member typed is cleaned as it is. The item history keeps old titles:
those are cleaned, and a number cut at the end of a 30-character title is dropped. There is no
way back: downgrading leaves the cleaned text.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.need_ops import TITLE_LENGTH, need_title
from models.personal_data import remove_personal_data


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
TITLE_EVENTS = ("renamed", "merged", "merged_into", "split", "split_from")
_NEED = sa.table('need', sa.column('id', sa.Integer), sa.column('text', sa.String))
_ITEM = sa.table('needitem', sa.column('id', sa.Integer), sa.column('title', sa.String))
_EVENT = sa.table(
    'needitemevent',
    sa.column('id', sa.Integer),
    sa.column('kind', sa.String),
    sa.column('note', sa.String),
)
_CUT_NUMBER = re.compile(r"[0-9Xx][0-9Xx \-]{2,}$")


def upgrade() -> None:
    connection = op.get_bind()
    sources = _needs_by_title(connection)  # read before the needs themselves are cleaned
    _clean_column(connection, _ITEM, 'title', lambda title: _title(sources, title))
    _clean_column(connection, _NEED, 'text', remove_personal_data)
    _clean_column(connection, _EVENT, 'note', _note, _EVENT.c.kind.in_(TITLE_EVENTS))


def downgrade() -> None:
    pass  # removed personal data is not brought back


def _clean_column(connection, table, name, clean, *where) -> None:
    """Rewrite one text column, in batches of rows by id, where cleaning changes it."""
    column, last = table.c[name], 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, column)
            .where(table.c.id > last, column.is_not(None), *where)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        for row_id, text in rows:
            cleaned = clean(text)
            if cleaned != text:
                connection.execute(
                    sa.update(table).where(table.c.id == row_id).values({name: cleaned})
                )
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


def _needs_by_title(connection) -> dict[str, str]:
    """Each need's text under the title an item made from it would have had."""
    sources: dict[str, str] = {}
    last = 0
    while True:
        rows = connection.execute(
            sa.select(_NEED.c.id, _NEED.c.text)
            .where(_NEED.c.id > last)
            .order_by(_NEED.c.id)
            .limit(BATCH)
        ).all()
        for _, text in rows:
            sources.setdefault(text[:TITLE_LENGTH], text)
        if len(rows) < BATCH:
            return sources
        last = rows[-1][0]


def _title(sources: dict[str, str], title: str) -> str:
    """A title made from a need again from that need's text; any other title cleaned."""
    source = sources.get(title)
    return need_title(source) if source is not None else remove_personal_data(title)


def _note(note: str) -> str:
    """An old title in the history (after '#12 ' for a split), cleaned."""
    number, _, title = note.partition(' ') if note.startswith('#') else ('', '', note)
    cleaned = remove_personal_data(title)
    if len(title) == TITLE_LENGTH:  # made from a need, maybe cut inside a number
        cleaned = _CUT_NUMBER.sub('', cleaned).rstrip()
    return f"{number} {cleaned}" if number else cleaned
