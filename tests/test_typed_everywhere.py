"""Issue 18, item 3: in every flow, typing what an option says does what pressing it does."""

from __future__ import annotations

import re
from itertools import count

from bot.app import Linli
from bot.messages import Reply
from tests.conftest import Chat, labels
from tests.wechat_fixtures import WeChatRig, open_rig, platform, rig

__all__ = ["open_rig", "platform", "rig"]  # fixtures used by name

_users = count(1)
_CHANGING = re.compile(r"[0-9０-９]+|[A-Z]{2}-\S+")  # references, places left, times


def _shape(replies: list[Reply]) -> list[tuple[str, list[str]]]:
    """What a person sees, with the numbers that differ between two residents blurred."""
    return [
        (_CHANGING.sub("#", r.text), [_CHANGING.sub("#", b) for b in labels(r)]) for r in replies
    ]


async def _walk(linli: Linli, start: str, path: list[int], *, typed: bool) -> list[Reply]:
    """Start a flow with a word, then choose options by position, pressing or typing them."""
    chat = Chat(linli, user=f"{'typist' if typed else 'presser'}-{next(_users):04d}")
    replies = await chat.send(start)
    for index in path:
        shown = [b for r in replies for b in r.buttons]
        chosen = shown[index]
        replies = await (chat.send(chosen.label) if typed else chat.press(chosen.payload))
    return replies


def _choices(replies: list[Reply]) -> list[int]:
    """The options a person could type unambiguously (a label shown once, not a bare number)."""
    shown = [label for r in replies for label in labels(r)]
    return [
        i
        for i, label in enumerate(shown)
        if shown.count(label) == 1 and not label.strip().isdigit()
    ]


async def test_typing_each_label_two_steps_deep_does_what_pressing_does(linli: Linli) -> None:
    differences: list[str] = []
    for start in ("菜单", "预约", "需求", "代办", "进度", "我的"):
        first = await _walk(linli, start, [], typed=False)
        for i in _choices(first):
            pressed = await _walk(linli, start, [i], typed=False)
            typed = await _walk(linli, start, [i], typed=True)
            if _shape(pressed) != _shape(typed):
                differences.append(f"{start} → {labels_of(first)[i]}")
                continue
            for j in _choices(pressed)[:6]:
                deeper = await _walk(linli, start, [i, j], typed=False)
                deeper_typed = await _walk(linli, start, [i, j], typed=True)
                if _shape(deeper) != _shape(deeper_typed):
                    differences.append(f"{start} → {labels_of(first)[i]} → {labels_of(pressed)[j]}")
    assert differences == [], differences


def labels_of(replies: list[Reply]) -> list[str]:
    """Every option label of a list of replies, in order."""
    return [label for r in replies for label in labels(r)]


def _numbered(content: str) -> list[str]:
    """The options WeChat drew as numbered lines ("1. 确认")."""
    return [m.group(1).strip() for m in re.finditer(r"^\d+\.\s*(.+)$", content, re.M)]


async def test_on_wechat_a_whole_booking_is_typed_by_labels(rig: WeChatRig) -> None:
    await rig.post(rig.server.text("菜单"))
    path = ["预约办事", "社会保障科", "社保卡补办"]
    for label in path:
        shown = _numbered((await rig.post(rig.server.text(label)))["Content"])
        assert shown, label
    day = shown[0]  # the first open day, as it is shown
    slots = _numbered((await rig.post(rig.server.text(day)))["Content"])
    confirm = _numbered((await rig.post(rig.server.text(slots[0])))["Content"])
    assert confirm[0] == "确认"
    done = (await rig.post(rig.server.text("确认")))["Content"]
    assert "预约成功" in done, done
