"""咨询 and free text anywhere: answer questions from the street's knowledge, and understand what
a resident wants without menus — a booking in one sentence, a reference number, a problem for
the grid, a wish, proxy handling, a person — even in the middle of another flow."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlmodel import col, select

from bot.context import Context
from bot.messages import Button, Reply
from bot.router import Handler, HandlerResult, Phase, Router, as_replies
from handlers.booking import (
    BOOK_SERVICE,
    CHOOSE_DAY,
    CHOOSE_SERVICE,
    book_from_words,
    book_what_fits,
    day_typed,
    documents_lines,
    my_appointments,
    service_of_step,
    start_booking,
    when_held,
)
from handlers.cases import (
    ANSWER,
    PROXY_QUESTION,
    PROXY_WORDS,
    SIMPLE_WORDS,
    answer_offer,
    complaint_from_words,
    open_cases,
    proxy_from_words,
)
from handlers.cases_staff import ASK, NOTE, REPORT_WORDS, TRANSFER_REASON
from handlers.common import (
    back_to_menu,
    clipped,
    is_short,
    localized,
    main_menu,
    options_shown,
)
from handlers.grid_report import REPORT_WORDS as GRID_WORDS
from handlers.grid_report import report_from_words
from handlers.handover import HANDOVER_QUESTION, LIVE, STAFF_SIDE, hand_over
from handlers.menu import not_understood
from handlers.my_records import (
    appointment_by_reference,
    has_appointments,
    move_to_day,
    names_an_appointment,
    offer_to_cancel,
    show_my_cases,
)
from handlers.needs import NEED_WORDS, need_from_words
from handlers.needs_edit import RENAME
from handlers.needs_staff import REJECT_REASON
from handlers.needs_visit import VISIT_WORDS
from handlers.notices_staff import TEXT as NOTICE_TEXT
from handlers.rating import COMMENT as RATING_COMMENT
from handlers.rating import LEVEL as RATING_LEVEL
from handlers.rating_words import level_in_words
from models.intent_model import IntentModel
from models.intents import (
    OWN_RECORDS,
    Intent,
    Understood,
    asks_for_appointments,
    cancelled_by_others,
    fold,
    load_intent_model,
    load_lexicon,
    names_no_service,
    no_order,
    read_as,
    says_cancel,
    speaks_of_staff,
    tells_solved,
    understand,
)
from models.knowledge import Entry, Found, Knowledge, load_knowledge
from models.lexicon import Lexicon
from models.service_match import ServiceMatcher, load_service_catalogue, units
from models.services import Service
from models.when import names_when, without_when

router = Router("inquiry")

ASKING = "ask.recent"  # after a question: the next one is a question too, with the history
TITLE_LIMIT = 40  # characters of an answer's title on its button
NOT_IT_REST = 2  # "不对啊", "that's wrong": characters (words) besides the words that say so
RECENT = 6  # exchanges kept for a hand-over's transcript
NOT_A_DAY_CHARS = 4  # shorter, an unclear answer at a day step is left to the step ("随便")
# Flows where the resident types free text of their own; only a reference number or asking
# for a person interrupts them, since "路灯坏了" there is what the flow asked for.
FREE_TEXT_STATES = (
    NEED_WORDS,
    VISIT_WORDS,
    PROXY_WORDS,
    PROXY_QUESTION,
    ANSWER,
    NOTE,
    ASK,
    TRANSFER_REASON,
    REPORT_WORDS,
    GRID_WORDS,
    NOTICE_TEXT,
    REJECT_REASON,
    RENAME,
    LIVE,
    STAFF_SIDE,
    HANDOVER_QUESTION,
    SIMPLE_WORDS,
    RATING_COMMENT,
)
# Cancelling or following one's own records takes over any flow, even one of free text;
# moving needs a day, which free text may well mention, so it is left to such a flow.
INTERRUPTING_FREE_TEXT = (Intent.REFERENCE, Intent.HANDOVER, Intent.TRACK, Intent.CANCEL_BOOKING)
INTERRUPTING = (*INTERRUPTING_FREE_TEXT, Intent.BOOKING)
# A sure reading of another matter also leaves a step of these flows (a booking's day or time,
# an account's grid, a proxy's or a need's category); a report's own steps read a report
# sentence themselves.
OTHER_MATTERS = (Intent.COMPLAINT, Intent.PROXY, Intent.REPORT, Intent.NEED)
LEFT_FOR_OTHER_MATTERS = ("booking.", "account.", "case.category", "need.category")
# Readings of words that, beside a rating level at the levels, only describe the service.
SAID_BESIDE_A_LEVEL = (
    Intent.HANDOVER,
    Intent.TRACK,
    Intent.CANCEL_BOOKING,
    Intent.MOVE_BOOKING,
    Intent.CHITCHAT,
)
# What a staff account's words never start: a resident's request to the office.
NOT_FOR_STAFF = (Intent.PROXY, Intent.REPORT, Intent.NEED, Intent.COMPLAINT, Intent.HANDOVER)
# Readings the resident may pick when the bot is unsure (a reference is never guessed, and
# neither swearing nor "not ours" is a thing to offer).
OFFERED_READINGS = tuple(
    i for i in Intent if i not in (Intent.REFERENCE, Intent.ABUSE, Intent.UNKNOWN)
)
# Answered with the flow kept aside and offered again: a question, and a problem or a wish,
# whose answer only asks how to take it up ("小区路灯坏了" while choosing a time).
KEEPS_THE_FLOW = (Intent.QUESTION, Intent.REPORT, Intent.NEED)
# A flow paused by a question is offered again with this label (by the state's first word).
RESUME_LABELS = {"booking": "flow.resume_booking", "case": "flow.resume_proxy"}
WHEN_ANSWER_REST = 6  # characters or English words besides a day or time that leave it the answer
UNDERSTOOD_CHARS = 300  # of a message's text, the understanding reads no more


def knowledge(ctx: Context) -> Knowledge:
    """The FAQ and catalogue of this installation's data directory."""
    return load_knowledge(Path(ctx.settings.data_dir))


