"""What a resident wants when they write freely: a question, a booking, a reference number, a
problem to report, a wish, proxy handling, a person, small talk, or abuse.

Two readers work together. The rules check clear signals first (a reference number, asking for a
person, swearing, a booking verb with a service's name), then the kinds of request told by their
words; what is left is a question for the knowledge search, answered only when the search is sure.
The trained model (models.intent_model) then weighs the message's own characters and words with
what the rules saw, and gives each reading a probability: the bot acts on a reading only when it
is likely enough (SURE_READING), and otherwise offers the best three readings to choose from.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Collection
from concurrent.futures import Future
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from models.data_files import Version, data_version
from models.intent_model import EXAMPLES, Features, IntentModel, load_examples, train
from models.knowledge import Found, Knowledge, load_knowledge
from models.lexicon import BOOKING_YUE, Lexicon
from models.lexicon import fold as fold
from models.lexicon import load_lexicon as load_lexicon
from models.model_cache import cached, fingerprint
from models.refs import find_reference
from models.service_match import Match, ServiceMatcher, load_service_catalogue, units
from models.when import names_when, without_when

# Cancelling an appointment in words apart ("帮我取消一下明天的预约", "预约的体检能取消吗").
CANCEL_PAIR = re.compile(
    r"(?:取消|撤销|退掉).{0,12}(?:预约|预订)|(?:预约|预订).{0,12}(?:取消|撤销|退掉|不要了|不去了)"
    r"|(?:还是|那就|干脆)取消"  # "算了还是取消吧": of what is under way
)
# A cancel or a move denied: "不用取消了", "算了不取消了", "don't cancel"; a cancel alone
# denied ("不改了，直接取消" denies the move, not the cancel).
DENIED = re.compile(
    r"(?:不用|不要|不必|无需|别|没|不)(?:再|帮我|给我)?(?:取消|撤销|退掉|改|换)"
    r"|(?<![a-z])(?:don't|dont|do not|not)\s+(?:cancel|move|change)"
)
CANCEL_DENIED = re.compile(
    r"(?:不用|不要|不必|无需|别|没|不)(?:再|帮我|给我)?(?:取消|撤销|退掉)"
    r"|(?<![a-z])(?:don't|dont|do not|not)\s+cancel|(?<![a-z])keep (?:it|my appointment)"
)
# Who else may cancel: these beside the verb; with the staff and the system too when it is done.
_OTHERS_NEAR = r"物业|社区|小区|居委会|村委会|街道|停车场|学校|单位|公司|医院|网格员|师傅|他们|政府"
_OTHERS = rf"(?:{_OTHERS_NEAR}|工作人员|办事员|系统|领导|窗口|有人|人家|民政|社保局)"
_CANCELLED_BY_OTHERS = re.compile(
    rf"(?:{_OTHERS_NEAR})" + r"[^，。,.!！]{0,8}?(?:取消|撤销|撤了|作废|不用(?!来)|不要(?!来))"
    r"|" + _OTHERS + r"[^，。,.!！?？]{0,16}?(?:取消|撤销|撤回|撤掉|收回|作废)了"
    r"|说[^，。,.]{0,6}(?:不用|不要|取消)|申请的[^，。,.]{0,10}(?:取消|撤销|作废)了"
    r"|被(?:人)?(?:取消|撤销|撤了|收回|作废)"
    r"|(?<![a-z])(?:was|were|been|got) cancel+ed"
)
# … unless the resident asks for it ("窗口的预约帮我取消", "请网格员帮我代办作废旧社保卡").
_ASKS_FOR_IT = re.compile(
    r"帮我|给我|(?<!申)请|麻烦|我想|我要|想要|一下|吧$|(?<![a-z])please(?![a-z])"
)


def done_by_others(folded: str) -> bool:
    """Whether the words tell that someone else cancelled or revoked something, asked for or
    not ("社区把我的代办撤销了，我要投诉")."""
    return bool(_CANCELLED_BY_OTHERS.search(folded))


def cancelled_by_others(folded: str) -> bool:
    """Whether someone else cancelled or revoked something ("居委会把我家的低保撤销了", "我申请的
    低保取消了", "我的低保被取消了", "the bus route was cancelled"): no wish of the resident's to
    cancel, withdraw or ask for anything (walkthroughs: offered their appointments, asked to
    withdraw a case, or started a new proxy request)."""
    return done_by_others(folded) and not _ASKS_FOR_IT.search(folded)


# A message that only tells a matter is solved: what it is about, then solved, then thanks at
# most. A whole-message shape, not words anywhere: "一楼修好了二楼还漏", "路灯修好了三天就坏了",
# "已经解决了，帮我查一下进度" say more, and a review found a word list thanked 64 of 111 such.
SOLVED_LONGEST = 40
_THANKS_TAIL = (
    r"(?:[，,。.!！~～ ]*(?:太|非常|十分)?"
    r"(?:谢谢|感谢|多谢|谢啦|谢了|辛苦了|辛苦|非常满意|很满意|满意|太好了"
    r"|thanks|thank you|thx|cheers|great)(?:你们|您|了|啦|大家|各位|a lot| so much| very much)?)*"
    r"[，,。.!！~～ ]*"
)
_THANKS_HEAD = (
    r"(?:(?:太|非常|十分)?(?:谢谢|感谢|多谢)(?:你们|您)?了?|好了|好的|ok|thanks|thank you)?"
    r"[哈啊呀 ]*[，,。.!！ ]*"
)
_SOLVED_ZH = re.compile(
    _THANKS_HEAD + r"(?:(?:已经|现在|都)?没事了|已(?:解决|修复|处理|办结|完成|修好)"
    r"|(?P<topic>[^，,。.!！?？；; ]{0,16}?)(?:已经|已|都|终于|总算|现在)?"
    r"(?:解决|修好|修复|处理好|处理完|弄好|搞定|办好|办完|搞好)了"
    r"|(?:已经|都|终于|总算)好了)" + _THANKS_TAIL
)
_SOLVED_EN = re.compile(
    _THANKS_HEAD + r"(?:(?:the |my |our |this |that )?(?P<topic>[a-z' ]{0,30}?) ?"
    r"(?:has been|have been|is|are|was|got|'s|s)? ?(?:fixed|resolved|solved|sorted(?: out)?"
    r"|repaired|working again)(?: now| already)?|all (?:sorted|good|fixed) now|problem solved)"
    + _THANKS_TAIL
)
# … and what comes before it must not deny, doubt or ask ("没法解决了", "是不是修好了",
# "解决了才怪" fails the shape itself; "has my complaint been resolved", "isn't fixed").
_SOLVED_TOPIC_NOT = re.compile(
    r"(?:没|无法|没法|不能|不会|不可能|未|还|才|该|要|能|会|想|希望|快|马上|是不是|可以)$"
    r"|吗|么|咋|怎|谁|什么|啥|哪|多久|几时|何时|是否"
    r"|^(?:has|have|is|are|was|were|did|do|does|will|can|could|when|how|why|if)(?: |$)"
    r"|以为|说是|说已|说|假装|号称|表面|显示|本来|应该|没有|根本|听说|据说"
    r"|not|n't|never|still|yet|when|how|why|if |hope|will|should|supposed|nobody|claim|said"
)
ASK_SCORE = 7.0  # a question about the street's business: its best entry scores this …
ASK_COVERAGE = 0.05  # … and holds this share of its words (else: not something we know)
SHORT_CHAT = 14  # small talk is short; a longer message with 你好 in it is about something else
SMALL_TALK_REST = 6  # characters besides the greeting itself ("谢谢啦", "thanks a lot")
SURE_READING = 0.9  # the probability a reading needs before the bot acts on it unasked …
SURE_AGREEING = 0.85  # … or when the word lists read it the same way
SURE_NAMED = 0.75  # … or, for a booking the word lists agree on, that names a service in full
MIN_INTENTS = 3  # fewer labelled intents in the examples and the rules read alone
READINGS = 3  # readings offered when none is likely enough …
READING_FLOOR = 0.3  # … as long as the best one is at least this likely …
READING_SHARE = 0.1  # … and the others are offered from this likelihood on
# Word lists one handler reads for its own step, which say nothing of what a message wants: the
# model does not see them (照片 or 身份证 in a sentence made short booking words unsure).
NOT_SIGNALS = frozenset(
    {
        "documents",
        "greeting",
        "plus_one",
        "same_as_before",
        "nothing_more",
        "send_now",
        "move_target",
        "appointments_asked",
        "documents_filler",
        "appointments_filler",
        "after_work",
        "after_work_filler",
        "evening",
        "coming",
        "after_work_not",
        "gives_up",
        "gives_up_filler",
        "step_answer",
        "going_on",
        "need_opening",
        "handover_people",
        "handover_asking",
        "hold_on",
        "wrong_choice",
        "wrong_choice_filler",
        "wrong_pick",
        "offer_pointing",
        "withdraw_yes",
        "offer_report",
        "offer_need",
        "agree_dialect",
    }
)


class Intent(StrEnum):
    """The kinds of free-text message the bot understands."""

    QUESTION = "question"
    BOOKING = "booking"
    REFERENCE = "reference"
    REPORT = "report"
    NEED = "need"
    PROXY = "proxy"
    TRACK = "track"  # follow one's own cases
    CANCEL_BOOKING = "cancel_booking"  # cancel one of one's own appointments
    MOVE_BOOKING = "move_booking"  # move one of one's own appointments to another day
    HANDOVER = "handover"
    COMPLAINT = "complaint"  # a complaint in the resident's words ("我要投诉窗口工作人员…")
    CHITCHAT = "chitchat"
    ABUSE = "abuse"
    UNKNOWN = "unknown"


# What acts on the resident's existing appointments and cases, never starting anything new.
OWN_RECORDS = (Intent.TRACK, Intent.CANCEL_BOOKING, Intent.MOVE_BOOKING)


@dataclass(frozen=True)
class Understood:
    """What a message was taken to mean, with what it named."""

    intent: Intent
    found: tuple[Found, ...] = ()  # knowledge found for a question (best first)
    service: str | None = None  # the service a booking names
    services: tuple[str, ...] = ()  # the services that fit, when several do (best first)
    reference: str | None = None
    outside: bool = False  # no street matter at all (weather, pets, another city's rules)
    sure: bool = True  # likely enough to act on; else the bot offers the readings
    readings: tuple[Intent, ...] = ()  # the likeliest readings, best first (this one among them)
    likelihood: float = 1.0  # the trained model's probability of this reading
    ruled: Intent | None = None  # what the word lists alone made of it (when the model chose)

    @property
    def answer(self) -> Found | None:
        """The answer the bot is sure of, if any (none while the reading itself is unsure)."""
        return self.found[0] if self.sure and self.found and self.found[0].sure else None


# Residents type the same few short things ("办公时间", "8", "返回") again and again, and reading
# one costs milliseconds (BM25 over the FAQ, the lexicon, the model): a reading is kept per
# text for the very readers it came from (new data means new reader objects, so none is stale).
REMEMBERED_TEXTS = 4096
REMEMBERED_LENGTH = 32  # characters; longer texts are rarely typed twice
_remembered: dict[str, tuple[tuple[object, ...], Understood]] = {}


def understand(
    text: str,
    lexicon: Lexicon,
    knowledge: Knowledge,
    services: ServiceMatcher,
    model: IntentModel | None = None,
) -> Understood:
    """What a free-text message wants; services is the catalogue a booking is matched in, and
    model (when given) the trained classifier that weighs the rules' reading."""
    readers = (lexicon, knowledge, services, model)
    if len(text) > REMEMBERED_LENGTH:
        return _understand(text, lexicon, knowledge, services, model)
    kept = _remembered.get(text)
    if kept is not None and all(a is b for a, b in zip(kept[0], readers, strict=True)):
        return kept[1]
    reading = _understand(text, lexicon, knowledge, services, model)
    if len(_remembered) >= REMEMBERED_TEXTS:
        _remembered.clear()  # rare, cheap, and bounds the memory without bookkeeping
    _remembered[text] = (readers, reading)
    return reading


def _understand(
    text: str,
    lexicon: Lexicon,
    knowledge: Knowledge,
    services: ServiceMatcher,
    model: IntentModel | None,
) -> Understood:
    text = after_greeting(text, lexicon)
    ruled = by_rules(text, lexicon, knowledge, services)
    if ruled.intent in LISTING_OVERRIDES and asks_for_appointments(fold(text), lexicon):
        # "我约了什么": the model learned no such words, and its guess would book or cancel.
        # Not among the rules' readings, which the model reads as features.
        return replace(ruled, intent=Intent.TRACK, sure=True)
    if model is None or ruled.intent is Intent.REFERENCE or not ruled.sure:
        return ruled
    ranked = model.readings(features(text, ruled, lexicon, knowledge))
    usable = [(Intent(i), p) for i, p in ranked if i != Intent.REFERENCE.value]
    best, likelihood = usable[0]
    sure = likelihood >= (SURE_AGREEING if best is ruled.intent else SURE_READING)
    folded = fold(text)
    if best is ruled.intent is Intent.BOOKING and likelihood >= SURE_NAMED:
        # A booking word and a service's whole name ("预约居住证办理") leave nothing to ask, and
        # nor does a booking word alone ("我要预约"): the booking menu asks what for.
        sure = sure or any(match.named for match in services.named(folded))
        sure = sure or _only_booking_words(folded, lexicon)
    ruled = _reranked(ruled, folded, knowledge, model)
    grounded = _saw_something(ruled, lexicon, folded)
    if best is Intent.UNKNOWN or not grounded or (not sure and likelihood < READING_FLOOR):
        # Not ours, or nothing likely: declined when sure and about something, else "not sure"
        # (with what the knowledge found, or the plain "not understood").
        about_something = lexicon.has("question", folded) or len(folded) > SHORT_CHAT
        outside = best is Intent.UNKNOWN and (ruled.outside or (sure and about_something))
        return Understood(
            Intent.UNKNOWN,
            ruled.found,
            sure=False,
            likelihood=likelihood,
            outside=outside,
            ruled=ruled.intent,
        )
    chosen = ruled if best is ruled.intent else _read_as(best, text, ruled, lexicon, services)
    readings = tuple(
        i for n, (i, p) in enumerate(usable[:READINGS]) if n == 0 or p >= READING_SHARE
    )
    return replace(
        chosen,
        sure=sure,
        readings=readings,
        likelihood=likelihood,
        outside=False,
        ruled=ruled.intent,
    )


def _only_booking_words(folded: str, lexicon: Lexicon) -> bool:
    """Whether the words are a booking word and filler only ("我要预约", "想约一下")."""
    rest = lexicon.without("booking", folded)
    filler = set(lexicon.words.get("filler", ()))
    return all(char in filler or not char.strip() for char in rest)


def _reranked(
    ruled: Understood, folded: str, knowledge: Knowledge, model: IntentModel | None
) -> Understood:
    """The rules' reading with its knowledge found again, re-ranked with what the trained
    answer model learned (as it was when there is none, or nothing was found)."""
    if not ruled.found or model is None or model.answers is None:
        return ruled
    trained = model.answers.likelihoods(folded)
    return replace(ruled, found=tuple(knowledge.search(folded, trained=trained)))


def _saw_something(ruled: Understood, lexicon: Lexicon, folded: str) -> bool:
    """Whether the rules found anything to go on (a reading, an entry that fits, a word of an
    intent's list) in the folded text: the model alone is not trusted with markup or letters."""
    if ruled.intent is not Intent.UNKNOWN or (ruled.found and _about_our_business(ruled.found[0])):
        return True
    return any(lexicon.has(kind, folded) for kind in (*Intent, "question", "outside"))


def features(text: str, ruled: Understood, lexicon: Lexicon, knowledge: Knowledge) -> Features:
    """The message as the trained model reads it: its matching copy, and what the rules saw
    (their reading, the word lists it holds, a day or time, how well the knowledge fits)."""
    folded = fold(text)
    seen = [f"rule_{ruled.intent.value}", f"length_{min(len(folded) // 10, 6)}"]
    if ruled.outside:
        seen.append("rule_outside")
    seen += [
        f"has_{kind}"
        for kind in lexicon.words
        if kind not in NOT_SIGNALS and lexicon.pattern(kind).search(folded)
    ]
    if names_when(folded):
        seen.append("when")
    best = ruled.found[0] if ruled.found else None
    if best is None:
        seen.append("knowledge_none")
    else:
        seen += [f"knowledge_{min(int(best.score // 4), 5)}", f"cover_{int(best.coverage * 4)}"]
        seen += ["knowledge_sure"] if best.sure else []
    return Features(folded, " ".join(seen))


def _read_as(
    intent: Intent, text: str, ruled: Understood, lexicon: Lexicon, services: ServiceMatcher
) -> Understood:
    """The message read as the model's intent, with what that reading needs (the services a
    booking names; the knowledge found stays for a question or a record's side question)."""
    if intent is Intent.BOOKING:
        return _booking(services_asked(text, lexicon, services), ruled.found)
    return Understood(intent, ruled.found)


def _booking(matches: list[Match], found: tuple[Found, ...] = ()) -> Understood:
    """A booking of the one service that fits, or of one of several (none: still to choose)."""
    if len(matches) == 1:
        return Understood(Intent.BOOKING, found, service=matches[0].code)
    return Understood(Intent.BOOKING, found, services=tuple(m.code for m in matches))


def read_as(
    text: str,
    intent: Intent,
    lexicon: Lexicon,
    knowledge: Knowledge,
    services: ServiceMatcher,
    model: IntentModel | None = None,
) -> Understood:
    """The message read the way the resident chose among the offered readings (a question's
    answers ranked as understand() ranks them, with the trained model when given)."""
    ruled = _reranked(by_rules(text, lexicon, knowledge, services), fold(text), knowledge, model)
    return _read_as(intent, text, ruled, lexicon, services)


def by_rules(
    text: str, lexicon: Lexicon, knowledge: Knowledge, services: ServiceMatcher
) -> Understood:
    """What the word lists and the knowledge search make of a message on their own."""
    folded = fold(text)
    if not any(ch.isalnum() for ch in folded):
        return Understood(Intent.UNKNOWN, sure=False)  # nothing to weigh: "?" or an emoji
    reference = find_reference(folded)
    if reference is not None:
        return Understood(Intent.REFERENCE, reference=reference)
    if lexicon.has("abuse", folded):
        return Understood(Intent.ABUSE)
    if lexicon.has("complaint", folded) and not lexicon.has("question", folded):
        return Understood(Intent.COMPLAINT)  # before handover: "投诉…工作人员" wants no chat
    if lexicon.has("handover", folded):
        return Understood(Intent.HANDOVER)
    mine = _own_records(folded, lexicon)
    if mine is not None:  # with what the knowledge says, for one who has no such records
        return Understood(mine, tuple(knowledge.search(folded)))
    asking = lexicon.has("question", folded)
    # "怎么约?" asks about booking; "下周三上午能约吗?" books.
    if (lexicon.has("booking", folded) or BOOKING_YUE.search(folded)) and (
        not asking or names_when(folded)
    ):
        matches = services_asked(folded, lexicon, services)
        if matches:
            return _booking(matches)
        if not _names_anything(_asked(folded, lexicon), lexicon):
            return Understood(Intent.BOOKING)  # "我要预约": to book, something still to choose
    if _small_talk(folded, lexicon):
        return Understood(Intent.CHITCHAT)
    if lexicon.has("elsewhere", folded) or lexicon.has("outside", folded):
        return Understood(Intent.UNKNOWN, outside=True)  # another city's rules, or no street matter
    if not asking:
        for kind in (Intent.PROXY, Intent.REPORT, Intent.NEED):
            if lexicon.has(kind.value, folded):
                return Understood(kind)
    found = tuple(knowledge.search(folded))
    if found and _about_our_business(found[0]):
        return Understood(Intent.QUESTION, found)
    for kind in (Intent.PROXY, Intent.REPORT, Intent.NEED):
        if lexicon.has(kind.value, folded):
            return Understood(kind, found)
    return Understood(Intent.UNKNOWN, found)


GREETING_GAP = " ,.!?~:;、，。！？～：；"  # between a greeting and what follows
GREETING_REST = 3  # characters after a greeting that can be a request ("你好，请问" is none)
NOT_GREETED = ("像",)  # 你好像 is "you seem", no greeting


def after_greeting(text: str, lexicon: Lexicon) -> str:
    """What a message says after the greeting it opens with ("hi, I need a residence permit"
    → "i need a residence permit"), when something besides more small talk follows; else the
    message as it is. A greeting beside a request made the request read as small talk."""
    folded = fold(text)
    for word in sorted(lexicon.words.get("greeting", ()), key=len, reverse=True):
        if not folded.startswith(word):
            continue
        rest = folded[len(word) :]
        if rest[:1] not in GREETING_GAP if word.isascii() else rest.startswith(NOT_GREETED):
            continue  # "hiking", "heyday", "你好像没听懂": no greeting at all
        rest = rest.lstrip(GREETING_GAP)
        named = sum(ch.isalnum() for ch in rest) >= GREETING_REST
        return rest if named and not _small_talk(rest, lexicon) else text
    return text


def _own_records(folded: str, lexicon: Lexicon) -> Intent | None:
    """A message about the resident's existing appointments or cases ("取消我的预约",
    "改到下周六", "我的代办办到哪了"): it acts on them instead of starting something new."""
    if lexicon.has("cancel_booking", folded) or CANCEL_PAIR.search(folded):
        return Intent.CANCEL_BOOKING
    if lexicon.has("move_booking", folded) and names_when(folded):
        return Intent.MOVE_BOOKING  # a day to move to: "改到下周六", "换到明天上午"
    if lexicon.has("track", folded):
        return Intent.TRACK
    return None


LISTING_REST = 2  # characters besides the listing words: "我约了哪天来着", not "…迟到了怎么办"
# Readings that words asking to see one's appointments replace (not a cancel or move said in
# words, a reference, a complaint …).
LISTING_OVERRIDES = frozenset({Intent.BOOKING, Intent.TRACK, Intent.QUESTION, Intent.UNKNOWN})


def asks_for_appointments(folded: str, lexicon: Lexicon) -> bool:
    """Whether the words ask to see one's appointments ("我约了哪天来着"), not to change one
    (a day or time named: "我的预约想该到下午") or to know what to bring to it."""
    if not lexicon.has("appointments_asked", folded) or names_when(folded):
        return False
    if lexicon.has("move_booking", folded) or lexicon.has("documents", folded):
        return False
    rest = lexicon.pattern("appointments_asked").sub(" ", folded)
    rest = lexicon.pattern("appointments_filler").sub(" ", rest)
    return sum(ch.isalnum() for ch in rest) <= LISTING_REST


# What praise of staff says: a good level, thanks, or that it is solved (a complaint level
# beside 负责人 is a call for one: "办得太慢了，我要找负责人").
ABOUT_STAFF = ("level_very_satisfied", "level_satisfied", "thanks", "solved")


def speaks_of_staff(folded: str, lexicon: Lexicon) -> bool:
    """Whether the handover words only name staff, in words about them ("工作人员很耐心，
    谢谢"), not asking for one ("转人工", "找工作人员"). Read by the handlers, after the
    understanding, so that the trained model is not changed by it."""
    people = set(lexicon.words.get("handover_people", ()))
    if not set(lexicon.found("handover", folded)) <= people or lexicon.has(
        "handover_asking", folded
    ):
        return False
    return any(lexicon.has(kind, folded) for kind in ABOUT_STAFF)


def tells_solved(folded: str) -> bool:
    """Whether the words only tell that a matter is solved by now ("投诉的事情已经解决了，谢谢",
    "路灯不亮的问题已经修好了", "the light has been fixed, thanks"): nothing to file or ask."""
    if len(folded) > SOLVED_LONGEST:
        return False
    told = _SOLVED_ZH.fullmatch(folded) or _SOLVED_EN.fullmatch(folded)
    return told is not None and not _SOLVED_TOPIC_NOT.search(told.group("topic") or "")


def says_cancel(folded: str, lexicon: Lexicon) -> bool:
    """Whether the words themselves say to cancel ("不去了", "取消", "cancel it"), as a reading
    of the whole message may say without them ("看看我的预约" is no wish to cancel)."""
    return bool(
        lexicon.has("cancel_booking", folded)
        or lexicon.has("cancel_option", folded)
        or CANCEL_PAIR.search(folded)
    )


def _about_our_business(best: Found) -> bool:
    """Whether the best entry shares enough of the question to be what it is about (the bot
    may still be unsure which answer is right, and then says so)."""
    return best.score >= ASK_SCORE and best.coverage >= ASK_COVERAGE


def _small_talk(folded: str, lexicon: Lexicon) -> bool:
    """A short message that is mostly a greeting, thanks or a word about the bot itself."""
    if len(folded) > SHORT_CHAT:
        return False
    words = lexicon.found("chitchat", folded)
    return bool(words) and len(folded) - max(len(w) for w in words) <= SMALL_TALK_REST


def _names_anything(folded: str, lexicon: Lexicon) -> bool:
    """Whether the text, booking words taken out, still has two characters that could name a
    service ("我要预约" has none left; "约体检" has)."""
    filler = lexicon.chars("filler")
    return sum(ch.isalnum() and ch not in filler for ch in folded) >= 2


# Words that say what to do with an appointment, or point at one, rather than name its service.
NOT_NAMING = (
    "move_booking",
    "move_target",
    "move_option",
    "cancel_booking",
    "cancel_option",
    "pointing",
    "appointments_filler",
)


def services_named(
    text: str, lexicon: Lexicon, services: ServiceMatcher, among: Collection[str] | None = None
) -> list[Match]:
    """The services words about one's appointments name ("社保卡那个改到下周六": 社保卡补办),
    the days, times and words of cancelling, moving or pointing left aside."""
    words = without_when(fold(text))
    for kind in NOT_NAMING:
        words = lexicon.without(kind, words)
    return services_asked(words, lexicon, services, among=among)


def no_order(folded: str) -> bool:
    """Whether words about an appointment give no order to cancel or move it: the act denied
    (DENIED), or asked about as done ("取消了…吗"); a reason ("临时有事去不了") or a polite
    "好吗" is still one."""
    return bool(DENIED.search(folded) or (_DONE.search(folded) and _ASKED.search(folded)))


_DONE = re.compile(r"(?:取消|撤销|退掉|改|换)\s*(?:好)?\s*了")
_ASKED = re.compile(r"[吗么没?？]\s*$")


def services_asked(
    text: str,
    lexicon: Lexicon,
    services: ServiceMatcher,
    among: Collection[str] | None = None,
) -> list[Match]:
    """The services a sentence asks for, best first: one named in full, else those that fit
    what is asked once the booking words and days are left out ("预约" in a service's own
    title, 老年人体检预约, must not outweigh the service the person named); among, when given,
    holds the codes that may be offered (the database's active services)."""
    folded = fold(text)
    return services.named(folded, among) or services.rank(_asked(folded, lexicon), among=among)


def names_no_service(text: str, lexicon: Lexicon, services: ServiceMatcher) -> bool:
    """Whether a sentence, without its booking words, days and filler, has nothing left that
    could name a service ("Book an appointment", "我想预约一下")."""
    return not unnamed_words(text, lexicon, services)


def unnamed_words(text: str, lexicon: Lexicon, services: ServiceMatcher) -> list[str]:
    """What is left of a sentence once its booking words, days and filler are out: the
    characters and words that could name a service ("护", "照" of "周六办护照")."""
    return units(_asked(fold(text), lexicon), services.filler)


def _asked(folded: str, lexicon: Lexicon) -> str:
    """What is to be booked: the text without its booking words, days and times, and words of
    going on ("继续预约" names no service: 继续 is no part of 居住证签注)."""
    return without_when(lexicon.without("going_on", lexicon.without("booking", folded)))


def load_intent_model(data_dir: Path) -> IntentModel | None:
    """The model trained on the data directory's examples; None when there are none (the rules
    then read alone). The first call trains it (or waits for the warm-up's training); after a
    data file changes, the model in use keeps answering while its successor trains in the
    background."""
    version = data_version(data_dir)
    held = _models.get(data_dir)
    if held is None:
        warm_intent_model(data_dir).result()
        return _models[data_dir][1]
    if held[0] != version:
        warm_intent_model(data_dir)
    return held[1]


def warm_intent_model(data_dir: Path) -> Future[None]:
    """Train the data directory's model in the background, unless it is trained or training."""
    with _LOCK:
        job = _training.get(data_dir)
        if job is None:
            job = Future()
            _training[data_dir] = job
            # A daemon thread: a server told to stop does not wait for a training to finish.
            args = (job, data_dir, data_version(data_dir))
            threading.Thread(target=_train_job, args=args, name="linli-train", daemon=True).start()
        return job


def _train_job(job: Future[None], data_dir: Path, version: Version) -> None:
    with _ONE_AT_A_TIME:  # trainings take turns, as they share the cores with the server
        try:
            _retrain(data_dir, version)
        except BaseException as error:
            job.set_exception(error)
            raise
    job.set_result(None)


def _retrain(data_dir: Path, version: Version) -> None:
    try:
        try:
            model = _trained(data_dir)
        except Exception:  # an example file being edited or malformed: never the bot's end
            _log.exception("understanding model not trained; the one in use (or the rules) stays")
            model = _models.get(data_dir, (version, None))[1]
        _models[data_dir] = (version, model)
    finally:
        with _LOCK:
            _training.pop(data_dir, None)


def _trained(data_dir: Path) -> IntentModel | None:
    examples = load_examples(data_dir / EXAMPLES, {i.value for i in Intent})
    if len({e.intent for e in examples}) < MIN_INTENTS:
        return None
    lexicon, knowledge = load_lexicon(data_dir), load_knowledge(data_dir)
    services = load_service_catalogue(data_dir)

    def read(text: str) -> Features:
        return features(text, by_rules(text, lexicon, knowledge, services), lexicon, knowledge)

    def key() -> str:
        files = [*data_dir.glob("*.toml"), *(data_dir / EXAMPLES).glob("*.toml")]
        return fingerprint(files, data_dir)

    return cached(key, lambda: train(examples, read, knowledge))


_models: dict[Path, tuple[Version, IntentModel | None]] = {}
_training: dict[Path, Future[None]] = {}
_ONE_AT_A_TIME = threading.Lock()
_LOCK = threading.Lock()
_log = logging.getLogger(__name__)
