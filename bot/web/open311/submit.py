"""POST requests: a form read and checked field by field (the spec's names), then the case
opened through the same domain code as the chat (models.case_ops.open_case, a complaint routed
past a named staff member, the departments alerted through bot/outgoing/case_news), or the need
filed as the chat files it (models.need_ops.submit_need)."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from multidict import MultiMapping
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outgoing import case_news
from bot.web.open311.queries import Refusal
from bot.web.open311.views import ANSWER_LIMIT
from models.case_ops import case_catalogue, open_case
from models.cases import Case, CaseKind
from models.complaints import route_past_named_staff
from models.dispatch import goes_to_dispatch, in_queue
from models.need_ops import TEXT_LIMIT, UnusableNeedError
from models.open311 import (
    Service,
    Services,
    file_need,
    need_request_id,
    new_resident,
    resident_for_phone,
)
from models.org import get_street
from models.people import Resident, normalise_mobile

DESCRIPTION_LIMIT = 2000  # a case's summary column
NAME_LIMIT = 40  # the resident's name column
URL_LIMIT = 500
PLACE_QUESTIONS = ("address", "place")  # address_string answers these when not given
_ATTRIBUTE = re.compile(r"attribute\[([^\[\]]{1,64})\](\[\])?")
# Controls other than tab and newline never belong in what a person wrote.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


Form = MultiMapping[Any]  # a posted form: text fields (and, from a multipart body, files)


@dataclass(frozen=True)
class Submission:
    """A request as the form gave it, checked."""

    service: Service
    description: str
    answers: dict[str, str] = field(default_factory=dict)
    phone: str | None = None
    name: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    media_url: str | None = None


def read_submission(form: Form, services: Services) -> Submission:
    """The submission a form holds, or Refusal naming what is wrong."""
    code = _text(form, "service_code", 80)
    if not code:
        raise Refusal("open311.error_no_service", {})
    service = services.find(code)
    if service is None:
        raise Refusal("open311.error_unknown_service", {"code": code})
    if not service.requestable:
        raise Refusal("open311.error_not_requestable", {"code": code})
    limit = TEXT_LIMIT if service.is_need else DESCRIPTION_LIMIT
    description = _text(form, "description", 10 * limit)
    if not description:
        raise Refusal("open311.error_no_description", {})
    if len(description) > limit:
        too_long = "need_too_long" if service.is_need else "description_too_long"
        raise Refusal(f"open311.error_{too_long}", {"limit": limit})
    latitude, longitude = _location(form)
    return Submission(
        service=service,
        description=description,
        answers=_answers(form, service),
        phone=_phone(form),
        name=_name(form),
        latitude=latitude,
        longitude=longitude,
        media_url=_media_url(form),
    )


def _text(form: Form, name: str, limit: int) -> str:
    """A text field, stripped of control characters; Refusal when it is not text or far too
    long to be anything but noise."""
    value = form.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        raise Refusal("open311.error_bad_text", {"field": name})
    return _CONTROL.sub("", unicodedata.normalize("NFC", value)).strip()


def _answers(form: Form, service: Service) -> dict[str, str]:
    answers: dict[str, str] = {}
    for key in form:
        found = _ATTRIBUTE.fullmatch(key)
        if key.startswith("attribute") and found is None:
            raise Refusal("open311.error_unknown_attribute", {"code": key[:80]})
        if found is None:
            continue
        code = found.group(1)
        if code not in service.questions:
            raise Refusal("open311.error_unknown_attribute", {"code": code})
        values = form.getall(key)
        if not all(isinstance(v, str) for v in values):
            raise Refusal("open311.error_bad_text", {"field": key})
        answer = _CONTROL.sub("", "、".join(v.strip() for v in values if v.strip())).strip()
        if len(answer) > ANSWER_LIMIT:
            raise Refusal("open311.error_attribute_too_long", {"code": code, "limit": ANSWER_LIMIT})
        if answer:
            answers[code] = answer
    place = _text(form, "address_string", ANSWER_LIMIT)
    for question in service.questions:
        if question in PLACE_QUESTIONS and question not in answers and place:
            answers[question] = place
        if question not in answers:
            raise Refusal("open311.error_missing_attribute", {"code": question})
    return answers


def _phone(form: Form) -> str | None:
    typed = _text(form, "phone", 40)
    if not typed:
        return None
    mobile = normalise_mobile(typed)
    if mobile is None:
        raise Refusal("open311.error_bad_phone", {})
    return mobile


def _name(form: Form) -> str | None:
    first, last = _text(form, "first_name", 200), _text(form, "last_name", 200)
    if not (first or last):
        return None
    # 张 + 三 reads 张三; John + Smith reads John Smith.
    cjk = any(unicodedata.east_asian_width(ch) == "W" for ch in first + last)
    name = f"{last}{first}" if cjk else f"{first} {last}".strip()
    return name[:NAME_LIMIT]


def _location(form: Form) -> tuple[float | None, float | None]:
    lat, lon = _text(form, "lat", 40), _text(form, "long", 40)
    if not lat and not lon:
        return None, None
    try:
        latitude, longitude = float(lat), float(lon)
    except ValueError:
        raise Refusal("open311.error_bad_location", {}) from None
    finite = math.isfinite(latitude) and math.isfinite(longitude)
    if not finite or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise Refusal("open311.error_bad_location", {})
    return latitude, longitude


def _media_url(form: Form) -> str | None:
    url = _text(form, "media_url", 10 * URL_LIMIT)
    if not url:
        return None
    if len(url) > URL_LIMIT or not re.fullmatch(r"https?://\S+", url, re.IGNORECASE):
        raise Refusal("open311.error_bad_media_url", {"limit": URL_LIMIT})
    return url


@dataclass(frozen=True)
class Filed:
    """What a submission became: its service_request_id (a case's reference or need-<id>)."""

    request_id: str
    case: Case | None = None


async def file_request(
    session: AsyncSession,
    submission: Submission,
    *,
    key_id: int,
    now: datetime,
    data_dir: Path,
) -> Filed:
    """Open the case (departments alerted) or file the need; Refusal for an unusable need."""
    resident: Resident | None = None
    if submission.phone is not None:
        resident = await resident_for_phone(session, submission.phone, submission.name, now)
    service = submission.service
    if service.is_need:
        resident = resident or await new_resident(session, now)
        try:
            need = await file_need(
                session, resident, service.category or "", submission.description, now
            )
        except UnusableNeedError as unusable:
            raise Refusal(f"open311.error_need_{unusable}", {"limit": TEXT_LIMIT}) from None
        return Filed(need_request_id(need))
    case = await _open(session, submission, resident, key_id=key_id, now=now, data_dir=data_dir)
    return Filed(case.ref, case)


async def _open(
    session: AsyncSession,
    submission: Submission,
    resident: Resident | None,
    *,
    key_id: int,
    now: datetime,
    data_dir: Path,
) -> Case:
    """The case, opened and alerted exactly as handlers/cases.open_and_alert does for chat."""
    kind = submission.service.kind or CaseKind.CONSULTATION
    street = await get_street(session)
    media = [{"kind": "url", "ref": submission.media_url}] if submission.media_url else []
    case = await open_case(
        session,
        case_catalogue(data_dir),
        kind=kind,
        category_code=submission.service.category,
        summary=submission.description,
        details={"answers": submission.answers, "open311_key": key_id},
        now=now,
        street_code=street.code if street else "LC",
        resident_id=resident.id if resident else None,
        grid_id=resident.grid_id if resident else None,
        attachments=media,
        latitude=submission.latitude,
        longitude=submission.longitude,
        to_dispatch=await goes_to_dispatch(session, kind),
    )
    if kind == CaseKind.COMPLAINT:
        await route_past_named_staff(session, case, now)
    if in_queue(case):
        await case_news.alert_dispatchers(
            session, case, "dispatch.alert_new", now=now, data_dir=data_dir
        )
    else:
        await case_news.alert_handlers(session, case, now=now, data_dir=data_dir)
    return case
