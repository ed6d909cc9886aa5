"""Asking for a phone or ID card number the first time a request needs one: the reason first,
then consent, then the number (kept sealed, shown masked). A "no" is respected and remembered;
the request goes on without the number. Used by the proxy-handling intake (handlers/cases.py),
which owns the states and opens the case once nothing is left to ask."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from stdnum.iso7064 import mod_11_2

from bot.context import Context
from bot.messages import Button, Reply
from handlers.case_text import catalogue
from handlers.common import back_to_menu
from models.cases import CaseKind
from models.consent import ConsentPurpose, consent_answer, record_consent
from models.intents import fold
from models.people import (
    Resident,
    ensure_resident,
    mask_id_number,
    mask_phone,
    normalise_mobile,
    set_id_number,
    set_phone,
)

CONSENT_PAYLOAD = "case:consent"
ID_LENGTH = 18
MIN_DIGITS = 7
FIRST_BIRTH_YEAR = 1890
YES_WORDS = frozenset({"同意", "好", "好的", "可以", "是", "行", "yes", "y", "ok", "agree", "sure"})
NO_WORDS = frozenset(
    {"不同意", "不", "不要", "不要了", "不用", "不用了", "算了", "否", "不提供", "不给", "不想给"}
    | {"no", "n", "nope", "skip", "decline", "no thanks", "no thank you"}
)
# A short refusal in one's own words ("不想给电话", "不方便", "rather not"); not "不要紧",
# "不用谢", "不方便，我待会儿发", nor a question ("不提供可以吗").
DECLINING_STARTS = (
    "不同意",
    "不愿意",
    "不想",
    "不给",
    "不提供",
    "不留",
    "不方便",
    "不要",
    "不用",
    "rather not",
    "i'd rather not",
    "i would rather not",
    "i don't want to",
    "no way",
)
NOT_DECLINING = re.compile(
    r"[吗呢?？]|不要紧|不用谢|不用担心|不要急|可以|能不能|能办|怎么|为什么|行不行|现在|待会|一会|等等|稍后|later"
)
DECLINING_CHARS = 12
_AROUND_NUMBER = " .,!?;:。，！？；：、\"'“”‘’「」《》()（）"  # marks a number may come in
_ID_IN_TEXT = re.compile(r"(?<![0-9a-z])[0-9]{17}[0-9x](?![0-9a-z])", re.IGNORECASE)


def declines(word: str) -> bool:
    """Whether a folded answer to the consent question says no."""
    if word in NO_WORDS:
        return True
    if len(word) > DECLINING_CHARS or any(ch.isdigit() for ch in word):
        return False
    return word.startswith(DECLINING_STARTS) and not NOT_DECLINING.search(word)


async def numbers_to_ask(ctx: Context, data: dict[str, Any]) -> list[str]:
    """The numbers this request needs that the resident has not given nor declined."""
    if data.get("kind") != CaseKind.PROXY.value:
        return []
    wanted = [ConsentPurpose.PHONE]
    category = catalogue(ctx).category(CaseKind.PROXY, str(data.get("category", "")))
    if category is not None and category.id_number:
        wanted.append(ConsentPurpose.ID_NUMBER)
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    asked = []
    for purpose in wanted:
        if _held(resident, purpose):
            continue
        answer = await consent_answer(ctx.session, resident.id or 0, purpose)
        if answer is None or answer.given:  # a "no" stands; a "yes" without the number asks again
            asked.append(purpose.value)
    return asked


def _held(resident: Resident, purpose: ConsentPurpose) -> bool:
    return bool(resident.phone if purpose == ConsentPurpose.PHONE else resident.id_number)


def consent_question(ctx: Context, purpose: str) -> Reply:
    """Why the number is needed, how it is kept, and the choice."""
    return Reply(
        ctx.t(f"consent.ask_{purpose}"),
        (
            Button(ctx.t("consent.yes"), f"{CONSENT_PAYLOAD}:yes"),
            Button(ctx.t("consent.no"), f"{CONSENT_PAYLOAD}:no"),
            *back_to_menu(ctx),
        ),
    )


class Outcome(StrEnum):
    """What a consent step leads to."""

    AGAIN = "again"  # not understood: the same question again
    NUMBER = "number"  # consent given: ask for the number
    DONE = "done"  # this number is settled (kept, or declined)


@dataclass(frozen=True)
class NumberStep:
    """The outcome of one consent step and what to say."""

    outcome: Outcome
    reply: Reply


async def consent_given(ctx: Context, purpose: str, answer: str) -> NumberStep:
    """Record a yes or a no ("typed": read the typed words); a yes asks for the number.
    A valid number typed straight after the reason is read as yes and kept."""
    typed = _valid_number(purpose, ctx.text) if answer == "typed" else None
    word = fold(ctx.text) if answer == "typed" else answer
    if typed is None and answer == "typed" and _looks_like_number(ctx.text):
        return NumberStep(
            Outcome.AGAIN,
            Reply(
                ctx.t(_wrong_number_key(purpose, ctx.text)), consent_question(ctx, purpose).buttons
            ),
        )
    if typed is None and word not in YES_WORDS and not declines(word):
        return NumberStep(
            Outcome.AGAIN, Reply(ctx.t("consent.again"), consent_question(ctx, purpose).buttons)
        )
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    given = typed is not None or word in YES_WORDS
    record_consent(ctx.session, resident.id or 0, ConsentPurpose(purpose), given, ctx.now())
    if typed is not None:
        return NumberStep(Outcome.DONE, _keep(ctx, resident, purpose, typed))
    if not given:
        return NumberStep(Outcome.DONE, Reply(ctx.t(f"consent.declined_{purpose}")))
    return NumberStep(Outcome.NUMBER, ask_number(ctx, purpose))


async def number_typed(ctx: Context, purpose: str) -> NumberStep:
    """The number itself: kept sealed when it is valid, asked again politely when not."""
    value = _valid_number(purpose, ctx.text)
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    if value is None and declines(fold(ctx.text)):  # changed their mind: a "no" after all
        record_consent(ctx.session, resident.id or 0, ConsentPurpose(purpose), False, ctx.now())
        return NumberStep(Outcome.DONE, Reply(ctx.t(f"consent.declined_{purpose}")))
    if value is None:
        return NumberStep(
            Outcome.AGAIN, Reply(ctx.t(_wrong_number_key(purpose, ctx.text)), _number_buttons(ctx))
        )
    return NumberStep(Outcome.DONE, _keep(ctx, resident, purpose, value))


def ask_number(ctx: Context, purpose: str) -> Reply:
    """The question for the number itself (consent given)."""
    return Reply(ctx.t(f"consent.number_{purpose}"), _number_buttons(ctx))


def _number_buttons(ctx: Context) -> tuple[Button, ...]:
    """While a number is asked for: a way to decline after all, and the menu."""
    return (Button(ctx.t("consent.no"), f"{CONSENT_PAYLOAD}:no"), *back_to_menu(ctx))


def _keep(ctx: Context, resident: Resident, purpose: str, value: str) -> Reply:
    if purpose == ConsentPurpose.PHONE.value:
        set_phone(resident, value)
        shown = mask_phone(value)
    else:
        set_id_number(resident, value)
        shown = mask_id_number(value)
    ctx.session.add(resident)
    return Reply(ctx.t("consent.kept", number=shown))


def _looks_like_number(text: str) -> bool:
    """A try at typing a number (seven digits or more), right or wrong."""
    return sum(ch.isdigit() for ch in unicodedata.normalize("NFKC", text)) >= MIN_DIGITS


def _valid_number(purpose: str, text: str) -> str | None:
    """A mainland mobile number, or an ID card number with a right date and check digit."""
    if purpose == ConsentPurpose.PHONE.value:
        return normalise_mobile(text)
    number = "".join(unicodedata.normalize("NFKC", text).split()).upper().strip(_AROUND_NUMBER)
    return number if id_number_ok(number) else None


def _wrong_number_key(purpose: str, text: str) -> str:
    """What to say of a number not kept: wrong, or right but with other words around it."""
    among = _number_among_words(purpose, text)
    return "consent.id_number_alone" if among else f"consent.invalid_{purpose}"


def _number_among_words(purpose: str, text: str) -> bool:
    """Whether a right ID number came with other words ("510102… 这是我爸的"): it is asked for
    alone, since the words may say it is another person's, and it would be kept as this
    resident's own."""
    if purpose == ConsentPurpose.PHONE.value:
        return False
    found = _ID_IN_TEXT.findall(unicodedata.normalize("NFKC", text))
    return any(id_number_ok(number.upper()) for number in found)


def id_number_ok(number: str) -> bool:
    """18 characters, a real birth date and the right check digit (ISO 7064 MOD 11-2).
    The county code is not checked against the birth year, as stdnum.cn.ric's is_valid does:
    numbers are issued by the county of registration, which may be newer than the person."""
    # ASCII only: int() reads "١٩٤٩" too, and such a number would be kept as typed.
    if len(number) != ID_LENGTH or not number.isascii() or not number[:-1].isdigit():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return born.year >= FIRST_BIRTH_YEAR and mod_11_2.is_valid(number)