def _readers(ctx: Context) -> tuple[Lexicon, Knowledge, ServiceMatcher, IntentModel | None]:
    """What reads a resident's free text, from this installation's data directory."""
    data = Path(ctx.settings.data_dir)
    return load_lexicon(data), knowledge(ctx), load_service_catalogue(data), load_intent_model(data)


def understood(ctx: Context, text: str | None = None) -> Understood:
    """What the message's text (or the given text) wants, worked out once per message."""
    text = ctx.text if text is None else text
    cached = ctx.extra.get("understood")
    if isinstance(cached, tuple) and cached[0] == text and isinstance(cached[1], Understood):
        return cached[1]
    # What a message wants is said at its start; reading all of it cost seconds per 1,000
    # characters jieba does not know (a WeChat text is not cut: "中" * 20000 took 13 s).
    result = understand(text[:UNDERSTOOD_CHARS], *_readers(ctx))
    ctx.extra["understood"] = (text, result)
    return result


def _interrupts(ctx: Context) -> bool:
    """In a flow, a message that clearly asks for something else takes over."""
    if ctx.payload is not None or not ctx.text or not ctx.state.name:
        return False
    if ctx.state.name in (ASKING, LIVE, STAFF_SIDE):
        return False
    if ctx.command is not None and not ctx.command_args:
        return False  # a chat word alone (取消, 进度) is its command's, whatever a model reads
    seen = understood(ctx)
    if ctx.state.name == RATING_LEVEL and seen.intent in SAID_BESIDE_A_LEVEL:
        # "满意，工作人员讲得很清楚", "满意，进度挺快" rate: such words there ask for nothing (a
        # question or a request beside a level still interrupts, reviews)
        return not level_in_words(ctx.text, Path(ctx.settings.data_dir))
    if not seen.sure:  # the flow's step reads it (the bot would only ask what it means) …
        return _no_day_but_another_matter(ctx, seen)
    intent = seen.intent
    if ctx.state.name == PROXY_QUESTION and intent is Intent.QUESTION and _plainly_asks(ctx):
        return True  # "先问一下要带什么材料？" at "上门地址？" is no address: answered, kept aside
    if ctx.state.name in FREE_TEXT_STATES:
        if seen.ruled not in (None, intent):
            return False  # words the flow asked for: only the word lists' own reading interrupts
        if intent is Intent.HANDOVER:  # "那个工作人员一直玩手机" is an answer, "转人工" a request
            return is_short(ctx.words, chars=6, count=4)  # a request and nothing else
        if ctx.state.name == SIMPLE_WORDS and intent in (Intent.CANCEL_BOOKING, Intent.TRACK):
            # "取消预约不通知，太过分了" is the complaint asked for: a review saw it cancel the
            # resident's appointment on "是的"; "取消预约" alone still asks to cancel
            return is_short(ctx.words, chars=8, count=4)
        return intent in INTERRUPTING_FREE_TEXT
    if intent is Intent.MOVE_BOOKING:
        # Choosing a day for a new booking, "改到周六" changes that day: the step reads it; so
        # does the choice of a service holding a day ("改成下周三上午" after "下周一下午两点办
        # 居住证"), unless a booking word says an appointment is meant ("把我的预约改到周三").
        if ctx.state.name == CHOOSE_SERVICE and when_held(ctx.state.data):
            return _asks_for(ctx, "booking", ctx.text)
        return ctx.state.name != CHOOSE_DAY or "move" in ctx.state.data
    if intent is Intent.BOOKING and not (seen.service or seen.services):
        # "周六上午10点" reads as booking, but names no service: inside the booking flow it is
        # the step's answer, elsewhere the booking starts (with nothing lost either way).
        return not ctx.state.name.startswith("booking.")
    if intent in INTERRUPTING:
        return True
    if intent in OTHER_MATTERS and ctx.state.name.startswith(LEFT_FOR_OTHER_MATTERS):
        return True
    return intent is Intent.QUESTION and _asks(ctx, ctx.text)


