"""Rendering for channels that show text only: numbered options and pages that fit a limit."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bot.dates import read_number
from bot.i18n import normalize_words
from bot.messages import Reply


def numbered_text(replies: Sequence[Reply]) -> str:
    """All replies as one text, options numbered across replies as the pipeline maps them."""
    parts, number = [], 0
    for reply in replies:
        lines = [reply.text]
        for button in reply.buttons:
            number += 1
            lines.append(f"{number}. {button.label}")
        if reply.link is not None:
            lines.append(f"{reply.link.label}: {reply.link.url}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def paginate(text: str, limit: int) -> list[str]:
    """Split text into pages of at most limit characters, breaking at line ends where possible."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pages: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut < limit // 2:  # no useful line break: cut the line itself
            cut = limit
        pages.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    pages.append(rest)
    return pages


_OPTION = re.compile(
    r"(?:就)?(?:第|选)?\s*([0-9]{1,3}|[一二两三四五六七八九十]{1,3})\s*(?:个|项|号|条)?"
    r"\s*(?:吧|啊|呀|哈)?[。.!！]?"  # "第一个吧" (an outside walkthrough: read as a service name)
)


_QUOTES = "\"'“”‘’「」『』《》【】"
_ENDING = re.compile(r"[吧啊呀哈啦]+$")  # not 呢 or 嘛, which ask ("民政呢")


def option_by_label(text: str, labels: Sequence[str]) -> int | None:
    """Index of the one option whose label was typed ("确认", “很满意”, "Confirm"), else None."""
    typed = normalize_words(text).strip(_QUOTES + " ")
    if not typed:
        return None
    found = [i for i, label in enumerate(labels) if normalize_words(label) == typed]
    if not found:  # "都不是" for 都不是，作为新需求: the words before a label's comma say it
        found = [i for i, label in enumerate(labels) if _head(label) == typed]
    return found[0] if len(found) == 1 else None


def _head(label: str) -> str:
    """A label's words before its first comma, when it has one and they are two characters or
    more ("都不是，作为新需求" → "都不是"); else nothing."""
    head, comma, _rest = normalize_words(label).replace(",", "，").partition("，")
    return head.strip(_QUOTES + " ") if comma and len(head.strip()) >= 2 else ""


def option_by_start(text: str, labels: Sequence[str], left_out: Sequence[str]) -> int | None:
    """Index of the one option whose label begins with what was typed ("全部" for 全部居民,
    "一般" for 一般通知): two characters and half the label at least, so that a general word
    ("养老" at 养老保险参保) is not taken for a choice; labels in left_out are never chosen so."""
    typed = _ENDING.sub("", normalize_words(text).strip(_QUOTES + " "))  # "养老吧"
    if len(typed) < 2:
        return None
    never = {normalize_words(label) for label in left_out}
    folded = [normalize_words(label) for label in labels]
    found = [
        i
        for i, label in enumerate(folded)
        if label.startswith(typed) and 2 * len(typed) >= len(label) and label not in never
    ]
    return found[0] if len(found) == 1 else None


def option_number(text: str) -> int | None:
    """An option typed as a number: "2", "２", "二", "十二", "第三个", "选 4"; else None."""
    match = _OPTION.fullmatch(unicodedata.normalize("NFKC", text).strip())
    return read_number(match.group(1)) if match else None
