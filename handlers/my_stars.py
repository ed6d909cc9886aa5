"""我的星级: a staff member's own monthly scorecard in chat, with the formula behind it."""

from __future__ import annotations

from datetime import date, timedelta

from bot.context import Context
from bot.messages import Reply
from bot.router import HandlerResult, Router
from handlers.common import back_to_menu
from handlers.staff import active_staff, is_staff
from models.base import SHANGHAI
from models.stars import Scorecard, scorecard

router = Router("my_stars")


@router.payload("stars:mine", filters=(is_staff,))
@router.command("mystars", filters=(is_staff,))
async def my_stars(ctx: Context) -> HandlerResult:
    """Last month's stars (the monthly result) and this month's so far."""
    staff = await active_staff(ctx)
    if staff is None:
        return Reply(ctx.t("staff.inactive"), back_to_menu(ctx))
    today = ctx.now().astimezone(SHANGHAI).date()
    last_month = today.replace(day=1) - timedelta(days=1)
    cards = [
        await scorecard(ctx.session, staff.id or 0, month, ctx.settings.data_dir)
        for month in (last_month, today)
    ]
    text = "\n\n".join(card_text(ctx, card, key) for card, key in zip(cards, _TITLES, strict=True))
    return Reply(f"{text}\n\n{formula_text(ctx, cards[0])}", back_to_menu(ctx))


_TITLES = ("stars.title_month", "stars.title_so_far")


def card_text(ctx: Context, card: Scorecard, title: str) -> str:
    """One month: the stars and total, then each factor's score, weight and points."""
    start: date = card.month.start
    lines = [
        ctx.t(
            title,
            month=ctx.t("stars.month", year=start.year, month=start.month),
            stars="★" * card.stars + "☆" * (5 - card.stars),
            total=f"{card.total:.1f}",
        )
    ]
    for factor in card.factors:
        lines.append(
            ctx.t(
                "stars.factor_no_data" if factor.no_data else "stars.factor",
                name=ctx.t(f"kpis.stars.{factor.code}"),
                score=f"{factor.score:.2f}",
                weight=f"{factor.weight:g}",
                points=f"{factor.contribution:.1f}",
            )
        )
    return "\n".join(lines)


def formula_text(ctx: Context, card: Scorecard) -> str:
    """How the stars are counted, from the street's own rules (data/stars.toml)."""
    lines = dict(card.lines)
    return ctx.t(
        "stars.formula",
        five=f"{lines.get(5, 0):g}",
        four=f"{lines.get(4, 0):g}",
        three=f"{lines.get(3, 0):g}",
        two=f"{lines.get(2, 0):g}",
    )
