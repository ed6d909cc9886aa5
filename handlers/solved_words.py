"""What a resident's words say of a resolved matter: solved ("解决了", "好了，谢谢") or not
("还没解决呢", "不行"), and which case's push is in view, read from the options it showed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bot.context import Context
from bot.i18n import normalize_words
from handlers.common import is_short, payloads_shown
from models.intents import load_lexicon

REOPEN, CONFIRM = "case:reopen:", "case:confirm:"
SHORT_CHARS, SHORT_WORDS = 8, 3  # a reply no longer than this says nothing else …
THANKS_CHARS, THANKS_WORDS = 12, 5  # … and one that says it is solved, with thanks


def _words(data_dir: Path, kind: str) -> tuple[str, ...]:
    """A word list of data/intents.toml (Chinese and English alike, folded when it was read;
    read again when the file changes)."""
    return load_lexicon(data_dir).words.get(kind, ())


def _holds(text: str, words: Iterable[str]) -> bool:
    return any(word in text for word in words)


def not_solved(text: str, data_dir: Path, *, in_view: bool) -> bool:
    """Whether the words say the matter is not solved; "不行"/"nope" at their start counts only
    as the answer to a push in view."""
    words = normalize_words(text)
    if _holds(words, _words(data_dir, "not_solved")):
        return True
    return in_view and any(_starts(words, word) for word in _words(data_dir, "not_solved_start"))


def _starts(text: str, word: str) -> bool:
    """Whether the text begins with the word ("nope, still", not "nopes")."""
    rest = text.removeprefix(word)
    return text.startswith(word) and not (
        word.isascii() and rest[:1].isascii() and rest[:1].isalpha()
    )


def solved(text: str, data_dir: Path) -> bool:
    """Whether a short reply says the matter is solved (and nothing says it is not)."""
    return short_reply(normalize_words(text), THANKS_CHARS, THANKS_WORDS) and says_solved(
        text, data_dir
    )


def says_solved(text: str, data_dir: Path) -> bool:
    """Whether words of any length say the matter is solved ("办好了，谢谢，很满意")."""
    words = normalize_words(text)
    return _holds(words, _words(data_dir, "solved")) and not not_solved(
        text, data_dir, in_view=True
    )


def short_reply(words: str, chars: int = SHORT_CHARS, count: int = SHORT_WORDS) -> bool:
    """Whether a reply is short enough to say nothing else."""
    return is_short(words, chars, count)


def case_in_view(ctx: Context) -> int | None:
    """The case whose confirm/reopen options are the latest shown (a delivered push's)."""
    return one_case_shown(ctx, REOPEN, paired=CONFIRM)


def one_case_shown(ctx: Context, prefix: str, *, paired: str | None = None) -> int | None:
    """The one case whose option with prefix ("case:answer:") is among those last shown (with
    its paired option too, when one is named), by its number."""
    ids = {payload.removeprefix(prefix) for payload in payloads_shown(ctx.state.data, prefix)}
    if paired is not None:
        partners = set(payloads_shown(ctx.state.data, paired))
        ids = {found for found in ids if f"{paired}{found}" in partners}
    found = ids.pop() if len(ids) == 1 else ""
    return int(found) if found.isdecimal() and len(found) < 10 else None
