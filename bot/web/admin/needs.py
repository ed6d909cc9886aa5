"""Need items at /admin/needs: the demand ranking by category (the street's categories from
data/needs.toml, each with its items ranked by supporters through models.need_ops.top_items),
filtered by stage and community; an item's page (/admin/needs/{id}) with its needs, personal
data removed, its history and, for staff whom models.policy.may_edit_need_items allows, the
chat's staff actions: move a stage on (立项/策划/论证/实施/完成), reject with a reason, merge into
another item, split needs off into a new item, rename. Supporters hear of a stage move or a
merge exactly as from the chat (bot.outgoing.tell.need_stage_news / need_merge_news).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel import col, select

from bot.outgoing.tell import need_merge_news, need_stage_news
from bot.web.admin.auth import DeskRequest, see_other, staff_page
from bot.web.admin.layout import NavEntry, localized
from models.need_edit import (
    clean_title,
    is_open,
    item_needs,
    merge_items,
    need_count,
    rename_item,
    split_item,
)
from models.need_ops import NeedCategory, can_move, change_stage, load_categories, top_items
from models.needs import NeedItem, NeedItemEvent, NeedStage
from models.org import Grid, Staff, list_communities
from models.personal_data import remove_personal_data
from models.policy import DeskPage, may_edit_need_items

routes = web.RouteTableDef()
NAV = (NavEntry(DeskPage.NEEDS, "/admin/needs", "desk_work.nav_needs"),)
HERE = "/admin/needs"
RANKED = 2000  # items read for the ranking (a street has about 131; a district a few thousand)
PER_CATEGORY = 10  # shown under each category on the overview
ALL_IN_CATEGORY = 500  # shown when one category is chosen
NEEDS_SHOWN = 100  # needs listed (and offered for a split) on an item's page
HISTORY = 50
REASON_LIMIT = 300  # as the chat: the reason every supporter reads
REASON_MIN = 2  # letters or digits
OTHER = "-"  # items filed under no known category
NUMBER_DIGITS = 9


@dataclass(frozen=True)
class Chosen:
    """The ranking's filters, as read from the query (anything unknown is ignored)."""

    stage: NeedStage | None = None
    community_id: int | None = None
    category: str | None = None

    @classmethod
    def from_query(cls, query: Any, categories: dict[str, NeedCategory]) -> Chosen:
        """The filters asked for; an unknown value means no filter."""
        stage = str(query.get("stage", ""))
        community = str(query.get("community", ""))
        category = str(query.get("category", ""))
        return cls(
            stage=NeedStage(stage) if stage in NeedStage._value2member_map_ else None,
            community_id=_number(community),
            category=category if category in categories or category == OTHER else None,
        )

    def query(self, **changes: str | None) -> str:
        """This filter as a query string, with some values changed."""
        values: dict[str, str | None] = {
            "stage": self.stage.value if self.stage else None,
            "community": str(self.community_id) if self.community_id else None,
            "category": self.category,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True)
class Ranked:
    """One item in its category's ranking."""

    rank: int
    item: NeedItem
    supporters: int
    community: str


@dataclass
class Group:
    """A category and its items, most supported first."""

    code: str
    name: str
    rows: list[Ranked] = field(default_factory=list)
    total: int = 0
    supporters: int = 0

    @property
    def more(self) -> bool:
        """Whether the overview shows only the top of this category."""
        return self.total > len(self.rows)


def typed(desk: DeskRequest, name: str) -> str:
    """A posted text field (NUL characters stood in for, see auth.without_nul)."""
    return desk.text(name)


def _number(text: str) -> int | None:
    """A record number as typed or posted, or None."""
    text = text.strip().lstrip("#＃")
    return int(text) if text.isdecimal() and len(text) <= NUMBER_DIGITS else None


def category_names(desk: DeskRequest) -> dict[str, NeedCategory]:
    """The street's need categories by code, in file order."""
    return {c.code: c for c in load_categories(desk.linli.settings.data_dir)}


