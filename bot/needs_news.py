"""Telling the supporters of a need item what happened to it, once each (through the outbox)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.i18n import t
from models.messaging import queue_once
from models.needs import NeedItem, NeedStage
from scheduler.context import localized


async def announce_stage(
    connection: AsyncConnection,
    item: NeedItem,
    stage: NeedStage,
    residents: list[int],
    now: datetime,
) -> int:
    """Queue the news for each supporter (a repeat of the same stage queues nothing)."""

    def text(lang: str) -> str:
        news = t(
            lang, "needs.stage_notice", title=item.title, stage=t(lang, f"needs.stage_{stage}")
        )
        if stage is NeedStage.REJECTED and item.stage_reason:
            news += t(lang, "needs.reason", reason=item.stage_reason)
        return news

    return await _tell(connection, f"need:{item.id}:{stage}", text, residents, now)


async def announce_merge(
    connection: AsyncConnection,
    keep: NeedItem,
    absorbed: NeedItem,
    residents: list[int],
    now: datetime,
) -> int:
    """Tell the absorbed item's supporters where their need went (once each)."""

    def text(lang: str) -> str:
        return t(
            lang, "needs.merge_notice", old=absorbed.title, title=keep.title, count=keep.supporters
        )

    return await _tell(connection, f"need:{absorbed.id}:merged", text, residents, now)


async def _tell(
    connection: AsyncConnection,
    key: str,
    text: Callable[[str], str],
    residents: list[int],
    now: datetime,
) -> int:
    queued = 0
    for resident_id in residents:
        queued += await queue_once(
            connection,
            dedupe_key=f"{key}:{resident_id}",
            kind="need",
            payload=localized(text),
            now=now,
            resident_id=resident_id,
        )
    return queued
