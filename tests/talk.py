"""One way to talk to the bot over the web chat and over WeChat (through its fake), so that a
conversation test runs on both: what the person reads, as text, and the options shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlmodel import select

from bot.app import Linli
from models.messaging import ConversationState
from models.people import ChannelIdentity
from tests.conftest import Chat
from tests.wechat_fixtures import OpenRig, WeChatRig, open_rig, platform

__all__ = ["Talk", "on_web", "on_wechat", "open_rig", "platform", "talk"]


@dataclass
class Talk:
    """A resident on one channel: the web chat (Chat) or WeChat (the rig's fake follower)."""

    linli: Linli
    chat: Chat | None = None
    rig: WeChatRig | None = None
    seen: list[str] = field(default_factory=list)  # every text shown, oldest first
    options: list[str] = field(default_factory=list)  # labels of the options last shown (web)

    @property
    def user(self) -> str:
        """The account's external id on its channel."""
        return self.chat.user if self.chat is not None else self._rig().server.openid

    async def say(self, text: str) -> str:
        """Type a message; all the person reads in answer, as one text."""
        if self.chat is not None:
            replies = await self.chat.send(text)
            self.options = [b.label for r in replies for b in r.buttons]
            shown = "\n".join([r.text for r in replies] + self.options)
        else:
            rig = self._rig()
            before = len(rig.platform.sent)
            answer = await rig.post(rig.server.text(text))
            while await rig.linli.worker.deliver_due():
                pass
            pushed = [m.text or "" for m in rig.platform.sent[before:]]
            shown = "\n".join([answer.get("Content", ""), *pushed])
        self.seen.append(shown)
        return shown

    async def state(self) -> str:
        """The name of the flow step the account is at ("" when at no step)."""
        row = await self._state_row()
        return row.name if row is not None else ""

    async def state_data(self) -> dict[str, Any]:
        """What the account's flow has gathered so far ({} when at no step)."""
        row = await self._state_row()
        return dict(row.data or {}) if row is not None else {}

    async def _state_row(self) -> ConversationState | None:
        async with self.linli.sessions() as session:
            account = (
                await session.exec(
                    select(ChannelIdentity).where(ChannelIdentity.external_id == self.user)
                )
            ).one()
            return await session.get(ConversationState, account.id)

    def _rig(self) -> WeChatRig:
        assert self.rig is not None
        return self.rig


def on_web(linli: Linli, user: str) -> Talk:
    """A resident on the web chat."""
    return Talk(linli, chat=Chat(linli, user=user))


def on_wechat(rig: WeChatRig) -> Talk:
    """The rig's follower on WeChat."""
    return Talk(rig.linli, rig=rig)


@pytest.fixture(params=["web", "wechat"])
async def talk(request: pytest.FixtureRequest, linli: Linli, open_rig: OpenRig) -> Talk:
    """A resident on the web chat, then (second run) the same conversation on WeChat."""
    if request.param == "web":
        return on_web(linli, "talk-web-0001")
    return on_wechat(await open_rig())
