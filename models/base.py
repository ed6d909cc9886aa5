"""Column types and helpers shared by every table family."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field

SHANGHAI = ZoneInfo("Asia/Shanghai")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes and store UTC (naive on SQLite, which has no zone type)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the backend gave."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_field(*, nullable: bool = False, index: bool = False, default: Any = ...) -> Any:
    """A timezone-aware timestamp column."""
    kwargs: dict[str, Any] = {"sa_type": UTCDateTime, "nullable": nullable, "index": index}
    if default is not ...:
        kwargs["default"] = default
    return Field(**kwargs)


def json_field(*, default_factory: Any = dict) -> Any:
    """A JSON column (TEXT on SQLite, JSON on PostgreSQL)."""
    return Field(default_factory=default_factory, sa_type=sa.JSON)


def enum_field(default: Any = ..., *, length: int = 24, index: bool = False) -> Any:
    """A short string column holding a str-Enum value, portable across backends."""
    kwargs: dict[str, Any] = {"sa_type": sa.String(length), "index": index}
    if default is not ...:
        kwargs["default"] = default
    return Field(**kwargs)


def to_local(moment: datetime) -> datetime:
    """Show a stored UTC instant in the street's time zone."""
    return moment.astimezone(SHANGHAI)
