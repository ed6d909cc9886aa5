"""What a resident wants when they write freely: a question, a booking, a reference number, a
problem to report, a wish, proxy handling, a person, small talk, or abuse.

Clear signals are checked first (a reference number, asking for a person, swearing, a booking
verb with a service's name); then the kinds of request told by their words; what is left is a
question for the knowledge search, answered only when the search is sure.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from models.knowledge import Found, Knowledge
from models.lexicon import BOOKING_YUE, Lexicon
from models.lexicon import fold as fold
from models.lexicon import load_lexicon as load_lexicon
from models.refs import canonical_reference
from models.service_match import Match, ServiceMatcher
from models.when import names_when, without_when

# A reference as people type it: any case, hyphens or spaces or neither ("lcy202611270001").
REFERENCE = re.compile(
    r"(?<![a-z0-9])([a-z]{2,4}[\s_-]*20\d{6}[\s_-]*\d{1,6})(?!\d)", re.IGNORECASE
)
# Cancelling an appointment in words apart ("帮我取消一下明天的预约", "预约的体检能取消吗").
CANCEL_PAIR = re.compile(
    r"(?:取消|撤销|退掉).{0,12}(?:预约|预订)|(?:预约|预订).{0,12}(?:取消|撤销|退掉|不要了|不去了)"
)
ASK_SCORE = 7.0  # a question about the street's business: its best entry scores this …
ASK_COVERAGE = 0.05  # … and holds this share of its words (else: not something we know)
SHORT_CHAT = 14  # small talk is short; a longer message with 你好 in it is about something else
SMALL_TALK_REST = 6  # characters besides the greeting itself ("谢谢啦", "thanks a lot")


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

    @property
    def answer(self) -> Found | None:
        """The answer the bot is sure of, if any."""
        return self.found[0] if self.found and self.found[0].sure else None


def understand(
    text: str, lexicon: Lexicon, knowledge: Knowledge, services: ServiceMatcher
) -> Understood:
    """What a free-text message wants; services is the catalogue a booking is matched in."""
    folded = fold(text)
    if not any(ch.isalnum() for ch in folded):
        return Understood(Intent.UNKNOWN)
    reference = REFERENCE.search(folded)
    if reference is not None:
        typed = canonical_reference(reference.group(1))
        return Understood(Intent.REFERENCE, reference=typed or reference.group(1).upper())
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
        if len(matches) == 1:
            return Understood(Intent.BOOKING, service=matches[0].code)
        if matches:
            return Understood(Intent.BOOKING, services=tuple(m.code for m in matches))
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


def _asked(folded: str, lexicon: Lexicon) -> str:
    """What is to be booked: the text without its booking words, days and times."""
    return without_when(lexicon.without("booking", folded))
