"""Needs (你需求我提供): submit in the resident's words, +1 an item once per person, rank items
by distinct supporters, and move them through their stages. Matching is in models/need_match.py,
renaming, merging and splitting in models/need_edit.py.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jieba import posseg
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import transaction_lock
from models.matching_text import matching_copy
from models.need_match import concepts_in, synonyms
from models.needs import OPEN_ITEM, Need, NeedItem, NeedItemEvent, NeedStage, NeedSupport
from models.personal_data import clip, remove_personal_data, without_placeholders

TEXT_LIMIT = 500
TITLE_LENGTH = 30  # a new item's title: the start of its first need
STAGE_ORDER = (
    NeedStage.COLLECTING,
    NeedStage.APPROVED,
    NeedStage.PLANNING,
    NeedStage.REVIEW,
    NeedStage.IMPLEMENTING,
    NeedStage.DONE,
)
_SUPPORT = NeedSupport.__table__  # type: ignore[attr-defined]
_ITEM = NeedItem.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NeedCategory:
    """One of the need categories in data/needs.toml."""

    code: str
    name_zh: str
    name_en: str
    keywords: tuple[str, ...]


def load_categories(data_dir: Path) -> tuple[NeedCategory, ...]:
    """The need categories, in file order."""
    data = tomllib.loads((data_dir / "needs.toml").read_text(encoding="utf-8"))
    return tuple(
        NeedCategory(c["code"], c["name_zh"], c["name_en"], tuple(c.get("keywords", [])))
        for c in data["categories"]
    )


def suggest_category(text: str, categories: tuple[NeedCategory, ...]) -> NeedCategory | None:
    """The category whose keywords the text mentions most, itself or by a near-synonym from
    data/need_synonyms.toml (None when none is mentioned)."""
    said = concepts_in(text)
    folded = matching_copy(text)

    def mentions(keyword: str) -> bool:
        return keyword in folded or not said.isdisjoint(synonyms().get(keyword, ()))

    scored = [(sum(mentions(word) for word in c.keywords), c) for c in categories]
    best = max(scored, key=lambda pair: pair[0], default=(0, None))
    return best[1] if best[0] > 0 else None


class UnusableNeedError(ValueError):
    """A need text we cannot take; the reason names the friendly answer."""


def clean_need_text(text: str) -> str:
    """The text to keep, personal data removed (needs are read by staff and, through their
    items, by neighbours), or UnusableNeedError("empty" | "too_short" | "no_words" |
    "too_long")."""
    # Kept as typed (a full-width "，" stays "，"); only matching reads a folded copy.
    kept = text.strip()
    if not kept:
        raise UnusableNeedError("empty")
    if len(kept) > TEXT_LIMIT:
        raise UnusableNeedError("too_long")
    cleaned = remove_personal_data(kept)
    meaningful = [ch for ch in without_placeholders(cleaned) if ch.isalnum()]
    if not meaningful:
        raise UnusableNeedError("no_words")  # emoji, punctuation or personal data only
    if len(meaningful) < 2:
        raise UnusableNeedError("too_short")
    return cleaned


def need_title(text: str) -> str:
    """A new item's title from a need's words: what is wanted, on one line, personal data removed
    and the clauses that only told who and where the resident is ("我叫〔姓名〕") left out."""
    unmarked = " ".join(_MARKUP.sub(" ", text).split()) or " ".join(text.split())
    cleaned = remove_personal_data(unmarked)
    clauses = [_without_personal_words(clause) for clause in _CLAUSE.findall(cleaned)]
    wanted = [clause for clause in clauses if not _only_personal(clause)] or clauses
    return clip("".join(wanted).strip(_CLAUSE_ENDS), TITLE_LENGTH) or clip(cleaned, TITLE_LENGTH)


# A clause runs to its punctuation mark (kept: the title reads as typed).
_CLAUSE_ENDS = "，,。.；;、！!？?：: "
_CLAUSE = re.compile(r"[^，,。；;、！!？?\n]+[，,。；;、！!？?\n]*")
# Words that introduce a resident's own details: a clause that starts with one and holds a
# placeholder says who or where they are, not what they want.
_PERSONAL_CUE = re.compile(
    r"\s*(?:我叫|我是|我的|本人|姓名|名字|我姓|住|家住|我住|我家|地址|电话|手机|联系|微信|qq"
    r"|身份证|车牌|my name|i am|i'm|i live|name|address|phone|tel|call me|contact|wechat)",
    re.IGNORECASE,
)
_LITTLE_ELSE = 4  # meaningful characters besides its placeholders


# Markup typed into a need ("<img src=x …>") is no part of what is wanted; shown escaped, it
# took the whole title's length.
_MARKUP = re.compile(r"</?[a-zA-Z][^<>\u4e00-\u9fff]{0,300}>")  # a tag, not "a<b 加装电梯 c>d"
_BARE_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _without_personal_words(clause: str) -> str:
    """The clause without its words (set apart by spaces) that are only personal data or only
    a person's name: "电话〔电话〕 张三 想要社区食堂" is 想要社区食堂 (a name with no 我叫 before
    it is no placeholder yet)."""
    parts = clause.split(" ")
    if len(parts) < 2 or without_placeholders(clause) == clause:
        return clause  # no personal data beside it: a word tagged a name is likelier a thing
    kept = [part for part in parts if not (_personal_chinese(part) or _a_name(part))]
    return " ".join(kept) if kept else clause


def _personal_chinese(part: str) -> bool:
    # Only Chinese words: an English clause's words are judged together, as a clause.
    return _only_personal(part) and _CJK.search(without_placeholders(part)) is not None


def _a_name(word: str) -> bool:
    if not _BARE_NAME.fullmatch(word):
        return False
    tagged = list(posseg.cut(word))
    return len(tagged) == 1 and tagged[0].flag == "nr"


def _only_personal(clause: str) -> bool:
    """Whether a clause holds personal data and little else."""
    if without_placeholders(clause) == clause:
        return False
    rest = sum(ch.isalnum() for ch in without_placeholders(clause))
    return rest <= _LITTLE_ELSE or _PERSONAL_CUE.match(clause) is not None


def text_hash(text: str) -> str:
    """The same words, however spaced or punctuated, hash the same (one need per resident)."""
    key = "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())
    return hashlib.sha256(key.encode()).hexdigest()


async def submit_need(
    session: AsyncSession,
    *,
    resident_id: int,
    text: str,
    now: datetime,
    category: str | None = None,
    community_id: int | None = None,
    grid_id: int | None = None,
    compound_id: int | None = None,
    submitted_by_staff_id: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> tuple[Need, bool]:
    """Record a need; the same resident with the same words gets the first one back."""
    cleaned = clean_need_text(text)
    digest = text_hash(cleaned)
    stmt = select(Need).where(Need.resident_id == resident_id, Need.text_hash == digest)
    existing = (await session.exec(stmt)).first()
    if existing is not None:
        return existing, False
    need = Need(
        resident_id=resident_id,
        text=cleaned,
        text_hash=digest,
        category=category,
        community_id=community_id,
        grid_id=grid_id,
        compound_id=compound_id,
        submitted_by_staff_id=submitted_by_staff_id,
        latitude=latitude,
        longitude=longitude,
        attachments=attachments or [],
        created_at=now,
    )
    session.add(need)
    await session.flush()
    return need, True


async def new_item(session: AsyncSession, need: Need, title: str, now: datetime) -> NeedItem:
    """A new item from a need; its resident is its first supporter."""
    item = NeedItem(
        title=clip(remove_personal_data(title), 120),
        category=need.category or "",
        community_id=need.community_id,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    await session.flush()
    need.item_id = item.id
    session.add(need)
    await support_item(session, item.id or 0, need.resident_id, now)
    return item


# One key for the whole street: creating an item is rare and quick, and the same words filed
# under two categories must still find each other.


async def lock_item_creation(session: AsyncSession) -> None:
    """Wait until no other transaction is creating an item, so that two residents saying the
    same thing at the same instant make one item: the second sees the first's when it looks.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: every transaction already holds the
    database's one write lock from its start (BEGIN IMMEDIATE).
    """
    await transaction_lock(session, "need-item-creation")


async def item_with_same_words(session: AsyncSession, need: Need) -> NeedItem | None:
    """The open item that a neighbour's need in the same words (text_hash) belongs to."""
    stmt = (
        select(NeedItem)
        .join(Need, col(Need.item_id) == col(NeedItem.id))
        .where(
            Need.text_hash == need.text_hash,
            col(Need.id) != need.id,
            *OPEN_ITEM,
        )
        .order_by(col(NeedItem.id))
        .limit(1)
    )
    return (await session.exec(stmt)).first()


