"""Cases for residents: ask for proxy handling (全程代办), follow progress (进度), answer a
question from the office, confirm or reopen a resolved case (rating it is handlers/rating.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from bot.context import Context
from bot.i18n import normalize_words
from bot.messages import Button, Reply
from bot.outgoing import case_news
from bot.router import HandlerResult, Phase, Router
from handlers.booking import appointment_label, upcoming_appointments
from handlers.case_text import (
    WORDS_LIMIT,
    alert_department,
    alert_handlers,
    catalogue,
    category_name,
    status_text,
    timeline_text,
    viewer,
    when,
)
from handlers.cases_staff import staff_actions
from handlers.common import (
    back_to_menu,
    clipped,
    echoed,
    gives_up,
    localized,
    location_of,
    main_menu,
    street_code,
    with_media,
)
from handlers.personal_numbers import (
    CONSENT_PAYLOAD,
    NumberStep,
    Outcome,
    ask_number,
    consent_given,
    consent_question,
    number_typed,
    numbers_to_ask,
)
from models.booking import Appointment
from models.case_card import case_card
from models.case_ops import (
    confirm_resolved,
    earlier_answer,
    find_case,
    open_case,
    reopen,
    resident_answers,
    resident_cases,
    timeline,
)
from models.cases import OPEN_STATUSES, Case, CaseEvent, CaseKind, CaseStatus
from models.complaints import route_past_named_staff
from models.dispatch import goes_to_dispatch, in_queue
from models.intents import done_by_others, fold, load_lexicon
from models.need_ops import items_of_resident, unplaced_needs
from models.needs import NeedItem
from models.people import ensure_resident
from models.personal_data import remove_personal_data
from models.ratings import rating_by
from models.refs import canonical_reference
from models.reminders import CASE
from models.service_match import load_service_catalogue, named_items
from models.when import names_when

router = Router("cases")

PROXY_WORDS, PROXY_CATEGORY, PROXY_QUESTION = "case.words", "case.category", "case.question"
CASE_CONSENT, CASE_NUMBER = "case.consent", "case.number"
ANSWER = "case.answer"


@router.payload("proxy")
@router.command("proxy")
async def proxy_start(ctx: Context) -> HandlerResult:
    """In your own words first: what should we handle for you?"""
    if ctx.command_args:
        return await proxy_from_words(ctx, ctx.command_args)
    ctx.set_state(PROXY_WORDS, back="menu")
    return Reply(ctx.t("cases.proxy_ask_words"), back_to_menu(ctx))


@router.state(PROXY_WORDS)
async def proxy_words(ctx: Context) -> HandlerResult:
    """The resident's own words; then the category, suggested from them."""
    return await proxy_from_words(ctx, ctx.text)


async def proxy_from_words(ctx: Context, words: str) -> Reply:
    """Proxy handling asked for in the resident's own words: choose its category next."""
    if not words.strip():
        return Reply(ctx.t("cases.proxy_ask_words"), back_to_menu(ctx))
    ctx.set_state(PROXY_CATEGORY, words=words[:WORDS_LIMIT], back="proxy")
    fits = _fitting_categories(ctx, words)
    return _offered(ctx, fits) if fits else _all_categories(ctx)


def _offered(ctx: Context, codes: list[str]) -> Reply:
    """The categories that fit, and 都不是 for all of them."""
    other = Button(ctx.t("match.none_of_these"), "case:cats")
    return Reply(ctx.t("cases.proxy_choose_category"), (*_category_buttons(ctx, codes), other))


def _category_buttons(ctx: Context, codes: list[str] | None = None) -> tuple[Button, ...]:
    """A button for each proxy category of codes (all of them, in order, when None)."""
    categories = catalogue(ctx).categories[CaseKind.PROXY]
    by_code = {c.code: c for c in categories}
    chosen = categories if codes is None else [by_code[code] for code in codes]
    return tuple(Button(localized(ctx, c.name_zh, c.name_en), f"case:cat:{c.code}") for c in chosen)


def _fitting_categories(ctx: Context, words: str) -> list[str]:
    """The proxy categories the words ask for, by the same matching as services."""
    categories = catalogue(ctx).categories[CaseKind.PROXY]
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    matcher = named_items(((c.code, c.name_zh, c.name_en) for c in categories), lexicon)
    wanted = lexicon.without("proxy", fold(words))
    fits = matcher.rank(wanted)
    if not fits:
        # A category is a service handled for the resident, under the same code: the service's
        # name and what the knowledge says of it ("低保" for 最低生活保障申请) find it too.
        services = load_service_catalogue(Path(ctx.settings.data_dir))
        fits = services.rank(wanted, among={c.code for c in categories})
    return [m.code for m in fits]


def _all_categories(ctx: Context) -> Reply:
    return Reply(ctx.t("cases.proxy_choose_category"), _category_buttons(ctx))


