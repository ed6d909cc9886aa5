"""models/anonymise.py: each kind of record filled with a phone, an ID number, a name and a door
number keeps none of them afterwards, while the rows, their statuses, dates, categories,
departments, links and rating levels stay exactly as they were; a second pass changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.app import Linli
from models.anonymise import (
    MARK,
    REMOVED,
    anonymise_accounts,
    anonymise_appointments,
    anonymise_case_events,
    anonymise_cases,
    anonymise_needs,
    anonymise_ratings,
    clean_text,
)
from models.booking import Appointment
from models.cases import Case, CaseEvent, CaseHandler, Rating
from models.messaging import ConversationState
from models.needs import Need
from models.people import ChannelIdentity
from tests.personal_records import (
    DOOR,
    NAME,
    PERSONAL,
    PHONE,
    TABLES,
    WORDS,
    Records,
    make_records,
    personal_data_left,
    shape,
)


async def _anonymise_all(linli: Linli, records: list[Records], names: list[str]) -> list[int]:
    """Every function over every record; how many rows each changed."""
    cases = [r.case_id for r in records]
    async with linli.sessions() as session, session.begin():
        return [
            await anonymise_cases(session, cases, names=names),
            await anonymise_case_events(session, cases, names=names),
            await anonymise_needs(session, [r.need_id for r in records], names=names),
            await anonymise_ratings(session, [r.rating_id for r in records]),
            await anonymise_appointments(session, [r.appointment_id for r in records]),
            await anonymise_accounts(session, [r.identity_id for r in records]),
        ]


async def test_no_personal_data_is_left_and_the_statistics_stay(linli: Linli) -> None:
    records = [await make_records(linli, ago=timedelta(days=400)) for _ in range(2)]
    async with linli.sessions() as session:
        before = await shape(session)
        for table in TABLES:
            assert await personal_data_left(session, table) == list(PERSONAL), table
    # Two cases; 4 notes each (the "received" step has none); two of each other kind.
    assert await _anonymise_all(linli, records, [NAME]) == [2, 8, 2, 2, 2, 2]
    async with linli.sessions() as session:
        for table in TABLES:
            assert await personal_data_left(session, table) == [], table
        assert await shape(session) == before
        identities = await session.exec(
            select(ChannelIdentity).where(
                col(ChannelIdentity.id).in_([r.identity_id for r in records])
            )
        )
        assert {i.display_name for i in identities.all()} == {None}


async def test_a_second_pass_changes_nothing(linli: Linli) -> None:
    records = [await make_records(linli, ago=timedelta(days=400))]
    await _anonymise_all(linli, records, [NAME])
    assert await _anonymise_all(linli, records, [NAME]) == [0, 0, 0, 0, 0, 0]


async def test_what_each_column_becomes(linli: Linli) -> None:
    """The office's record is cleaned (its words stay), the resident's own messages go whole."""
    records = await make_records(linli, ago=timedelta(days=400))
    await _anonymise_all(linli, [records], [])  # retention: no names known
    async with linli.sessions() as session:
        case = await session.get(Case, records.case_id)
        assert case is not None
        assert case.summary == clean_text(WORDS)
        assert "请帮忙代办社保卡" in case.summary  # what the case was about stays
        assert case.attachments == [] and case.latitude is None and case.longitude is None
        assert case.details["answers"]["address"] == "南街社区〔门牌〕"
        assert case.details["answers"]["time"] == "周六上午"
        assert case.details["transcript"] == [{"q": REMOVED, "a": "社保卡补办"}]
        assert case.details["category_code"] == "social_card"
        assert case.details[MARK] is True
        events = await session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == records.case_id)
            .order_by(col(CaseEvent.id))
        )
        notes = {e.kind: e.note for e in events.all()}
        assert notes["answer"] == notes["comment"] == REMOVED
        assert notes["received"] is None
        # No names given: the resident's own name is still found where it is written bare.
        expected = "已电话联系〔姓名〕（〔电话〕，证件〔证件号〕），上门地址南街社区〔门牌〕"
        assert notes["note"] == expected
        rating = await session.get(Rating, records.rating_id)
        assert rating is not None and rating.comment == REMOVED
        need = await session.get(Need, records.need_id)
        assert need is not None and need.text == clean_text(WORDS)
        assert need.attachments == [] and need.latitude is None
        appointment = await session.get(Appointment, records.appointment_id)
        assert appointment is not None and appointment.identity_id is None
        assert appointment.resident_id == records.resident_id  # the link stays
        assert await session.get(ConversationState, records.identity_id) is None
        handler = (
            await session.exec(select(CaseHandler).where(CaseHandler.case_id == records.case_id))
        ).one()
        assert handler.return_reason is not None and PHONE not in handler.return_reason
        assert DOOR not in handler.return_reason


async def test_only_the_records_named_are_touched(linli: Linli) -> None:
    kept = await make_records(linli, ago=timedelta(days=400))
    cleaned = await make_records(linli, ago=timedelta(days=400))
    await _anonymise_all(linli, [cleaned], [NAME])
    async with linli.sessions() as session:
        case = await session.get(Case, kept.case_id)
        assert case is not None and case.summary == WORDS and case.attachments
        assert await personal_data_left(
            session, CaseEvent, col(CaseEvent.case_id) == kept.case_id
        ) == list(PERSONAL)
        assert (
            await personal_data_left(session, CaseEvent, col(CaseEvent.case_id) == cleaned.case_id)
            == []
        )


async def test_other_names_given_are_removed_too(linli: Linli) -> None:
    """A name the resident is not registered under (a former one, a relative's) is removed
    where the caller names it; without it, it stays."""
    records = await make_records(linli, ago=timedelta(days=400))
    async with linli.sessions() as session, session.begin():
        case = await session.get(Case, records.case_id)
        assert case is not None
        case.summary = "李四代张三丰办理"
        session.add(case)
    async with linli.sessions() as session, session.begin():
        await anonymise_cases(session, [records.case_id])
        case = await session.get(Case, records.case_id)
        assert case is not None and case.summary == "李四代〔姓名〕办理"
        await anonymise_cases(session, [records.case_id], names=["李四"])
        await session.refresh(case)
        assert case.summary == "〔姓名〕代〔姓名〕办理"


def test_names_are_found_bare_and_in_any_case() -> None:
    assert clean_text("Li Lei came; li lei called", ["Li Lei"]) == "〔姓名〕 came; 〔姓名〕 called"
    assert clean_text("张三丰和张三", ["张三", "张三丰"]) == "〔姓名〕和〔姓名〕"
    assert clean_text("王来过", ["王"]) == "王来过"  # one character is no name to look for
