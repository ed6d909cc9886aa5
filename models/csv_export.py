"""CSV for spreadsheets: UTF-8 with a byte-order mark, so that Excel and WPS open Chinese text
correctly when the file is double-clicked (without the mark they guess a local code page)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

BOM = b"\xef\xbb\xbf"
# A cell a spreadsheet would run as a formula (=HYPERLINK(…) typed as a need by a resident).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def to_csv(rows: Iterable[Sequence[object]]) -> bytes:
    """The rows as CSV bytes: BOM, UTF-8, comma-separated, CRLF line ends (RFC 4180), every
    value written as ``str`` (None as an empty cell, formula-like text defused)."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return BOM + text.getvalue().encode("utf-8")


def _cell(value: object) -> object:
    """A value as a spreadsheet should show it: text that would start a formula gets a
    leading apostrophe (shown as typed, never run); numbers, even negative ones, stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _numeric(value):
        return "'" + value
    return value


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
