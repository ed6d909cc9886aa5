"""The street's matters as Open311 GeoReport v2 sees them: services (the case types a resident
can ask for, and the need categories) with stable codes, and requests (cases and needs) read
back without personal data. The HTTP side is bot/web/open311/; this is the domain under it.

Codes: `proxy.<category>` (全程代办, e.g. proxy.ss-card), `complaint`, `dispute`,
`consultation`, `need.<category>` (e.g. need.library). Grid reports are read as
`grid.<category>` but are not a service anyone outside can ask for; return visits (a poor
rating called back) concern staff and are never published.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.case_card import intake_answers
from models.case_ops import CaseCatalogue, case_catalogue
from models.cases import OPEN_STATUSES, Case, CaseKind
from models.consent import ConsentPurpose, record_consent
from models.need_ops import (
    item_with_same_words,
    join_item,
    load_categories,
    lock_item_creation,
    need_title,
    new_item,
    submit_need,
)
from models.needs import Need, NeedItem, NeedStage
from models.org import Department, Staff
from models.people import ChannelIdentity, Resident, normalise_mobile, set_phone
from models.personal_data import PLACEHOLDERS, Kind, remove_personal_data
from models.refs import canonical_reference
from models.sealed import lookup_hash

NEED = "need"
GRID = "grid"
# The kinds of case a resident (or the hotline for them) can ask for, in the order listed.
REQUESTABLE_KINDS = (CaseKind.PROXY, CaseKind.COMPLAINT, CaseKind.DISPUTE, CaseKind.CONSULTATION)
# The kinds of case published as requests (return visits concern staff: never).
PUBLISHED_KINDS = (*REQUESTABLE_KINDS, CaseKind.GRID_REPORT)
CLOSED_STAGES = (NeedStage.DONE, NeedStage.REJECTED)
NEED_ID = re.compile(r"need-(\d{1,9})")
SHORTEST_NAME = 2  # a one-character "name" would take that character out of every word
PLACE_DECIMALS = 3  # about 100 m
LATEST = 1000  # the most requests one answer carries (the spec's default limit)


@dataclass(frozen=True)
class Service:
    """One Open311 service: a case type (of a category) or a need category."""

    code: str
    group: str  # proxy, complaint, dispute, consultation, grid_report or need
    category: str | None  # the category code in data/cases.toml or data/needs.toml
    name_zh: str
    name_en: str
    group_zh: str  # the case type's name ("" for needs: the web layer names the group)
    group_en: str
    keywords: tuple[str, ...]
    questions: tuple[str, ...]  # the intake questions, which become its attributes
    requestable: bool = True
    first_reply_days: int | None = None
    deadline_days: int | None = None

    @property
    def is_need(self) -> bool:
        """Whether a request for this service is a need, not a case."""
        return self.group == NEED

    @property
    def kind(self) -> CaseKind | None:
        """The kind of case this service opens (None for a need)."""
        return None if self.is_need else CaseKind(self.group)


@dataclass(frozen=True)
class Services:
    """Every service, by code."""

    all: tuple[Service, ...]

    def listed(self) -> tuple[Service, ...]:
        """The services anyone may ask for, in the order they are shown."""
        return tuple(s for s in self.all if s.requestable)

    def find(self, code: str) -> Service | None:
        """A service by its code (grid report codes too)."""
        return next((s for s in self.all if s.code == code), None)

    def code_of(self, case: Case) -> str:
        """The service code a case is read back under."""
        kind = CaseKind(case.kind)
        found = next(
            (
                s
                for s in self.all
                if s.kind == kind and (s.category is None or s.name_zh == case.category)
            ),
            None,
        )
        return found.code if found is not None else kind.value


@cache
def open311_services(data_dir: Path) -> Services:
    """The services of a data directory (data/cases.toml and data/needs.toml), read once."""
    catalogue = case_catalogue(data_dir)
    services: list[Service] = []
    for kind in (*REQUESTABLE_KINDS, CaseKind.GRID_REPORT):
        services += _case_services(catalogue, kind)
    services += [
        Service(f"{NEED}.{c.code}", NEED, c.code, c.name_zh, c.name_en, "", "", c.keywords, ())
        for c in load_categories(data_dir)
    ]
    return Services(tuple(services))


def _case_services(catalogue: CaseCatalogue, kind: CaseKind) -> list[Service]:
    spec = catalogue.types.get(kind)
    if spec is None:
        return []
    common: dict[str, Any] = {
        "group": kind.value,
        "group_zh": spec.name_zh,
        "group_en": spec.name_en,
        "questions": spec.questions,
        "requestable": kind != CaseKind.GRID_REPORT,
        "first_reply_days": spec.first_reply_days,
        "deadline_days": spec.deadline_days,
    }
    categories = catalogue.categories.get(kind, ())
    if not categories:
        return [
            Service(
                code=kind.value,
                category=None,
                name_zh=spec.name_zh,
                name_en=spec.name_en,
                keywords=(),
                **common,
            )
        ]
    prefix = GRID if kind == CaseKind.GRID_REPORT else kind.value
    return [
        Service(
            code=f"{prefix}.{c.code}",
            category=c.code,
            name_zh=c.name_zh,
            name_en=c.name_en,
            keywords=c.keywords,
            **common,
        )
        for c in categories
    ]


@dataclass(frozen=True)
class PublicRequest:
    """A case or a need as anyone may read it: no names, phones, ID or door numbers, no
    resident's address, no account."""

    request_id: str
    service: Service | None
    service_code: str
    open: bool
    state: str  # the case status or the need's stage (the web layer words it)
    is_need: bool
    description: str
    department_zh: str | None
    department_en: str | None
    requested_at: datetime
    updated_at: datetime
    expected_at: datetime | None
    first_reply_at: datetime | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class RequestQuery:
    """What GET requests asks for: ids (which override everything else), or services, a
    window of requested times, open or closed."""

    ids: tuple[str, ...] = ()
    services: tuple[Service, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    status: str | None = None  # "open", "closed" or None for both
    limit: int = LATEST


def request_keys(ids: Iterable[str]) -> tuple[list[str], list[int]]:
    """Case references and need ids among the ids asked for (other shapes match nothing)."""
    refs: list[str] = []
    needs: list[int] = []
    for given in ids:
        found = NEED_ID.fullmatch(given.strip().lower())
        if found is not None:
            needs.append(int(found.group(1)))
        elif (ref := canonical_reference(given)) is not None:
            refs.append(ref)
    return refs, needs


async def find_requests(
    session: AsyncSession, services: Services, query: RequestQuery
) -> list[PublicRequest]:
    """The requests a query asks for, newest first, at most query.limit."""
    scrub = _Scrubber(await _staff_names(session))
    if query.ids:
        refs, need_ids = request_keys(query.ids)
        cases = await _cases(session, sa.true(), col(Case.ref).in_(refs)) if refs else []
        needs = await _needs(session, col(Need.id).in_(need_ids)) if need_ids else []
    else:
        cases, needs = await _in_window(session, query)
    found = [_case_request(services, scrub, *row) for row in cases]
    found += [
        request for row in needs if (request := _need_request(services, scrub, *row)) is not None
    ]
    found.sort(key=lambda r: (r.requested_at, r.request_id), reverse=True)
    return found[: query.limit]


async def _in_window(
    session: AsyncSession, query: RequestQuery
) -> tuple[list[Sequence[Any]], list[Sequence[Any]]]:
    kinds = [s for s in query.services if not s.is_need]
    need_codes = [s.category for s in query.services if s.is_need]
    cases: list[Sequence[Any]] = []
    needs: list[Sequence[Any]] = []
    if not query.services or kinds:
        where = _window(col(Case.created_at), query)
        if query.status is not None:
            is_open = col(Case.status).in_(OPEN_STATUSES)
            where.append(is_open if query.status == "open" else sa.not_(is_open))
        wanted = sa.or_(*(_case_service(s) for s in kinds)) if kinds else sa.true()
        cases = await _cases(session, wanted, *where, limit=query.limit)
    if not query.services or need_codes:
        where = _window(col(Need.created_at), query)
        if need_codes:
            where.append(col(Need.category).in_(need_codes))
        if query.status is not None:
            closed = sa.and_(col(NeedItem.id).is_not(None), col(NeedItem.stage).in_(CLOSED_STAGES))
            where.append(closed if query.status == "closed" else sa.not_(closed))
        needs = await _needs(session, *where, limit=query.limit)
    return cases, needs


def _window(column: Any, query: RequestQuery) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if query.start is not None:
        where.append(column >= query.start)
    if query.end is not None:
        where.append(column <= query.end)
    return where


def _case_service(service: Service) -> sa.ColumnElement[bool]:
    kind = col(Case.kind) == service.kind
    return sa.and_(kind, col(Case.category) == service.name_zh) if service.category else kind


async def _cases(
    session: AsyncSession, *where: sa.ColumnElement[bool], limit: int | None = None
) -> list[Sequence[Any]]:
    stmt = (
        select(Case, col(Department.name_zh), col(Department.name_en), col(Resident.name))
        .outerjoin(Department, col(Department.id) == col(Case.department_id))
        .outerjoin(Resident, col(Resident.id) == col(Case.resident_id))
        .where(col(Case.kind).in_(PUBLISHED_KINDS), *where)
        .order_by(col(Case.created_at).desc(), col(Case.id).desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.exec(stmt)).all())


async def _needs(
    session: AsyncSession, *where: sa.ColumnElement[bool], limit: int | None = None
) -> list[Sequence[Any]]:
    stmt = (
        select(Need, col(NeedItem.stage), col(NeedItem.updated_at), col(Resident.name))
        .outerjoin(NeedItem, col(NeedItem.id) == col(Need.item_id))
        .outerjoin(Resident, col(Resident.id) == col(Need.resident_id))
        .where(col(Need.category).is_not(None), *where)
        .order_by(col(Need.created_at).desc(), col(Need.id).desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.exec(stmt)).all())


def _case_request(
    services: Services,
    scrub: _Scrubber,
    case: Case,
    department_zh: str | None,
    department_en: str | None,
    resident_name: str | None,
) -> PublicRequest:
    code = services.code_of(case)
    public_place = CaseKind(case.kind) == CaseKind.GRID_REPORT  # a street, never a home
    place = intake_answers(case).get("place") if public_place else None
    return PublicRequest(
        request_id=case.ref,
        service=services.find(code),
        service_code=code,
        open=case.status in OPEN_STATUSES,
        state=str(case.status),
        is_need=False,
        # A resident's own words may name others, their health or their home, beyond what
        # any pattern finds: only a grid report (staff writing about a public place) is told.
        description=scrub(case.summary, resident_name) if public_place else "",
        department_zh=department_zh,
        department_en=department_en,
        requested_at=case.created_at,
        updated_at=case.updated_at,
        expected_at=case.due_at,
        first_reply_at=case.first_reply_due_at,
        address=scrub(place, resident_name) if place else None,
        latitude=_rounded(case.latitude) if public_place else None,
        longitude=_rounded(case.longitude) if public_place else None,
    )


def _need_request(
    services: Services,
    scrub: _Scrubber,
    need: Need,
    stage: NeedStage | None,
    item_updated_at: datetime | None,
    resident_name: str | None,
) -> PublicRequest | None:
    service = services.find(f"{NEED}.{need.category}")
    if service is None:
        return None  # a category no longer offered: not readable by its code
    return PublicRequest(
        request_id=need_request_id(need),
        service=service,
        service_code=service.code,
        open=stage not in CLOSED_STAGES,
        state=str(stage or NeedStage.COLLECTING),
        is_need=True,
        description="",  # a resident's own words (see _case_request): the category only
        department_zh=None,
        department_en=None,
        requested_at=need.created_at,
        updated_at=max(need.created_at, item_updated_at or need.created_at),
        expected_at=None,
    )


def _rounded(degrees: float | None) -> float | None:
    """A public place to about 100 m: enough to find the street, not a doorway."""
    return None if degrees is None else round(degrees, PLACE_DECIMALS)


def need_request_id(need: Need) -> str:
    """A need's service_request_id (needs have no reference number of their own)."""
    return f"{NEED}-{need.id}"


async def _staff_names(session: AsyncSession) -> list[str]:
    return [name for name in (await session.exec(select(Staff.name))).all() if name]


class _Scrubber:
    """Personal data out of a text: the patterns of models.personal_data, then every staff
    member's name and the resident's own name written bare ("4号窗口的王丽态度很差")."""

    def __init__(self, names: Iterable[str]) -> None:
        self.staff = _names_pattern(names)

    def __call__(self, text: str, resident_name: str | None) -> str:
        cleaned = remove_personal_data(text)
        name = PLACEHOLDERS[Kind.NAME]
        if self.staff is not None:
            cleaned = self.staff.sub(name, cleaned)
        own = _names_pattern([resident_name] if resident_name else [])
        return own.sub(name, cleaned) if own is not None else cleaned


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    kept = sorted({n.strip() for n in names if len(n.strip()) >= SHORTEST_NAME}, key=len)
    if not kept:
        return None
    return re.compile("|".join(re.escape(n) for n in reversed(kept)), re.IGNORECASE)


HOTLINE_WORDING = "open311"  # the consent was taken by the system that called the API


async def resident_for_phone(
    session: AsyncSession, phone: str, name: str | None, now: datetime
) -> Resident:
    """The resident the hotline filed this mobile number for before (found by its keyed hash),
    or a new one with it; a name is kept only for a new resident."""
    mobile = normalise_mobile(phone)
    if mobile is None:
        raise ValueError("not a mainland mobile number")
    # Only a resident the hotline made before: a number nobody verified must not attach a
    # caller's request (and its words) to a chat account that gave the same number.
    chatting = select(ChannelIdentity.resident_id).where(
        col(ChannelIdentity.resident_id).is_not(None)
    )
    stmt = select(Resident).where(
        Resident.phone_lookup == lookup_hash(mobile), col(Resident.id).not_in(chatting)
    )
    found = (await session.exec(stmt.order_by(col(Resident.id)))).first()
    if found is not None:
        return found
    resident = Resident(name=(name or None) and name[:40], created_at=now)
    set_phone(resident, mobile)
    session.add(resident)
    await session.flush()
    # The hotline asked the caller for the number (its own consent, for this request): written
    # down with its own wording mark, so that 我的数据 shows it and can withdraw it.
    answer = record_consent(session, resident.id or 0, ConsentPurpose.PHONE, True, now)
    answer.wording = HOTLINE_WORDING
    return resident


async def new_resident(session: AsyncSession, now: datetime) -> Resident:
    """A resident nobody can reach, for a need filed without a phone (a need has its person)."""
    resident = Resident(created_at=now)
    session.add(resident)
    await session.flush()
    return resident


async def file_need(
    session: AsyncSession, resident: Resident, category: str, text: str, now: datetime
) -> Need:
    """A need filed for a resident in a chosen category, as the chat files it once the resident
    chose the category: it joins a neighbour's item in the same words, else it starts a new item
    (staff merge similar items later). UnusableNeedError when the text cannot be kept."""
    need, created = await submit_need(
        session,
        resident_id=resident.id or 0,
        text=text,
        now=now,
        category=category,
        community_id=resident.community_id,
        grid_id=resident.grid_id,
        compound_id=resident.compound_id,
    )
    if not created or need.item_id is not None:
        return need
    await lock_item_creation(session)  # from here to the commit no other item is made
    same = await item_with_same_words(session, need)
    if same is not None:
        await join_item(session, need, same, now)
    else:
        await new_item(session, need, need_title(need.text), now)
    return need


async def find_need(session: AsyncSession, request_id: str) -> Need | None:
    """A need by its service_request_id."""
    found = NEED_ID.fullmatch(request_id)
    return await session.get(Need, int(found.group(1))) if found else None
