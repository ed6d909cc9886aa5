"""How a case and its timeline read, and the messages a case sends to people."""

from __future__ import annotations

from datetime import datetime

from bot.context import Context
from bot.i18n import t
from bot.outgoing import Name, case_news
from bot.outgoing.message import Moment, Value
from bot.outgoing.tell import case_category
from handlers.staff import active_staff
from models.case_ops import CaseCatalogue, case_catalogue
from models.cases import Case, CaseEvent
from models.dispatch import in_queue
from models.policy import Viewer

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
    await case_news.tell_resident(
        ctx.session,
        case,
        key,
        now=ctx.now(),
        data_dir=ctx.settings.data_dir,
        buttons=buttons,
        **values,
    )


async def alert_department(
    ctx: Context, case: Case, department_id: int, *, co: bool = False
) -> int:
    """The assigned-case alert, with accept and view buttons, to a department's staff."""
    return await case_news.alert_department(
        ctx.session, case, department_id, now=ctx.now(), data_dir=ctx.settings.data_dir, co=co
    )


async def alert_handlers(ctx: Context, case: Case) -> None:
    """The alert to the lead department and to every co-handling one (协同整治), or, for a
    grid report waiting in the dispatch queue, to the street's dispatchers."""
    if in_queue(case):
        await case_news.alert_dispatchers(
            ctx.session, case, "dispatch.alert_new", now=ctx.now(), data_dir=ctx.settings.data_dir
        )
        return
    await case_news.alert_handlers(ctx.session, case, now=ctx.now(), data_dir=ctx.settings.data_dir)


def category_name(ctx: Context, case: Case) -> Name:
    """A case's category in both languages, for a message read in either."""
    return case_category(case, ctx.settings.data_dir)


async def viewer(ctx: Context) -> Viewer:
    """Who is looking: a bound, active staff member, else the resident behind the account."""
    staff = await active_staff(ctx)
    if staff is not None:
        return Viewer(staff=staff)
    return Viewer(resident_id=ctx.identity.resident_id)
