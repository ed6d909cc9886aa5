"""The copy of a resident's text that matching reads: half-width, lower case, single spaces and
simplified characters ("社保卡補辦" reads as "社保卡补办"). The text itself is stored and echoed
as typed; only this copy is normalised."""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache

from opencc import OpenCC


@cache
def _to_simplified() -> OpenCC:
    return OpenCC("t2s")  # the dictionaries ship inside the wheel: nothing is downloaded


def simplified(text: str) -> str:
    """The text with traditional characters written in simplified ones (nothing else changes)."""
    if text.isascii():
        return text
    return str(_to_simplified().convert(text))


@lru_cache(maxsize=2048)  # pure, and read by several word lists a message; bounded
def matching_copy(text: str) -> str:
    """Half-width, lower case, simplified, single spaces: what matching compares."""
    return " ".join(simplified(unicodedata.normalize("NFKC", text)).lower().split())
