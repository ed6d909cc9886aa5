"""The README's walkthrough is true: every conversation in it is replayed on the web chat and on
WeChat (through its fake), and every answer line and button shown there must come back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from itertools import count

from sqlmodel import select

from bot.app import Linli
from bot.clock import ManualClock
from bot.messages import Reply
from bot.outgoing import payload_replies
from models.base import SHANGHAI
from models.messaging import OutboxMessage
from tests.conftest import ROOT, Chat, labels
from tests.fakes.wechat_sender import WeChatServer
from tests.test_rating import alerts_to, bound, post_as
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

AFTER_WORK = datetime(2026, 12, 1, 16, 40, tzinfo=SHANGHAI)  # a Tuesday
RATING_DAY = datetime(2026, 11, 27, 15, 30, tzinfo=SHANGHAI)  # a Friday afternoon
BUTTONS = re.compile(r"\[([^\]]+)\]")


@dataclass
class Turn:
    """What the resident typed, and the lines and buttons the README shows in answer."""

    typed: str
    lines: list[str]
    buttons: list[str] | None


def walkthrough_blocks() -> list[str]:
    """The text blocks of the README's walkthrough section, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```text\n(.*?)```", section, re.S)


def turns(block: str) -> list[Turn]:
    """A conversation block read back into turns."""
    found: list[Turn] = []
    for raw in block.splitlines():
        line = raw.strip()
        if raw.startswith("居民: "):
            found.append(Turn(raw.removeprefix("居民: "), [], None))
        elif line.startswith("[") and line.endswith("]"):
            found[-1].buttons = BUTTONS.findall(line)
        elif line:
            found[-1].lines.append(line.removeprefix("邻里: "))
    return found


def check(turn: Turn, said: str, shown: list[str]) -> None:
    """Every line the README shows is in the answer; its buttons are the answer's buttons."""
    for line in turn.lines:
        assert line in said, f"{turn.typed!r}: {line!r} not in {said!r}"
    if turn.buttons is not None:
        assert shown == turn.buttons, turn.typed


def conversations() -> list[list[Turn]]:
    """The walkthrough's conversations (the last block is the supervisor's push)."""
    return [turns(block) for block in walkthrough_blocks() if block.startswith("居民: ")]


def test_the_walkthrough_has_its_three_journeys() -> None:
    assert len(conversations()) == 4  # after work twice (one sentence, step by step), weekend,
    assert "【评价回访】" in walkthrough_blocks()[-1]  # rating; then the supervisor's push


async def _replay_on_web(linli: Linli, user: str, conversation: list[Turn]) -> None:
    chat = Chat(linli, user=user)
    for turn in conversation:
        replies: list[Reply] = await chat.send(turn.typed)
        said = "\n".join(reply.text for reply in replies)
        check(turn, said, [label for reply in replies for label in labels(reply)])


async def test_the_after_work_and_weekend_bookings_happen_as_shown(
    linli: Linli, clock: ManualClock
) -> None:
    clock.set(AFTER_WORK)
    for number, conversation in enumerate(conversations()[:3]):
        await _replay_on_web(linli, f"walkthrough-{number}", conversation)


async def test_the_poor_rating_and_its_return_visit_happen_as_shown(
    linli: Linli, clock: ManualClock
) -> None:
    clock.set(RATING_DAY)
    await bound(linli, "S041", "walkthrough-supervisor")
    await _replay_on_web(linli, "walkthrough-rater", conversations()[3])
    [push] = await alerts_to(linli, "S041")
    assert push == walkthrough_blocks()[-1].strip()
    assert await alerts_to(linli, "S001") == []  # 王丽 hears nothing of it
    async with linli.sessions() as session:  # a supervisor who reads English reads it so
        [row] = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "alert"))
        ).all()
    assert "Social Security Office window" in payload_replies(row.payload, "en")[0]["text"]


async def test_on_wechat_the_same_words_give_the_same_answers(
    rig: WeChatRig, clock: ManualClock
) -> None:
    clock.set(AFTER_WORK)
    message_ids = count(40_000)
    for number, conversation in enumerate(conversations()[:3]):
        person = WeChatServer(rig.server.account, openid=f"oWalkthrough{number}")
        for turn in conversation:
            said = await post_as(rig, person, turn.typed, next(message_ids))
            for line in turn.lines:
                assert line in said, f"{turn.typed!r}: {line!r} not in {said!r}"
            if turn.buttons is not None:  # drawn as numbered lines
                numbered = re.findall(r"^\d+\. (.+)$", said, re.M)
                assert numbered == turn.buttons, said
