"""评价 / rate: the resident picks a recent appointment, case or window visit, gives one of six
levels and, if they like, a comment. A poor rating (时间长, 态度差, 业务差) opens a return visit
(回访) for the supervisor, and the resident is told who will call back and by when."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import col, select

from bot.context import Context
from bot.i18n import LANGS, t
from bot.messages import Button, Reply
from bot.outgoing import Message, Name, for_staff, pushes, queue
from bot.outgoing.message import Say, say
from bot.outgoing.tell import alert_return_visit, rated_thing
from bot.router import HandlerResult, Phase, Router
from handlers.case_text import catalogue
from handlers.common import (
    back_to_menu,
    format_date,
    format_time,
    localized,
    main_menu,
    payloads_shown,
    street_code,
    weekday_name,
)
from handlers.rating_words import (
    Listed,
    comment_beside_level,
    level_in_words,
    level_or_skip,
    named_by_reference,
    named_department,
    named_thing,
)
from handlers.solved_words import CONFIRM, case_in_view, not_solved, says_solved
from models.base import SHANGHAI
from models.cases import Case, Rating, RatingLevel
from models.intents import fold, load_lexicon
from models.org import Department
from models.people import ensure_resident
from models.ratings import (
    POOR,
    WINDOW,
    Subject,
    find_subject,
    rate,
    rating_of,
    recent_subjects,
    window_visit,
)
from models.ratings_return_visit import ReturnVisit, add_comment, open_return_visit
from models.reminders import APPOINTMENT, CASE

router = Router("rating")
choosing = Router("rating.choosing")  # included before references are read as records

CHOOSE, WINDOW_STEP = "rating.choose", "rating.window"
LEVEL, COMMENT = "rating.level", "rating.comment"
SHORT = {APPOINTMENT: "appt", CASE: "case", WINDOW: "window"}
NOT_TAKEN = {CASE: "cases.not_rateable"}


def _number(text: str) -> int | None:
    return int(text) if text.isdecimal() and len(text) < 10 else None


def thing(subject: Subject) -> Say:
    """What was rated, in the reader's words (bot.outgoing.tell.rated_thing)."""
    name = Name(subject.name_zh, subject.name_en)
    return rated_thing(subject.kind, name, subject.ref, subject.at.astimezone(SHANGHAI).date())


@router.payload("rate")
@router.command("rate")
async def choose(ctx: Context) -> HandlerResult:
    """What the resident may rate: their few most recent appointments and cases, or a visit
    to a window; leaves any other flow."""
    return await _choices(ctx)


async def _choices(ctx: Context, why: str = "") -> Reply:
    """The list of things to rate (after why the list is shown again, if it is); words typed
    at it are read by subject_named."""
    ctx.clear_state()
    resident = ctx.identity.resident_id
    subjects = (
        await recent_subjects(ctx.session, catalogue(ctx), resident, ctx.now())
        if resident is not None
        else []
    )
    window = Button(ctx.t("rating.window_button"), "rate:dept")
    listed = [[_payload(s), s.name_zh, s.name_en, s.ref] for s in subjects]
    ctx.set_state(CHOOSE, listed=listed, back="menu")
    before = f"{ctx.t(why)}\n" if why else ""
    if not subjects:
        return Reply(before + ctx.t("rating.nothing"), (window, *back_to_menu(ctx)))
    buttons = tuple(Button(thing(s).render(ctx.lang), _payload(s)) for s in subjects)
    return Reply(before + ctx.t("rating.choose"), (*buttons, window, *back_to_menu(ctx)))


def _payload(subject: Subject) -> str:
    return f"rate:{SHORT[subject.kind]}:{subject.id}"


def _listed(ctx: Context) -> list[Listed]:
    """The things the list shows, as kept in the flow's state."""
    rows = ctx.state.data.get("listed")
    rows = rows if isinstance(rows, list) else []
    return [
        Listed(str(row[0]), (str(row[1]), str(row[2])), str(row[3]))
        for row in rows
        if isinstance(row, list) and len(row) == 4
    ]


def _said_early(ctx: Context) -> bool:
    """A level or 跳过 typed before what it is for was chosen."""
    labels = [t(lang, f"rating.{level}") for lang in LANGS for level in RatingLevel]
    return level_or_skip(ctx.text, [*labels, *(t(lang, "rating.skip") for lang in LANGS)])


def _reference_of_listed(ctx: Context) -> bool:
    if ctx.payload is not None or ctx.state.name != CHOOSE or ctx.command is not None:
        return False
    return bool(ctx.text) and named_by_reference(ctx.text, _listed(ctx)) is not None


@choosing.route(Phase.COMMAND, _reference_of_listed)
async def reference_chosen(ctx: Context) -> HandlerResult:
    """A listed thing's reference typed at the list chooses it (before a reference is shown
    as the resident's record)."""
    return await subject_named(ctx)


