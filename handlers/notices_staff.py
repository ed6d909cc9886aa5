"""发通知: staff compose a notice step by step (text, link, audience, urgency, when), see a
preview with the audience's numbers, and confirm; 我的通知 shows each notice's report and lets
its author withdraw one still waiting or sending."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.context import Context
from bot.dates import parse_when
from bot.messages import Button, Reply
from bot.outgoing.tell import notice_message
from bot.router import HandlerResult, Router
from handlers.common import back_to_menu, list_number, localized
from handlers.staff import active_staff, is_staff
from models.base import SHANGHAI
from models.intents import load_lexicon
from models.notice_audience import FILTERS, Audience, allowed
from models.notice_ops import TEXT_MAX, count_audience, create_notice, notice_text_ok, web_address
from models.notices import Notice
from models.org import Community, Staff, list_communities, list_grids
from models.policy import Scope, scope_of

router = Router("notices_staff")

TEXT, LINK, AREA_LIST, WHEN = "notice.text", "notice.link", "notice.area", "notice.when"
CHOOSE = "notice.choose"  # a step answered with buttons only
EARLIEST = timedelta(minutes=2)  # a scheduled time must lie at least this far ahead


async def notice_author(ctx: Context) -> tuple[Staff, Scope] | None:
    """The active staff member behind this account and what they may reach, if anything."""
    staff = await active_staff(ctx)
    scope = scope_of(staff)
    return (staff, scope) if staff is not None and scope.any else None


@router.payload("notice:new", filters=(is_staff,))
@router.command("notice_new", filters=(is_staff,))
async def compose(ctx: Context) -> HandlerResult:
    """Step 1: the text of the notice."""
    if await notice_author(ctx) is None:
        return Reply(ctx.t("notices.not_author"), back_to_menu(ctx))
    ctx.set_state(TEXT, back="menu")
    return Reply(ctx.t("notices.ask_text"), back_to_menu(ctx))


@router.state(TEXT)
async def got_text(ctx: Context) -> HandlerResult:
    """Step 2: an optional link (or the address of an image)."""
    text = ctx.text.strip()  # as written: full-width punctuation is how Chinese is written
    if not notice_text_ok(text):
        return Reply(ctx.t("notices.text_again", limit=TEXT_MAX), back_to_menu(ctx))
    ctx.set_state(LINK, text=text)
    return Reply(ctx.t("notices.ask_link"), _no_link(ctx))


def _only(ctx: Context, kind: str) -> bool:
    """Whether the message is, as a whole, one of a word list of data/intents.toml."""
    return load_lexicon(Path(ctx.settings.data_dir)).is_only(kind, ctx.text)


def _no_link(ctx: Context) -> tuple[Button, ...]:
    return (Button(ctx.t("notices.no_link"), "notice:link"),)


@router.payload("notice:link", filters=(is_staff,))
@router.state(LINK)
async def got_link(ctx: Context) -> HandlerResult:
    """Step 3: the audience, offered within the author's scope."""
    data = dict(ctx.state.data)
    if "text" not in data:
        return Reply(ctx.t("notices.expired"), back_to_menu(ctx))
    if ctx.inbound.event == "image":
        return Reply(ctx.t("notices.image_as_link"), _no_link(ctx))
    if not ctx.payload and not _only(ctx, "nothing_more"):  # "不用", "没有": no link
        link = web_address(ctx.text)
        if link is None:
            return Reply(ctx.t("notices.link_again"), _no_link(ctx))
        data["link"] = link
    author = await notice_author(ctx)
    if author is None:
        ctx.clear_state()
        return Reply(ctx.t("notices.not_author"), back_to_menu(ctx))
    ctx.set_state(CHOOSE, **(data | {"by_start": True}))  # "全部" is 全部居民 at these steps
    return Reply(ctx.t("notices.ask_area"), area_buttons(ctx, author[1]))


