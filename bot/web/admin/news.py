"""Who is told what after a desk action: the same occasions as the chat's staff actions, all
worded and addressed by bot.outgoing.case_news, so the desk and the chat cannot disagree."""

from __future__ import annotations

from pathlib import Path

from bot.outgoing import case_news
from bot.web.admin.auth import DeskRequest
from models.case_ops import Progress
from models.cases import Case


async def accepted(desk: DeskRequest, case: Case) -> None:
    """首问责任: the resident learns which department took their case."""
    await case_news.tell_accepted(desk.session, case, now=desk.now, data_dir=_data(desk))


async def asked(desk: DeskRequest, case: Case, question: str) -> None:
    """The owner's question, with the resident's answer button."""
    await case_news.tell_resident(
        desk.session,
        case,
        "cases.notice_question",
        now=desk.now,
        data_dir=_data(desk),
        buttons=[("cases.answer", f"case:answer:{case.id}")],
        question=question,
    )


async def stepped(desk: DeskRequest, case: Case, step: Progress) -> None:
    """Collected, ready for pick-up, resolved: told as the chat tells it."""
    await case_news.tell_progress(
        desk.session, case, step, staff=desk.staff, now=desk.now, data_dir=_data(desk)
    )


async def transferred(desk: DeskRequest, case: Case) -> None:
    """The new department is alerted; the resident learns where their case went."""
    await case_news.tell_transferred(desk.session, case, now=desk.now, data_dir=_data(desk))


async def co_accepted(desk: DeskRequest, case: Case) -> None:
    """A co-handling department took on its part."""
    await case_news.tell_part(
        desk.session,
        case,
        "dispatch.news_co_accepted",
        desk.staff,
        now=desk.now,
        data_dir=_data(desk),
    )


async def co_done(desk: DeskRequest, case: Case) -> None:
    """A co-handling department finished its part."""
    await case_news.tell_part(
        desk.session, case, "dispatch.news_co_done", desk.staff, now=desk.now, data_dir=_data(desk)
    )


async def returned(desk: DeskRequest, case: Case, reason: str) -> None:
    """The dispatcher learns why a call came back; the resident that it is being re-sent."""
    await case_news.tell_returned(
        desk.session, case, desk.staff, reason, now=desk.now, data_dir=_data(desk)
    )


async def dispatched(desk: DeskRequest, case: Case) -> None:
    """The called departments are alerted; resident and grid worker learn who and by when."""
    await desk.session.flush()
    await case_news.announce_dispatch(desk.session, case, now=desk.now, data_dir=_data(desk))


def _data(desk: DeskRequest) -> Path:
    return Path(desk.linli.settings.data_dir)
