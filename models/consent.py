"""A resident's consent to keep a kind of personal data (a phone number, an ID number), asked
with its reason the first time a feature needs it; withdrawing it removes the datum."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utc_field
from models.people import Resident, set_id_number, set_phone


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


# Bumped when the wording of a consent question changes, so each answer says what was asked.
WORDING = "2026-12"


async def consent_answer(
    session: AsyncSession, resident_id: int, purpose: ConsentPurpose
) -> Consent | None:
    """The resident's latest answer for a purpose that is still standing (not withdrawn)."""
    stmt = (
        select(Consent)
        .where(
            Consent.resident_id == resident_id,
            Consent.purpose == purpose.value,
            col(Consent.withdrawn_at).is_(None),
        )
        .order_by(col(Consent.id).desc())
    )
    return (await session.exec(stmt)).first()


def record_consent(
    session: AsyncSession, resident_id: int, purpose: ConsentPurpose, given: bool, now: datetime
) -> Consent:
    """Write down the resident's answer to a consent question."""
    answer = Consent(
        resident_id=resident_id,
        purpose=purpose.value,
        given=given,
        wording=WORDING,
        answered_at=now,
    )
    session.add(answer)
    return answer


async def withdraw_consent(
    session: AsyncSession, resident: Resident, purpose: ConsentPurpose, now: datetime
) -> bool:
    """Withdraw a given consent and remove the datum it covered; False if none was standing."""
    answer = await consent_answer(session, resident.id or 0, purpose)
    if answer is None or not answer.given:
        return False
    answer.withdrawn_at = now
    session.add(answer)
    if purpose == ConsentPurpose.PHONE:
        set_phone(resident, None)
    else:
        set_id_number(resident, None)
    session.add(resident)
    return True
