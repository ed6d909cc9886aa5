"""`linli export cases|appointments|needs|ratings|kpis --from DAY --to DAY [--out FILE]`: a
period's records as CSV for spreadsheets.

UTF-8 with a byte-order mark and formula-like cells defused (models/csv_export.py), column names
in Chinese (``--lang en`` for English) from bot/locales/*/calendars.toml, times in Beijing time.
The period runs from --from to --to, both days included (Asia/Shanghai). What each table holds,
and that it holds no phone number, ID number or name, is models/exports.py's; the KPIs are
models/kpis.py's, the rows the staff desk's numbers CSV is made of (``kpi_rows``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from bot.app import Linli
from bot.i18n import LANGS, t
from models.base import SHANGHAI
from models.csv_export import to_csv
from models.exports import (
    KINDS,
    Export,
    export_appointments,
    export_cases,
    export_needs,
    export_ratings,
)
from models.kpis import KpiScope, Period, kpi_report, report_csv

EXPORTS = (*KINDS, "kpis")
TIME_FORMAT = "%Y-%m-%d %H:%M"  # Beijing time; spreadsheets read it as a date and time
# Cells that hold a code, and the catalogue keys that word them (shared with the chat and desk).
WORDED = {
    ("cases", "kind"): "desk.kind_{}",
    ("cases", "status"): "desk.status_{}",
    ("appointments", "status"): "window.status_{}",
    ("needs", "stage"): "needs.stage_{}",
    ("ratings", "level"): "kpis.metric.ratings.level.{}",
    ("ratings", "subject"): "csv_export.subject.{}",
}


def shanghai_day(text: str) -> date:
    """A YYYY-MM-DD day (argparse type): anything else is a usage error, not a traceback."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_export_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """linli export KIND --from DAY --to DAY [--out FILE] [--lang L]."""
    export = commands.add_parser(
        "export",
        help="a period's records as CSV (UTF-8 with BOM, Beijing time, no personal data)",
        description=(
            "cases, needs and ratings made in the period; appointments held in it; "
            "kpis: the street's numbers for it"
        ),
    )
    export.add_argument("kind", choices=EXPORTS)
    for flag, dest, what in (("--from", "first", "first"), ("--to", "last", "last")):
        export.add_argument(
            flag,
            dest=dest,
            type=shanghai_day,
            required=True,
            metavar="YYYY-MM-DD",
            help=f"{what} day, included (Beijing time)",
        )
    export.add_argument("--out", type=Path, help="file to write (default: stdout)")
    export.add_argument("--lang", choices=LANGS, default="zh-CN", help="column language")


async def run_export(linli: Linli, args: argparse.Namespace) -> int:
    """Write the export; 2 for a period that ends before it starts, 1 when the file fails."""
    first, last = args.first, args.last
    if last < first:
        print(f"linli: --to {last} is before --from {first}", file=sys.stderr)
        return 2
    period = Period(first, last + timedelta(days=1))
    body, count = await export_csv(linli, args.kind, period, args.lang)
    if args.out is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return 0
    try:
        await asyncio.to_thread(args.out.write_bytes, body)
    except OSError as error:
        print(f"linli: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"wrote {count} {args.kind} rows from {first} to {last} to {args.out}", file=sys.stderr)
    return 0


async def export_csv(linli: Linli, kind: str, period: Period, lang: str) -> tuple[bytes, int]:
    """The CSV of one export and how many records (or metrics) it holds."""
    data_dir = Path(linli.settings.data_dir)
    async with linli.sessions() as session:
        if kind == "kpis":
            report = await kpi_report(
                session, period, KpiScope.street(), now=linli.clock.now(), data_dir=data_dir
            )
            body = report_csv(report, label=lambda code: t(lang, f"kpis.metric.{code}"), lang=lang)
            return body, body.count(b"\r\n") - 1
        if kind == "cases":
            table = await export_cases(session, period, lang, data_dir)
        elif kind == "appointments":
            table = await export_appointments(session, period, lang)
        elif kind == "needs":
            table = await export_needs(session, period, lang, data_dir)
        else:
            table = await export_ratings(session, period, lang)
    return to_csv(worded(table, kind, lang)), len(table.rows)


def worded(table: Export, kind: str, lang: str) -> list[list[object]]:
    """The table as spreadsheet rows: column names, then cells worded for a reader."""
    header: list[object] = [t(lang, f"csv_export.{kind}.{column}") for column in table.columns]
    keys = [WORDED.get((kind, column)) for column in table.columns]
    return [
        header,
        *(
            [_cell(lang, key, value) for key, value in zip(keys, row, strict=True)]
            for row in table.rows
        ),
    ]


def _cell(lang: str, key: str | None, value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).strftime(TIME_FORMAT)
    if key is not None:
        code = value.value if isinstance(value, StrEnum) else str(value)
        return t(lang, key.format(code))
    return value