def _plainly_asks(ctx: Context) -> bool:
    """A question by its words and its end, asking what or which ("…要带什么材料？"); not a
    place or time put as a question ("周末上午可以吗？", "幸福小区3栋是吗？"), which answers."""
    asks_at_end = ctx.text.rstrip(" 。.!！").endswith(("?", "？", "吗"))
    folded, lexicon = fold(ctx.text), load_lexicon(Path(ctx.settings.data_dir))
    if not asks_at_end or not lexicon.has("which", folded) or names_when(folded):
        return False
    # "什么时间都可以吗？", "我家在3栋，上门要带证件吗？", "楼道里，什么时候来修？" answer the step
    if lexicon.has("step_answer", folded) or any(ch.isdigit() for ch in folded):
        return False
    return _asks(ctx, ctx.text)


def _no_day_but_another_matter(ctx: Context, seen: Understood) -> bool:
    """… unless it is a booking's day or time step, which could only say it did not understand
    a date, and the sentence names no day or time but likely another matter ("小区路灯坏了",
    "what are your hours"): it is answered as a question would be, the booking kept aside."""
    return (
        ctx.state.name == CHOOSE_DAY
        and seen.intent in (*OTHER_MATTERS, *OWN_RECORDS, Intent.QUESTION, Intent.HANDOVER)
        and len(ctx.words) >= NOT_A_DAY_CHARS
        and not names_when(fold(ctx.text))
    )


def _asks(ctx: Context, text: str) -> bool:
    return _asks_for(ctx, "question", text)


@router.route(Phase.COMMAND, _interrupts)
async def interrupting(ctx: Context) -> HandlerResult:
    """Leave the flow for what the message asks; a question is answered and the flow is
    offered again, at the step it was at."""
    seen = understood(ctx)
    if seen.intent is Intent.MOVE_BOOKING:
        return await move_to_day(ctx)  # reads the appointment in view from the state
    documents = await _documents_of_booking(ctx, ctx.state.name, ctx.state.data)
    if documents is not None:
        return await answer_then_offer_flow(ctx, documents)
    if seen.intent not in KEEPS_THE_FLOW and seen.sure:
        ctx.clear_state()
        return await respond(ctx)
    return await answer_then_offer_flow(ctx)


async def _documents_of_booking(ctx: Context, step: object, data: object) -> Handler | None:
    """ "要带什么材料" while booking 居住证办理 (at its day or time, or after a question that
    paused it): the answer is that service's list, not the FAQ's guess about another one."""
    data_dir = Path(ctx.settings.data_dir)
    lexicon, folded = load_lexicon(data_dir), fold(ctx.text)
    if not lexicon.has("documents", folded):
        return None
    # "办社保卡要带什么" names another service: the answer is about that one, as usual.
    rest = lexicon.without(
        "documents_filler", lexicon.pattern("documents", "question").sub(" ", folded)
    )
    if not names_no_service(rest, lexicon, load_service_catalogue(data_dir)):
        return None
    service = await service_of_step(ctx, step, data)
    if service is None:
        return None
    documents = Reply("\n".join(documents_lines(ctx, service)), back_to_menu(ctx))

    async def answer(_ctx: Context) -> Reply:
        return documents

    return answer


async def answer_then_offer_flow(ctx: Context, answer: Handler | None = None) -> list[Reply]:
    """Answer a question asked mid-flow (by default as free text is answered; the weekend
    question passes its own answer); the flow is kept aside and offered again."""
    paused = {"name": ctx.state.name, "data": dict(ctx.state.data)}
    ctx.clear_state()
    return await keeping_paused(ctx, paused, answer or respond)


def paused_flow(ctx: Context) -> dict[str, object] | None:
    """The flow a question paused, while the resident goes on asking."""
    paused = ctx.state.data.get("paused")
    return paused if isinstance(paused, dict) and isinstance(paused.get("name"), str) else None


async def keeping_paused(
    ctx: Context, paused: Mapping[str, object] | None, answer: Handler
) -> list[Reply]:
    """The answer, with the paused flow (if any) kept aside and offered again under it, until
    the resident starts something else."""
    replies = as_replies(await answer(ctx))
    if paused is None or not replies or ctx.state.name not in ("", ASKING):
        return replies
    ctx.state.data = {**ctx.state.data, "paused": dict(paused)}
    label = RESUME_LABELS.get(str(paused["name"]).partition(".")[0], "flow.resume")
    last = replies[-1]
    again = Button(ctx.t(label), "flow:resume")
    return [*replies[:-1], Reply(last.text, (again, *last.buttons), last.link)]


