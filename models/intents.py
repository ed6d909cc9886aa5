"""What a resident wants when they write freely: a question, a booking, a reference number, a
problem to report, a wish, proxy handling, a person, small talk, or abuse.

Clear signals are checked first (a reference number, asking for a person, swearing, a booking
verb with a service's name); then the kinds of request told by their words; what is left is a
question for the knowledge search, answered only when the search is sure.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from models.knowledge import Found, Knowledge
from models.matching_text import matching_copy
from models.refs import canonical_reference
from models.service_match import FILLER, Match, ServiceMatcher

# A reference as people type it: any case, hyphens or spaces or neither ("lcy202611270001").
REFERENCE = re.compile(
    r"(?<![a-z0-9])([a-z]{2,4}[\s_-]*20\d{6}[\s_-]*\d{1,6})(?!\d)", re.IGNORECASE
)
# 约 on its own asks for a booking, except in words such as 大约, 节约, 约定, 合约.
DAY = re.compile(
    r"今天|明天|后天|下?下?(?:周|星期|礼拜)[一二三四五六日天1-7]|\d{1,2}\s*[月号日]|上午|下午|"
    r"tomorrow|today|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)
# Cancelling an appointment in words apart ("帮我取消一下明天的预约", "预约的体检能取消吗").
CANCEL_PAIR = re.compile(
    r"(?:取消|撤销|退掉).{0,12}(?:预约|预订)|(?:预约|预订).{0,12}(?:取消|撤销|退掉|不要了|不去了)"
)
BOOKING_YUE = re.compile(r"(?<![大节合契公条隐])约(?![定束谈])")
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

    @property
    def answer(self) -> Found | None:
        """The answer the bot is sure of, if any."""
        return self.found[0] if self.found and self.found[0].sure else None


@dataclass(frozen=True)
class Lexicon:
    """The word lists of data/intents.toml."""

    words: dict[str, tuple[str, ...]]

    def has(self, kind: str, text: str) -> bool:
        """Whether the folded text contains one of the kind's words."""
        return any(_contains(text, word) for word in self.words.get(kind, ()))

    def without(self, kind: str, text: str) -> str:
        """The folded text with the kind's words taken out (longest first)."""
        for word in sorted(self.words.get(kind, ()), key=len, reverse=True):
            if not (word.isascii() and word.replace(" ", "").isalpha()):
                text = text.replace(word, " ")
        return BOOKING_YUE.sub(" ", text) if kind == "booking" else text


def _contains(text: str, word: str) -> bool:
    if word.isascii() and word.replace(" ", "").isalpha():
        return re.search(rf"\b{re.escape(word)}\b", text) is not None  # "hi" is not in "this"
    return word in text


@cache
def load_lexicon(data_dir: Path) -> Lexicon:
    """The intent words of a data directory (read once)."""
    path = data_dir / "intents.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return Lexicon({kind: tuple(fold(w) for w in words) for kind, words in data.items()})


def fold(text: str) -> str:
    """Half-width, lower case, simplified characters, single spaces (the matching copy)."""
    return matching_copy(text)


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
    if lexicon.has("handover", folded):
        return Understood(Intent.HANDOVER)
    mine = _own_records(folded, lexicon)
    if mine is not None:  # with what the knowledge says, for one who has no such records
        return Understood(mine, tuple(knowledge.search(folded)))
    asking = lexicon.has("question", folded)
    # "怎么约?" asks about booking; "下周三上午能约吗?" books.
    if (lexicon.has("booking", folded) or BOOKING_YUE.search(folded)) and (
        not asking or DAY.search(folded)
    ):
        matches = services_asked(folded, lexicon, services)
        if len(matches) == 1:
            return Understood(Intent.BOOKING, service=matches[0].code)
        if matches:
            return Understood(Intent.BOOKING, services=tuple(m.code for m in matches))
        if not _names_anything(_asked(folded, lexicon)):
            return Understood(Intent.BOOKING)  # "我要预约": to book, something still to choose
    if _small_talk(folded, lexicon):
        return Understood(Intent.CHITCHAT)
    if lexicon.has("elsewhere", folded):
        return Understood(Intent.UNKNOWN)  # another city's rules: not the street's to answer
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
    if lexicon.has("move_booking", folded) and DAY.search(folded):
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
    words = [w for w in lexicon.words.get("chitchat", ()) if _contains(folded, w)]
    return bool(words) and len(folded) - max(len(w) for w in words) <= SMALL_TALK_REST


def _names_anything(folded: str) -> bool:
    """Whether the text, booking words taken out, still has two characters that could name a
    service ("我要预约" has none left; "约体检" has)."""
    return sum(ch.isalnum() and ch not in FILLER for ch in folded) >= 2


def services_asked(text: str, lexicon: Lexicon, services: ServiceMatcher) -> list[Match]:
    """The services a sentence asks for, best first: one named in full, else those that fit
    what is asked once the booking words and days are left out ("预约" in a service's own
    title, 老年人体检预约, must not outweigh the service the person named)."""
    folded = fold(text)
    return services.named(folded) or services.rank(_asked(folded, lexicon))


def _asked(folded: str, lexicon: Lexicon) -> str:
    """What is to be booked: the text without its booking words and days."""
    return DAY.sub(" ", lexicon.without("booking", folded))