def _rate_option(ctx: Context) -> str | None:
    """The one thing to rate among the options just shown ("评价服务" under a resolved case's
    push or its confirmation, a visit's reminder), as its payload."""
    shown = payloads_shown(ctx.state.data, "rate:")
    rated = {payload for payload in shown if payload.count(":") == 2}
    return rated.pop() if len(rated) == 1 and not ctx.state.name else None


def _level_in_view(ctx: Context) -> str | None:
    """A level said outright where one thing to rate is in view; not in a question ("一般多久能
    修好？"), nor beside words saying the matter is not solved ("还是老样子，太慢了" reopens
    the case), and not 一般 / 差不多, words that more often say something else ("差不多了")."""
    if ctx.payload is not None or not ctx.text or ctx.command is not None:
        return None
    if _rate_option(ctx) is None:
        return None
    data = Path(ctx.settings.data_dir)
    if ASKING.search(fold(ctx.text)) or not_solved(ctx.text, data, in_view=True):
        return None
    level = level_in_words(ctx.text, data)
    if level == RatingLevel.AVERAGE.value and not _only_average(ctx.text, data):
        return None
    return level


# Words of 一般 that more often say something else ("一般多久", "差不多了").
_NOT_ONLY_LEVELS = ("一般", "差不多")
_ENDINGS = re.compile(r"[吧啊呀哈的了嘛呢~～!！。.,，\s]")


def _only_average(text: str, data: Path) -> bool:
    """Whether the message is a 一般 word and endings only ("还行吧", "还可以", "alright"): then
    it rates, where one thing to rate is in view (an outside walkthrough: "还行吧" under the
    confirmation got "这个问题我回答不了"); in a sentence ("还可以改时间", "明天我过得去",
    "还行，但是水管又漏了") such words say other things (a review)."""
    said = _ENDINGS.sub("", fold(text))
    if any(word in said for word in _NOT_ONLY_LEVELS):
        return False
    return said in {_ENDINGS.sub("", fold(w)) for w in load_lexicon(data).words["level_average"]}


@choosing.route(Phase.COMMAND, lambda ctx: _level_in_view(ctx) is not None)
async def rated_in_view(ctx: Context) -> HandlerResult:
    """A level typed in words ("非常满意", "工作人员很耐心，很满意", "等太久了") where one thing
    to rate is in view is that thing's rating, as pressing the level would be; words saying the
    matter is solved confirm a resolved case first. Never a question for staff."""
    payload, level = _rate_option(ctx), _level_in_view(ctx)
    replies: list[Reply] = []
    case = case_in_view(ctx)
    if case is not None and says_solved(ctx.text, Path(ctx.settings.data_dir)):
        replies += await ctx.redirect(ctx, f"{CONFIRM}{case}")
    return [*replies, *(await ctx.redirect(ctx, f"{payload}:{level}"))]


@router.state(CHOOSE)
async def subject_named(ctx: Context) -> HandlerResult:
    """Words naming one listed thing choose it; other words show the list again, saying why."""
    found = named_thing(ctx.text, _listed(ctx), Path(ctx.settings.data_dir))
    if found is not None:
        return await ctx.redirect(ctx, found.payload)
    window = named_department(ctx.text, await _window_list(ctx), Path(ctx.settings.data_dir))
    if window is not None:
        return await _window_of(ctx, int(window.payload))
    return await _choices(
        ctx, "rating_words.thing_first" if _said_early(ctx) else "rating_words.not_listed"
    )


@router.payload("rate:dept")
async def window_visit_chosen(ctx: Context) -> HandlerResult:
    """A visit without an appointment is rated by its department's window."""
    number = _number(ctx.args)
    if number is None:
        return await _department_list(ctx, ctx.t("rating.which_window"))
    return await _window_of(ctx, number)


async def _windows(ctx: Context) -> list[Department]:
    stmt = select(Department).where(col(Department.window).is_not(None))
    return list((await ctx.session.exec(stmt.order_by(col(Department.window)))).all())


async def _window_list(ctx: Context) -> list[Listed]:
    """The departments with a hall window, as words may name them."""
    return [Listed(str(d.id), (d.name_zh, d.name_en), window=d.window) for d in await _windows(ctx)]


async def _department_list(ctx: Context, text: str) -> Reply:
    buttons = tuple(
        Button(localized(ctx, d.name_zh, d.name_en), f"rate:dept:{d.id}")
        for d in await _windows(ctx)
    )
    ctx.set_state(WINDOW_STEP, back="rate")
    return Reply(text, (*buttons, *back_to_menu(ctx)))


