"""我的数据 in words: the readable summary of what Linli holds about a resident, for the chat
and for the downloaded .txt file alike (one wording, in the resident's language)."""

from __future__ import annotations

from typing import Any

from bot.i18n import catalogue, t
from models.my_data import SECTIONS

# Items listed per section in the chat (counts only: a WeChat reply holds 2,048 bytes); the
# downloaded summary lists every item.
CHAT_ITEMS = 0
EXPORT_PURPOSE = "mydata"  # the signing purpose of the download links (bot/web/my_data.py)
EXPORT_PATH = "/me/data/{token}.{kind}"
# The route bot/web/app.py serves them on: the token is resident.expiry.signature.
EXPORT_ROUTE = r"/me/data/{token:[0-9]+\.[0-9]+\.[0-9a-f]+}.{kind:json|txt}"


def export_url(public_url: str, token: str, kind: str, lang: str) -> str:
    """The address of one export file (kind "json" or "txt")."""
    path = EXPORT_PATH.format(token=token, kind=kind)
    return f"{public_url.rstrip('/')}{path}?lang={lang}"


def summary_lines(
    lang: str, data: dict[str, Any], *, items: int | None = None, title: str = "mydata.title"
) -> list[str]:
    """The profile, then each section's count and its items (all, or only the latest few)."""
    profile = data.get("profile", {})
    unset = t(lang, "mydata.unset")
    lines = [
        t(lang, title),
        t(
            lang,
            "mydata.profile",
            name=profile.get("name") or unset,
            phone=profile.get("phone") or unset,
            id_number=profile.get("id_number") or unset,
        ),
    ]
    labels = catalogue(lang)
    for section in SECTIONS[1:]:
        rows = [r for r in data.get(section, []) if isinstance(r, dict)]
        lines.append(t(lang, f"mydata.section.{section}", count=len(rows)))
        shown = rows if items is None else rows[len(rows) - items :] if items else []
        lines += [f"  · {_item(labels, row)}" for row in shown]
    kept = data.get("kept_messages")
    if isinstance(kept, dict):
        lines.append(t(lang, "mydata.kept_messages", **kept))
    return lines


def _item(labels: dict[str, Any], row: dict[str, Any]) -> str:
    """One record as "label: value" pairs, labelled in the reader's language."""
    pairs = (
        f"{labels.get(f'mydata.field.{key}', key)}: {_value(value)}"
        for key, value in row.items()
        if value not in (None, "", {}, [])
    )
    return "；".join(pairs)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "，".join(f"{v}" for v in value.values())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
