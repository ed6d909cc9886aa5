"""Fault: the WeChat API answers 503 and then refuses connections for twelve minutes (on the
injected clock): the outbox holds every message, gives none up, and drains them after, once
each and in the order queued for each person."""

from __future__ import annotations

from bench.chaos_outage import PEOPLE, PER_PERSON, channel_outage


async def test_the_outbox_holds_through_an_outage_and_drains_in_order(db_url: str) -> None:
    result = await channel_outage(db_url)
    assert result.acknowledged == PEOPLE * PER_PERSON
    assert result.lost == []
    assert result.duplicated == []
    assert result.disordered == []
    assert not any("given up" in note for note in result.notes), result.notes
