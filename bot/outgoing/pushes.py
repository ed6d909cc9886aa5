"""Every message Linli sends on its own, one builder each: what it says and what it offers.

Handlers and scheduler jobs build a message here and queue it with ``bot.outgoing.queue``;
nothing else words a push.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from bot.outgoing.message import (
    Day,
    Line,
    Message,
    MessageLink,
    Moment,
    Name,
    Option,
    Say,
    Value,
    Verbatim,
    message,
    option,
    say,
)
from models.base import SHANGHAI
from models.cases import RatingLevel


def _due(at: datetime | None) -> Value:
    return "" if at is None else Moment(at)


def appointment_reminder(
    *, hour_before: bool, service: Name, starts_at: datetime, ref: str
) -> Message:
    """The evening-before or hour-before reminder of an appointment."""
    local = starts_at.astimezone(SHANGHAI)
    key = "reminders.hour_before" if hour_before else "reminders.evening_before"
    return message(
        say(key, service=service, time=f"{local:%H:%M}", date=Day(local.date()), ref=ref)
    )


def waitlist_offer(*, service: Name, starts_at: datetime, entry_id: int, minutes: int) -> Message:
    """A freed place held for a waiting resident, with the button that takes it."""
    return message(
        say("booking.offer", service=service, when=Moment(starts_at), minutes=minutes),
        options=(option("booking.accept", f"book:accept:{entry_id}"),),
    )


def rating_request(*, appointment_id: int, ref: str) -> Message:
    """The six-level rating asked after a window visit."""
    return message(
        say("window.rate_request", ref=ref),
        options=tuple(
            option(f"rating.{level}", f"rate:appt:{appointment_id}:{level}")
            for level in RatingLevel
        ),
    )


def case_news(
    key: str,
    *,
    ref: str,
    category: Value,
    options: tuple[tuple[str, str], ...] = (),
    **values: Value,
) -> Message:
    """News about a case for its resident (accepted, moved on, a question, resolved …)."""
    return message(
        say(key, ref=ref, category=category, **values),
        options=tuple(option(label, payload) for label, payload in options),
    )


def case_alert(
    *,
    co: bool,
    case_id: int,
    ref: str,
    category: Value,
    summary: str,
    department: Name,
    due_at: datetime | None,
    details: tuple[Say, ...] = (),
    reopened: str | None = None,
) -> Message:
    """A case assigned to a department, for each of its staff: accept (the lead) and view;
    the request's details (address, time, place, attachments) follow the first line. A case
    the resident reopened says so, with their words, and is only to be viewed (it is still
    its owner's)."""
    view = option("cases.view", f"case:view:{ref}")
    if reopened is not None:
        text = say("dispatch.resident_reopened", ref=ref, category=category, text=reopened)
        return message(text, *details, options=(view,))
    options = (view,) if co else (option("cases.accept", f"case:accept:{case_id}"), view)
    key = "cases.alert_co" if co else "cases.alert"
    text = say(
        key,
        ref=ref,
        category=category,
        summary=summary[:80],
        department=department,
        due=_due(due_at),
    )
    return message(text, *details, options=options)


def case_escalation(
    kind: str, *, ref: str, category: Value, due_at: datetime | None, assignee: Value
) -> Message:
    """A deadline warning or escalation about a case, for its handler or supervisors."""
    return message(
        say(f"cases.{kind}", ref=ref, category=category, due=_due(due_at), assignee=assignee)
    )


def case_follow_up(kind: str, *, case_id: int, ref: str, category: Value) -> Message:
    """After a case is resolved: please confirm and rate (and, later, a gentle nudge)."""
    return message(
        say(f"cases.{kind}", ref=ref, category=category),
        options=(option("cases.rate_button", f"rate:case:{case_id}"),),
    )


def handover_news(
    key: str,
    *,
    case_id: int,
    ref: str,
    summary: str,
    actions: tuple[str, str] | None,
    **values: Value,
) -> Message:
    """A message in a hand-over to a person, with reply and end buttons while it goes on."""
    options: tuple[Option, ...] = ()
    if actions is not None:
        label, payload = actions
        options = (
            option(label, f"{payload}:{case_id}"),
            option("handover.end", f"handover:end:{case_id}"),
        )
    return message(say(key, ref=ref, summary=summary[:80], **values), options=options)


def need_stage(*, title: str, stage: str, reason: str | None) -> Message:
    """A need item its supporters backed has moved on (approved, planned, done, rejected …)."""
    lines: list[Line] = [say("needs.stage_notice", title=title, stage=say(f"needs.stage_{stage}"))]
    if reason:
        lines.append(say("needs.reason", reason=reason))
    return message(*lines)


def need_merged(*, old: str, title: str, count: int) -> Message:
    """A need item was merged into another: where the supporters' need went."""
    return message(say("needs.merge_notice", old=old, title=title, count=count))


def notice(
    *, text: str, urgent: bool, link_url: str | None = None, image_url: str | None = None
) -> Message:
    """A notice as its readers get it: a heading, the author's words, a link, how to opt out."""
    lines: list[Line] = [
        say("notices.heading_urgent" if urgent else "notices.heading"),
        Verbatim(text),
    ]
    if not urgent:
        lines.append(say("notices.opt_out_hint"))
    link = None
    if link_url:
        link = MessageLink(link_url, say("notices.link_label"))
    elif image_url:
        link = MessageLink(image_url, say("notices.image_label"))
    return message(*lines, link=link)


def notice_summary(
    *, notice_id: int, excerpt: str, counts: dict[str, int], failures: Counter[str]
) -> Message:
    """A notice's author learns whom it reached, and what failed and why."""
    lines: list[Line] = [
        say("notices.summary", id=notice_id, excerpt=excerpt[:20]),
        Say("notices.report", dict(counts)),
    ]
    lines += [
        say("notices.failure_line", why=why, count=count) for why, count in failures.most_common(5)
    ]
    return message(*lines)


def daily_digest(*, name: str, counts: dict[str, int]) -> Message:
    """A staff member's open, due-today and overdue cases, each working morning."""
    return message(Say("digest.daily", {"name": name, **counts}))


def weekly_kpi(*, monday: date, end: date, kpi: dict[str, int | None]) -> Message:
    """Last week's numbers for supervisors and administrators (scheduler.digests.week_kpi); a
    share with nothing to divide by reads "no data yet", never 100%."""

    def share(key: str, none_key: str) -> Say:
        value = kpi.get(key)
        return say(none_key) if value is None else say("kpis.percent", value=value)

    counts = {key: kpi.get(key) or 0 for key in ("opened", "resolved", "overdue", "rated")}
    return message(
        say(
            "kpis.weekly",
            start=Day(monday),
            end=Day(end),
            on_time=share("on_time", "kpis.none_resolved"),
            satisfied=share("satisfied", "kpis.none_rated"),
            **counts,
        )
    )


def return_visit(
    *,
    ref: str,
    level: RatingLevel,
    thing: Value,
    concerns: str,
    comment: str,
    due_at: datetime | None,
) -> Message:
    """A poor rating's return visit (回访), for the supervisor who is to call the resident back."""
    text = say(
        "rating.return_visit_alert",
        ref=ref,
        level=say(f"rating.{level}"),
        thing=thing,
        concerns=concerns,
        comment=comment or say("rating.no_comment"),
        due=_due(due_at),
    )
    return message(text, options=(option("cases.view", f"case:view:{ref}"),))


def complaint_about_staff(
    *, ref: str, concerns: str, summary: str, due_at: datetime | None
) -> Message:
    """A complaint naming a staff member, for the supervisor who answers for them."""
    text = say(
        "complaints.alert", ref=ref, concerns=concerns, summary=summary[:200], due=_due(due_at)
    )
    return message(text, options=(option("cases.view", f"case:view:{ref}"),))


def return_visit_comment(*, ref: str, comment: str) -> Message:
    """The resident's comment, added after the return visit was opened."""
    return message(
        say("rating.return_visit_comment", ref=ref, comment=comment),
        options=(option("cases.view", f"case:view:{ref}"),),
    )


def return_visit_moved(*, ref: str, caller: Value) -> Message:
    """The resident's comment named someone else: the return visit went to their supervisor."""
    return message(say("rating.return_visit_moved", ref=ref, caller=caller))


def dispatch_alert(
    key: str, *, case_id: int, ref: str, category: Value, summary: str, **values: Value
) -> Message:
    """A grid report for the street's dispatch desk (街道呼叫): new in the queue, or returned."""
    return message(
        say(key, ref=ref, category=category, summary=summary[:80], **values),
        options=(option("cases.view", f"case:view:{ref}"),),
    )


def case_handler_news(
    key: str, *, case_id: int, ref: str, category: Value, **values: Value
) -> Message:
    """News on a case for whoever handles it (the resident wrote, a department returned a call)."""
    return message(
        say(key, ref=ref, category=category, **values),
        options=(option("cases.view", f"case:view:{ref}"),),
    )
