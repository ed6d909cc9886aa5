"""Keys that other systems (the district's 12345 hotline, city platforms) use on the public API.

Only a hash of each key is kept; the key itself is shown once, when it is made.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import utc_field


class ApiKey(SQLModel, table=True):
    """One named key for the Open311 API; revoked keys stay, for the record."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)  # who holds it, e.g. "温江区12345热线"
    prefix: str = Field(max_length=12, index=True)  # the first characters, to tell keys apart
    key_hash: str = Field(max_length=64, unique=True)  # SHA-256 hex of the whole key
    created_at: datetime = utc_field()
    revoked_at: datetime | None = utc_field(nullable=True, default=None)
    last_used_at: datetime | None = utc_field(nullable=True, default=None)
