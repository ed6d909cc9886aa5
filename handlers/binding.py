"""Binding a chat account: staff codes, linking a resident's second channel, and unbinding."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from bot.context import Context
from bot.messages import Button, Reply
from bot.router import HandlerResult, Phase, Router
from handlers.common import back_to_menu, main_menu
from models.binding import (
    BindOutcome,
    forget_account,
    format_code,
    issue_bind_code,
    linked_accounts,
    redeem_bind_code,
)
from models.org import Staff
from models.people import ensure_resident
from models.policy import UNVOUCHED_CHANNELS, channel_carries_staff_powers

router = Router("binding")

ENTER_CODE = "binding.code"
CODE_TYPED_LIMIT = 40
# "绑定ABCD2345" typed without a space is still a bind command.
_GLUED = re.compile(r"/?(?:绑定|bind)\s*([a-z0-9][a-z0-9\- ]{5,20})")


def _secret(ctx: Context) -> str:
    key = ctx.settings.secret_key
    assert key is not None  # load_settings always provides one
    return key.get_secret_value()


def _glued_code(ctx: Context) -> str | None:
    if ctx.command is not None:
        return None
    match = _GLUED.fullmatch(unicodedata.normalize("NFKC", ctx.text).lower())
    return match.group(1) if match else None


@router.command("bind")
async def bind(ctx: Context) -> HandlerResult:
    """绑定 <code>: redeem now; a bare 绑定 asks for the code."""
    if ctx.command_args:
        return await _redeem(ctx, ctx.command_args)
    ctx.set_state(ENTER_CODE)
    return Reply(ctx.t("binding.ask_code"), back_to_menu(ctx))


@router.route(Phase.COMMAND, lambda ctx: _glued_code(ctx) is not None)
async def bind_glued(ctx: Context) -> HandlerResult:
    """绑定ABCD2345, without a space."""
    return await _redeem(ctx, _glued_code(ctx) or "")


@router.state(ENTER_CODE)
async def code_typed(ctx: Context) -> HandlerResult:
    """The code, typed after a bare 绑定."""
    return await _redeem(ctx, ctx.text)


async def _redeem(ctx: Context, typed: str) -> Reply:
    ctx.clear_state()
    outcome = await redeem_bind_code(
        ctx.session,
        ctx.identity,
        typed[:CODE_TYPED_LIMIT],
        secret=_secret(ctx),
        now=ctx.now(),
        staff_allowed=channel_carries_staff_powers(
            ctx.identity.channel, ctx.settings.env == "production"
        ),
    )
    if outcome is BindOutcome.STAFF_BOUND:
        await ctx.reload_staff()
        staff = await ctx.session.get(Staff, ctx.identity.staff_id)
        assert staff is not None
        role = ctx.t(f"staff.role_{staff.role}")
        # Alerts are pushed where the platform vouches for the account, never to the web chat.
        key = (
            "staff_bound_no_alerts" if ctx.identity.channel in UNVOUCHED_CHANNELS else "staff_bound"
        )
        return await main_menu(ctx, ctx.t(f"binding.{key}", name=staff.name, role=role))
    if outcome is BindOutcome.RESIDENT_LINKED:
        return await main_menu(ctx, ctx.t("binding.resident_linked"))
    return Reply(ctx.t(f"binding.{outcome.value}"), back_to_menu(ctx))


@router.command("link")
@router.payload("binding:link")
async def link_code(ctx: Context) -> HandlerResult:
    """A one-time code for linking another channel to this resident."""
    resident = await ensure_resident(ctx.session, ctx.identity, ctx.now())
    minutes = ctx.settings.bind_code_resident_minutes
    issued = await issue_bind_code(
        ctx.session,
        secret=_secret(ctx),
        now=ctx.now(),
        ttl=timedelta(minutes=minutes),
        resident_id=resident.id,
    )
    text = ctx.t("binding.link_code", code=format_code(issued.code), minutes=round(minutes))
    return Reply(text, back_to_menu(ctx))


@router.command("unbind")
@router.payload("binding:unbind")
async def unbind_choices(ctx: Context) -> HandlerResult:
    """What this account can be unbound from; choosing a button is the confirmation."""
    choices = []
    if ctx.identity.staff_id is not None:
        choices.append(Button(ctx.t("binding.unbind_staff"), "binding:unbind:staff"))
    if await _shares_resident(ctx):
        choices.append(Button(ctx.t("binding.unlink"), "binding:unbind:resident"))
    if not choices:
        return Reply(ctx.t("binding.nothing"), back_to_menu(ctx))
    return Reply(ctx.t("binding.unbind_which"), (*choices, *back_to_menu(ctx)))


@router.payload("binding:unbind:staff")
async def unbind_staff(ctx: Context) -> HandlerResult:
    """Stop being a staff account."""
    if ctx.identity.staff_id is None:
        return Reply(ctx.t("binding.nothing"), back_to_menu(ctx))
    ctx.identity.staff_id = None
    await ctx.reload_staff()
    return await main_menu(ctx, ctx.t("binding.staff_unbound"))


@router.payload("binding:unbind:resident")
async def unlink_resident(ctx: Context) -> HandlerResult:
    """Stand alone again; a new resident record is made when this account next needs one."""
    if not await _shares_resident(ctx):
        return Reply(ctx.t("binding.nothing"), back_to_menu(ctx))
    ctx.identity.resident_id = None
    return await main_menu(ctx, ctx.t("binding.unlinked"))


@router.payload("binding:forget")
async def forget_this_browser(ctx: Context) -> HandlerResult:
    """The web page's "new identity": this id stops standing for anyone (the page then makes a
    new one), so whoever still has the old id reaches nothing of this person."""
    if ctx.identity.channel not in UNVOUCHED_CHANNELS:
        return Reply(ctx.t("binding.forget_elsewhere"), back_to_menu(ctx))
    forget_account(ctx.identity)
    ctx.clear_state()
    await ctx.reload_staff()
    return Reply(ctx.t("binding.forgotten"))


async def _shares_resident(ctx: Context) -> bool:
    if ctx.identity.resident_id is None:
        return False
    return len(await linked_accounts(ctx.session, ctx.identity.resident_id)) > 1
