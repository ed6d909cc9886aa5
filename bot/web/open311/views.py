"""What each Open311 answer holds, in the reader's language (?locale=en or Accept-Language; else
Chinese): discovery, a service, a service definition, a request, the answer to a submission."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from bot.i18n import normalize_lang, t
from bot.outgoing.message import Moment
from bot.web.open311.formats import CONTENT_TYPES, moment
from models.open311 import PublicRequest, Service
from models.org import Street

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this API last changed in a way a client could notice (discovery's changeset).
CHANGESET = datetime.fromisoformat("2026-12-06T00:00:00+08:00")
ANSWER_LIMIT = 1000  # an attribute's answer: what the chat takes in one message


def reader_lang(request: web.Request) -> str:
    """?locale=en wins, else the first Accept-Language, else Chinese."""
    asked = request.query.get("locale") or request.headers.get("Accept-Language") or ""
    return normalize_lang(asked.split(",")[0].split(";")[0]) or "zh-CN"


def _pick(lang: str, zh: str, en: str | None) -> str:
    return en if lang == "en" and en else zh


def discovery(base_url: str, street: Street | None, lang: str) -> dict[str, Any]:
    """GET discovery: who to contact, how to get a key, and this endpoint."""
    contact = ""
    if street is not None:
        contact = t(
            lang,
            "open311.contact",
            street=_pick(lang, street.name_zh, street.name_en),
            address=_pick(lang, street.address_zh, street.address_en),
        )
    return {
        "changeset": moment(CHANGESET),
        "contact": contact,
        "key_service": t(lang, "open311.key_service"),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base_url,
                "changeset": moment(CHANGESET),
                "type": "production",
                "formats": list(CONTENT_TYPES.values()),
            }
        ],
    }


def service(entry: Service, lang: str) -> dict[str, Any]:
    """One service of the list."""
    return {
        "service_code": entry.code,
        "service_name": _pick(lang, entry.name_zh, entry.name_en),
        "description": _describe(entry, lang),
        "metadata": bool(entry.questions),
        "type": "realtime",  # a request is a case (or a need) as soon as it is accepted
        "keywords": ", ".join(entry.keywords),
        "group": group_name(entry, lang),
    }


def group_name(entry: Service, lang: str) -> str:
    """The group a service is listed under: its case type, or needs."""
    if entry.is_need:
        return t(lang, "open311.group_need")
    return _pick(lang, entry.group_zh, entry.group_en)


def _describe(entry: Service, lang: str) -> str:
    name = _pick(lang, entry.name_zh, entry.name_en)
    if entry.is_need:
        return t(lang, "open311.describe_need", name=name)
    key = "open311.describe_proxy" if entry.category else "open311.describe_case"
    return t(
        lang,
        key,
        name=name,
        first_reply=entry.first_reply_days or 0,
        deadline=entry.deadline_days or 0,
    )


def definition(entry: Service, lang: str) -> dict[str, Any]:
    """GET services/{code}: the attributes, one per intake question of the service's type."""
    return {
        "service_code": entry.code,
        "attributes": [
            {
                "variable": True,
                "code": question,
                "datatype": "string",
                "required": True,
                "datatype_description": t(lang, "open311.datatype_text", limit=ANSWER_LIMIT),
                "order": order,
                "description": t(lang, f"open311.attribute_{question}"),
            }
            for order, question in enumerate(entry.questions, 1)
        ],
    }


def public_request(found: PublicRequest, lang: str) -> dict[str, Any]:
    """One request as anyone may read it."""
    entry = found.service
    name = _pick(lang, entry.name_zh, entry.name_en) if entry else found.service_code
    return {
        "service_request_id": found.request_id,
        "status": "open" if found.open else "closed",
        "status_notes": _state(found, lang),
        "service_name": name,
        "service_code": found.service_code,
        # A resident's own words are not published (models/open311._case_request): the service.
        "description": found.description or name,
        "agency_responsible": agency(found, lang),
        "service_notice": notice(found, lang),
        "requested_datetime": moment(found.requested_at),
        "updated_datetime": moment(found.updated_at),
        "expected_datetime": moment(found.expected_at),
        "address": found.address,
        "lat": found.latitude,
        "long": found.longitude,
    }


def _state(found: PublicRequest, lang: str) -> str:
    key = f"needs.stage_{found.state}" if found.is_need else f"cases.status_{found.state}"
    return t(lang, key)


def agency(found: PublicRequest, lang: str) -> str:
    """The department that handles it (the dispatch centre until one is called; the street
    office for a need)."""
    if found.is_need:
        return t(lang, "open311.agency_needs")
    if found.department_zh is None:
        return t(lang, "open311.agency_dispatch")
    return _pick(lang, found.department_zh, found.department_en)


def notice(found: PublicRequest, lang: str) -> str:
    """What happens next, and by when."""
    if found.is_need:
        category = (
            _pick(lang, found.service.name_zh, found.service.name_en) if found.service else ""
        )
        return t(lang, "open311.notice_need", category=category)
    first_reply = Moment(found.first_reply_at).render(lang) if found.first_reply_at else ""
    if found.department_zh is None:
        return t(lang, "open311.notice_dispatch", ref=found.request_id, first_reply=first_reply)
    return t(
        lang,
        "open311.notice_case",
        ref=found.request_id,
        department=agency(found, lang),
        first_reply=first_reply,
        due=Moment(found.expected_at).render(lang) if found.expected_at else "",
    )
