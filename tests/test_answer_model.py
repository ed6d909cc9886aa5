"""The trained answer model (issue 19): residents' labelled questions teach the knowledge search
which entry a question is about, and its fast per-message reading is scikit-learn's own."""

from __future__ import annotations

import pickle

import numpy as np
from scipy.sparse import hstack

from models.answer_model import AnswerModel
from models.intents import Intent, load_intent_model, load_lexicon, read_as, understand
from models.knowledge import load_knowledge
from models.matching_text import matching_copy as fold
from models.service_match import load_service_catalogue
from tests.conftest import DATA

DOCTOR = "faq:hl-family-doctor"
SLANG = [("呱呱呱的事咋个弄", DOCTOR), ("呱呱呱去哪弄", DOCTOR)]  # a word only residents use


def _best(chances: dict[str, float]) -> str:
    return max(chances, key=lambda entry: chances[entry])


def test_a_labelled_question_teaches_its_entry() -> None:
    knowledge = load_knowledge(DATA)
    taught = AnswerModel().fit(knowledge, SLANG)
    asked = fold("呱呱呱怎么弄")
    assert _best(taught.likelihoods(asked)) == DOCTOR
    assert _best(AnswerModel().fit(knowledge, []).likelihoods(asked)) != DOCTOR
    found = knowledge.search(asked, trained=taught.likelihoods(asked))
    assert DOCTOR in [f.entry.id for f in found]  # offered among the best three …
    assert DOCTOR not in [f.entry.id for f in knowledge.search(asked)]  # … only once taught


def test_its_reading_is_predict_proba_and_survives_the_disk() -> None:
    model = AnswerModel().fit(load_knowledge(DATA), SLANG)
    again = pickle.loads(pickle.dumps(model))
    for text in ("社保卡丢了怎么补办", "高龄补贴多少钱", "weekend hours?"):
        folded = fold(text)
        rows = hstack([model.chars.transform([folded]), model.words.transform([folded])])
        chances = model.classifier.predict_proba(rows.tocsr())[0]
        expected = dict(zip(model.entries, chances, strict=True))
        fast = again.likelihoods(folded)
        assert np.allclose([fast[e] for e in model.entries], [expected[e] for e in model.entries])
        assert abs(sum(fast.values()) - 1) < 1e-9


def test_the_bot_s_model_holds_an_answer_model() -> None:
    model = load_intent_model(DATA)
    assert model is not None and model.answers is not None
    assert set(model.answers.entries) <= set(load_knowledge(DATA).by_id)


def test_a_chosen_reading_ranks_answers_as_the_bot_does() -> None:
    # A labelled example the word lists alone answer with the 社保卡 documents entry.
    text, permit = "第一次办居住证要交钱吗？大概多久能拿到？", "faq:fl-permit-time-fee"
    readers = (load_lexicon(DATA), load_knowledge(DATA), load_service_catalogue(DATA))
    model = load_intent_model(DATA)
    assert understand(text, *readers, model).found[0].entry.id == permit
    assert read_as(text, Intent.QUESTION, *readers, model).found[0].entry.id == permit
    assert read_as(text, Intent.QUESTION, *readers).found[0].entry.id != permit


def test_a_fragment_that_fits_several_entries_is_not_answered_outright() -> None:
    # The outside walkthrough: the trained model alone had made these sure, and wrong.
    readers = (load_lexicon(DATA), load_knowledge(DATA), load_service_catalogue(DATA))
    model = load_intent_model(DATA)
    for fragment in ("补贴", "医保", "4号窗口在哪"):
        seen = understand(fragment, *readers, model)
        assert seen.answer is None, (fragment, seen.answer)
