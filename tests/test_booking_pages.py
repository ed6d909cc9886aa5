"""Issue 18, item 1 (first part): every slot of a day can be chosen, the after-work ones too."""

from __future__ import annotations

from datetime import datetime

from bot.app import Linli
from bot.i18n import t
from tests.conftest import Chat, labels, payloads


async def _weekday_slots(chat: Chat) -> list[list[str]]:
    """Page through a weekday's slots; the labels of each page."""
    days = await chat.press("book:svc:ss-card-reissue")
    weekdays = [
        p
        for p in payloads(days[0])
        if p.startswith("book:day:")
        and datetime.strptime(p.rsplit(":", 1)[1], "%Y%m%d").weekday() < 5
    ]
    weekday = weekdays[-1]  # not today: the whole day is still ahead
    pages, page = [], await chat.press(weekday)
    while True:
        pages.append(labels(page[0]))
        later = [
            p
            for p, label in zip(payloads(page[0]), labels(page[0]), strict=True)
            if label == t("zh-CN", "booking.later_times")
        ]
        if not later:
            return pages
        page = await chat.press(later[0])


async def test_the_after_work_slots_are_reachable_page_by_page(linli: Linli) -> None:
    pages = await _weekday_slots(Chat(linli, user="after-work-0001"))
    times = [label.split()[0] for page in pages for label in page if label[:2].isdigit()]
    assert len(pages) >= 2
    assert times[0].startswith("08:00") and times[-1].startswith("17:30"), times
    assert len(times) == len(set(times)) == 20  # 08:00–18:00 in half hours, each once
    assert all(len(page) <= 12 for page in pages)  # a page still fits one screen


async def test_earlier_goes_back_and_a_typed_label_pages_too(linli: Linli) -> None:
    chat = Chat(linli, user="after-work-0002")
    first = await _weekday_slots(chat)
    back = await chat.send(t("zh-CN", "booking.earlier_times"))  # typed, not pressed
    assert labels(back[0])[0] == first[0][0]
