"""A logging filter that blanks configured secrets and personal data out of log records.

Personal data (phone and ID card numbers, plates, e-mail, bank cards, …) is found by the same
rules that clean what residents write before others read it (models.personal_data).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from urllib.parse import quote

from models.personal_data import Kind, remove_personal_data

# Bank-card-like runs of digits are left: the platforms' message ids look just like them.
LOGGED_KINDS = frozenset(Kind) - {Kind.BANK_CARD}

# Credentials the platforms put in URLs and headers that no setting holds (e.g. access tokens).
CREDENTIAL = re.compile(
    r"(?i)((?<![a-z0-9])(?:access_token|refresh_token|token|appsecret|secret|secret_token"
    r"|password|api_key|apikey)=)[^&\s\"'<>]+"
    r"|(\b(?:Bearer|Basic)\s+)[^\s\"'<>]+"
)
# Everything a LogRecord has of its own; the rest are the extra={…} fields.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class Redactor:
    """Replaces secrets (each named by its setting) and personal numbers in a piece of text."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._names = {form: name for name, value in secrets.items() for form in _forms(value)}
        longest_first = sorted(self._names, key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, longest_first))) if self._names else None

    def __call__(self, text: str) -> str:
        """The text with every secret and piece of personal data replaced by a marker."""
        if self._secrets is not None:
            text = self._secrets.sub(lambda found: f"[redacted {self._names[found[0]]}]", text)
        text = CREDENTIAL.sub(lambda found: (found[1] or found[2]) + "[redacted]", text)
        return remove_personal_data(text, LOGGED_KINDS)


class RedactingFilter(logging.Filter):
    """Cleans every record a handler emits: message, arguments, extra fields, traceback."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        super().__init__()
        self.redact = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place (other handlers then see the cleaned one) and keep it."""
        record.msg, record.args = self.redact(_message(record)), None
        if record.exc_info is not None:
            record.exc_text = record.exc_text or logging.Formatter().formatException(
                record.exc_info
            )
            record.exc_info = None  # formatters would print the raw traceback again
        for name in ("exc_text", "stack_info"):
            value = getattr(record, name)
            if value:
                setattr(record, name, self.redact(value))
        for name, value in list(vars(record).items()):
            if name not in _STANDARD:
                setattr(record, name, self._clean(value))
        return True

    def _clean(self, value: object) -> object:
        """An extra field as it was, or as redacted text when its text held something."""
        text = value if isinstance(value, str) else str(value)
        cleaned = self.redact(text)
        return value if cleaned == text else cleaned


def _forms(value: str) -> set[str]:
    """How a secret shows: as set, URL-encoded, and the secret part of an `<id>:<secret>` token."""
    bot_id, colon, part = value.partition(":")
    forms = {value, quote(value, safe="")}
    if colon and bot_id.isdigit():
        forms.add(part)  # a Telegram bot token: the bot's id is public, the rest is not
    return {form for form in forms if form}


def _message(record: logging.LogRecord) -> str:
    """The formatted message; a broken format string must not make logging itself fail."""
    try:
        return record.getMessage()
    except (TypeError, ValueError):
        return f"{record.msg} {record.args!r}"
