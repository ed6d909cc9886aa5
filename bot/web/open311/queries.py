"""GET requests' filters, read as the spec defines them: service_request_id (a comma list that
overrides every other filter), service_code (a comma list), start_date and end_date (ISO 8601,
at most 90 days apart; the last 90 days by default), status (open, closed or both)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from models.base import SHANGHAI
from models.open311 import LATEST, RequestQuery, Service, Services

WINDOW = timedelta(days=90)
MOST_IDS = 1000
LONGEST_ID = 40
STATUSES = ("open", "closed")
# "…T10:00:00+08:00" written into a URL without encoding arrives with a space for the "+".
_PLUS_AS_SPACE = re.compile(r"(.*T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})")


@dataclass(frozen=True)
class Refusal(Exception):  # noqa: N818 (a refusal, not a failure)
    """A filter that cannot be used: the catalogue key of the 400 answer and its values."""

    key: str
    values: Mapping[str, object]


def request_query(params: Mapping[str, str], services: Services, now: datetime) -> RequestQuery:
    """The query the parameters ask for, or Refusal."""
    ids = _comma_list(params.get("service_request_id", ""))
    if len(ids) > MOST_IDS:
        raise Refusal("open311.error_too_many_ids", {"limit": MOST_IDS})
    if ids:
        return RequestQuery(ids=tuple(i for i in ids if len(i) <= LONGEST_ID))
    start, end = _window(params, now)
    return RequestQuery(
        services=_services(params.get("service_code", ""), services),
        start=start,
        end=end,
        status=_status(params.get("status", "")),
        limit=LATEST,
    )


def _comma_list(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for part in text.split(","):
        if part.strip():
            seen[part.strip()] = None
    return list(seen)


def _services(text: str, services: Services) -> tuple[Service, ...]:
    wanted = []
    for code in _comma_list(text):
        found = services.find(code)
        if found is None:
            raise Refusal("open311.error_unknown_service", {"code": code[:LONGEST_ID]})
        wanted.append(found)
    return tuple(wanted)


def _status(text: str) -> str | None:
    asked = {part.lower() for part in _comma_list(text)}
    if not asked <= set(STATUSES):
        raise Refusal("open311.error_bad_status", {})
    return asked.pop() if len(asked) == 1 else None  # both, or none: every status


def _window(params: Mapping[str, str], now: datetime) -> tuple[datetime, datetime]:
    start = _moment(params, "start_date")
    end = _moment(params, "end_date")
    try:
        if start is None and end is None:
            end = now
        if start is None:
            assert end is not None
            start = end - WINDOW
        if end is None:
            end = start + WINDOW
    except OverflowError:
        raise Refusal("open311.error_bad_window", {"days": WINDOW.days}) from None
    if end < start or end - start > WINDOW:
        raise Refusal("open311.error_bad_window", {"days": WINDOW.days})
    return start, end


def _moment(params: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 date or date and time (without an offset: the street's time), or None."""
    text = params.get(name, "").strip()
    if not text:
        return None
    if (spaced := _PLUS_AS_SPACE.fullmatch(text)) is not None:
        text = f"{spaced.group(1)}+{spaced.group(2)}"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=SHANGHAI)
        return parsed.astimezone(UTC)  # also refuses an instant UTC cannot hold (year 0)
    except (ValueError, OverflowError):
        raise Refusal("open311.error_bad_date", {"field": name}) from None