def category_name(desk: DeskRequest, code: str, known: dict[str, NeedCategory]) -> str:
    """A category's name in the desk's language (items under no known one: 其他)."""
    found = known.get(code)
    if found is None:
        return desk.t("desk_work.category_other")
    return localized(desk.lang, found.name_zh, found.name_en)


async def community_names(desk: DeskRequest) -> dict[int, str]:
    """Every community's name in the desk's language, by id."""
    return {
        c.id or 0: localized(desk.lang, c.name_zh, c.name_en)
        for c in await list_communities(desk.session)
    }


@routes.get("/needs")
@staff_page(DeskPage.NEEDS)
async def ranking(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/needs: each category with its items ranked by supporters."""
    known = category_names(desk)
    chosen = Chosen.from_query(desk.request.query, known)
    communities = await community_names(desk)
    ranked = await top_items(
        desk.session,
        limit=RANKED,
        community_id=chosen.community_id,
        category=chosen.category if chosen.category not in (None, OTHER) else None,
    )
    groups = {code: Group(code, category_name(desk, code, known)) for code in known}
    groups[OTHER] = Group(OTHER, desk.t("desk_work.category_other"))
    shown = ALL_IN_CATEGORY if chosen.category else PER_CATEGORY
    for item, supporters in ranked:
        if chosen.stage is not None and item.stage != chosen.stage:
            continue
        group = groups[item.category if item.category in known else OTHER]
        group.total += 1
        group.supporters += supporters
        if len(group.rows) < shown:
            community = communities.get(item.community_id or 0, "—")
            group.rows.append(Ranked(group.total, item, supporters, community))
    if chosen.category:
        groups = {chosen.category: groups[chosen.category]}
    listed = [g for g in groups.values() if g.total]
    empty = [g for g in groups.values() if not g.total and g.code != OTHER]
    return desk.render(
        "needs.html",
        groups=listed,
        empty=empty,
        chosen=chosen,
        stages=list(NeedStage),
        communities=sorted(communities.items(), key=lambda pair: pair[0]),
        categories=[(code, category_name(desk, code, known)) for code in known],
        items=sum(g.total for g in listed),
        editor=may_edit_need_items(desk.staff),
    )


@dataclass(frozen=True)
class NeedRow:
    """One resident's need as staff read it: words only, personal data removed."""

    id: int
    text: str
    at: datetime
    place: str
    by_visit: bool


@dataclass(frozen=True)
class EventRow:
    """One step of an item's history."""

    at: datetime
    who: str
    text: str


async def _needs(desk: DeskRequest, item: NeedItem, communities: dict[int, str]) -> list[NeedRow]:
    found = await item_needs(desk.session, item.id or 0, NEEDS_SHOWN)
    grid_ids = {n.grid_id for n in found if n.grid_id}
    grids: dict[int, str] = {}
    if grid_ids:
        rows = await desk.session.exec(select(Grid).where(col(Grid.id).in_(grid_ids)))
        grids = {g.id or 0: localized(desk.lang, g.name_zh, g.name_en) for g in rows.all()}
    return [
        NeedRow(
            need.id or 0,
            remove_personal_data(need.text),
            need.created_at,
            grids.get(need.grid_id or 0) or communities.get(need.community_id or 0, "—"),
            need.submitted_by_staff_id is not None,
        )
        for need in found
    ]


async def _history(desk: DeskRequest, item: NeedItem) -> list[EventRow]:
    stmt = (
        select(NeedItemEvent)
        .where(NeedItemEvent.item_id == item.id)
        .order_by(col(NeedItemEvent.id).desc())
        .limit(HISTORY)
    )
    events = list((await desk.session.exec(stmt)).all())
    ids = {e.staff_id for e in events if e.staff_id}
    names: dict[int, str] = {}
    if ids:
        rows = await desk.session.exec(select(Staff).where(col(Staff.id).in_(ids)))
        names = {s.id or 0: s.name for s in rows.all()}
    return [
        EventRow(
            e.at, names.get(e.staff_id or 0, desk.t("desk_work.someone")), _event_text(desk, e)
        )
        for e in events
    ]


def _event_text(desk: DeskRequest, event: NeedItemEvent) -> str:
    note = remove_personal_data(event.note or "")
    if event.kind in NeedStage._value2member_map_:
        stage = desk.t(f"needs.stage_{event.kind}")
        if note:
            return desk.t("desk_work.event_stage_reason", stage=stage, reason=note)
        return desk.t("desk_work.event_stage", stage=stage)
    if event.kind in ("renamed", "merged", "merged_into", "split", "split_from"):
        return desk.t(f"desk_work.event_{event.kind}", note=note)
    return " ".join(part for part in (event.kind, note) if part)


async def merge_targets(desk: DeskRequest, item: NeedItem) -> list[tuple[str, list[NeedItem]]]:
    """The open items this one may be merged into: its own category first, then the rest."""
    ranked = await top_items(desk.session, limit=RANKED)
    others = [i for i, _ in ranked if i.id != item.id and is_open(i)]
    same = [i for i in others if i.category == item.category]
    rest = [i for i in others if i.category != item.category]
    groups = [(desk.t("desk_work.merge_same_category"), same)] if same else []
    if rest:
        groups.append((desk.t("desk_work.merge_other_categories"), rest))
    return groups


def forward_stages(item: NeedItem) -> list[NeedStage]:
    """The stages the item may move on to now (the domain's can_move decides)."""
    return [s for s in NeedStage if s is not NeedStage.REJECTED and can_move(item, s)]


async def item_page(
    desk: DeskRequest,
    item: NeedItem,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    kept: dict[str, Any] | None = None,
) -> web.Response:
    """An item's page; after bad input, with the message beside its form and what was typed."""
    known = category_names(desk)
    communities = await community_names(desk)
    editor = may_edit_need_items(desk.staff)
    editable = editor and is_open(item)
    needs = await _needs(desk, item, communities)
    merged_into = (
        await desk.session.get(NeedItem, item.merged_into_id) if item.merged_into_id else None
    )
    return desk.render(
        "need_item.html",
        status=status,
        item=item,
        category=category_name(desk, item.category, known),
        community=communities.get(item.community_id or 0, "—"),
        needs=needs,
        total=await need_count(desk.session, item.id or 0),
        history=await _history(desk, item),
        merged_into=merged_into,
        editor=editor,
        editable=editable,
        forward=forward_stages(item) if editable else [],
        may_reject=editable and can_move(item, NeedStage.REJECTED),
        targets=await merge_targets(desk, item) if editable else [],
        errors={k: desk.t(v) for k, v in (errors or {}).items()},
        kept=kept or {},
    )


async def _item(desk: DeskRequest) -> NeedItem | None:
    number = _number(desk.request.match_info["number"])
    return await desk.session.get(NeedItem, number) if number is not None else None


@routes.get(r"/needs/{number:\d{1,9}}")
@staff_page(DeskPage.NEEDS)
async def item_view(desk: DeskRequest) -> web.StreamResponse:
    """GET /admin/needs/{id}: the item, its needs, its history and the actions allowed."""
    item = await _item(desk)
    if item is None:
        return desk.refuse(404, "desk.not_found", back=HERE)
    return await item_page(desk, item)


def _here(item: NeedItem) -> str:
    return f"{HERE}/{item.id}"


async def _move(desk: DeskRequest, item: NeedItem) -> web.Response:
    chosen = desk.text("stage")
    if chosen not in NeedStage._value2member_map_ or chosen == NeedStage.REJECTED:
        return await item_page(desk, item, status=400, errors={"move": "desk_work.stage_pick"})
    return await _change(desk, item, NeedStage(chosen))


async def _reject(desk: DeskRequest, item: NeedItem) -> web.Response:
    reason = " ".join(typed(desk, "reason").split())[:REASON_LIMIT]
    if sum(ch.isalnum() for ch in reason) < REASON_MIN:
        errors = {"reject": "desk_work.reason_needed"}
        return await item_page(desk, item, status=400, errors=errors, kept={"reason": reason})
    return await _change(desk, item, NeedStage.REJECTED, reason)


async def _change(
    desk: DeskRequest, item: NeedItem, stage: NeedStage, reason: str | None = None
) -> web.Response:
    """The chat's move (needs_staff._change): the domain moves it, every supporter is told."""
    told = await change_stage(
        desk.session, item, stage, desk.now, staff_id=desk.staff.id, reason=reason
    )
    if told is None:
        return desk.refuse(409, "desk_work.cannot_move", back=_here(item))
    await desk.session.flush()
    await need_stage_news(await desk.session.connection(), item, stage, told, desk.now)
    stage_name = desk.t(f"needs.stage_{stage}")
    desk.flash("desk_work.moved", title=item.title, stage=stage_name, count=len(told))
    return see_other(_here(item))


async def _rename(desk: DeskRequest, item: NeedItem) -> web.Response:
    as_typed = typed(desk, "title")[:200]
    title = clean_title(as_typed)
    if title is None:
        errors = {"rename": "desk_work.title_bad"}
        return await item_page(desk, item, status=400, errors=errors, kept={"title": as_typed})
    await rename_item(desk.session, item, title, desk.now, desk.staff.id)
    desk.flash("desk_work.renamed", title=item.title)
    return see_other(_here(item))


async def _merge(desk: DeskRequest, item: NeedItem) -> web.Response:
    number = _number(desk.text("into"))
    keep = await desk.session.get(NeedItem, number) if number is not None else None
    kept = {"into": number}
    if keep is None or keep.id == item.id or not is_open(keep):
        errors = {"merge": "desk_work.merge_pick"}
        return await item_page(desk, item, status=400, errors=errors, kept=kept)
    if desk.text("confirm") != "yes":
        errors = {"merge": "desk_work.merge_confirm_needed"}
        return await item_page(desk, item, status=400, errors=errors, kept=kept)
    merged = await merge_items(desk.session, keep, item, desk.now, desk.staff.id)
    await need_merge_news(await desk.session.connection(), keep, item, merged.told, desk.now)
    desk.flash(
        "desk_work.merged",
        old=item.title,
        title=keep.title,
        moved=merged.moved,
        told=len(merged.told),
    )
    return see_other(_here(keep))


async def _split(desk: DeskRequest, item: NeedItem) -> web.Response:
    posted = desk.form.getall("need", []) if desk.form is not None else []
    numbers = [_number(value) for value in posted if isinstance(value, str)]
    chosen = sorted({n for n in numbers if n is not None})
    kept = {"needs": chosen}
    if not chosen:
        return await item_page(
            desk, item, status=400, errors={"split": "desk_work.split_pick"}, kept=kept
        )
    new = await split_item(desk.session, item, chosen, desk.now, desk.staff.id)
    if new is None:
        return await item_page(
            desk, item, status=400, errors={"split": "desk_work.split_some"}, kept=kept
        )
    desk.flash("desk_work.split_done", old=item.title, title=new.title, count=len(chosen))
    return see_other(_here(new))


ACTIONS = {
    "move": _move,
    "reject": _reject,
    "rename": _rename,
    "merge": _merge,
    "split": _split,
}


@routes.post(r"/needs/{number:\d{1,9}}/{action:[a-z]{1,12}}")
@staff_page(DeskPage.NEEDS)
async def act(desk: DeskRequest) -> web.StreamResponse:
    """POST /admin/needs/{id}/{action}: one edit by a staff member who may edit need items."""
    item = await _item(desk)
    action = ACTIONS.get(desk.request.match_info["action"])
    if item is None or action is None:
        return desk.refuse(404, "desk.not_found", back=HERE)
    if not may_edit_need_items(desk.staff):
        return desk.refuse(403, "desk_work.not_editor", back=_here(item))
    if not is_open(item):
        return desk.refuse(409, "desk_work.item_closed", back=_here(item))
    return await action(desk, item)