def area_buttons(ctx: Context, scope: Scope) -> tuple[Button, ...]:
    """The areas this author may choose."""
    if scope.grid_id is not None:
        return (Button(ctx.t("notices.area_my_grid"), "notice:area:grid"),)
    if scope.street:
        return (
            Button(ctx.t("notices.area_street"), "notice:area:street"),
            Button(ctx.t("notices.area_communities"), "notice:area:communities"),
            Button(ctx.t("notices.area_grids"), "notice:area:grids"),
        )
    return (
        Button(ctx.t("notices.area_my_community"), "notice:area:community"),
        Button(ctx.t("notices.area_grids"), "notice:area:grids"),
    )


@router.state(CHOOSE)
async def choose_with_buttons(ctx: Context) -> HandlerResult:
    """Typed text where a button is expected: say so, show the step's buttons again (their
    numbers stay valid) and keep what was gathered."""
    asked = ctx.state.data.get("asked")
    if asked == "filter":
        buttons = _filter_buttons(ctx)
    elif asked == "urgency":
        buttons = _urgency_buttons(ctx)
    else:
        author = await notice_author(ctx)
        if author is None:
            return Reply(ctx.t("notices.expired"), back_to_menu(ctx))
        buttons = area_buttons(ctx, author[1])
    return Reply(ctx.t("notices.use_buttons"), (*buttons, *back_to_menu(ctx)))


@router.payload("notice:area", filters=(is_staff,))
async def area_chosen(ctx: Context) -> HandlerResult:
    """A whole area goes straight on; communities or grids are chosen from a numbered list."""
    author = await notice_author(ctx)
    data = dict(ctx.state.data)
    if author is None or "text" not in data:
        return Reply(ctx.t("notices.expired"), back_to_menu(ctx))
    scope = author[1]
    kind = ctx.args
    if kind == "grid" and scope.grid_id is not None:
        return _ask_filter(ctx, data, Audience(grids=(scope.grid_id,)))
    if kind == "street" and scope.street:
        return _ask_filter(ctx, data, Audience(street=True))
    if kind == "community" and scope.community_id is not None:
        return _ask_filter(ctx, data, Audience(communities=(scope.community_id,)))
    if kind not in ("communities", "grids") or (kind == "communities" and not scope.street):
        return Reply(ctx.t("notices.expired"), back_to_menu(ctx))
    return await _area_list(ctx, data, scope, kind)


async def _area_list(ctx: Context, data: dict[str, Any], scope: Scope, kind: str) -> Reply:
    communities = await list_communities(ctx.session)
    if not scope.street:
        communities = [c for c in communities if c.id == scope.community_id]
    if kind == "communities" or len(communities) > 1:
        lines = [
            f"{n}. {localized(ctx, c.name_zh, c.name_en)}" for n, c in enumerate(communities, 1)
        ]
        key = "notices.pick_communities" if kind == "communities" else "notices.pick_grids_street"
    else:
        grids = await list_grids(ctx.session, communities[0].id or 0) if communities else []
        lines = [f"{g.number}. {localized(ctx, g.name_zh, g.name_en)}" for g in grids]
        key = "notices.pick_grids"
    ctx.set_state(AREA_LIST, **(data | {"kind": kind}))
    # No buttons: a typed number must reach this step, not pick a button.
    return Reply("\n".join([ctx.t(key), *lines]))


@router.state(AREA_LIST)
async def area_typed(ctx: Context) -> HandlerResult:
    """The communities ("1 3") or grids ("2-1 2-3", or "1 3" within one community) typed."""
    author = await notice_author(ctx)
    data = dict(ctx.state.data)
    if author is None:
        ctx.clear_state()
        return Reply(ctx.t("notices.not_author"), back_to_menu(ctx))
    communities = await list_communities(ctx.session)
    if not author[1].street:
        communities = [c for c in communities if c.id == author[1].community_id]
    audience = await _typed_area(ctx, str(data.get("kind")), communities)
    if audience is None or not await allowed(ctx.session, author[1], audience):
        return Reply(ctx.t("notices.area_again"))
    data.pop("kind", None)
    return _ask_filter(ctx, data, audience)