@router.state(WINDOW_STEP)
async def department_named(ctx: Context) -> HandlerResult:
    """A department typed in part ("民政", "social security"), by its short name ("社保") or
    its window ("4号窗口"); else the list again, saying why."""
    found = named_department(ctx.text, await _window_list(ctx), Path(ctx.settings.data_dir))
    if found is None:
        why = "rating_words.department_first" if _said_early(ctx) else "rating_words.no_department"
        return await _department_list(ctx, ctx.t(why) + "\n" + ctx.t("rating.which_window"))
    return await _window_of(ctx, int(found.payload))


async def _window_of(ctx: Context, department_id: int) -> Reply:
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    subject = await window_visit(ctx.session, resident.id or 0, department_id, ctx.now())
    if subject is None:
        return await main_menu(ctx, ctx.t("menu.stale_option"))
    return await _levels(ctx, subject, resident.id or 0)


async def _subject_pressed(ctx: Context, kind: str) -> HandlerResult:
    """rate:<kind>:<id> shows the levels; rate:<kind>:<id>:<level> records one."""
    number_text, _, level_text = ctx.args.partition(":")
    number, resident = _number(number_text), ctx.identity.resident_id
    subject = None
    if number is not None and resident is not None:
        subject = await find_subject(ctx.session, catalogue(ctx), kind, number, resident, ctx.now())
    if subject is None or resident is None or (level_text and level_text not in LEVELS):
        return Reply(ctx.t(NOT_TAKEN.get(kind, "window.rating_not_taken")), back_to_menu(ctx))
    if not level_text:
        return await _levels(ctx, subject, resident)
    return await _rated(ctx, subject, resident, RatingLevel(level_text))


LEVELS = frozenset(level.value for level in RatingLevel)
# What makes words a question rather than a level said ("一般多久能修好？"); 呢 and "what a …"
# end praise too ("非常满意呢"), so the word list of questions is too wide here.
ASKING = re.compile(
    r"[?？吗]|怎么|多久|什么时候|几点|哪|为什么"
    r"|(?<![a-z])(?:how|when|why|where|is it|can i|do i)(?![a-z])"
)


def _register_subjects() -> None:
    for kind, short in SHORT.items():

        async def pressed(ctx: Context, kind: str = kind) -> HandlerResult:
            return await _subject_pressed(ctx, kind)

        pressed.__name__ = f"rate_{short}"
        router.payload(f"rate:{short}")(pressed)


_register_subjects()


async def _levels(ctx: Context, subject: Subject, resident: int) -> Reply:
    """The six levels (pressed, typed or numbered), or a polite word if it is already rated."""
    given = await rating_of(ctx.session, subject, resident)
    if given is not None:
        return _already(ctx, subject, given)
    payload = f"rate:{SHORT[subject.kind]}:{subject.id}"
    buttons = tuple(Button(ctx.t(f"rating.{level}"), f"{payload}:{level}") for level in RatingLevel)
    ctx.set_state(LEVEL, kind=subject.kind, subject=subject.id, back="rate")
    return Reply(ctx.t("rating.ask", thing=thing(subject).render(ctx.lang)), buttons)


@router.state(LEVEL)
async def level_unclear(ctx: Context) -> HandlerResult:
    """Words that are none of the six levels: the levels again (nothing is lost)."""
    kind, number = str(ctx.state.data.get("kind", "")), ctx.state.data.get("subject")
    resident = ctx.identity.resident_id
    subject = None
    if isinstance(number, int) and resident is not None:
        subject = await find_subject(ctx.session, catalogue(ctx), kind, number, resident, ctx.now())
    if subject is None or resident is None:
        return await main_menu(ctx, ctx.t("menu.stale_option"))
    said = level_in_words(ctx.text, Path(ctx.settings.data_dir))
    if said is not None and await rating_of(ctx.session, subject, resident) is None:
        return await _rated(ctx, subject, resident, RatingLevel(said))
    again = await _levels(ctx, subject, resident)
    return Reply(ctx.t("rating.pick_a_level") + "\n" + again.text, again.buttons)


def _already(ctx: Context, subject: Subject, given: Rating) -> Reply:
    ctx.clear_state()
    text = ctx.t(
        "rating.already",
        thing=thing(subject).render(ctx.lang),
        level=ctx.t(f"rating.{given.level}"),
    )
    return Reply(text, back_to_menu(ctx))


