"""CSV for spreadsheets: UTF-8 with a byte-order mark, so that Excel and WPS open Chinese text
correctly when the file is double-clicked (without the mark they guess a local code page)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

BOM = b"\xef\xbb\xbf"


def to_csv(rows: Iterable[Sequence[object]]) -> bytes:
    """The rows as CSV bytes: BOM, UTF-8, comma-separated, CRLF line ends (RFC 4180), every
    value written as ``str`` (None as an empty cell)."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return BOM + text.getvalue().encode("utf-8")