async def _typed_area(ctx: Context, kind: str, communities: list[Community]) -> Audience | None:
    folded = unicodedata.normalize("NFKC", ctx.text)
    if kind == "communities":
        numbers = [list_number(n) for n in re.findall(r"\d+", folded)]
        if not numbers or any(not 1 <= n <= len(communities) for n in numbers):
            return None
        return Audience(communities=tuple(sorted({communities[n - 1].id or 0 for n in numbers})))
    pairs = re.findall(r"(\d+)\s*-\s*(\d+)", folded)
    if not pairs and len(communities) == 1:
        pairs = [("1", n) for n in re.findall(r"\d+", folded)]
    grids: set[int] = set()
    for community_number, grid_number in pairs:
        index = list_number(community_number) - 1
        if not 0 <= index < len(communities):
            return None
        found = [
            g
            for g in await list_grids(ctx.session, communities[index].id or 0)
            if g.number == list_number(grid_number)
        ]
        if not found:
            return None
        grids.add(found[0].id or 0)
    return Audience(grids=tuple(sorted(grids))) if grids else None


def _ask_filter(ctx: Context, data: dict[str, Any], audience: Audience) -> Reply:
    ctx.set_state(CHOOSE, **(data | {"audience": audience.as_data(), "asked": "filter"}))
    return Reply(ctx.t("notices.ask_filter"), _filter_buttons(ctx))


def _filter_buttons(ctx: Context) -> tuple[Button, ...]:
    buttons = [Button(ctx.t("notices.filter_all"), "notice:filter:all")]
    buttons += [Button(ctx.t(f"notices.filter_{f}"), f"notice:filter:{f}") for f in FILTERS]
    return tuple(buttons)


def _urgency_buttons(ctx: Context) -> tuple[Button, ...]:
    return (
        Button(ctx.t("notices.normal"), "notice:urgent:no"),
        Button(ctx.t("notices.urgent"), "notice:urgent:yes"),
    )


@router.payload("notice:filter", filters=(is_staff,))
async def filter_chosen(ctx: Context) -> HandlerResult:
    """Step 4: urgent or not."""
    data = dict(ctx.state.data)
    if "audience" not in data or ctx.args not in ("all", *FILTERS):
        return Reply(ctx.t("notices.expired"), back_to_menu(ctx))
    data["audience"] = {**data["audience"], "filters": [] if ctx.args == "all" else [ctx.args]}
    ctx.set_state(CHOOSE, **(data | {"asked": "urgency"}))
    return Reply(ctx.t("notices.ask_urgent"), _urgency_buttons(ctx))


@router.payload("notice:urgent", filters=(is_staff,))
async def urgency_chosen(ctx: Context) -> HandlerResult:
    """Step 5: now or at a time."""
    data = dict(ctx.state.data)
    if "audience" not in data:
        return Reply(ctx.t("notices.expired"), back_to_menu(ctx))
    # Merged, not keyword arguments: a button pressed twice finds its own keys in the data.
    ctx.set_state(WHEN, **(data | {"urgent": ctx.args == "yes", "by_start": True}))
    return Reply(ctx.t("notices.ask_when"), _send_now(ctx))


def _send_now(ctx: Context) -> tuple[Button, ...]:
    return (Button(ctx.t("notices.now"), "notice:when"),)


