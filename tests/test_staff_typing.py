"""A fifth walkthrough, as a clerk: free words from a staff account started a resident's
request (a note after 办结 was offered 申请上门代办), and "办结 LC-…" was read as an
appointment number. Over the web chat, with the real pipeline and database."""

from __future__ import annotations

from sqlmodel import func, select

from bot.app import Linli
from bot.i18n import t
from models.cases import Case
from tests.conftest import Chat, payloads
from tests.test_cases import bound_chat, open_proxy


async def _cases(linli: Linli) -> int:
    async with linli.sessions() as session:
        return (await session.exec(select(func.count()).select_from(Case))).one()


async def test_a_clerks_free_words_start_no_residents_request(linli: Linli) -> None:
    clerk = await bound_chat(linli, "S021", "clerk-typing-1")
    for words in (
        "已上门帮老人办好居家养老补贴申请",
        "备注 已上门办好，老人签了字",
        "楼下路灯坏了",
    ):
        said = await clerk.send(words)
        assert said[0].text == t("zh-CN", "ask.staff_words"), (words, said[0].text)
        assert "staff" in payloads(said[0])
    assert await _cases(linli) == 0  # nothing filed, nothing asked of a colleague


async def test_a_case_number_after_a_window_command_shows_the_case(linli: Linli) -> None:
    resident = Chat(linli, user="resident-typing-1")
    ref = await open_proxy(resident)
    clerk = await bound_chat(linli, "S021", "clerk-typing-2")
    said = await clerk.send(f"办结 {ref}")
    assert said[0].text.startswith(t("zh-CN", "window.case_reference", ref=ref)), said[0].text
    assert "没有找到预约号" not in said[0].text and ref in said[0].text
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == ref))).one()
    assert case.status != "resolved"  # shown, not acted on
