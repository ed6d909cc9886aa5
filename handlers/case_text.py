"""How a case and its timeline read, and the messages a case sends to people."""

from __future__ import annotations

from datetime import datetime

from bot.context import Context
from bot.i18n import t
from bot.outgoing import Name, case_news
from bot.outgoing.message import Moment, Value
from bot.outgoing.tell import case_category
from handlers.common import localized
from handlers.staff import active_staff
from models.case_card import CaseCard, HandlerPart, intake_answers
from models.case_ops import CaseCatalogue, case_catalogue
from models.cases import Case, CaseEvent, CaseKind
from models.dispatch import in_queue
from models.personal_data import remove_personal_data
from models.policy import Viewer

RESIDENT_HIDDEN = ("note",)  # staff notes stay inside the office
WORDS_LIMIT = 1000  # what the chat takes in one message: nothing typed is cut


def catalogue(ctx: Context) -> CaseCatalogue:
    """data/cases.toml, read once per data directory."""
    return case_catalogue(ctx.settings.data_dir)


def when(lang: str, moment: datetime | None) -> str:
    """11月30日 10:00 / 30 Nov 10:00."""
    return "" if moment is None else Moment(moment).render(lang)


def status_text(ctx: Context, case: Case) -> str:
    """The case's status in plain words."""
    return ctx.t(f"cases.status_{case.status}")


def event_line(lang: str, event: CaseEvent, *, for_staff: bool = True, redact: bool = False) -> str:
    """One timeline step in plain words (a department's reason for returning a call stays
    inside the office; personal data in the note removed when redact is set)."""
    values = {k: v for k, v in event.data.items() if isinstance(v, str | int)}
    values.setdefault("department", "")
    if lang == "en" and values.get("department_en"):  # recorded in both since 2026-12-07
        values["department"] = values["department_en"]
    values.setdefault("staff", "")
    values.setdefault("window", "")
    kind = event.kind if for_staff or event.kind != "returned" else "returned_public"
    note = remove_personal_data(event.note) if redact and event.note else event.note or ""
    text = t(lang, f"cases.event_{kind}", note=note, **values)
    return f"{when(lang, event.at)} {text}"


def timeline_text(
    ctx: Context,
    case: Case,
    events: list[CaseEvent],
    *,
    for_staff: bool,
    card: CaseCard | None = None,
) -> str:
    """The case and its steps; residents do not see staff notes; staff get the card too."""
    lines = [
        ctx.t(
            "cases.header",
            ref=case.ref,
            category=category_name(ctx, case).render(ctx.lang),
            status=status_text(ctx, case),
        ),
        ctx.t("cases.summary", summary=card.summary if card is not None else case.summary),
    ]
    # What the intake asked (上门地址, 位置 …), as the resident answered it.
    answers = card.answers if card is not None else intake_answers(case)
    lines += [ctx.t(f"cases.answered_{q}", answer=a) for q, a in answers.items()]
    if card is not None:
        lines += card_lines(ctx, case, card)
    if case.due_at is not None:
        lines.append(ctx.t("cases.due", due=when(ctx.lang, case.due_at)))
    shown = [e for e in events if for_staff or e.kind not in RESIDENT_HIDDEN]
    # Staff see personal data in the timeline only where the card shows it in full (and logs it).
    redact = card is not None and not card.phone_shown
    lines += [event_line(ctx.lang, event, for_staff=for_staff, redact=redact) for event in shown]
    return "\n".join(lines)


def card_lines(ctx: Context, case: Case, card: CaseCard) -> list[str]:
    """The staff card: kind, resident, location, attachments, first-reply time, departments."""
    kind = catalogue(ctx).types.get(CaseKind(case.kind))
    lines = (
        [ctx.t("cases.card_kind", kind=localized(ctx, kind.name_zh, kind.name_en))] if kind else []
    )
    if card.name or card.phone:
        key = "cases.card_resident" if card.phone_shown else "cases.card_resident_masked"
        lines.append(ctx.t(key, name=card.name or "—", phone=card.phone or "—"))
    if card.id_number:
        lines.append(ctx.t("cases.card_id_number", id_number=card.id_number))
    if card.location is not None:
        lines.append(
            ctx.t(
                "cases.card_location", lat=f"{card.location[0]:.5f}", lon=f"{card.location[1]:.5f}"
            )
        )
    if card.attachments:
        lines.append(ctx.t("cases.card_attachments", count=len(card.attachments)))
    if case.first_reply_due_at is not None and case.first_replied_at is None:
        lines.append(ctx.t("cases.card_first_reply", due=when(ctx.lang, case.first_reply_due_at)))
    lines += [
        ctx.t(
            f"cases.card_part_{_part_state(p)}",
            department=localized(ctx, p.name_zh, p.name_en),
            reason=p.return_reason or "",
        )
        for p in card.parts
    ]
    return lines


def _part_state(part: HandlerPart) -> str:
    role = "lead" if part.lead else "co"
    if part.returned_at is not None:
        return "returned"
    if part.done_at is not None:
        return f"{role}_done"
    return f"{role}_accepted" if part.accepted_at is not None else f"{role}_called"


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
    ctx: Context, case: Case, department_id: int, *, co: bool = False, reopened: str | None = None
) -> int:
    """The assigned-case alert, with accept and view buttons, to a department's staff; for a
    case the resident reopened, the words they reopened it with."""
    return await case_news.alert_department(
        ctx.session,
        case,
        department_id,
        now=ctx.now(),
        data_dir=ctx.settings.data_dir,
        co=co,
        reopened=reopened,
    )


async def alert_handlers(ctx: Context, case: Case) -> int:
    """The alert to the lead department and to every co-handling one (协同整治), or, for a
    grid report waiting in the dispatch queue, to the street's dispatchers; how many were sent."""
    if in_queue(case):
        return await case_news.alert_dispatchers(
            ctx.session, case, "dispatch.alert_new", now=ctx.now(), data_dir=ctx.settings.data_dir
        )
    return await case_news.alert_handlers(
        ctx.session, case, now=ctx.now(), data_dir=ctx.settings.data_dir
    )


def category_name(ctx: Context, case: Case) -> Name:
    """A case's category in both languages, for a message read in either."""
    return case_category(case, ctx.settings.data_dir)


async def viewer(ctx: Context) -> Viewer:
    """Who is looking: a bound, active staff member, else the resident behind the account."""
    staff = await active_staff(ctx)
    if staff is not None:
        return Viewer(staff=staff)
    return Viewer(resident_id=ctx.identity.resident_id)
