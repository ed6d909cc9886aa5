"""Rendering for channels that show text only: numbered options and pages that fit a limit."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Reply

MORE = "more"  # conversation-state key holding the pages not shown yet


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