@router.state(PROXY_CATEGORY)
async def category_typed(ctx: Context) -> HandlerResult:
    """A category typed rather than pressed ("需要办理高龄补贴"): the one it names is chosen,
    several are offered; otherwise every category again. The words said first are kept."""
    words = ctx.state.data.get("words")
    if not isinstance(words, str):
        return await proxy_start(ctx)
    typed = fold(ctx.text)
    # What they add is kept with what they said first: it is the request's detail.
    words = f"{words} {ctx.text}"[:WORDS_LIMIT]
    named = [code for code, _ in _whole_names(ctx, typed)]
    kept = _kept_at_category(ctx.state.data)
    if len(named) == 1 and not _DENIED.search(typed):  # its whole name, not "不是残疾证办理"
        return await ask_questions(ctx, CaseKind.PROXY, words, named[0], kept)
    fits = _fitting_categories(ctx, ctx.text)
    ctx.set_state(PROXY_CATEGORY, **{**kept, "words": words}, back="proxy")
    return _offered(ctx, fits) if fits else _all_categories(ctx)


_DENIED = re.compile(r"不是|不要|不办|(?<![a-z])not(?![a-z])")


@router.payload("case:cats")
async def every_category(ctx: Context) -> HandlerResult:
    """None of the suggested categories: all of them (the words are kept)."""
    if not isinstance(ctx.state.data.get("words"), str):
        return await proxy_start(ctx)
    return _all_categories(ctx)


@router.payload("case:cat")
async def proxy_category(ctx: Context) -> HandlerResult:
    """The category; then only the questions this type needs."""
    words = ctx.state.data.get("words")
    category = catalogue(ctx).category(CaseKind.PROXY, ctx.args)
    if not isinstance(words, str) or category is None:
        return await proxy_start(ctx)
    return await ask_questions(ctx, CaseKind.PROXY, words, category.code, ctx.state.data)


# Questions a shared location answers (its name, else its coordinates), as well as typed words.
PLACE_QUESTIONS = frozenset({"address", "place"})


async def ask_questions(
    ctx: Context,
    kind: CaseKind,
    words: str,
    category: str,
    kept: dict[str, Any] | None = None,
) -> Reply:
    """Only the questions this type of case needs, one at a time, then the case opened. A
    photo or location kept from before stays with the case; a location answers the place."""
    kept = kept or {}
    questions = catalogue(ctx).types[kind].questions
    place = kept.get("place")
    answers = {q: place for q in questions if q in PLACE_QUESTIONS and isinstance(place, str)}
    given = kept.get("answers")  # before the category was corrected
    if isinstance(given, dict):
        answers |= {q: a for q, a in given.items() if q in questions and isinstance(a, str)}
    left = [q for q in questions if q not in answers]
    ctx.set_state(
        PROXY_QUESTION,
        **{k: v for k, v in kept.items() if k in ("location", "attachments")},
        kind=kind.value,
        words=words,
        category=category,
        answers=answers,
        left=left,
    )
    if not left:
        return await _open(ctx)
    return Reply(ctx.t(f"cases.question_{left[0]}"), back_to_menu(ctx))


def place_answer(ctx: Context) -> str | None:
    """The place a shared location names (its label, else its coordinates), if one was sent."""
    point = ctx.inbound.location
    if point is None:
        return None
    where = point.label or ctx.t(
        "cases.location_point", latitude=f"{point.latitude:.5f}", longitude=f"{point.longitude:.5f}"
    )
    return where[:WORDS_LIMIT]


@router.state(PROXY_QUESTION)
async def proxy_answer(ctx: Context) -> HandlerResult:
    """One intake answer (a place may be a shared location); the next question, or the case
    opened."""
    if gives_up(ctx, ctx.text):  # "算了，先不报了" is no address: nothing is submitted
        ctx.clear_state()
        return await main_menu(ctx, ctx.t("cases.given_up"))
    left = [q for q in ctx.state.data.get("left", []) if isinstance(q, str)]
    answers = dict(ctx.state.data.get("answers", {}))
    corrected = _answer_corrected(ctx, left, answers) or _category_corrected(ctx, left, answers)
    if corrected is not None:
        return corrected
    ctx.state.data = with_media(ctx, ctx.state.data)  # a photo sent meanwhile stays too
    answer = place_answer(ctx) if left and left[0] in PLACE_QUESTIONS else None
    answer = answer or ctx.text[:WORDS_LIMIT]
    if not left or not answer:
        return Reply(ctx.t("cases.question_again"), back_to_menu(ctx))
    said_before = ""
    if _points_back(ctx, answer):  # "同上": the answer given before, or the question again
        earlier = await _earlier(ctx, left[0])
        if earlier is None:
            again = ctx.t("cases.nothing_before") + "\n" + ctx.t(f"cases.question_{left[0]}")
            return Reply(again, back_to_menu(ctx))
        answer, said_before = earlier, ctx.t("cases.same_as_before", answer=earlier) + "\n"
    answers[left[0]] = answer
    ctx.state.data = {**ctx.state.data, "answers": answers, "left": left[1:]}
    if left[1:]:
        return Reply(said_before + ctx.t(f"cases.question_{left[1]}"), back_to_menu(ctx))
    opened = await _open(ctx)
    return Reply(said_before + opened.text, opened.buttons, opened.link) if said_before else opened


# What an answer given before is called in a correction of it ("不对，地址是南街6栋").
_ANSWER_TOPICS = {
    "address": re.compile(r"地址|门牌号?|楼号|(?<![a-z])address", re.IGNORECASE),
    "visit_time": re.compile(r"时间|(?<![a-z])time(?![a-z])", re.IGNORECASE),
}
_TOPIC_WORDS = re.compile(r"地址|门牌|楼号|时间|写|说|填|刚才|(?<![a-z])(?:address|time)(?![a-z])")


