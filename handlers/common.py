"""Small pieces every feature uses: the main menu, dates in people's words, names by language."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any

from bot.context import Context
from bot.i18n import catalogue, format_day
from bot.messages import Button, Reply
from bot.outgoing import Name
from models.calendar import DayInfo
from models.intents import load_lexicon
from models.org import Street
from models.people import Resident
from models.personal_data import remove_personal_data
from models.services import DayKind

MAIN_ITEMS = ("book", "need", "proxy", "track", "rate", "ask", "hours", "account")


def localized(ctx: Context, zh: str, en: str) -> str:
    """Pick the Chinese or the English form of a name (English falls back to Chinese)."""
    return Name(zh, en).render(ctx.lang)


LIST_NUMBER_DIGITS = 9  # longer than any list's number; int() refuses over 4,300 digits


def list_number(digits: str) -> int:
    """A typed list or option number; 0 (in no list) for a run longer than any list."""
    return int(digits) if len(digits) <= LIST_NUMBER_DIGITS else 0


def clipped(text: str, limit: int) -> str:
    """Text cut to fit a button: at a word's end where it has spaces (English), with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


ECHO_CHARS = 20  # of the resident's own words quoted back in "没有找到与“…”相关的服务"


def options_shown(data: Mapping[str, object]) -> tuple[Button, ...]:
    """The options a step last showed (kept in its state by the pipeline), as buttons again."""
    options, labels = data.get("options"), data.get("labels")
    if not isinstance(options, list) or not isinstance(labels, list) or len(options) != len(labels):
        return ()
    return tuple(
        Button(str(label), str(option)) for label, option in zip(labels, options, strict=True)
    )


def payloads_shown(data: Mapping[str, object], prefix: str) -> list[str]:
    """The payloads of the options a step last showed that begin with prefix, in order."""
    options = data.get("options")
    shown = options if isinstance(options, list) else []
    return [str(option) for option in shown if str(option).startswith(prefix)]


def echoed(text: str) -> str:
    """The resident's words quoted back to them: phone and ID numbers masked before the cut,
    so that no 17 of an ID card's 18 digits come back (or into a screenshot)."""
    return remove_personal_data(text)[:ECHO_CHARS]


def street_name(ctx: Context, street: Street | None) -> str:
    """The street's name in the reader's language."""
    if street is None:
        return ctx.t("menu.unnamed_street")
    return localized(ctx, street.name_zh, street.name_en)


def weekday_name(ctx: Context, day: date) -> str:
    """周一 … 周日 / Mon … Sun."""
    names = catalogue(ctx.lang).get("weekday.names") or catalogue("zh-CN")["weekday.names"]
    return str(names[day.weekday()])


def format_date(ctx: Context, day: date) -> str:
    """11月28日 / 28 Nov."""
    return format_day(ctx.lang, day)


def holiday_label(ctx: Context, info: DayInfo) -> str | None:
    """The name of a holiday or of an operator's override day, in the reader's language."""
    if info.override is not None:
        return localized(ctx, info.override.name_zh, info.override.name_en) or None
    if info.holiday is not None:
        return ctx.t(f"holidays.{info.holiday}")
    if info.kind is DayKind.WORKDAY and info.day.weekday() >= 5:
        return ctx.t("hours.makeup_workday")
    return None


def format_time(moment: time) -> str:
    """09:00."""
    return moment.strftime("%H:%M")


def main_menu_buttons(ctx: Context) -> tuple[Button, ...]:
    """The buttons of the main menu, in the reader's language."""
    items = (*MAIN_ITEMS, "staff") if ctx.is_staff else MAIN_ITEMS
    return tuple(Button(ctx.t(f"menu.{item}"), item) for item in items)


async def main_menu(ctx: Context, text: str | None = None) -> Reply:
    """The main menu under a greeting (or under the given text)."""
    if text is None:
        text = ctx.t("menu.greeting", street=street_name(ctx, await ctx.reference.street(ctx.unit)))
    return Reply(text, main_menu_buttons(ctx))


def is_short(words: str, chars: int, count: int) -> bool:
    """Whether a message is no longer than so many characters (Chinese) or words (English)."""
    return len(words.split()) <= count if words.isascii() else len(words) <= chars


async def street_code(ctx: Context) -> str:
    """The street's code, which begins every reference number (LC in the demo)."""
    street = await ctx.reference.street(ctx.unit)
    return street.code if street else "LC"


def back_to_menu(ctx: Context) -> tuple[Button, ...]:
    """A single "main menu" button."""
    return (Button(ctx.t("menu.back"), "menu"),)


def options_again(ctx: Context) -> tuple[Button, ...]:
    """The options the person was last shown (for a step that did not understand the answer:
    it asks again and keeps them, so nothing on the screen is lost); else the menu button."""
    return options_shown(ctx.state.data) or back_to_menu(ctx)


MEDIA_KEPT = 9


def with_media(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Flow data plus the photos and location this message carries (a flow gathers them
    over several messages before the words arrive)."""
    kept = dict(data)
    if ctx.inbound.location is not None:
        kept["location"] = [ctx.inbound.location.latitude, ctx.inbound.location.longitude]
    new = [{"kind": a.kind, "ref": a.ref} for a in ctx.inbound.attachments]
    kept["attachments"] = [*kept.get("attachments", []), *new][:MEDIA_KEPT]
    return kept


def location_of(data: dict[str, Any]) -> tuple[float | None, float | None]:
    """(latitude, longitude) kept by with_media, or (None, None)."""
    point = data.get("location")
    if isinstance(point, list) and len(point) == 2:
        return float(point[0]), float(point[1])
    return None, None


async def opening_hours(ctx: Context) -> dict[str, str]:
    """The centre's weekday and holiday hours ("08:00–18:00"), as messages name them."""
    hours = {}
    for kind, name in ((DayKind.WORKDAY, "weekday_hours"), (DayKind.HOLIDAY, "holiday_hours")):
        rule = await ctx.reference.opening_rule(ctx.unit, kind)
        hours[name] = f"{rule.opens:%H:%M}–{rule.closes:%H:%M}" if rule else "—"
    return hours


async def known_resident(ctx: Context) -> Resident | None:
    """The resident behind this chat account, if it has one (never made here)."""
    rid = ctx.identity.resident_id
    return None if rid is None else await ctx.session.get(Resident, rid)


def gives_up(ctx: Context, text: str) -> bool:
    """Whether the words only give up what is under way ("算了不办了", "算了不改了";
    data/intents.toml gives_up with gives_up_filler)."""
    lexicon = load_lexicon(Path(ctx.settings.data_dir))
    return bool(text) and lexicon.only_with_filler("gives_up", "gives_up_filler", text)