@router.payload("notice:when", filters=(is_staff,))
@router.state(WHEN)
async def when_chosen(ctx: Context) -> HandlerResult:
    """Step 6: the preview, with the audience's numbers, and the confirm button."""
    data = dict(ctx.state.data)
    if "audience" not in data or "urgent" not in data:
        return Reply(ctx.t("notices.expired"), back_to_menu(ctx))
    if ctx.payload or _only(ctx, "send_now"):  # 立即发送, "马上发": at once, whatever was said
        data.pop("send_at", None)
    else:
        send_at = scheduled_time(ctx.text, ctx.now())
        if send_at is None and "residents" in data:
            # At the preview ("好的", "ok"): the preview again, saying how to send or re-time.
            shown = await preview(ctx, data)
            return Reply(ctx.t("notices.confirm_or_time") + "\n\n" + shown.text, shown.buttons)
        if send_at is None:
            return Reply(ctx.t("notices.when_again"), _send_now(ctx))
        data["send_at"] = send_at.isoformat()
    return await preview(ctx, data)


def scheduled_time(text: str, now: datetime) -> datetime | None:
    """A clock time (and optional day) in the future, e.g. "明天8点", "周六 09:30"."""
    local = now.astimezone(SHANGHAI)
    asked = parse_when(text, local.date())
    if asked.at is None:
        return None
    moment = datetime.combine(asked.day or local.date(), asked.at, tzinfo=SHANGHAI)
    return moment if moment >= now + EARLIEST else None


async def preview(ctx: Context, data: dict[str, Any]) -> Reply:
    """What residents will read, to whom it goes, and when."""
    audience = Audience.from_data(data["audience"])
    counted = await count_audience(ctx.session, audience, bool(data["urgent"]))
    # Confirming decides from these numbers whether to release the notice at once.
    # A preview typed at again (a new time) is made anew: its numbers replace the last ones.
    counts = {"residents": counted.residents, "accounts": counted.reachable_accounts}
    ctx.set_state(WHEN, **(data | counts))
    draft = Notice(
        author_staff_id=0, text=data["text"], link_url=data.get("link"), urgent=bool(data["urgent"])
    )
    when = ctx.t("notices.when_now")
    if data.get("send_at"):
        local = datetime.fromisoformat(data["send_at"]).astimezone(SHANGHAI)
        when = f"{local:%Y-%m-%d %H:%M}"
    lines = [
        ctx.t("notices.preview_title"),
        notice_message(draft).render(ctx.lang).text,
        ctx.t(
            "notices.preview_numbers",
            residents=counted.residents,
            opted_out=counted.opted_out,
            accounts=counted.reachable_accounts,
            unreachable=counted.unreachable,
            when=when,
        ),
    ]
    buttons = (
        Button(ctx.t("notices.confirm"), "notice:send"),
        Button(ctx.t("notices.discard"), "menu"),
    )
    return Reply("\n\n".join(lines), buttons)


@router.payload("notice:send", filters=(is_staff,))
async def confirmed(ctx: Context) -> HandlerResult:
    """Create the notice: a small one is released in this transaction; a big or scheduled one
    is released by the scheduler in steps (see scheduler/notices.py)."""
    data = dict(ctx.state.data)
    author = await notice_author(ctx)
    ctx.clear_state()
    if author is None or "audience" not in data or "urgent" not in data:
        return Reply(ctx.t("notices.expired"), back_to_menu(ctx))
    audience = Audience.from_data(data["audience"])
    if not await allowed(ctx.session, author[1], audience):
        return Reply(ctx.t("notices.outside_scope"), back_to_menu(ctx))
    send_at = datetime.fromisoformat(data["send_at"]) if data.get("send_at") else None
    notice, created = await create_notice(
        ctx.session,
        author_id=author[0].id or 0,
        text=str(data["text"]),
        link=data.get("link"),
        urgent=bool(data["urgent"]),
        audience=audience,
        residents=int(data.get("residents", 0)),
        now=ctx.now(),
        send_at=send_at,
    )
    if send_at is not None:
        when = f"{send_at.astimezone(SHANGHAI):%m-%d %H:%M}"
        return Reply(ctx.t("notices.scheduled", id=notice.id, when=when), back_to_menu(ctx))
    if created is None:
        created = int(data.get("accounts", 0))
    return Reply(ctx.t("notices.sending", id=notice.id, count=created), back_to_menu(ctx))
