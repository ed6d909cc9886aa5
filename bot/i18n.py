"""The translation layer: zh-CN first, English second, from TOML catalogues in bot/locales."""

from __future__ import annotations

import logging
import re
import tomllib
import unicodedata
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz.distance import OSA

from models.matching_text import simplified

logger = logging.getLogger(__name__)

LOCALES = Path(__file__).with_name("locales")
DEFAULT_LANG = "zh-CN"
LANGS = ("zh-CN", "en")


def normalize_lang(code: str | None) -> str | None:
    """Map what a channel tells us (zh, zh_CN, en-GB, …) onto a language we speak."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh-CN"
    if code.startswith("en"):
        return "en"
    return None


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _catalogue_files(lang: str) -> list[Path]:
    # One main file per language, plus one file per feature in a folder of the same name.
    return [LOCALES / f"{lang}.toml", *sorted((LOCALES / lang).glob("*.toml"))]


@cache
def catalogue(lang: str) -> dict[str, Any]:
    """Every message of one language, by dotted key."""
    merged: dict[str, Any] = {}
    for path in _catalogue_files(lang):
        with path.open("rb") as handle:
            part = _flatten(tomllib.load(handle))
        clash = merged.keys() & part.keys()
        if clash:
            raise ValueError(f"{path.name} repeats keys: {sorted(clash)[:5]}")
        merged.update(part)
    return merged


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def t(lang: str, key: str, **values: Any) -> str:
    """The text for key in lang (falling back to zh-CN), with {placeholders} filled in."""
    text = catalogue(lang if lang in LANGS else DEFAULT_LANG).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANG).get(key)
    if not isinstance(text, str):
        logger.warning("missing translation", extra={"key": key, "lang": lang})
        return key
    return text.format_map(_Blank(values))


# Pure and asked several times a message (commands, option labels, filters); bounded, since the
# text is whoever's.
@lru_cache(maxsize=2048)
def normalize_words(text: str) -> str:
    """Fold full-width characters, case, traditional characters ("預約" is 预约), a leading
    slash and trailing punctuation away."""
    folded = simplified(unicodedata.normalize("NFKC", text)).strip().lower()
    return folded.lstrip("/").rstrip("。.!！?？~～ ")


@cache
def command_words() -> dict[str, str]:
    """Every chat word in every language, mapped to the command it means."""
    words: dict[str, str] = {}
    for lang in LANGS:
        for key, value in catalogue(lang).items():
            if key.startswith("commands.") and isinstance(value, list):
                for word in value:
                    words[normalize_words(word)] = key.removeprefix("commands.")
    return words


# Commands a slip of the keyboard is never taken for: they change something at once.
_NOT_GUESSED = frozenset({"bind", "link", "unbind", "checkin", "finish", "noshow"})
_LATIN_WORD = re.compile(r"[a-z]{4,16}")


@cache
def _guessable_words() -> dict[str, str]:
    return {
        word: command
        for word, command in command_words().items()
        if command not in _NOT_GUESSED and _LATIN_WORD.fullmatch(word)
    }


@lru_cache(maxsize=4096)
def misspelt_command(word: str) -> str | None:
    """The command a single typed Latin word is a slip for ("cancle", "mneu", "bookk"), when
    exactly one command's word is that close: one letter off for words of five letters or
    more (two from eight), and for four-letter words only two letters swapped or one added,
    since "look" and "kind" are words of their own, not "book" and "bind"."""
    if not _LATIN_WORD.fullmatch(word) or word in command_words():
        return None
    found = {command for known, command in _guessable_words().items() if _a_slip_for(word, known)}
    return found.pop() if len(found) == 1 else None


def _a_slip_for(typed: str, known: str) -> bool:
    allowed = 2 if len(known) >= 8 else 1
    if OSA.distance(typed, known, score_cutoff=allowed) > allowed:
        return False
    # A four-letter word: two letters swapped ("hlep") or one too many ("menue", "bookk").
    return len(known) > 4 or sorted(typed) == sorted(known) or len(typed) == len(known) + 1


# Commands that take nothing after them; their word followed by more is free text.
ARGUMENTLESS = frozenset({"menu"})
_COMMAND_END = re.compile(r"(\s+|\s*[:：,，]\s*)")


def split_command(text: str | None, *, guess: bool = False) -> tuple[str | None, str]:
    """The command a message is, or the command its first word is and the rest as arguments;
    with guess, also the command a misspelt word is a slip for (misspelt_command)."""
    if not text:
        return None, ""
    words = command_words()
    folded = normalize_words(text)
    whole = words.get(folded) or (misspelt_command(folded) if guess else None)
    if whole is not None:
        return whole, ""
    # The word ends at a space or at a colon or comma, as in "投诉：楼下太吵".
    head, *rest_of = _COMMAND_END.split(text.strip(), maxsplit=1)
    rest = rest_of[-1] if rest_of else ""
    folded_head = normalize_words(head)
    command = words.get(folded_head) or (misspelt_command(folded_head) if guess else None)
    if command is None or (command in ARGUMENTLESS and rest.strip()):
        return None, ""  # "你好，我家楼下路灯坏了" is about the light, not a call for the menu
    return command, rest.strip()


def format_day(lang: str, day: date) -> str:
    """11月28日 / 28 Nov."""
    months = catalogue(lang).get("date.months") or []
    month_name = months[day.month - 1] if months else str(day.month)
    return t(lang, "date.format", month=day.month, day=day.day, month_name=month_name)
