"""How a case and its timeline read, and the messages a case sends to people."""

from __future__ import annotations

from datetime import datetime

from bot.context import Context
from bot.i18n import t
from bot.outgoing import Name, for_resident, for_staff, pushes, queue
from bot.outgoing.message import Moment, Value
from bot.outgoing.tell import case_category
from handlers.staff import active_staff
from models.case_ops import CaseCatalogue, case_catalogue, department_staff
from models.cases import CONCERNS, Case, CaseEvent
from models.org import Department, Staff
from models.policy import Viewer, about_staff, handler_departments, may_be_alerted
from models.supervision import answering_supervisor

RESIDENT_HIDDEN = ("note",)  # staff notes stay inside the office
WORDS_LIMIT = 500


def catalogue(ctx: Context) -> CaseCatalogue:
    """data/cases.toml, read once per data directory."""
    return case_catalogue(ctx.settings.data_dir)


def when(lang: str, moment: datetime | None) -> str:
    """11月30日 10:00 / 30 Nov 10:00."""
    return "" if moment is None else Moment(moment).render(lang)


def status_text(ctx: Context, case: Case) -> str:
    """The case's status in plain words."""
    return ctx.t(f"cases.status_{case.status}")


def event_line(lang: str, event: CaseEvent) -> str:
    """One timeline step in plain words."""
    values = {k: v for k, v in event.data.items() if isinstance(v, str | int)}
    values.setdefault("department", "")
    values.setdefault("staff", "")
    values.setdefault("window", "")
    text = t(lang, f"cases.event_{event.kind}", note=event.note or "", **values)
    return f"{when(lang, event.at)} {text}"


def timeline_text(ctx: Context, case: Case, events: list[CaseEvent], *, for_staff: bool) -> str:
    """The case and its steps; residents do not see staff notes."""
    lines = [
        ctx.t(
            "cases.header",
            ref=case.ref,
            category=category_name(ctx, case).render(ctx.lang),
            status=status_text(ctx, case),
        ),
        ctx.t("cases.summary", summary=case.summary),
    ]
    # What the intake asked (上门地址, 位置 …), as the resident answered it.
    answers = case.details.get("answers")
    if isinstance(answers, dict):
        lines += [ctx.t(f"cases.answered_{q}", answer=a) for q, a in answers.items()]
    if case.due_at is not None:
        lines.append(ctx.t("cases.due", due=when(ctx.lang, case.due_at)))
    shown = [e for e in events if for_staff or e.kind not in RESIDENT_HIDDEN]
    lines += [event_line(ctx.lang, event) for event in shown]
    return "\n".join(lines)


async def tell_resident(
    ctx: Context,
    case: Case,
    key: str,
    buttons: list[tuple[str, str]] | None = None,
    **values: Value,
) -> None:
    """A message about the case to its resident, on whichever account they used last."""
    if case.resident_id is None:
        return
    news = pushes.case_news(
        key,
        ref=case.ref,
        category=category_name(ctx, case),
        options=tuple(buttons or ()),
        **values,
    )
    await queue(
        ctx.unit.connection, news, [for_resident(case.resident_id)], kind="case", now=ctx.now()
    )


async def alert_department(
    ctx: Context, case: Case, department_id: int, *, co: bool = False
) -> int:
    """The assigned-case alert, with accept and view buttons, to a department's staff."""
    department = await ctx.session.get(Department, department_id)
    alert = pushes.case_alert(
        co=co,
        case_id=case.id or 0,
        ref=case.ref,
        category=category_name(ctx, case),
        summary=case.summary,
        department=department_name(department),
        due_at=case.due_at,
    )
    if about_staff(case):  # reopened or transferred: its owner, else who answers for them
        members = await _answering(ctx, case, department_id)
    else:
        members = await department_staff(ctx.session, department_id)
    people = [for_staff(person.id or 0) for person in members if may_be_alerted(person, case)]
    return await queue(ctx.unit.connection, alert, people, kind="alert", now=ctx.now())


async def _answering(ctx: Context, case: Case, department_id: int) -> list[Staff]:
    """Who answers a case about a staff member: its owner, else that department's supervisor."""
    if case.assignee_staff_id is not None:
        owner = await ctx.session.get(Staff, case.assignee_staff_id)
        return [owner] if owner is not None and owner.active else []
    concerned = case.details.get(CONCERNS)
    supervisor = await answering_supervisor(
        ctx.session, department_id, concerned if isinstance(concerned, int) else None
    )
    return [supervisor] if supervisor is not None else []


async def alert_handlers(ctx: Context, case: Case) -> None:
    """The alert to the lead department and to every co-handling one (协同整治); a complaint
    about a staff member only to the supervisor who owns it."""
    if case.details.get(CONCERNS) is not None and case.assignee_staff_id is not None:
        await _alert_complaint_owner(ctx, case)
        return
    for department_id, handler in (await handler_departments(ctx.session, case)).items():
        await alert_department(ctx, case, department_id, co=not handler.lead)


async def _alert_complaint_owner(ctx: Context, case: Case) -> None:
    concerned = await ctx.session.get(Staff, case.details.get(CONCERNS))
    alert = pushes.complaint_about_staff(
        ref=case.ref,
        concerns=concerned.name if concerned else "—",
        summary=case.summary,
        due_at=case.due_at,
    )
    owner = [for_staff(case.assignee_staff_id or 0)]
    await queue(ctx.unit.connection, alert, owner, kind="alert", now=ctx.now())


def category_name(ctx: Context, case: Case) -> Name:
    """A case's category in both languages, for a message read in either."""
    return case_category(case, ctx.settings.data_dir)


def department_name(department: Department | None) -> Name:
    """A department's name in both languages, for a message read in either."""
    if department is None:
        return Name("")
    return Name(department.name_zh, department.name_en or "")


async def viewer(ctx: Context) -> Viewer:
    """Who is looking: a bound, active staff member, else the resident behind the account."""
    staff = await active_staff(ctx)
    if staff is not None:
        return Viewer(staff=staff)
    return Viewer(resident_id=ctx.identity.resident_id)