def _goes_on(ctx: Context) -> bool:
    """ "继续", "接着约", "continue" typed in a flow, or after a question paused one."""
    if ctx.payload is not None or not ctx.text or ctx.command is not None:
        return False
    if ctx.state.name in ("", ASKING) and paused_flow(ctx) is None:
        return False  # no flow to go on with: the words are read as any others
    if ctx.state.name in FREE_TEXT_STATES:
        return False  # any words are the step's answer there ("继续" to the staff in a chat)
    return load_lexicon(Path(ctx.settings.data_dir)).is_only("going_on", ctx.text)


def _holds_on(ctx: Context) -> bool:
    """ "等等", "我还没说完", "hang on" typed at a step of a flow (not in a chat with staff)."""
    if ctx.payload is not None or not ctx.text or ctx.command is not None:
        return False
    if ctx.state.name in ("", ASKING, LIVE, STAFF_SIDE):
        return False
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    return lexicon.only_with_filler("hold_on", "gives_up_filler", ctx.text)


# Included before every feature's router: "继续预约" must not be read as a new booking.
going_on = Router("going_on")


@going_on.route(Phase.COMMAND, _holds_on)
async def hold_on(ctx: Context) -> HandlerResult:
    """The step waits: nothing is taken as its answer (a walkthrough: "等等我还没说完" was
    saved as a report's location and the case filed)."""
    data = ctx.state.data
    prompt = data.get("prompt")
    said = ctx.t("flow.hold_on")
    shown = prompt.removeprefix(said).lstrip() if isinstance(prompt, str) else ""
    text = f"{said}\n{shown}" if shown else said
    return Reply(text, options_shown(data) or back_to_menu(ctx))


@going_on.route(Phase.COMMAND, _goes_on)
async def go_on(ctx: Context) -> HandlerResult:
    """The step shown again, with its options; after a question, the paused flow taken up."""
    if ctx.state.name in ("", ASKING):
        return await ctx.redirect(ctx, "flow:resume")
    data = ctx.state.data
    return Reply(_resumed_text(ctx, data.get("prompt")), options_shown(data) or back_to_menu(ctx))


def _resumed_text(ctx: Context, prompt: object) -> str:
    """ "好的，接着刚才的步骤：" and the step's words, said once even when the step shown was
    itself a resumed one."""
    said = ctx.t("flow.resumed")
    if not isinstance(prompt, str) or not prompt:
        return said
    return f"{said}\n{prompt.removeprefix(said).lstrip()}"


@router.payload("flow:resume")
async def resume(ctx: Context) -> HandlerResult:
    """Back to the step a question interrupted, with what it showed (its options kept)."""
    paused = ctx.state.data.get("paused")
    step = paused.get("name") if isinstance(paused, dict) else None
    data = paused.get("data") if isinstance(paused, dict) else None
    if not isinstance(step, str) or not step or not isinstance(data, dict):
        return Reply(ctx.t("menu.stale_option"), back_to_menu(ctx))
    ctx.set_state(step, **data)
    return Reply(_resumed_text(ctx, data.get("prompt")), options_shown(data) or back_to_menu(ctx))


@router.payload("ask")
@router.command("ask")
async def ask_start(ctx: Context) -> HandlerResult:
    """咨询: ask in your own words."""
    if ctx.command_args:
        return await respond(ctx, ctx.command_args)
    ctx.set_state(ASKING, recent=[])
    return Reply(ctx.t("ask.prompt"), back_to_menu(ctx))


@router.state(ASKING)
async def next_question(ctx: Context) -> HandlerResult:
    """Another message while asking: understood the same way, with the history kept (and the
    flow a first question paused still offered); "不对" right after an answer gets the others."""
    if _not_this_answer(ctx):
        return await _other_answers(ctx)
    return await _go_on_asking(ctx)


async def _go_on_asking(ctx: Context) -> list[Reply]:
    """The message answered, the flow a question paused (if any) still offered; what to bring
    is still the paused booking's list."""
    paused = paused_flow(ctx)
    step = _paused_booking_day(ctx, paused)
    if step is not None:
        ctx.set_state(CHOOSE_DAY, **step)
        return as_replies(await day_typed(ctx))  # "10点半" after 要带什么: the step goes on
    documents = paused and await _documents_of_booking(ctx, paused["name"], paused.get("data"))
    return await keeping_paused(ctx, paused, documents or respond)


def _paused_booking_day(
    ctx: Context, paused: Mapping[str, object] | None
) -> dict[str, object] | None:
    """The data of a booking's day or time step a question paused, when the message names a
    day or time: it is that step's answer, as if 继续预约 had been pressed first."""
    data = paused.get("data") if paused is not None else None
    if paused is None or paused["name"] != CHOOSE_DAY or not isinstance(data, dict):
        return None
    folded = fold(ctx.text)
    if not names_when(folded):
        return None
    # The day or time must be what the message says: "晚上" in a complaint about the
    # neighbours' noise ("每天晚上楼上都很吵") is no answer to the paused booking's day.
    rest = without_when(folded)
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    if any(lexicon.has(kind.value, rest) for kind in OTHER_MATTERS):
        return None
    return data if len(units(rest, frozenset())) <= WHEN_ANSWER_REST else None