async def join_item(session: AsyncSession, need: Need, item: NeedItem, now: datetime) -> bool:
    """Put a need in an item and count its resident as a supporter (once); whether they were
    not one before."""
    need.item_id = item.id
    session.add(need)
    added = await support_item(session, item.id or 0, need.resident_id, now)
    await session.refresh(item)
    return added


async def support_item(
    session: AsyncSession, item_id: int, resident_id: int, now: datetime
) -> bool:
    """+1 from a resident, once per person; whether this was a new supporter."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    added = await session.exec(
        insert(_SUPPORT)
        .values(item_id=item_id, resident_id=resident_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["item_id", "resident_id"])
    )
    if not added.rowcount:
        return False
    await session.exec(
        sa.update(_ITEM).where(_ITEM.c.id == item_id).values(supporters=_ITEM.c.supporters + 1)
    )
    return True


MERGE_HOPS = 5  # an item merged into one that was merged again: follow a few steps, no more


async def unplaced_needs(session: AsyncSession, resident_id: int, limit: int = 3) -> list[Need]:
    """The resident's own needs still waiting for them to choose an item (or make one), newest
    first: left at the similar-needs offer or the categories for other words."""
    stmt = (
        select(Need)
        .where(Need.resident_id == resident_id, col(Need.item_id).is_(None))
        .order_by(col(Need.created_at).desc())
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def items_of_resident(
    session: AsyncSession, resident_id: int, limit: int = 10
) -> list[NeedItem]:
    """The need items a resident raised or supported, each merged one followed to the item it
    went into, most recently changed first."""
    raised = select(Need.item_id).where(Need.resident_id == resident_id)
    backed = select(NeedSupport.item_id).where(NeedSupport.resident_id == resident_id)
    ids = {i for i in (await session.exec(raised)).all() if i is not None}
    ids |= set((await session.exec(backed)).all())
    found: dict[int, NeedItem] = {}
    for _ in range(MERGE_HOPS):
        if not ids:
            break
        rows = (await session.exec(select(NeedItem).where(col(NeedItem.id).in_(ids)))).all()
        ids = {row.merged_into_id for row in rows if row.merged_into_id is not None} - set(found)
        found |= {row.id or 0: row for row in rows if row.merged_into_id is None}
    return sorted(found.values(), key=lambda item: item.updated_at, reverse=True)[:limit]


async def top_items(
    session: AsyncSession,
    *,
    limit: int = 10,
    since: datetime | None = None,
    community_id: int | None = None,
    category: str | None = None,
) -> list[tuple[NeedItem, int]]:
    """Items ranked by distinct supporters (in the period, when one is given)."""
    count = func.count(col(NeedSupport.resident_id)).label("n")
    stmt = (
        select(NeedItem, count)
        .join(NeedSupport, col(NeedSupport.item_id) == col(NeedItem.id))
        .where(col(NeedItem.merged_into_id).is_(None))
        .group_by(col(NeedItem.id))
        .order_by(count.desc(), col(NeedItem.id))
        .limit(limit)
    )
    if since is not None:
        stmt = stmt.where(col(NeedSupport.created_at) >= since)
    if community_id is not None:
        stmt = stmt.where(NeedItem.community_id == community_id)
    if category is not None:
        stmt = stmt.where(NeedItem.category == category)
    return [(item, int(n)) for item, n in (await session.exec(stmt)).all()]


async def supporters_of(session: AsyncSession, item_id: int) -> list[int]:
    """The residents who support an item."""
    stmt = select(NeedSupport.resident_id).where(NeedSupport.item_id == item_id)
    return sorted(int(r) for r in (await session.exec(stmt)).all())


def can_move(item: NeedItem, stage: NeedStage) -> bool:
    """Stages go forward one step at a time, rejection only before implementation starts, and
    an item merged away stays where it was."""
    if item.stage in (NeedStage.DONE, NeedStage.REJECTED) or item.merged_into_id is not None:
        return False
    if stage is NeedStage.REJECTED:
        return STAGE_ORDER.index(item.stage) < STAGE_ORDER.index(NeedStage.IMPLEMENTING)
    return STAGE_ORDER.index(stage) == STAGE_ORDER.index(item.stage) + 1


async def change_stage(
    session: AsyncSession,
    item: NeedItem,
    stage: NeedStage,
    now: datetime,
    *,
    staff_id: int | None = None,
    reason: str | None = None,
) -> list[int] | None:
    """Move an item on; the supporters to tell, or None when the move is not allowed."""
    if not can_move(item, stage) or (stage is NeedStage.REJECTED and not reason):
        return None
    # Every supporter reads the reason: whatever personal data a clerk typed into it goes.
    reason = remove_personal_data(reason)[:500] if reason else None
    item.stage, item.updated_at = stage, now
    item.stage_reason = reason
    session.add(item)
    session.add(
        NeedItemEvent(
            item_id=item.id or 0, at=now, staff_id=staff_id, kind=stage.value, note=reason
        )
    )
    return await supporters_of(session, item.id or 0)
