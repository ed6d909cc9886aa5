"""What a handler gets: the session, who is talking, their state, the clock and t()."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import normalize_words, split_command, t
from bot.messages import Inbound, Reply
from bot.reference import ReferenceData
from bot.unit import UnitOfWork
from models.conversation import ChatAccount, FlowState
from models.org import Staff
from models.policy import acting_staff


@dataclass
class Context:
    """One message being handled, inside its database transaction."""

    unit: UnitOfWork
    inbound: Inbound
    identity: ChatAccount
    state: FlowState
    clock: Clock
    settings: Settings
    redirect: Callable[[Context, str], Awaitable[list[Reply]]]
    reference: ReferenceData
    payload: str | None = None
    args: str = ""
    state_expired: bool = False
    staff: Staff | None = None  # the staff member this account acts as (models.policy)
    route_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def session(self) -> AsyncSession:
        """An ORM session inside this message's transaction (made on first use)."""
        return self.unit.session

    @property
    def lang(self) -> str:
        """The language this person reads."""
        return self.identity.lang

    @property
    def text(self) -> str:
        """The message text, stripped (empty for buttons, events and a typed option)."""
        return "" if self.typed_option else (self.inbound.text or "").strip()

    @property
    def typed_option(self) -> bool:
        """Whether the text was an option's number or label, and so stands for its button."""
        return self.payload is not None and self.inbound.payload is None

    @property
    def words(self) -> str:
        """The text folded for matching (full-width, case and punctuation removed)."""
        return "" if self.typed_option else self._folded_text

    @cached_property
    def _folded_text(self) -> str:
        return normalize_words((self.inbound.text or "").strip())

    @property
    def command(self) -> str | None:
        """The chat command the message is or starts with, if any."""
        return None if self.typed_option else self._split_text[0]

    @property
    def command_args(self) -> str:
        """What follows the command word ("/bind ABCD-2345" → "ABCD-2345")."""
        return "" if self.typed_option else self._split_text[1]

    @cached_property
    def _split_text(self) -> tuple[str | None, str]:
        # Read once a message: the router asks every command route, dozens of times. A slip
        # ("cancle", "mneu") is read as its command only with no flow under way: a flow's
        # answer may be a name ("Tracy" is one letter off "track").
        return split_command(self.inbound.text, guess=not self.state.name)

    @property
    def is_staff(self) -> bool:
        """Whether this chat account acts as an active staff member (bound is not enough)."""
        return self.staff is not None

    async def reload_staff(self) -> None:
        """Work out again whom this account acts as (after a binding changed)."""
        self.staff = await acting_staff(
            self.session,
            self.identity.staff_id,
            self.identity.channel,
            self.settings.env == "production",
        )

    def now(self) -> datetime:
        """The current instant from the injected clock."""
        return self.clock.now()

    def t(self, key: str, **values: Any) -> str:
        """A text for people in this person's language."""
        return t(self.lang, key, **values)

    def set_state(self, name: str, **data: Any) -> None:
        """Enter (or stay in) a step of a flow, with what the flow has gathered so far."""
        self.state.name = name
        self.state.data = {**data}

    def clear_state(self) -> None:
        """Leave any flow."""
        self.state.name = ""
        self.state.data = {}
