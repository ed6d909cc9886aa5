"""The desk's pages: one Jinja2 environment (autoescaped), `t()` and a few helpers in every
template, and the navigation showing only the pages the staff member's role opens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.i18n import t
from models.base import SHANGHAI
from models.org import Staff
from models.policy import DeskPage, may_open_page

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
LANG_NAMES = {"zh-CN": "中文", "en": "English"}


@dataclass(frozen=True)
class NavEntry:
    """A page in the desk's navigation: the policy's page, its address, its label's key."""

    page: DeskPage
    href: str
    label: str


NAV = web.AppKey("desk_nav", tuple[NavEntry, ...])


def setup_templates(app: web.Application, nav: tuple[NavEntry, ...]) -> None:
    """The desk's template environment (HTML autoescaped, undefined names an error)."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app[NAV] = nav


def nav_for(request: web.Request, staff: Staff | None) -> list[NavEntry]:
    """The navigation entries this staff member's role opens (none before login)."""
    if staff is None:
        return []
    return [entry for entry in request.config_dict[NAV] if may_open_page(staff, entry.page)]


def when(moment: datetime | None) -> str:
    """An instant in Beijing time, 2026-11-27 10:00 (or a dash)."""
    return "—" if moment is None else f"{moment.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def localized(lang: str, zh: str, en: str | None) -> str:
    """The English name for English readers when there is one, else the Chinese."""
    return en if lang == "en" and en else zh


def page(
    request: web.Request,
    template: str,
    *,
    lang: str,
    staff: Staff | None,
    csrf: str,
    flash: Mapping[str, Any] | None,
    status: int = 200,
    **context: Any,
) -> web.Response:
    """Render a desk template with the common context; never cached (personal data)."""
    common = {
        "lang": lang,
        "t": partial(t, lang),
        "when": when,
        "localized": partial(localized, lang),
        "staff": staff,
        "nav": nav_for(request, staff),
        "csrf": csrf,
        "flash": _flash_text(lang, flash),
        "path": request.path,
        "languages": [
            (code, name, _in_language(request, code))
            for code, name in LANG_NAMES.items()
            if code != lang
        ],
    }
    response = aiohttp_jinja2.render_template(
        f"admin/{template}", request, {**common, **context}, status=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _in_language(request: web.Request, code: str) -> str:
    """This page in another language, with the rest of what was asked (period, scope …) kept."""
    kept = [(k, v) for k, v in request.query.items() if k != "lang"]
    return f"{request.path}?{urlencode([*kept, ('lang', code)])}"


def _flash_text(lang: str, flash: Mapping[str, Any] | None) -> str | None:
    if not isinstance(flash, Mapping) or not isinstance(flash.get("key"), str):
        return None
    values = flash.get("values")
    return t(lang, flash["key"], **(values if isinstance(values, dict) else {}))