def _not_this_answer(ctx: Context) -> bool:
    """Whether the message only says that the last answer was the wrong one."""
    recent = _transcript(ctx)
    if ctx.payload is not None or not ctx.text or not recent or not recent[-1].get("a"):
        return False
    lexicon, folded = load_lexicon(Path(ctx.settings.data_dir)), fold(ctx.text)
    if not lexicon.has("not_this_answer", folded):
        return False
    rest = lexicon.pattern("not_this_answer").sub(" ", folded)
    if rest.isascii():  # "wrong", "that's wrong": a word or two besides
        return len(rest.split()) <= NOT_IT_REST
    return sum(ch.isalnum() for ch in lexicon.without("filler", rest)) <= NOT_IT_REST


async def _other_answers(ctx: Context) -> Reply:
    """The other entries that fit the last question, offered in place of the wrong answer."""
    last = _transcript(ctx)[-1]
    others = [
        f for f in understood(ctx, last["q"]).found if f.score > 0 and f.entry.title_zh != last["a"]
    ]
    _remember(ctx, ctx.text, "")
    if not others:
        street = await ctx.reference.street(ctx.unit)
        said = ctx.t("ask.not_it_none", phone=street.phone if street else "")
        return Reply(said, _human_and_menu(ctx))
    return Reply(ctx.t("ask.not_it"), (*_entry_buttons(ctx, others), *_human_and_menu(ctx)))


def _typed(ctx: Context) -> bool:
    # A command word nobody took (a resident typing 工作台) gets the plain "not understood".
    return ctx.payload is None and bool(ctx.text) and ctx.command is None


@router.route(Phase.FALLBACK, _typed)
async def free_text(ctx: Context) -> HandlerResult:
    """Whatever typed text no button, command or flow took: work out what it wants."""
    if not ctx.state_expired:
        return await _go_on_asking(ctx)
    if understood(ctx).intent in (Intent.UNKNOWN, Intent.CHITCHAT):
        return await not_understood(ctx)  # "2" meant for the lost flow: say it was reset
    # The half-finished flow timed out: say so, and still act on what was written.
    note = ctx.t("menu.expired", minutes=ctx.settings.state_timeout_minutes)
    replies = as_replies(await respond(ctx))
    if not replies or note in replies[0].text:
        return replies
    first = replies[0]
    return [Reply(f"{note}\n{first.text}", first.buttons, first.link), *replies[1:]]


def _asks_for(ctx: Context, kind: str, text: str) -> bool:
    return load_lexicon(Path(ctx.settings.data_dir)).has(kind, fold(text))


async def respond(ctx: Context, text: str | None = None) -> HandlerResult:
    """Answer what the message (or the given text) wants."""
    text = ctx.text if text is None else text
    seen = understood(ctx, text)
    offer = await answer_offer(ctx) if _may_answer_the_office(ctx, seen, text) else None
    replies = as_replies(await _respond(ctx, seen, text))
    if offer is None or not replies or ctx.state.name not in ("", ASKING):
        return replies  # a flow the reply started keeps its own options
    last = replies[-1]
    if any(button.payload.startswith("case:answer") for button in last.buttons):
        return replies  # the case's own 回复 is there already
    return [*replies[:-1], Reply(last.text, (offer, *last.buttons), last.link)]


async def _respond(ctx: Context, seen: Understood, text: str) -> HandlerResult:
    intent = seen.intent
    if ctx.staff is not None and intent in NOT_FOR_STAFF:
        return _staff_words(ctx)
    if intent not in NOT_TOLD_SOLVED and tells_solved(fold(text)):
        return await _thanked_for_solved(ctx)
    if await _cancels_a_named_appointment(ctx, seen, text):
        return await offer_to_cancel(ctx)
    if not seen.sure and _offerable(seen, ctx):
        return _offer_readings(ctx, seen, text)
    if intent is Intent.BOOKING and (seen.service or seen.services):
        return await book_what_fits(ctx, text)
    if intent in OWN_RECORDS:
        return await _own_records(ctx, seen, text)
    if intent is Intent.BOOKING and (offered := _booking_just_offered(ctx)) is not None:
        # "好的 帮我约这周六上午吧" under 预约「社保卡补办」 got the departments (a walkthrough)
        return await book_from_words(ctx, offered, text)
    if intent is Intent.BOOKING:
        return await start_booking(ctx)  # wants to book, has not said what yet
    if intent is Intent.REFERENCE and seen.reference:
        return await _reference(ctx, seen.reference, text)
    if intent is Intent.COMPLAINT:
        return await complaint_from_words(ctx, text)
    if intent is Intent.HANDOVER and speaks_of_staff(fold(text), _readers(ctx)[0]):
        # "解决了，很满意，工作人员上门很及时" praises staff (a walkthrough opened a consultation)
        return await main_menu(ctx, ctx.t("ask.thanks"))
    if intent is Intent.HANDOVER:
        return await hand_over(ctx, _transcript(ctx))
    if intent is Intent.PROXY and cancelled_by_others(fold(text)):
        return await show_my_cases(ctx)  # "他们把我母亲的高龄补贴代办取消了" asks for no new one
    if intent is Intent.PROXY:
        return await proxy_from_words(ctx, text)
    if intent in (Intent.REPORT, Intent.NEED):
        return _offer_report_or_need(ctx, intent, text)
    if intent is Intent.CHITCHAT:
        thanks = _asks_for(ctx, "thanks", text)
        return await main_menu(ctx, ctx.t("ask.thanks" if thanks else "ask.chitchat"))
    if intent is Intent.ABUSE:
        return Reply(ctx.t("ask.abuse"), _human_and_menu(ctx))
    if not seen.found and not seen.outside and not _asks(ctx, text):
        return await not_understood(ctx)  # nothing we know of, and not even a question
    return await _answer(ctx, seen, text)


