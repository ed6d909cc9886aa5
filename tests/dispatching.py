"""Test help: the street's dispatcher calls departments to a grid report, as the desk would."""

from __future__ import annotations

from sqlmodel import select

from bot.app import Linli
from bot.outgoing.case_news import announce_dispatch
from models.case_ops import case_catalogue
from models.cases import Case, CaseKind
from models.dispatch import dispatch_case
from models.org import Department, Staff


async def dispatch(linli: Linli, case_id: int, lead: str, *co: str, days: int = 5) -> None:
    """Dispatcher S042 calls `lead` and the co-handlers `co` to the case, and everyone is told
    (as the desk's dispatch page does)."""
    async with linli.sessions() as session, session.begin():
        dispatcher = (await session.exec(select(Staff).where(Staff.code == "S042"))).one()
        case = await session.get(Case, case_id)
        assert case is not None
        departments = {d.code: d for d in (await session.exec(select(Department))).all()}
        refusal = await dispatch_case(
            session,
            case,
            dispatcher,
            lead=departments[lead],
            co=[departments[c] for c in co],
            working_days=days,
            now=linli.clock.now(),
        )
        assert refusal is None
        await announce_dispatch(
            session, case, now=linli.clock.now(), data_dir=linli.settings.data_dir
        )


async def dispatch_as_suggested(linli: Linli, case_id: int) -> None:
    """Dispatch a grid report to the departments its category suggests."""
    async with linli.sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None
    code = case.details.get("category_code")
    category = case_catalogue(linli.settings.data_dir).category(CaseKind.GRID_REPORT, str(code))
    assert category is not None
    await dispatch(linli, case_id, category.department, *category.co)