def _answer_corrected(ctx: Context, left: list[str], answers: dict[str, Any]) -> Reply | None:
    """An answer given before, corrected at a later question ("不对，地址是南街6栋", "上门地址
    改成南街6栋", "不对，是南街6栋" at the time question: the address becomes "南街6栋";
    "地址写错了", or a door number alone, "门牌号错了，是402": that question asked again). A
    review found the corrected address stored as the visit time, and staff sent to the old one."""
    lexicon, typed = load_lexicon(Path(ctx.settings.data_dir)), fold(ctx.text)
    if not ctx.text or not (lexicon.has("wrong_choice", typed) or _CHANGE.search(typed)):
        return None
    topic = next((q for q, said in _ANSWER_TOPICS.items() if said.search(typed)), None)
    if topic is None and "address" in answers and _PLACE.search(typed) and not names_when(typed):
        topic = "address"  # "不对，是南街6栋" after the address was given
    if topic is None or (topic not in answers and topic != left[0]):
        return None
    rest = lexicon.pattern("wrong_choice", "wrong_choice_filler").sub(" ", typed)
    said = _own_words(lexicon.pattern("filler").sub(" ", _TOPIC_WORDS.sub(" ", rest)))
    if said and topic == left[0]:
        return None  # "地址不对，是南街6栋" at the address question: its answer
    named = _ANSWER_TOPICS[topic].search(ctx.text)  # "是我写错了，地址是南街6栋": after 地址
    found = _CHANGED_TO.search(ctx.text[named.end() :] if named else ctx.text)
    answer = (found.group(1) if found else ctx.text).strip()[:WORDS_LIMIT]
    if said and not (topic == "address" and not _NAMES_A_PLACE.search(answer.lower())):
        answer = corrected_answer(answer, str(answers.get(topic, "")), topic)
        answers[topic] = answer
        ctx.state.data = {**ctx.state.data, "answers": answers}
        changed = ctx.t("cases.answer_changed", answer=answer)
        return Reply(f"{changed}\n{ctx.t(f'cases.question_{left[0]}')}", back_to_menu(ctx))
    return _asked_again(ctx, topic, left, answers)


# "…，不是3栋" after the corrected answer says what it replaces; the estate ("光华小区") is what
# a corrected address beginning at the building ("5栋2单元501") keeps of the one it replaces.
_NOT_THIS = re.compile(r"[，,。.;；\s]*(?:不是|而不是|(?<![a-z])not )[^，,。]*$")
_BUILDING = re.compile(r"\d+(?:栋|幢|号楼|楼|单元)")


def corrected_answer(answer: str, before: str, topic: str) -> str:
    """A corrected answer as staff will read it: what it replaces dropped, and for an address
    the estate of the one before kept (a walkthrough: "是5栋2单元501，不是3栋" replaced
    "光华小区3栋2单元501" with "5栋2单元501，不是3栋": no one could tell which estate)."""
    answer = _NOT_THIS.sub("", answer).strip() or answer
    building = _BUILDING.search(before) if topic == "address" else None
    estate = before[: building.start()] if building is not None else ""
    if _NAMES_A_PLACE.search(estate) and _BUILDING.match(answer):
        return f"{estate}{answer}"[:WORDS_LIMIT]
    return answer


def _asked_again(ctx: Context, question: str, left: list[str], answers: dict[str, Any]) -> Reply:
    """An answered (or the current) question asked again, its answer dropped; the questions
    after it follow as before."""
    answers.pop(question, None)
    ahead = [question, *(q for q in left if q != question)]
    ctx.state.data = {**ctx.state.data, "answers": answers, "left": ahead}
    asked = ctx.t(f"cases.question_{question}")
    return Reply(ctx.t("cases.answer_again", question=asked), back_to_menu(ctx))


_CHANGE = re.compile(r"改成|改为|换成|(?<![a-z])change (?:it )?to(?![a-z])")
_CHANGED_TO = re.compile(r"(?:改成|改为|换成|应该是|是|(?<![A-Za-z])(?:is|to)(?![A-Za-z]))\s*(.+)$")
_PLACE = re.compile(r"栋|幢|号|楼|单元|室|路|街|巷|小区|院")
# An address names a place in words, not only a door number ("402": the whole address asked).
_NAMES_A_PLACE = re.compile(r"[\u4e00-\u9fff]{2}|[a-z]{3}")


CORRECTION_REST = 6  # what a correction may say besides its words ("残疾证", "disability card")
# A place or a time in a correction makes it the step's answer ("不对，我下午在家", "社保卡上的
# 地址不对，现在住南街5栋", "错了，是残疾人托养中心": a review found them read as categories).
_PLACE_OR_TIME = re.compile(
    r"在|(?<!居)住|楼|旁|隔壁|对面|附近|栋|幢|号|单元|室|门口|路|街|巷|中心|站|处|点|厅|所|局|院|以后|之后"
    r"|上的|地址|(?<![a-z])(?:at|in|on|near|next|street|road|room|block|floor|address)(?![a-z])"
)


