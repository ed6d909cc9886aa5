"""A resident's consent to keep a kind of personal data (a phone number, an ID number), asked
with its reason the first time a feature needs it; withdrawing it removes the datum."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import utc_field


class ConsentPurpose(StrEnum):
    """The kinds of personal data Linli asks consent for."""

    PHONE = "phone"
    ID_NUMBER = "id_number"


class Consent(SQLModel, table=True):
    """One answer to a consent question: given (or refused) at a time, withdrawn later."""

    __table_args__ = (sa.Index("ix_consent_resident_purpose", "resident_id", "purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    resident_id: int = Field(foreign_key="resident.id")
    purpose: str = Field(max_length=16)
    given: bool = True  # False: the resident said no (not asked again for this purpose)
    wording: str = Field(max_length=16)  # which version of the question was shown
    answered_at: datetime = utc_field()
    withdrawn_at: datetime | None = Field(default=None)
