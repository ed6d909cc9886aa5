"""Days and times as residents type them: read in models.when (the one reader, which the
understanding of free text uses too); the handlers import it from here."""

from __future__ import annotations

from models.when import DayPart, WhenAsked, parse_when, read_number, without_when

__all__ = ["DayPart", "WhenAsked", "parse_when", "read_number", "without_when"]