async def _rated(ctx: Context, subject: Subject, resident: int, level: RatingLevel) -> Reply:
    """Record the level; a poor one opens the return visit at once; then ask for a comment."""
    rating = await rate(ctx.session, subject, resident, level, ctx.now())
    if rating is None:
        given = await rating_of(ctx.session, subject, resident)
        return _already(ctx, subject, given) if given else Reply(ctx.t("window.rating_not_taken"))
    lines = [ctx.t("window.rating_thanks", level=ctx.t(f"rating.{level}"))]
    case_id = None
    if level in POOR:
        visit = await open_return_visit(
            ctx.session,
            catalogue(ctx),
            rating=rating,
            subject=subject,
            street_code=await street_code(ctx),
            now=ctx.now(),
        )
        if visit is not None:  # its supervisor is alerted once the comment is in (or skipped)
            lines.append(ctx.t("rating.call_back", **_who_and_when(ctx, visit)))
            case_id = visit.case.id
    ctx.set_state(COMMENT, rating=rating.id, case=case_id)
    # The words as typed: under a push the level came through its option, which hides them.
    typed = (ctx.inbound.text or "").strip()
    comment = comment_beside_level(typed, Path(ctx.settings.data_dir)) if typed else ""
    if comment:  # "满意，工作人员很耐心": the words with the level are its comment
        done = await _finish(ctx, comment)
        return Reply("\n".join([*lines, done.text]), done.buttons)
    lines.append(ctx.t("rating.comment_poor" if level in POOR else "rating.comment_prompt"))
    return Reply("\n".join(lines), (Button(ctx.t("rating.skip"), "rate:skip"), *back_to_menu(ctx)))


def caller(visit: ReturnVisit) -> Say:
    """Who calls back, by role: 社会保障科负责人, or the head of the service centre."""
    department = visit.department
    if visit.supervisor.department_id is None or department is None:
        return say("rating.caller_hall")
    return say("rating.caller", department=Name(department.name_zh, department.name_en))


def _who_and_when(ctx: Context, visit: ReturnVisit) -> dict[str, str]:
    due = visit.case.due_at
    if due is None:
        return {"caller": caller(visit).render(ctx.lang), "due": "", "ref": visit.case.ref}
    local = due.astimezone(SHANGHAI)
    when = ctx.t(
        "rating.due",
        date=format_date(ctx, local.date()),
        weekday=weekday_name(ctx, local.date()),
        time=format_time(local.time()),
    )
    return {"caller": caller(visit).render(ctx.lang), "due": when, "ref": visit.case.ref}


async def _push(ctx: Context, message: Message, staff_id: int | None, once: str) -> None:
    if staff_id is None:
        return
    await ctx.unit.flush()
    await queue(
        ctx.unit.connection, message, [for_staff(staff_id)], kind="alert", now=ctx.now(), once=once
    )


@router.state(COMMENT)
async def comment_given(ctx: Context) -> HandlerResult:
    """The resident's optional comment, in their own words."""
    if not ctx.text.strip():
        return Reply(ctx.t("rating.comment_prompt"), (Button(ctx.t("rating.skip"), "rate:skip"),))
    nothing = load_lexicon(Path(ctx.settings.data_dir)).is_only("nothing_more", ctx.text)
    return await _finish(ctx, "" if nothing else ctx.text)  # "没什么了" is 跳过


@router.payload("rate:skip")
async def skipped(ctx: Context) -> HandlerResult:
    """No comment: the rating (and any return visit) stands as it is."""
    if ctx.state.name != COMMENT:
        return await main_menu(ctx)
    return await _finish(ctx, "")


async def _finish(ctx: Context, comment: str) -> Reply:
    """Keep the comment; alert the return visit's supervisor (with the comment) now."""
    data = ctx.state.data
    ctx.clear_state()
    rating_id, case_id = data.get("rating"), data.get("case")
    rating = await ctx.session.get(Rating, rating_id) if isinstance(rating_id, int) else None
    if rating is None or rating.resident_id != ctx.identity.resident_id:
        return await main_menu(ctx)
    case = await ctx.session.get(Case, case_id) if isinstance(case_id, int) else None
    before = case.assignee_staff_id if case else None
    moved = await add_comment(ctx.session, rating, case, comment, ctx.now()) if comment else None
    if case is None:
        return await main_menu(ctx, ctx.t("rating.comment_kept" if comment else "rating.done"))
    await ctx.unit.flush()
    connection, now = ctx.unit.connection, ctx.now()
    first = await alert_return_visit(ctx.session, connection, case, now, again=False)
    if not first and moved is not None:  # the sweep alerted the first owner before the comment
        await alert_return_visit(ctx.session, connection, case, now, again=True)
        note = pushes.return_visit_moved(ref=case.ref, caller=caller(moved))
        await _push(ctx, note, before, f"return_visit_moved:{case.id}:{{person}}")
    elif not first and comment:
        news = pushes.return_visit_comment(ref=case.ref, comment=rating.comment or "")
        await _push(ctx, news, case.assignee_staff_id, f"return_visit_comment:{case.id}:{{person}}")
    if moved is not None:
        return await main_menu(ctx, ctx.t("rating.call_back_moved", **_who_and_when(ctx, moved)))
    key = "rating.comment_kept_visit" if comment else "rating.done"
    return await main_menu(ctx, ctx.t(key, ref=case.ref))
