"""我的数据: a resident sees what Linli holds about them, takes a copy (a short-lived link to a
JSON file and a readable summary), withdraws a consent, or has their personal data deleted."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Button, Link, Reply
from bot.my_data_text import CHAT_ITEMS, EXPORT_PURPOSE, export_url, summary_lines
from bot.router import HandlerResult, Router
from bot.signing import expiring_token
from handlers.booking import announce_offer, booking_limits
from handlers.common import back_to_menu, known_resident, main_menu
from models.consent import ConsentPurpose, consent_answer, withdraw_consent
from models.erasure import Erasure, erase_resident
from models.intents import fold
from models.my_data import held_data

router = Router("my_data")

ERASE = "mydata.erase"
EXPORT_MINUTES = 15  # how long a download link works
ERASE_WORDS = frozenset(
    {"确认删除", "确认", "删除", "是", "yes", "yes delete", "confirm", "delete"}
)


@router.payload("mydata")
@router.command("mydata")
async def show_my_data(ctx: Context) -> HandlerResult:
    """What is held, section by section (the latest few items of each), and the choices."""
    ctx.clear_state()
    resident = await known_resident(ctx)
    if resident is None:
        return Reply(ctx.t("mydata.nothing"), back_to_menu(ctx))
    data = await held_data(ctx.session, resident.id or 0)
    buttons = [
        Button(ctx.t("mydata.export"), "mydata:export"),
        Button(ctx.t("mydata.erase"), "mydata:erase"),
    ]
    for purpose in ConsentPurpose:
        answer = await consent_answer(ctx.session, resident.id or 0, purpose)
        if answer is not None and answer.given:
            buttons.append(
                Button(ctx.t(f"mydata.withdraw_{purpose}"), f"mydata:withdraw:{purpose}")
            )
    text = "\n".join(summary_lines(ctx.lang, data, items=CHAT_ITEMS))
    return Reply(text, (*buttons, *back_to_menu(ctx)))


@router.payload("mydata:export")
@router.command("mydata_export")
async def export_my_data(ctx: Context) -> HandlerResult:
    """Two links, valid for a short time: the JSON file and the readable summary."""
    ctx.clear_state()
    resident = await known_resident(ctx)
    if resident is None:
        return Reply(ctx.t("mydata.nothing"), back_to_menu(ctx))
    expires = int(ctx.now().timestamp()) + EXPORT_MINUTES * 60
    token = expiring_token(ctx.settings.secret_key_value, EXPORT_PURPOSE, str(resident.id), expires)
    public = ctx.settings.public_url
    return [
        Reply(
            ctx.t("mydata.export_ready", minutes=EXPORT_MINUTES),
            link=Link(export_url(public, token, "json", ctx.lang), ctx.t("mydata.download_json")),
        ),
        Reply(
            ctx.t("mydata.or_summary"),
            back_to_menu(ctx),
            Link(export_url(public, token, "txt", ctx.lang), ctx.t("mydata.download_text")),
        ),
    ]


@router.payload("mydata:withdraw")
async def withdraw(ctx: Context) -> HandlerResult:
    """Withdraw a consent: the number it covered is deleted at once."""
    resident = await known_resident(ctx)
    purpose = ctx.args if ctx.args in ConsentPurpose._value2member_map_ else None
    if resident is None or purpose is None:
        return Reply(ctx.t("mydata.nothing_to_withdraw"), back_to_menu(ctx))
    if not await withdraw_consent(ctx.session, resident, ConsentPurpose(purpose), ctx.now()):
        return Reply(ctx.t("mydata.nothing_to_withdraw"), back_to_menu(ctx))
    return Reply(ctx.t(f"mydata.withdrawn_{purpose}"), back_to_menu(ctx))


@router.payload("mydata:erase")
@router.command("forgetme")
async def ask_to_erase(ctx: Context) -> HandlerResult:
    """What deleting removes and what the law keeps; then a clear yes."""
    if await known_resident(ctx) is None:
        return Reply(ctx.t("mydata.nothing"), back_to_menu(ctx))
    ctx.set_state(ERASE)
    return Reply(
        ctx.t("mydata.erase_ask"),
        (
            Button(ctx.t("mydata.erase_yes"), "mydata:erased"),
            Button(ctx.t("mydata.erase_no"), "menu"),
        ),
    )


@router.payload("mydata:erased")
async def erase_pressed(ctx: Context) -> HandlerResult:
    """The yes button: only while the question is open (an old button deletes nothing)."""
    if ctx.state.name != ERASE:
        return await ask_to_erase(ctx)
    return await _erase(ctx)


@router.state(ERASE)
async def erase_typed(ctx: Context) -> HandlerResult:
    """A typed yes deletes; anything else deletes nothing and says so."""
    if fold(ctx.text) in ERASE_WORDS:
        return await _erase(ctx)
    ctx.clear_state()
    return await main_menu(ctx, ctx.t("mydata.erase_kept_back"))


async def _erase(ctx: Context) -> Reply:
    resident = await known_resident(ctx)
    ctx.clear_state()
    if resident is None:
        return Reply(ctx.t("mydata.nothing"), back_to_menu(ctx))
    erasure = await erase_resident(ctx.session, resident.id or 0, ctx.now(), booking_limits(ctx))
    ctx.identity.resident_id = None  # this account's row is saved from the pipeline's copy
    ctx.identity.display_name = None
    await ctx.unit.flush()
    for entry in erasure.offered:
        await announce_offer(ctx, entry)
    return await main_menu(ctx, erasure_text(ctx, erasure))


def erasure_text(ctx: Context, erasure: Erasure) -> str:
    """Exactly what went and what was kept, and why."""
    sep = ctx.t("mydata.sep")
    removed = [ctx.t("mydata.removed.profile"), ctx.t("mydata.removed.consents")]
    removed.append(ctx.t("mydata.removed.accounts", count=erasure.accounts))
    if erasure.messages:
        removed.append(ctx.t("mydata.removed.messages", count=erasure.messages))
    if erasure.words:
        removed.append(ctx.t("mydata.removed.words", count=erasure.words))
    lines = [ctx.t("mydata.erased"), ctx.t("mydata.erased_removed", removed=sep.join(removed))]
    if erasure.cancelled:
        lines.append(ctx.t("mydata.erased_cancelled", count=erasure.cancelled))
    if erasure.open_cases:
        lines.append(ctx.t("mydata.erased_open_cases", count=erasure.open_cases))
    kept = [ctx.t(f"mydata.kept.{kind}", count=n) for kind, n in erasure.kept.items() if n]
    lines.append(
        ctx.t("mydata.erased_kept", kept=sep.join(kept))
        if kept
        else ctx.t("mydata.erased_none_kept")
    )
    return "\n".join(lines)
