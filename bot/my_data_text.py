"""我的数据 in words: the readable summary of what Linli holds about a resident, for the chat
and for the downloaded .txt file alike (one wording, in the resident's language)."""

from __future__ import annotations

from typing import Any

from bot.i18n import t
from models.my_data import SECTIONS

# Items listed per section in the chat (counts only: a WeChat reply holds 2,048 bytes); the
# downloaded summary lists every item.
CHAT_ITEMS = 0
EXPORT_PURPOSE = "mydata"  # the signing purpose of the download links (bot/web/my_data.py)


def summary_lines(lang: str, data: dict[str, Any], *, items: int | None = None) -> list[str]:
    """The profile, then each section's count and its items (all, or only the latest few)."""
    profile = data.get("profile", {})
    unset = t(lang, "mydata.unset")
    lines = [
        t(lang, "mydata.title"),
        t(
            lang,
            "mydata.profile",
            name=profile.get("name") or unset,
            phone=profile.get("phone") or unset,
            id_number=profile.get("id_number") or unset,
        ),
    ]
    for section in SECTIONS[1:]:
        rows = [r for r in data.get(section, []) if isinstance(r, dict)]
        lines.append(t(lang, f"mydata.section.{section}", count=len(rows)))
        shown = rows if items is None else rows[len(rows) - items :] if items else []
        lines += [f"  · {_item(row)}" for row in shown]
    return lines


def _item(row: dict[str, Any]) -> str:
    """One record as "key: value" pairs (the file is for reading, not for machines)."""
    return "；".join(
        f"{key}: {_value(value)}" for key, value in row.items() if value not in (None, "")
    )


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "，".join(f"{k}={v}" for k, v in value.items())
    return str(value)
