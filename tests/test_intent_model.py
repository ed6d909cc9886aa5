"""Issue 19, item 2: the trained model behind understanding — what it learns from, how it is
kept fresh after a data edit, and the reference reader that needs no model at all."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

import models.data_files
import models.intents
from models.intent_model import EXAMPLES, IntentModel, load_examples
from models.intents import Intent, by_rules, features, load_intent_model, understand
from models.knowledge import Knowledge, load_knowledge
from models.lexicon import Lexicon, load_lexicon
from models.refs import find_reference
from models.service_match import ServiceMatcher, load_service_catalogue
from tests.conftest import DATA

# How long a test waits for a retraining (about 90 s alone on two cores; not a speed check).
TRAINING_WAIT = 900


@pytest.mark.parametrize(
    ("typed", "printed"),
    [
        ("那个我的号码是LC 2026 1201 0066", "LC-20261201-0066"),
        ("嗯编号就是l c y 20261209 0013", "LCY-20261209-0013"),
        ("LC-2026l128-0033", "LC-20261128-0033"),  # l typed for 1
        ("LC-2026112O-0054", "LC-20261120-0054"),  # O typed for 0
        ("LC一20261206一0021", "LC-20261206-0021"),  # 一 from a Chinese keyboard
        ("就是那个LC杠20261124杠0072帮我看看", "LC-20261124-0072"),  # voice input
        ("Booking ref LCY-20261206-0019", "LCY-20261206-0019"),
        ("ＬＣ－２０２６１１２８－００４２", "LC-20261128-0042"),
        ("my number is LC 20261209 0013", "LC-20261209-0013"),  # not "ISLC"
        ("LCY-20261209-0013 ok?", "LCY-20261209-0013"),  # the o of "ok" is no digit
    ],
)
def test_a_reference_is_read_however_typed(typed: str, printed: str) -> None:
    assert find_reference(typed) == printed


@pytest.mark.parametrize(
    "text",
    [
        "我电话是13812345678",
        "2026年12月1日",
        "call 028-0000-0000",
        "hello 12345678 9",
        "on 2026 12 09 10:30",  # a date and a time after a short English word
        "tel 2012 3456 7890",  # no such day
        "rmb 2000 0000 5",
    ],
)
def test_numbers_that_are_no_reference(text: str) -> None:
    assert find_reference(text) is None


def _reader(data: Path) -> tuple[Lexicon, Knowledge, ServiceMatcher]:
    lexicon, knowledge = load_lexicon(data), load_knowledge(data)
    return lexicon, knowledge, load_service_catalogue(data)


def test_readings_are_probabilities_best_first() -> None:
    model = load_intent_model(DATA)
    assert model is not None
    lexicon, knowledge, services = _reader(DATA)
    text = "帮我把周六的预约取消了"
    ranked = model.readings(
        features(text, by_rules(text, lexicon, knowledge, services), lexicon, knowledge)
    )
    chances = [p for _, p in ranked]
    assert chances == sorted(chances, reverse=True) and abs(sum(chances) - 1) < 1e-6
    assert ranked[0][0] == "cancel_booking", ranked[:3]


def test_it_learns_from_the_development_part_only() -> None:
    examples = load_examples(DATA / EXAMPLES)
    assert len(examples) >= 2000 and {e.intent for e in examples} == {i.value for i in Intent}
    frozen = {e.text for e in load_examples(Path(__file__).parent / "data" / "eval" / "frozen")}
    assert not frozen & {e.text for e in examples}


def test_without_examples_the_rules_read_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns(EXAMPLES))
    assert load_intent_model(data) is None
    seen = understand("社保卡丢了怎么补办？", *_reader(data), load_intent_model(data))
    assert seen.intent is Intent.QUESTION and seen.sure


@pytest.fixture
def editable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, IntentModel]:
    """A copy of data/ whose edits are noticed at once, and the model trained on it."""
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    monkeypatch.setattr(models.data_files, "CHECK_SECONDS", 0.0)
    model = load_intent_model(data)
    assert model is not None
    return data, model


def test_an_edited_example_is_learnt_in_the_background(editable: tuple[Path, IntentModel]) -> None:
    data, first = editable
    (data / EXAMPLES / "zz_new.toml").write_text(
        "".join(
            f'[[messages]]\ntext = "呜啦呜啦{n}"\nkind = "fragment"\nintent = "need"\n\n'
            for n in range(6)
        ),
        encoding="utf-8",
    )
    assert load_intent_model(data) is first  # still answering while its successor trains
    deadline = time.monotonic() + TRAINING_WAIT
    while load_intent_model(data) is first and time.monotonic() < deadline:
        time.sleep(0.2)
    second = load_intent_model(data)
    assert second is not first and second is not None
    while data in models.intents._training and time.monotonic() < deadline:
        time.sleep(0.05)  # the job lets go just after handing over its model
    assert data not in models.intents._training


def test_a_malformed_example_file_keeps_the_model_in_use(
    editable: tuple[Path, IntentModel],
) -> None:
    data, first = editable
    (data / EXAMPLES / "zz_broken.toml").write_text('[[messages]]\ntext = "未写完', "utf-8")
    load_intent_model(data)  # notices the edit and retrains in the background …
    models.intents.warm_intent_model(data).result(timeout=TRAINING_WAIT)
    assert load_intent_model(data) is first  # … which fails, and the model in use stays
    seen = understand("社保卡丢了怎么补办？", *_reader(data), load_intent_model(data))
    assert seen.intent is Intent.QUESTION


def test_a_trained_model_is_kept_on_disk_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models import model_cache

    monkeypatch.setenv("LINLI_CACHE_DIR", str(tmp_path / "cache"))
    made: list[int] = []

    def make() -> dict[str, int]:
        made.append(1)
        return {"weights": 42}

    key = model_cache.fingerprint([DATA / "intents.toml"], DATA)
    assert model_cache.cached(lambda: key, make) == {"weights": 42}
    assert model_cache.cached(lambda: key, make) == {"weights": 42} and made == [1]  # read back
    assert oct((tmp_path / "cache").stat().st_mode & 0o777) == "0o700"
    (tmp_path / "cache" / f"{key}.pickle").write_bytes(b"\x80\x09not a pickle")
    assert model_cache.cached(lambda: key, make) == {"weights": 42} and made == [1, 1]
    other = model_cache.fingerprint([DATA / "faq.toml"], DATA)
    assert other != key  # other data, another model


def test_a_model_read_back_reads_as_the_one_trained(tmp_path: Path) -> None:
    import pickle

    model = load_intent_model(DATA)
    assert model is not None
    again = pickle.loads(pickle.dumps(model))
    lexicon, knowledge, services = _reader(DATA)
    for text in ("我的代办办到哪了", "帮我约周六补社保卡", "明天会下雨吗"):
        read = features(text, by_rules(text, lexicon, knowledge, services), lexicon, knowledge)
        assert again.readings(read) == model.readings(read)


def test_a_mistyped_label_is_left_out(editable: tuple[Path, IntentModel]) -> None:
    data, _ = editable
    (data / EXAMPLES / "zz_typo.toml").write_text(
        '[[messages]]\ntext = "窗口的人态度差"\nkind = "plain"\nintent = "complain"\n\n'
        '[[messages]]\nkind = "plain"\nintent = "need"\n\n'  # no text
        'messages_note = "a stray key"\n',
        encoding="utf-8",
    )
    kept = load_examples(data / EXAMPLES, {i.value for i in Intent})
    assert "complain" not in {e.intent for e in kept}
    models.intents.warm_intent_model(data).result(timeout=TRAINING_WAIT)
    model = load_intent_model(data)
    assert model is not None and {str(c) for c in model.classifier.classes_} <= {
        i.value for i in Intent
    }


def test_a_folder_others_may_write_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models import model_cache

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    monkeypatch.setenv("LINLI_CACHE_DIR", str(shared))
    made: list[int] = []

    def make() -> str:
        made.append(1)
        return "trained"

    (shared / "k.pickle").write_bytes(b"planted")
    assert model_cache.cached(lambda: "k", make) == "trained"
    assert made == [1] and (shared / "k.pickle").read_bytes() == b"planted"  # not stored there
