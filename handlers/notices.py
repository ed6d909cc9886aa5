"""通知 for residents (recent notices, opt out of non-urgent ones, opt back in), and 我的通知
for their authors (each notice's report, and withdrawing one still waiting or sending)."""

from __future__ import annotations

from sqlmodel import col, select

from bot.context import Context
from bot.messages import Button, Reply
from bot.outgoing.tell import notice_summary
from bot.router import HandlerResult, Router
from handlers.common import back_to_menu
from handlers.notices_staff import notice_author
from handlers.staff import is_staff
from models.base import SHANGHAI
from models.messaging import OutboxMessage, OutboxStatus
from models.notice_audience import may_see_notice, may_withdraw_notice
from models.notice_ops import cancel_notice, notice_report
from models.notices import Notice, NoticeStatus
from models.org import StaffRole
from models.people import Resident, ensure_resident

router = Router("notices")

RECENT = 5
EXCERPT = 60


@router.payload("notices")
@router.command("notices")
async def recent(ctx: Context) -> HandlerResult:
    """The last notices that reached this resident, and the opt-out switch."""
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    stmt = (
        select(Notice)
        .join(OutboxMessage, col(OutboxMessage.notice_id) == col(Notice.id))
        .where(OutboxMessage.resident_id == resident.id, OutboxMessage.status == OutboxStatus.SENT)
        .group_by(col(Notice.id))
        .order_by(col(Notice.id).desc())
        .limit(RECENT)
    )
    notices = list((await ctx.session.exec(stmt)).all())
    lines = [ctx.t("notices.recent_title") if notices else ctx.t("notices.recent_none")]
    for notice in notices:
        mark = ctx.t("notices.urgent_mark") if notice.urgent else ""
        day = (notice.started_at or notice.created_at).astimezone(SHANGHAI).strftime("%m-%d")
        lines.append(f"{day} {mark}{notice.text[:EXCERPT]}")
    lines.append(ctx.t("notices.opted_out" if resident.notices_opt_out else "notices.opted_in"))
    switch = (
        Button(ctx.t("notices.opt_in"), "notices:on")
        if resident.notices_opt_out
        else Button(ctx.t("notices.opt_out"), "notices:off")
    )
    return Reply("\n".join(lines), (switch, *back_to_menu(ctx)))


@router.payload("notices:off")
@router.command("notices_off")
async def opt_out(ctx: Context) -> HandlerResult:
    """No more non-urgent notices (urgent ones still arrive)."""
    return await _switch(ctx, opted_out=True)


@router.payload("notices:on")
@router.command("notices_on")
async def opt_in(ctx: Context) -> HandlerResult:
    """Every notice again."""
    return await _switch(ctx, opted_out=False)


async def _switch(ctx: Context, opted_out: bool) -> Reply:
    resident: Resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    resident.notices_opt_out = opted_out
    ctx.session.add(resident)
    key = "notices.opt_out_done" if opted_out else "notices.opt_in_done"
    return Reply(ctx.t(key), back_to_menu(ctx))


@router.payload("notice:mine", filters=(is_staff,))
@router.command("notices_mine", filters=(is_staff,))
async def my_notices(ctx: Context) -> HandlerResult:
    """The author's recent notices (everyone's, for supervisors) with where each stands."""
    author = await notice_author(ctx)
    if author is None:
        return Reply(ctx.t("notices.not_author"), back_to_menu(ctx))
    stmt = select(Notice).order_by(col(Notice.id).desc()).limit(RECENT)
    if author[0].role not in (StaffRole.SUPERVISOR, StaffRole.ADMIN):
        stmt = stmt.where(Notice.author_staff_id == author[0].id)
    notices = list((await ctx.session.exec(stmt)).all())
    if not notices:
        return Reply(ctx.t("notices.mine_none"), (Button(ctx.t("notices.new"), "notice:new"),))
    lines = [ctx.t("notices.mine_title")]
    lines += [
        ctx.t(
            "notices.mine_line",
            id=n.id,
            status=ctx.t(f"notices.status_{n.status}"),
            excerpt=n.text[:20],
        )
        for n in notices
    ]
    buttons = tuple(Button(f"#{n.id}", f"notice:show:{n.id}") for n in notices)
    return Reply("\n".join(lines), (*buttons, Button(ctx.t("notices.new"), "notice:new")))


async def _visible_notice(ctx: Context, number: str) -> Notice | None:
    author = await notice_author(ctx)
    if author is None or not (number.isdecimal() and len(number) < 10):
        return None
    notice = await ctx.session.get(Notice, int(number))
    if notice is None or not await may_see_notice(ctx.session, author[0], notice):
        return None
    return notice


@router.payload("notice:show", filters=(is_staff,))
async def show(ctx: Context) -> HandlerResult:
    """One notice's report: audience, sent, failed and why, unreachable, pending."""
    notice = await _visible_notice(ctx, ctx.args)
    if notice is None:
        return Reply(ctx.t("notices.gone"), back_to_menu(ctx))
    report = await notice_report(ctx.session, notice)
    text = notice_summary(notice, report).render(ctx.lang).text
    status = ctx.t(f"notices.status_{notice.status}")
    buttons: tuple[Button, ...] = ()
    staff = await notice_author(ctx)
    withdrawable = staff is not None and may_withdraw_notice(staff[0], notice)
    if withdrawable and notice.status in (NoticeStatus.SCHEDULED, NoticeStatus.SENDING):
        buttons = (Button(ctx.t("notices.cancel"), f"notice:cancel:{notice.id}"),)
    return Reply(f"{status}\n{text}", (*buttons, Button(ctx.t("notices.mine"), "notice:mine")))


@router.payload("notice:cancel", filters=(is_staff,))
async def cancel(ctx: Context) -> HandlerResult:
    """Withdraw a notice: what has not gone out yet will not."""
    notice = await _visible_notice(ctx, ctx.args)
    staff = await notice_author(ctx)
    if notice is None or staff is None or not may_withdraw_notice(staff[0], notice):
        return Reply(ctx.t("notices.gone"), back_to_menu(ctx))
    withdrawn = await cancel_notice(ctx.session, notice, ctx.now())
    if withdrawn < 0:
        return Reply(ctx.t("notices.cannot_cancel"), back_to_menu(ctx))
    return Reply(ctx.t("notices.cancelled", id=notice.id, count=withdrawn), back_to_menu(ctx))
