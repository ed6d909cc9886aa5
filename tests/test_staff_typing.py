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


async def test_a_department_typed_in_part_at_the_transfer_list_chooses_it(linli: Linli) -> None:
    """A walkthrough: "民政" at 转给哪个部门？ got an FAQ, and the transfer was dropped."""
    resident = Chat(linli, user="resident-typing-3")
    ref = await open_proxy(resident)
    clerk = await bound_chat(linli, "S021", "clerk-typing-3")
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == ref))).one()
    await clerk.press(f"case:accept:{case.id}")
    listed = await clerk.press(f"case:transfer:{case.id}")
    assert t("zh-CN", "cases.transfer_choose", ref=ref) in listed[0].text
    unclear = await clerk.send("随便哪个")
    assert unclear[0].text.startswith(t("zh-CN", "cases.transfer_unclear")), unclear[0].text
    asked = await clerk.send("社会保障")
    assert asked[0].text == t("zh-CN", "cases.transfer_prompt", ref=ref), asked[0].text
    done = await clerk.send("居民要办的是医保报销，归社会保障科")
    assert ref in done[0].text
    async with linli.sessions() as session:
        moved = (await session.exec(select(Case).where(Case.ref == ref))).one()
    assert moved.department_id != case.department_id


async def test_an_english_timeline_names_departments_in_english(linli: Linli) -> None:
    """Carried over: English case timelines showed Chinese department names."""
    resident = Chat(linli, user="resident-typing-4")
    ref = await open_proxy(resident)
    await resident.send("english")
    shown = "\n".join(r.text for r in await resident.send(ref))
    assert "sent to Civil Affairs" in shown and "民政科" not in shown, shown
