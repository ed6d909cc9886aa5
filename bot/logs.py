"""Structured logging: JSON lines in production, readable lines in a terminal."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

from pythonjsonlogger.json import JsonFormatter

from bot.redact import RedactingFilter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class TextWithExtras(logging.Formatter):
    """Readable lines that still show the structured fields passed with extra={…}."""

    def format(self, record: logging.LogRecord) -> str:
        """The usual line, then key=value for each extra field."""
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def setup_logging(
    level: str = "INFO", fmt: str = "text", secrets: Mapping[str, str] | None = None
) -> None:
    """Log every logger to stderr in the chosen format, secrets and personal numbers blanked."""
    handler = logging.StreamHandler(sys.stderr)
    # On the handler, not a logger: a logger's filter would miss records of its children
    # (httpx, aiohttp, telegram, wechatpy, …) that propagate to the root's handler.
    handler.addFilter(RedactingFilter(secrets or {}))
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", json_ensure_ascii=False)
        )
    else:
        handler.setFormatter(TextWithExtras(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
