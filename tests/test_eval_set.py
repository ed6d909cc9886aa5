"""The understanding evaluation (issue 19): its labelled set is well formed and its two parts
apart, and its scoring counts what it says it counts."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

from bench.eval_understanding import evaluate, load_part, render
from models.lexicon import fold
from tests.conftest import DATA

INTENTS = {
    "question", "booking", "reference", "report", "need", "proxy", "track", "cancel_booking",
    "move_booking", "complaint", "handover", "chitchat", "abuse", "unknown",
}  # fmt: skip
KINDS = {
    "plain", "dialect", "voice", "elderly", "typo", "fragment", "rambling", "english", "mixed",
    "traditional",
}  # fmt: skip


NEARLY_SAME = 0.7  # share of character trigrams two messages may have in common


def _codes(name: str, table: str) -> set[str]:
    data = tomllib.loads((DATA / name).read_text(encoding="utf-8"))
    return {str(entry["code"]) for entry in data[table]}


def test_every_message_is_labelled_with_real_codes() -> None:
    answers = {f"faq:{c}" for c in _codes("faq.toml", "faq")}
    services = _codes("services.toml", "services")
    answers |= {f"service:{c}" for c in services}
    for part in ("dev", "frozen"):
        for message in load_part(part):
            assert message.intent in INTENTS and message.kind in KINDS, message
            assert message.text.strip(), message
            if message.intent == "question":
                assert message.answers and set(message.answers) <= answers, message
            if message.service is not None:
                assert message.service in services, message


def _trigrams(text: str) -> set[str]:
    letters = "".join(ch for ch in fold(text) if ch.isalnum())
    return {letters[n : n + 3] for n in range(max(len(letters) - 2, 1))}


def test_the_set_is_big_enough_and_its_parts_apart() -> None:
    dev, frozen = load_part("dev"), load_part("frozen")
    assert len(dev) + len(frozen) >= 1000
    assert not {m.text for m in dev} & {m.text for m in frozen}  # nothing in both
    assert {m.intent for m in frozen} == INTENTS and {m.kind for m in frozen} == KINDS
    assert min(Counter(m.kind for m in frozen).values()) >= 20


def test_no_training_message_nearly_repeats_a_checking_one() -> None:
    # Punctuation, case or a word apart is still the same message: none may teach the model
    # what the frozen or the fresh part then asks it.
    checking = [_trigrams(m.text) for part in ("frozen", "fresh") for m in load_part(part)]
    for message in load_part("dev"):
        mine = _trigrams(message.text)
        assert all(len(mine & other) <= NEARLY_SAME * len(mine | other) for other in checking), (
            message.text
        )


def test_the_scoring_counts_what_it_says(tmp_path: Path) -> None:
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "a.toml").write_text(
        """
[[messages]]
text = "社保卡丢了怎么补办？"
kind = "plain"
intent = "question"
answers = ["faq:ss-card-lost", "service:ss-card-reissue"]

[[messages]]
text = "我家猫咪拉肚子了吃什么药"
kind = "plain"
intent = "unknown"

[[messages]]
text = "你好"
kind = "fragment"
intent = "abuse"
""",
        encoding="utf-8",
    )
    messages = load_part("tiny", tmp_path)
    assert [m.intent for m in messages] == ["question", "unknown", "abuse"]
    report = evaluate(messages)
    assert report.intent.asked == 3 and report.top1.asked == 1 and report.declined.asked == 1
    assert report.top1.right == 1 and report.top3.right == 1  # the card question is answered
    assert report.per_intent["abuse"].right == 0  # "你好" is no abuse: a miss, and
    assert report.confidently_wrong.right >= 1  # greeting back is committing to a wrong reading
    assert len(report.millis) == 3 and report.percentile(0.5) > 0
    assert "answer top-1" in render(report, "tiny", misses=5)