def _category_corrected(ctx: Context, left: list[str], answers: dict[str, Any]) -> Reply | None:
    """A proxy category chosen by mistake, said at its questions ("不对 是高龄补贴", "选错了",
    "I meant disability card", another category's whole name alone): that category is taken
    with the answers kept, or the categories are offered again; "不对" alone after an answer
    asks that question again. A place or time, or words of one's own, are the step's answer."""
    data = ctx.state.data
    current = data.get("category")
    if data.get("kind") != CaseKind.PROXY.value or not ctx.text or not left:
        return None
    lexicon, typed = load_lexicon(Path(ctx.settings.data_dir)), fold(ctx.text)
    named = _whole_names(ctx, typed)
    said = lexicon.pattern("wrong_choice", "wrong_choice_filler").sub(" ", typed)
    for name in (name for _, name in named):
        said = said.replace(name, " ")
    if lexicon.has("wrong_pick", typed) and re.sub(r"\W", "", said).isdigit():
        return _categories_again(ctx, [])  # "选错了，应该是5": the number of a list gone by
    if _PLACE_OR_TIME.search(said) or names_when(said):
        return None
    own = _own_words(lexicon.pattern("filler").sub(" ", said))
    wrong = lexicon.has("wrong_choice", typed)
    if named and own == 0:
        return _category_switched(ctx, left, [code for code, _ in named], current)
    if not wrong or own > CORRECTION_REST:
        return None
    if own == 0 and (not answers or lexicon.has("wrong_pick", typed)):
        return _categories_again(ctx, [])  # "选错了": the choice itself
    if own == 0:  # "不对" after an answer: that answer
        last = next(q for q in reversed(list(answers)) if q not in left)
        return _asked_again(ctx, last, left, answers)
    fits = _fitting_categories(ctx, said)
    return _category_switched(ctx, left, fits, current) if fits else None


def _own_words(rest: str) -> int:
    """How much a correction says besides its words: Chinese characters, two per English word."""
    chinese = sum(ch.isalnum() for ch in rest if not ch.isascii())
    return chinese + 2 * len(re.findall(r"[a-z0-9]+", rest))


def _category_switched(ctx: Context, left: list[str], fits: list[str], current: object) -> Reply:
    """The one category fitting a correction taken (or said to be the one already), or the
    fitting ones offered."""
    if len(fits) == 1:
        key = "cases.category_kept" if fits[0] == current else "cases.category_changed"
        return _category_changed(ctx, fits[0], left, key)
    return _categories_again(ctx, [code for code in fits if code != current])


def _categories_again(ctx: Context, codes: list[str]) -> Reply:
    """Back to the category step, keeping the words, the answers given and any location or
    photo; the categories that fit (with 都不是), else all."""
    ctx.set_state(PROXY_CATEGORY, **_kept_at_category(ctx.state.data), back="proxy")
    buttons = _offered(ctx, codes).buttons if codes else _category_buttons(ctx)
    return Reply(ctx.t("cases.category_again"), buttons)


def _kept_at_category(data: dict[str, Any]) -> dict[str, Any]:
    """What a request keeps when it goes back to its category step."""
    return {k: v for k, v in data.items() if k in ("words", "answers", "location", "attachments")}


def _whole_names(ctx: Context, typed: str) -> list[tuple[str, str]]:
    """The proxy categories whose whole name (folded) the words hold."""
    named = []
    for c in catalogue(ctx).categories[CaseKind.PROXY]:
        name = next((fold(n) for n in (c.name_zh, c.name_en) if n and fold(n) in typed), None)
        if name is not None:
            named.append((c.code, name))
    return named


def _category_changed(
    ctx: Context, code: str, left: list[str], key: str = "cases.category_changed"
) -> Reply:
    """The request moved to another category, its answers kept; the question it is at again."""
    ctx.state.data = {**ctx.state.data, "category": code}
    category = catalogue(ctx).category(CaseKind.PROXY, code)
    name = localized(ctx, category.name_zh, category.name_en) if category else code
    said = ctx.t(key, name=name)
    return Reply(f"{said}\n{ctx.t(f'cases.question_{left[0]}')}", back_to_menu(ctx))


def _points_back(ctx: Context, answer: str) -> bool:
    """Whether an answer only points at one given before ("同上", "same as above")."""
    return load_lexicon(Path(ctx.settings.data_dir)).is_only("same_as_before", answer)


async def _earlier(ctx: Context, question: str) -> str | None:
    """This resident's answer to the question on their latest case that asked it."""
    resident = ctx.identity.resident_id
    if resident is None:
        return None
    return await earlier_answer(ctx.session, resident, question, lambda a: _points_back(ctx, a))


async def _open(ctx: Context) -> Reply:
    """Open the case once the phone or ID number it needs has been asked for (with consent)."""
    left = await numbers_to_ask(ctx, ctx.state.data)
    if not left:
        return await _open_now(ctx)
    ctx.set_state(CASE_CONSENT, **{**ctx.state.data, "numbers": left})
    return consent_question(ctx, left[0])


def _asked_number(ctx: Context) -> tuple[str, list[str]]:
    numbers = [n for n in ctx.state.data.get("numbers", []) if isinstance(n, str)]
    return (numbers[0] if numbers else ""), numbers[1:]