# Words about one's appointments: "已经解决了，预约不用了" cancels one.
NOT_TOLD_SOLVED = (Intent.BOOKING, Intent.CANCEL_BOOKING, Intent.MOVE_BOOKING)


async def _thanked_for_solved(ctx: Context) -> Reply:
    """ "投诉的事情已经解决了，谢谢" files nothing (a walkthrough filed it as a complaint); with a
    case still open, how to withdraw it."""
    if not await open_cases(ctx):
        return await main_menu(ctx, ctx.t("ask.solved"))
    return Reply(
        ctx.t("ask.solved_open", withdraw=ctx.t("cases.withdraw")),
        (Button(ctx.t("menu.track"), "track"), *back_to_menu(ctx)),
    )


def _booking_just_offered(ctx: Context) -> str | None:
    """The one service whose booking the last reply offered as an option ("预约「社保卡补办」"
    under an answer), if it offered one."""
    options = ctx.state.data.get("options", [])
    codes = [
        option.removeprefix(BOOK_SERVICE)
        for option in options
        if isinstance(option, str) and option.startswith(BOOK_SERVICE)
    ]
    return codes[0] if len(codes) == 1 else None


async def _cancels_a_named_appointment(ctx: Context, seen: Understood, text: str) -> bool:
    """Whether cancel words stand beside the name of a service the resident has booked
    ("高龄补贴那个不要了" was asked which reading it meant, "取消社保卡补办" got the service's
    guide: walkthroughs). The cancel question still asks first."""
    if text != ctx.text or ctx.identity.resident_id is None or puts_a_question(ctx, text):
        return False  # "社保卡补办预约取消后还能再约吗" asks (a review)
    if seen.sure and seen.intent in (Intent.REFERENCE, *NOT_FOR_STAFF):
        return False  # "我想投诉，社保卡补办的预约被无故取消了" is a complaint
    folded = fold(text)
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    # 取消 itself is no lexicon word (alone, it leaves a flow); beside a service it cancels.
    if no_order(folded) or not (says_cancel(folded, lexicon) or "取消" in folded):
        return False
    if cancelled_by_others(folded):
        return False  # "社区把我的社保卡补办预约取消了" tells what happened
    return await names_an_appointment(ctx, text)


def _staff_words(ctx: Context) -> Reply:
    """A staff account's words start no resident's request (a walkthrough: a clerk's note
    after 办结 was offered 申请上门代办): how staff act on a case instead."""
    return Reply(
        ctx.t("ask.staff_words"), (Button(ctx.t("menu.staff"), "staff"), *back_to_menu(ctx))
    )


def _may_answer_the_office(ctx: Context, seen: Understood, text: str) -> bool:
    """Whether the words could be an answer to the office's question (回复 is offered beside
    the reply): the message's own, outside any flow, read as nothing sure, no small talk and
    no question."""
    if text != ctx.text or ctx.payload is not None or ctx.state.name not in ("", ASKING):
        return False
    if seen.sure and seen.intent is not Intent.UNKNOWN:
        return False
    if Intent.CHITCHAT in (seen.intent, seen.ruled) or seen.intent is Intent.ABUSE:
        return False
    return not puts_a_question(ctx, text)


def puts_a_question(ctx: Context, text: str) -> bool:
    """Whether the words put a question ("社保卡怎么办理", "要带什么？"), not a statement read
    as one ("不在本街道")."""
    return any(mark in text for mark in "?？") or _asks(ctx, text)


def _offerable(seen: Understood, ctx: Context) -> list[Intent]:
    """The readings to offer; to a staff account, none that would start a resident's request."""
    staff = ctx.staff is not None
    return [
        i for i in seen.readings if i in OFFERED_READINGS and not (staff and i in NOT_FOR_STAFF)
    ]


def _offer_readings(ctx: Context, seen: Understood, text: str) -> Reply:
    """Not sure what the message wants: the likeliest readings to choose from (the words are
    kept for the one chosen), a person, and the menu."""
    offered = [i.value for i in _offerable(seen, ctx)]
    ctx.set_state(ASKING, recent=_transcript(ctx), words=text[:500], readings=offered)
    buttons = tuple(Button(ctx.t(f"ask.reading.{i}"), f"ask:as:{i}") for i in offered)
    return Reply(ctx.t("ask.which_reading"), (*buttons, *_human_and_menu(ctx)))


