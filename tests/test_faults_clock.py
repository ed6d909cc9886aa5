"""Fault: the clock jumps forward three days and back two hours (twice) around due reminders,
case deadlines and a waitlist offer, with every scheduler tick run after each move."""

from __future__ import annotations

from bench.chaos_clock import clock_jumps


async def test_clock_jumps_send_nothing_twice_and_break_no_tick(db_url: str) -> None:
    result = await clock_jumps(db_url)
    assert result.acknowledged > 0
    assert result.duplicated == []
    assert result.lost == [], result.notes  # failed ticks, deadlines or offers left behind