@router.payload(CONSENT_PAYLOAD)
@router.state(CASE_CONSENT)
async def consent_answered(ctx: Context) -> HandlerResult:
    """Yes (then the number), no (then on), or the number typed at once."""
    purpose, rest = _asked_number(ctx)
    if not purpose or ctx.state.name not in (CASE_CONSENT, CASE_NUMBER):
        return await proxy_start(ctx)  # a consent button pressed after its request was over
    if ctx.state.name == CASE_NUMBER and ctx.args != "no":  # "yes" pressed twice: the number
        return ask_number(ctx, purpose)
    answer = ctx.args if ctx.payload is not None else "typed"
    return await _after_number(ctx, await consent_given(ctx, purpose, answer), rest)


@router.state(CASE_NUMBER)
async def case_number_typed(ctx: Context) -> HandlerResult:
    """The phone or ID number itself."""
    purpose, rest = _asked_number(ctx)
    if not purpose:
        return await proxy_start(ctx)
    return await _after_number(ctx, await number_typed(ctx, purpose), rest)


async def _after_number(ctx: Context, step: NumberStep, rest: list[str]) -> HandlerResult:
    """Ask again, ask for the number, or go on to the next consent or to the case itself."""
    if step.outcome == Outcome.AGAIN:
        return step.reply
    if step.outcome == Outcome.NUMBER:
        ctx.set_state(CASE_NUMBER, **ctx.state.data)
        return step.reply
    if rest:
        ctx.set_state(CASE_CONSENT, **{**ctx.state.data, "numbers": rest})
        return [step.reply, consent_question(ctx, rest[0])]
    return [step.reply, await _open_now(ctx)]


async def _open_now(ctx: Context) -> Reply:
    data = ctx.state.data
    kind = str(data.get("kind", ""))
    latitude, longitude = location_of(data)
    return await open_and_alert(
        ctx,
        CaseKind(kind) if kind in CaseKind._value2member_map_ else CaseKind.PROXY,
        str(data.get("words", "")),
        category=str(data.get("category")),
        details={"answers": data.get("answers", {})},
        attachments=list(data.get("attachments", [])),
        latitude=latitude,
        longitude=longitude,
    )