@router.payload("ask:as")
async def as_reading(ctx: Context) -> HandlerResult:
    """The reading the resident chose for their words: acted on as if the bot had been sure."""
    chosen = next((i for i in OFFERED_READINGS if i.value == ctx.args), None)
    words = _offered_words(ctx, chosen.value) if chosen is not None else None
    if chosen is None or words is None:  # stale, or never offered for these words
        return Reply(ctx.t("menu.stale_option"), back_to_menu(ctx))
    if chosen is Intent.REPORT:  # chosen already: no second "grid or need?" question
        return await report_from_words(ctx, words)
    if chosen is Intent.NEED:
        return await need_from_words(ctx, words)
    ctx.extra["understood"] = (words, read_as(words, chosen, *_readers(ctx)))
    return await respond(ctx, words)


async def _own_records(ctx: Context, seen: Understood, text: str) -> HandlerResult:
    """Cancel or move one of the resident's appointments, or show their cases; "怎么取消预约?"
    from one with no appointment gets the answer instead."""
    folded, lexicon = fold(text), load_lexicon(Path(ctx.settings.data_dir))
    if seen.intent is Intent.TRACK:
        if asks_for_appointments(folded, lexicon):
            return await my_appointments(ctx)
        return await show_my_cases(ctx)
    if seen.answer is not None and _asks(ctx, text) and not await has_appointments(ctx):
        return await _answer(ctx, seen, text)
    if seen.intent is Intent.CANCEL_BOOKING:
        if cancelled_by_others(folded):  # "居委会把我家的低保撤销了" asks for nothing
            if asks_for_appointments(folded, lexicon):
                return await my_appointments(ctx)
            return await _answer(ctx, seen, text)
        if not says_cancel(folded, lexicon):  # a cancel question answered "好的" cancels
            return await my_appointments(ctx)
        return await offer_to_cancel(ctx)
    return await move_to_day(ctx, text)


async def _answer(ctx: Context, seen: Understood, text: str) -> Reply:
    answer = seen.answer
    if answer is not None:
        _remember(ctx, text, answer.entry.title_zh)
        return Reply(_answer_text(ctx, answer.entry), await _next_steps(ctx, answer.entry))
    _remember(ctx, text, "")
    maybe = [found for found in seen.found if found.score > 0][:3]
    if seen.outside:  # declined: what the bot can do instead, and the street's phone
        street = await ctx.reference.street(ctx.unit)
        phone = street.phone if street else ""
        return Reply(ctx.t("ask.outside", phone=phone), back_to_menu(ctx))
    if seen.intent is not Intent.QUESTION or not maybe:
        street = await ctx.reference.street(ctx.unit)
        return Reply(
            ctx.t("ask.unknown", phone=street.phone if street else ""), _human_and_menu(ctx)
        )
    # The options carry the titles; each channel shows them once (WeChat numbers them).
    return Reply(ctx.t("ask.not_sure"), (*_entry_buttons(ctx, maybe), *_human_and_menu(ctx)))


def _entry_buttons(ctx: Context, found: list[Found]) -> tuple[Button, ...]:
    return tuple(
        Button(clipped(_title(ctx, f.entry), TITLE_LIMIT), f"ask:show:{f.entry.id}") for f in found
    )


def _title(ctx: Context, entry: Entry) -> str:
    return localized(ctx, entry.title_zh, entry.title_en)


def _answer_text(ctx: Context, entry: Entry) -> str:
    source = (
        ctx.t("ask.source_faq") if entry.id.startswith("faq:") else ctx.t("ask.source_catalogue")
    )
    body = localized(ctx, entry.answer_zh, entry.answer_en)
    return f"{body}\n{ctx.t('ask.source', source=source, title=_title(ctx, entry))}"


async def _next_steps(ctx: Context, entry: Entry) -> tuple[Button, ...]:
    buttons: list[Button] = []
    if entry.service and await _offered(ctx, entry.service):
        buttons.append(Button(ctx.t("ask.book_this"), f"{BOOK_SERVICE}{entry.service}"))
    if entry.proxy or _proxy_possible(ctx, entry.service):
        buttons.append(Button(ctx.t("ask.proxy_this"), "proxy"))
    return (*buttons, *_human_and_menu(ctx))


async def _offered(ctx: Context, code: str) -> bool:
    """Whether the database offers the service for booking (it is there and active)."""
    stmt = select(Service).where(Service.code == code, col(Service.active).is_(True))
    return (await ctx.session.exec(stmt)).first() is not None


def _proxy_possible(ctx: Context, service: str | None) -> bool:
    entry = knowledge(ctx).by_id.get(f"service:{service}") if service else None
    return entry is not None and entry.proxy


