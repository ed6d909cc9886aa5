"""Button labels cut to fit end at a word in English and say they were cut (the outside
walkthrough of issue 19 saw "Where do I ge")."""

from __future__ import annotations

import pytest

from handlers.common import clipped


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("How do I get a disability card renewed after it expires?", "How do I get a disability…"),
        ("社保卡丢了，怎么补办？", "社保卡丢了，怎么补办？"),
        ("刑满释放回来了，要去街道登记吗？能帮忙找工作吗？", "刑满释放回来了，要去街道登记吗…"),
        ("Supercalifragilisticexpialidocious", "Supercalifragilisticexpialido…"),
    ],
)
def test_a_label_is_cut_at_a_word(text: str, shown: str) -> None:
    assert clipped(text, 30 if text.isascii() else 16) == shown
