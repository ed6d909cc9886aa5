"""Fault: the disk under the SQLite file fills up while residents submit needs (a small tmpfs
mounted for the test, so it runs as root): polite answers, nothing acknowledged lost, no
corruption, and writes work again once space is freed."""

from __future__ import annotations

from pathlib import Path

from bench.chaos_disk import PER_PHASE, disk_full


async def test_a_full_disk_is_answered_politely_and_corrupts_nothing(
    sqlite_template: Path, tmp_path: Path
) -> None:
    result = await disk_full(sqlite_template, tmp_path)
    assert result.lost == []  # no 500, every acknowledged need kept, writes work after
    assert result.duplicated == []
    assert "PRAGMA integrity_check: ok" in result.notes
    assert result.polite_errors > 0  # the disk really was full for someone
    assert PER_PHASE * 2 <= result.acknowledged < PER_PHASE * 3