async def open_and_alert(
    ctx: Context,
    kind: CaseKind,
    words: str,
    *,
    category: str | None = None,
    details: dict[str, object] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Reply:
    """Open the resident's case, alert its departments, and give the reference at once."""
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    case = await open_case(
        ctx.session,
        catalogue(ctx),
        kind=kind,
        category_code=category,
        summary=words[:WORDS_LIMIT],
        details=details,
        now=ctx.now(),
        street_code=await street_code(ctx),
        resident_id=resident.id,
        grid_id=resident.grid_id,
        attachments=attachments,
        latitude=latitude,
        longitude=longitude,
        to_dispatch=await goes_to_dispatch(ctx.session, kind),
    )
    if kind == CaseKind.COMPLAINT:
        await route_past_named_staff(ctx.session, case, ctx.now())
    await alert_handlers(ctx, case)
    ctx.clear_state()
    text = ctx.t(
        "dispatch.opened" if in_queue(case) else "cases.opened",
        ref=case.ref,
        category=category_name(ctx, case).render(ctx.lang),
        first_reply=when(ctx.lang, case.first_reply_due_at),
        due=when(ctx.lang, case.due_at),
    )
    return await main_menu(ctx, text)


SIMPLE_WORDS = "case.simple"
SIMPLE_KINDS = {"complaint": CaseKind.COMPLAINT, "dispute": CaseKind.DISPUTE}


def _register_simple(command: str, kind: CaseKind) -> None:
    async def start(ctx: Context) -> HandlerResult:
        if ctx.command_args:
            return await open_and_alert(ctx, kind, ctx.command_args)
        ctx.set_state(SIMPLE_WORDS, kind=kind.value, back="menu")
        return Reply(ctx.t(f"cases.ask_{kind}"), back_to_menu(ctx))

    start.__name__ = f"start_{command}"
    router.command(command)(start)


for _command, _kind in SIMPLE_KINDS.items():
    _register_simple(_command, _kind)


COMPLAINT_SAYS_ENOUGH = 6  # characters left after the complaint words: what happened


async def complaint_from_words(ctx: Context, text: str) -> HandlerResult:
    """ "我要投诉窗口的王丽态度很差…" opens the complaint in those words at once; "我要投诉" or
    "我要投诉工作人员" alone first asks what happened."""
    folded = normalize_words(text)
    if _TAKES_A_COMPLAINT_BACK.search(folded) and not done_by_others(folded):
        # "刚才那个投诉我想收回" filed a second complaint (a walkthrough)
        return await ctx.redirect(ctx, "case:withdraw_words")
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    rest = lexicon.without("complaint_filler", lexicon.without("complaint", fold(text)))
    said = sum(1 for ch in rest if ch.isalnum())
    if said >= COMPLAINT_SAYS_ENOUGH and not lexicon.has("handover", rest):
        return await open_and_alert(ctx, CaseKind.COMPLAINT, text)
    ctx.set_state(SIMPLE_WORDS, kind=CaseKind.COMPLAINT.value, back="menu", said=text[:WORDS_LIMIT])
    return Reply(ctx.t("cases.ask_complaint"), back_to_menu(ctx))


# Taking the complaint itself back; not a complaint about something 撤销 ("居委会把我家的低保撤销
# 了": a review found it lost, and another case offered for withdrawal).
_TAKES_A_COMPLAINT_BACK = re.compile(
    # the take-back ends its clause: "我要投诉收回我家公租房的工作人员" complains (a review)
    r"(?:投诉|代办|事项)(?:我)?(?:要|想)?(?:撤回|撤销|撤消|撤了|收回)(?:吧|了|一下|掉)?"
    r"(?=$|[，,。.!！~ ])"
    r"|(?:撤回|撤销|撤消|收回)(?:我的|这个|那个|刚才的?)?(?:投诉|代办|事项)"
    r"|不(?:想)?投诉了|不投了|withdraw (?:my|the|this|that) complaint"
)


# Said at the words step, before anything is filed, as the whole message: a mistake owned,
# and this one dropped ("不好意思我弄错人了，帮我撤销"). Not a complaint that holds such words
# ("工作人员弄错了我的材料，还把我的申请取消了": a review found it dropped).
_RETRACTED = re.compile(
    r"(?:(?:哎呀|啊|哦|噢|嗯|唉)?[，,。.…~ ]*(?:不好意思|对不起|抱歉|sorry)?[，,。.…~ ]*"
    r"(?:我)?(?:搞错了|弄错了|弄错人了|搞错人了|说错了|写错了|错了|误会了|算了)?[，,。.…~ ]*)"
    r"(?:(?:帮我|请|麻烦)?(?:撤销|撤回|收回|取消)(?:吧|掉|一下|了)?"
    r"|(?:我)?(?:不投诉了|不投了|不想投诉了|不提交了|不用提交了|不用投诉了|不用了|不要了)(?:吧)?"
    r"|(?:我要|我想)?(?:撤回|撤销|取消)(?:这条|这个)?投诉|没事了(?:[，, ]*不用了)?|算了吧?"
    r"|(?:搞错了|弄错了|弄错人了|搞错人了|说错了|写错了|发错了|错了)"
    r"[，,。 ]*(?:不好意思|对不起|抱歉)?"
    r"|my mistake|my bad|never ?mind)[。.!！~ ]*"
)


CASES_READ = 100  # a resident's latest cases looked at (an open one may be older than ten)


async def open_cases(ctx: Context) -> list[Case]:
    """The resident's cases still being handled, newest first."""
    resident = ctx.identity.resident_id
    cases = await resident_cases(ctx.session, resident, CASES_READ) if resident is not None else []
    return [case for case in cases if case.status in OPEN_STATUSES]


_KIND_WORDS = {"投诉": CaseKind.COMPLAINT, "代办": CaseKind.PROXY}


async def _open_of_kind(ctx: Context, words: str) -> bool:
    """Whether a case of the kind the words name (any, naming none) is still being handled."""
    kinds = {kind for word, kind in _KIND_WORDS.items() if word in words}
    return any(not kinds or case.kind in kinds for case in await open_cases(ctx))


@router.state(SIMPLE_WORDS)
async def simple_words(ctx: Context) -> HandlerResult:
    """The complaint or dispute in the resident's own words: the case is opened at once."""
    kind = CaseKind(str(ctx.state.data.get("kind", CaseKind.COMPLAINT.value)))
    if not ctx.text:
        return Reply(ctx.t(f"cases.ask_{kind}"), back_to_menu(ctx))
    takes_back = (
        kind is CaseKind.COMPLAINT
        and _TAKES_A_COMPLAINT_BACK.search(ctx.words)
        and not done_by_others(ctx.words)  # "社区把我的代办撤销了，我要投诉" (a review)
    )
    if takes_back or _RETRACTED.fullmatch(ctx.words):
        ctx.clear_state()
        if takes_back and await _open_of_kind(ctx, ctx.words):
            # "不是，我是说刚才那个投诉撤回" was filed as a new complaint (a walkthrough)
            return await ctx.redirect(ctx, "case:withdraw_words")
        # "不好意思我弄错人了，帮我撤销" was filed as the complaint's words (a walkthrough)
        return await main_menu(ctx, ctx.t(f"cases.{kind}_dropped"))
    said = str(ctx.state.data.get("said", ""))  # "我要投诉工作人员", then what happened
    words = f"{said}：{ctx.text}" if said else ctx.text
    return await open_and_alert(ctx, kind, words[:WORDS_LIMIT])


def _resident(ctx: Context) -> bool:
    # An account still bound to staff who lost their powers is told so (handlers/staff.py).
    return not ctx.is_staff and ctx.identity.staff_id is None


@router.payload("track")
@router.command("track")
@router.command("mycases", filters=(_resident,))  # the staff's words for their queue
async def my_cases(ctx: Context) -> HandlerResult:
    """进度 (or 我的事项 / my cases from a resident): my cases, newest first, each with its
    status, then my needs and appointments; 进度 LC-… that one case."""
    # "track my case", "进度 我的": words, not a reference number, ask for the list.
    if any(char.isdigit() for char in ctx.command_args):
        ctx.clear_state()
        return await _show(ctx, ctx.command_args)
    return await cases_of(ctx, None)


async def cases_of(ctx: Context, kind: CaseKind | None) -> Reply:
    """The resident's cases (of one kind, when they have any of it), each with its status;
    asked without a kind, also their needs and upcoming appointments."""
    ctx.clear_state()
    if ctx.identity.resident_id is None:
        return Reply(ctx.t("cases.none"), back_to_menu(ctx))
    cases = await resident_cases(ctx.session, ctx.identity.resident_id)
    if kind is not None and any(c.kind == kind for c in cases):
        cases = [c for c in cases if c.kind == kind]
    needs = [] if kind else await items_of_resident(ctx.session, ctx.identity.resident_id)
    unplaced = [] if kind else await unplaced_needs(ctx.session, ctx.identity.resident_id)
    booked = [] if kind else await upcoming_appointments(ctx)
    if not cases and not needs and not booked and not unplaced:
        # Asked of one kind (我的代办进度), appointments were not looked at: no word of them.
        return Reply(
            ctx.t("cases.none" if kind is None else "cases.none_of_kind"), back_to_menu(ctx)
        )
    lines = [ctx.t("cases.mine_title")] if cases else []
    lines += [
        ctx.t(
            "cases.mine_line",
            ref=c.ref,
            category=category_name(ctx, c).render(ctx.lang),
            status=status_text(ctx, c),
        )
        for c in cases
    ]
    lines += _needs_lines(ctx, needs)
    if unplaced:  # a walkthrough: a need left at the similar-needs offer was lost from sight
        lines.append(ctx.t("needs.unplaced_title"))
        lines += [f"· {clipped(remove_personal_data(n.text), UNPLACED_CHARS)}" for n in unplaced]
    lines += await _appointment_lines(ctx, booked)
    buttons = tuple(Button(c.ref, f"case:view:{c.ref}") for c in cases)
    finish = tuple(
        Button(
            ctx.t("needs.finish", words=clipped(remove_personal_data(n.text), UNPLACED_LABEL)),
            f"need:again:{n.id}",
        )
        for n in unplaced
    )
    mine = (Button(ctx.t("booking.mine"), "book:mine"),) if booked else ()
    return Reply("\n".join(lines), (*buttons, *finish, *mine, *back_to_menu(ctx)))


UNPLACED_CHARS, UNPLACED_LABEL = 40, 12  # of an unfinished need's words, in its line and button


async def _appointment_lines(ctx: Context, appointments: list[Appointment]) -> list[str]:
    """The appointments still to come, each with its service and time (进度 shows them too:
    a resident who only booked has something to follow)."""
    if not appointments:
        return []
    labels = [await appointment_label(ctx, a) for a in appointments]
    return [ctx.t("cases.appointments_title"), *(f"· {label}" for label in labels)]


def _needs_lines(ctx: Context, items: list[NeedItem]) -> list[str]:
    """The needs the resident raised or supported, with their stage and supporters."""
    if not items:
        return []
    lines = [ctx.t("needs.mine_title")]
    lines += [
        ctx.t(
            "needs.mine_line",
            title=item.title,
            stage=ctx.t(f"needs.stage_{item.stage}"),
            supporters=item.supporters,
        )
        for item in items
    ]
    return lines


def _is_reference(ctx: Context) -> bool:
    ref = canonical_reference(ctx.text) if ctx.payload is None else None
    return ref is not None and not ref.startswith("LCY")


@router.route(Phase.COMMAND, _is_reference)
async def reference_typed(ctx: Context) -> HandlerResult:
    """A case number typed on its own, as people type it (lower case, without its hyphens),
    shows that case (if it is yours to see)."""
    return await _show(ctx, canonical_reference(ctx.text) or ctx.text)


@router.payload("case:view")
async def view_case(ctx: Context) -> HandlerResult:
    """The case and its timeline."""
    return await _show(ctx, ctx.args)


async def _show(ctx: Context, ref: str) -> Reply:
    who = await viewer(ctx)
    case = await find_case(ctx.session, ref, who)
    if case is None:
        return Reply(ctx.t("cases.not_found", ref=echoed(ref)), back_to_menu(ctx))
    events = await timeline(ctx.session, case)
    if who.staff is not None:
        card = await case_card(ctx.session, case, who.staff, now=ctx.now(), place="chat")
        text = timeline_text(ctx, case, events, for_staff=True, card=card)
        return Reply(text, await staff_actions(ctx, case, who.staff))
    text = timeline_text(ctx, case, events, for_staff=False)
    return Reply(text, await _resident_actions(ctx, case))


async def _resident_actions(ctx: Context, case: Case) -> tuple[Button, ...]:
    buttons: list[Button] = []
    if case.status in ("resolved", "ready_for_pickup"):
        buttons += [
            Button(ctx.t("cases.confirm"), f"case:confirm:{case.id}"),
            Button(ctx.t("cases.reopen"), f"case:reopen:{case.id}"),
        ]
    if case.status in ("resolved", "closed") and not await _rated(ctx, case):
        buttons.append(Button(ctx.t("cases.rate_button"), f"rate:case:{case.id}"))
    if case.status == "waiting_resident":
        buttons.append(Button(ctx.t("cases.answer"), f"case:answer:{case.id}"))
    if case.status in OPEN_STATUSES:
        buttons.append(Button(ctx.t("cases.withdraw"), f"case:withdraw:{case.id}"))
    return (*buttons, *back_to_menu(ctx))


async def _rated(ctx: Context, case: Case) -> bool:
    """Whether the resident has rated this case already (no 评价服务 button then)."""
    resident = case.resident_id
    return (
        resident is not None
        and await rating_by(ctx.session, CASE, case.id or 0, resident) is not None
    )


def not_taken(ctx: Context, case: Case | None) -> Reply:
    """Why a case's button did nothing: another's (or no) case is not "moved on"."""
    key = "cases.not_now" if case is not None else "cases.not_on_account"
    return Reply(ctx.t(key), back_to_menu(ctx))


async def own_case(ctx: Context, number: str) -> Case | None:
    """The resident's own case by its id (from a button), else None."""
    if not (number.isdecimal() and len(number) < 10) or ctx.identity.resident_id is None:
        return None
    case = await ctx.session.get(Case, int(number))
    return case if case is not None and case.resident_id == ctx.identity.resident_id else None


@router.payload("case:confirm")
async def confirm(ctx: Context) -> HandlerResult:
    """The resident confirms the matter is solved."""
    case = await own_case(ctx, ctx.args)
    if case is None or not confirm_resolved(ctx.session, case, case.resident_id or 0, ctx.now()):
        return not_taken(ctx, case)
    rate = Button(ctx.t("cases.rate_button"), f"rate:case:{case.id}")
    return Reply(ctx.t("cases.confirmed", ref=case.ref), (rate, *back_to_menu(ctx)))


@router.payload("case:reopen")
async def reopen_case(ctx: Context) -> HandlerResult:
    """ "Not solved": back to the owner."""
    case = await own_case(ctx, ctx.args)
    if case is None or not reopen(
        ctx.session, case, case.resident_id or 0, ctx.t("cases.not_solved"), ctx.now()
    ):
        return not_taken(ctx, case)
    reason = ctx.t("cases.not_solved")
    await alert_department(ctx, case, case.department_id or 0, reopened=reason)
    return Reply(ctx.t("cases.reopened", ref=case.ref), back_to_menu(ctx))


@router.payload("case:answer")
@router.payload("case:answer_offered")
async def answer_start(ctx: Context) -> HandlerResult:
    """Answer the office's question: the next message goes to the case."""
    case = await own_case(ctx, ctx.args)
    if case is None or case.status != "waiting_resident":
        return not_taken(ctx, case)
    ctx.set_state(ANSWER, case=case.id, back="track")
    return Reply(ctx.t("cases.answer_prompt", ref=case.ref), back_to_menu(ctx))


ANSWER_FRESH = timedelta(days=2)  # typed words may answer a question asked this lately


async def waiting_for_answer(ctx: Context) -> Case | None:
    """The resident's one case whose office waits for their answer."""
    resident = ctx.identity.resident_id
    if resident is None:
        return None
    stmt = select(Case).where(
        Case.resident_id == resident, Case.status == CaseStatus.WAITING_RESIDENT
    )
    waiting = (await ctx.session.exec(stmt.limit(2))).all()
    return waiting[0] if len(waiting) == 1 else None


async def answer_offer(ctx: Context) -> Button | None:
    """回复 for the one case whose office asked the resident within ANSWER_FRESH and waits: put
    beside a reply to words the bot did not read surely, typed after the question scrolled
    away; pressed, it asks for the answer (an outside walkthrough: such answers were lost;
    filing them unasked took a leak report for an answer, a review found)."""
    case = await waiting_for_answer(ctx)
    if case is None or not await _asked_lately(ctx, case):
        return None
    return Button(ctx.t("cases.answer_waiting", ref=case.ref), f"{ANSWER_OFFERED}{case.id}")


# The offer's own payload: unlike the push's 回复 (case:answer:), it does not make the words
# typed next the answer; only pressing it does (a review: the next unsure words were filed).
ANSWER_OFFERED = "case:answer_offered:"


async def _asked_lately(ctx: Context, case: Case) -> bool:
    stmt = (
        select(CaseEvent.at)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "question")
        .order_by(col(CaseEvent.at).desc())
    )
    asked = (await ctx.session.exec(stmt.limit(1))).first()
    return asked is not None and ctx.now() - asked <= ANSWER_FRESH


@router.state(ANSWER)
async def answer_given(ctx: Context) -> HandlerResult:
    """The answer lands on the case's timeline."""
    case = await own_case(ctx, str(ctx.state.data.get("case", "")))
    ctx.clear_state()
    if case is None or not ctx.text:
        return Reply(ctx.t("cases.not_now"), back_to_menu(ctx))
    resident_answers(ctx.session, case, case.resident_id or 0, ctx.text[:WORDS_LIMIT], ctx.now())
    await case_news.alert_owner(  # the words travel through a chat platform: no phone or ID in them
        ctx.session,
        case,
        "dispatch.resident_wrote",
        now=ctx.now(),
        data_dir=ctx.settings.data_dir,
        text=remove_personal_data(ctx.text[:WORDS_LIMIT]),
    )
    return await main_menu(ctx, ctx.t("cases.answer_sent", ref=case.ref))