def _human_and_menu(ctx: Context) -> tuple[Button, ...]:
    return (Button(ctx.t("ask.human"), "human"), *back_to_menu(ctx))


@router.payload("ask:show")
async def show_entry(ctx: Context) -> HandlerResult:
    """One of the answers offered when the bot was not sure."""
    entry = knowledge(ctx).by_id.get(ctx.args)
    if entry is None:
        return Reply(ctx.t("menu.stale_option"), back_to_menu(ctx))
    recent = _transcript(ctx)
    if recent and not recent[-1].get("a"):  # the question it answers: "不对" offers the others
        ctx.set_state(ASKING, recent=[*recent[:-1], {**recent[-1], "a": entry.title_zh[:100]}])
    return Reply(_answer_text(ctx, entry), await _next_steps(ctx, entry))


def _remember(ctx: Context, text: str, answered: str) -> None:
    """Keep the last exchanges in the asking state, for a hand-over's transcript."""
    recent = list(ctx.state.data.get("recent", [])) if ctx.state.name == ASKING else []
    recent = [*recent, {"q": text[:300], "a": answered[:100]}][-RECENT:]
    ctx.set_state(ASKING, recent=recent)


def _transcript(ctx: Context) -> list[dict[str, str]]:
    recent = ctx.state.data.get("recent", []) if ctx.state.name == ASKING else []
    return [dict(r) for r in recent if isinstance(r, dict)]


async def _reference(ctx: Context, ref: str, text: str = "") -> HandlerResult:
    if ref.startswith("LCY"):
        return await appointment_by_reference(ctx, ref, text)
    return await ctx.redirect(ctx, f"case:view:{ref}")


def _offer_report_or_need(ctx: Context, intent: Intent, text: str) -> Reply:
    """A problem or a wish: reported to the grid, or collected as a need (the resident picks)."""
    first = (
        ("ask.as_report", "ask:report") if intent is Intent.REPORT else ("ask.as_need", "ask:need")
    )
    second = (
        ("ask.as_need", "ask:need") if intent is Intent.REPORT else ("ask.as_report", "ask:report")
    )
    key = "ask.offer_report" if intent is Intent.REPORT else "ask.offer_need"
    # "要把它作为一条需求提交吗？" answered "是的" takes the reading it proposes.
    yes = first[1] if intent is Intent.NEED else None
    recent = _transcript(ctx)
    ctx.set_state(ASKING, recent=recent, words=text[:500], readings=["report", "need"], on_yes=yes)
    buttons = (Button(ctx.t(first[0]), first[1]), Button(ctx.t(second[0]), second[1]))
    return Reply(ctx.t(key), (*buttons, *back_to_menu(ctx)))


_OFFER_WORDS = (("ask:report", "offer_report"), ("ask:need", "offer_need"))


def _offer_answered(ctx: Context) -> str | None:
    """The option of the report-or-need offer that words choose ("上报吧", "报给网格员吧",
    "作为需求", "需求吧"; a walkthrough: they got an FAQ and the offer was lost)."""
    options = ctx.state.data.get("options")
    if ctx.state.name != ASKING or ctx.payload is not None or not isinstance(options, list):
        return None
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    words = ctx.words  # folded as command words are: "/report it" too
    for payload, kind in _OFFER_WORDS:
        kinds = (kind, "offer_pointing", "gives_up_filler")
        said = bool(words) and lexicon.has(kind, fold(words))  # not "谢谢" alone (a review)
        if payload in options and said and lexicon.only_words_of(kinds, words):
            return payload
    return None


# On going_on, before the report and need commands: "report it" / "需求 吧" at the offer take
# it with the words said before, rather than starting anew with "it" (a walkthrough).
@going_on.route(Phase.COMMAND, lambda ctx: _offer_answered(ctx) is not None)
async def offer_answered_in_words(ctx: Context) -> HandlerResult:
    """The report-or-need offer answered in words: that option, with the words said before."""
    return await ctx.redirect(ctx, _offer_answered(ctx) or "menu")


@router.payload("ask:report")
async def as_grid_report(ctx: Context) -> HandlerResult:
    """Report it to the grid: its category and place next, then its reference."""
    words = _offered_words(ctx, "report")
    if words is None:
        return Reply(ctx.t("menu.stale_option"), back_to_menu(ctx))
    return await report_from_words(ctx, words)


@router.payload("ask:need")
async def as_need(ctx: Context) -> HandlerResult:
    """Collect it as a need (matched against what neighbours asked for)."""
    words = _offered_words(ctx, "need")
    if words is None:
        return Reply(ctx.t("menu.stale_option"), back_to_menu(ctx))
    return await need_from_words(ctx, words)


def _offered_words(ctx: Context, reading: str) -> str | None:
    """The words kept with an offer, if this reading was one of the offer's (else None)."""
    words, offered = ctx.state.data.get("words"), ctx.state.data.get("readings")
    if not isinstance(words, str) or not words or not isinstance(offered, list):
        return None
    return words if reading in offered else None
