"""What a notice looks like to the resident who receives it, in their language."""

from __future__ import annotations

from typing import Any

from bot.i18n import LANGS, t
from bot.messages import Link, Reply
from models.notices import Notice


def notice_reply(notice: Notice, lang: str) -> Reply:
    """The notice as one reply: a heading, the author's text, its link, and how to opt out."""
    heading = t(lang, "notices.heading_urgent" if notice.urgent else "notices.heading")
    footer = "" if notice.urgent else "\n" + t(lang, "notices.opt_out_hint")
    link = None
    if notice.link_url:
        link = Link(notice.link_url, t(lang, "notices.link_label"))
    elif notice.image_url:
        link = Link(notice.image_url, t(lang, "notices.image_label"))
    return Reply(f"{heading}\n{notice.text}{footer}", (), link)


def notice_payload(notice: Notice) -> dict[str, Any]:
    """The outbox payload of one delivery, in every language (the worker picks the reader's)."""
    return {"localized": {lang: [notice_reply(notice, lang).to_dict()] for lang in LANGS}}
