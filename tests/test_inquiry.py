"""Inquiries: the labelled evaluation of intent and answers, and free text in chat — answers
with their source and next steps, honest uncertainty, a booking sentence from inside another
flow, reference numbers, a problem for the grid, numbered options typed in Chinese."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import select

from bot.app import Linli
from models.cases import Case, CaseKind
from models.intents import load_lexicon, understand
from models.knowledge import load_knowledge
from models.service_match import service_catalogue
from tests.conftest import DATA, Chat, payloads
from tests.test_booking_chat import book_first_slot

LABELLED = Path(__file__).resolve().parent / "data" / "inquiries_labelled.toml"
INTENT_AIM, ANSWER_AIM = 0.90, 0.85


@dataclass
class Scores:
    messages: int = 0
    intents_right: int = 0
    questions: int = 0
    answers_right: int = 0
    sure_wrong: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def intent_accuracy(self) -> float:
        return self.intents_right / max(1, self.messages)

    @property
    def answer_accuracy(self) -> float:
        return self.answers_right / max(1, self.questions)


def evaluate(messages: list[dict[str, object]]) -> Scores:
    """Understand each labelled message as the bot would; count and list what went wrong."""
    knowledge, lexicon = load_knowledge(DATA), load_lexicon(DATA)
    names = service_catalogue(knowledge, lexicon)
    scores = Scores()
    for message in messages:
        text, want = str(message["text"]), str(message["intent"])
        seen = understand(text, lexicon, knowledge, names)
        scores.messages += 1
        if seen.intent.value == want:
            scores.intents_right += 1
        else:
            scores.misses.append(f"intent {want} -> {seen.intent.value}: {text}")
        if want != "question":
            continue
        scores.questions += 1
        accepted = list(message.get("answers", []))  # type: ignore[call-overload]
        top = seen.found[0] if seen.intent.value == "question" and seen.found else None
        if top is not None and top.entry.id in accepted:
            scores.answers_right += 1
        else:
            got = top.entry.id if top else None
            scores.misses.append(f"answer {accepted} -> {got}: {text}")
            scores.sure_wrong += bool(top and top.sure)
    return scores


def labelled() -> list[dict[str, object]]:
    return list(tomllib.loads(LABELLED.read_text(encoding="utf-8"))["messages"])


def test_the_labelled_set_is_big_and_varied_enough() -> None:
    messages = labelled()
    kinds = {str(m["intent"]) for m in messages}
    english = [m for m in messages if str(m["text"]).isascii()]
    assert len(messages) >= 300 and len(english) >= 15
    assert kinds == {
        "question",
        "booking",
        "reference",
        "report",
        "need",
        "proxy",
        "handover",
        "chitchat",
        "abuse",
        "unknown",
    }
    faq = tomllib.loads((DATA / "faq.toml").read_text(encoding="utf-8"))["faq"]
    assert len(faq) >= 150 and len({entry["code"] for entry in faq}) == len(faq)


def test_intent_and_answer_accuracy_meet_their_aims() -> None:
    scores = evaluate(labelled())
    report = "\n".join(scores.misses)
    assert scores.intent_accuracy >= INTENT_AIM, report
    assert scores.answer_accuracy >= ANSWER_AIM, report
    # Answering with confidence and being wrong is worse than saying "not sure".
    assert scores.sure_wrong <= 0.08 * scores.questions, report


async def test_a_question_gets_its_answer_source_and_next_steps(linli: Linli) -> None:
    chat = Chat(linli, user="asker")
    reply = (await chat.send("社保卡丢了怎么办？"))[0]
    assert "12333" in reply.text and "来源" in reply.text
    assert "book:svc:ss-card-reissue" in payloads(reply) and "human" in payloads(reply)
    assert "proxy" in payloads(reply)  # door-to-door handling is possible for this service


async def test_the_bot_says_when_it_does_not_know(linli: Linli) -> None:
    chat = Chat(linli, user="curious")
    for text in ("比特币现在多少钱", "帮我写一首诗", "你们这个周末出去玩吗"):
        reply = (await chat.send(text))[0]
        outside = "不是街道办理的事情" in reply.text  # declined, with the phone: no staff needed
        honest = outside or "不太确定" in reply.text or "回答不了" in reply.text
        assert honest and "来源" not in reply.text, reply.text  # no answer passed off as sure
        assert outside or "human" in payloads(reply)


async def test_a_booking_sentence_is_understood_even_inside_another_flow(linli: Linli) -> None:
    chat = Chat(linli, user="booker")
    await chat.send("预约")  # now choosing a category
    reply = (await chat.send("我想约周六上午办社保卡补办"))[0]
    assert "社保卡补办" in reply.text
    assert any(p.startswith("book:slot:") for p in payloads(reply))


async def test_a_free_text_flow_is_not_hijacked_but_asking_for_a_person_is(linli: Linli) -> None:
    chat = Chat(linli, user="wisher")
    await chat.send("需求")
    taken = (await chat.send("路灯坏了，希望多装几盏"))[0]
    assert "需求" in taken.text or "类别" in taken.text  # the need flow took the words
    await chat.send("需求")
    assert "咨询" in (await chat.send("转人工"))[0].text


async def test_a_problem_is_offered_to_the_grid_or_as_a_need(linli: Linli) -> None:
    chat = Chat(linli, user="reporter")
    offer = (await chat.send("3号楼门口的路灯坏了好几天了"))[0]
    assert payloads(offer)[:2] == ["ask:report", "ask:need"]
    asked = (await chat.send("一"))[0]  # the first option, typed as a Chinese numeral
    assert payloads(asked)[0] == "report:cat:facilities"  # the likeliest category first
    await chat.send("1")
    opened = (await chat.send("3号楼门口"))[0]  # the place
    assert "LC-" in opened.text
    async with linli.sessions() as session:
        [case] = (await session.exec(select(Case))).all()
    assert case.kind == CaseKind.GRID_REPORT and "路灯" in case.summary


async def test_a_reference_number_shows_the_case(linli: Linli) -> None:
    chat = Chat(linli, user="tracker")
    await chat.send("3号楼门口的路灯坏了好几天了")
    await chat.press("ask:report")
    await chat.press("report:cat:facilities")
    opened = (await chat.send("3号楼门口"))[0]  # the place
    found = re.search(r"LC-\d{8}-\d{4}", opened.text)
    assert found is not None
    ref = found.group(0)
    shown = (await chat.send(f"帮我查一下 {ref} 到哪一步了"))[0]
    assert ref in shown.text
    other = Chat(linli, user="stranger")
    assert "路灯" not in (await other.send(f"帮我查一下 {ref}"))[0].text  # not theirs to see


async def test_a_booking_reference_shows_the_appointment_to_its_owner_only(linli: Linli) -> None:
    chat = Chat(linli, user="with-booking")
    ref = await book_first_slot(chat)
    shown = (await chat.send(f"我的预约号是{ref}，帮我看看"))[0]
    assert ref in shown.text and f"book:cancel:{ref}" in payloads(shown)
    other = Chat(linli, user="not-the-owner")
    assert f"book:cancel:{ref}" not in payloads((await other.send(ref))[0])


async def test_a_proxy_request_in_the_residents_own_words_is_not_taken_for_a_question(
    linli: Linli,
) -> None:
    chat = Chat(linli, user="proxy-asker")
    await chat.send("代办")
    taken = (await chat.send("社保卡丢了怎么办？我腿脚不便去不了"))[0]
    assert "来源" not in taken.text and any(p.startswith("case:cat:") for p in payloads(taken))
