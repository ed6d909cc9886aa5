"""Telling every supporter of a need item about a new stage, once each."""

from __future__ import annotations

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

    queued = 0
    for resident_id in residents:
        queued += await queue_once(
            connection,
            dedupe_key=f"need:{item.id}:{stage}:{resident_id}",
            kind="need",
            payload=localized(text),
            now=now,
            resident_id=resident_id,
        )
    return queued
