"""Property-based: what staff type in chat where a flow asks for numbers (a notice's area: "1 3",
"1-2"; a needs item's split: "1 3 4"). Never a handler failure, whatever is typed."""

from __future__ import annotations

import itertools
import string

from hypothesis import example, given
from hypothesis import strategies as st

from bot.app import Linli
from tests.conftest import Chat
from tests.hypothesis_setup import PAGES, logged_failures
from tests.test_binding import staff_code

SUPERVISOR = "S037"  # street scope: may pick communities or grids
CHATS = itertools.count(1)
TYPED = st.one_of(
    st.text(max_size=60),
    st.text(string.digits + " -,、", max_size=40),
    st.builds(lambda n, sep: sep.join(["9" * n] * 2), st.integers(1, 6_000), st.sampled_from("- ")),
)


@PAGES
@given(typed=TYPED, kind=st.sampled_from(["communities", "grids"]))
@example(typed="9" * 5000, kind="communities")
@example(typed="1-" + "9" * 5000, kind="grids")
async def test_typed_notice_areas(linli: Linli, typed: str, kind: str) -> None:
    """The area of a notice typed any way: an answer, never a failure."""
    supervisor = Chat(linli, user=f"prop-staff-{next(CHATS):08d}")
    await supervisor.send(f"绑定 {await staff_code(linli, SUPERVISOR)}")
    await supervisor.send("发通知")
    await supervisor.send("明天上午9点到12点停水，请提前储水。")
    await supervisor.press("notice:link")
    await supervisor.press(f"notice:area:{kind}")
    with logged_failures() as failures:
        replies = await supervisor.send(typed)
    assert replies and not failures, failures
