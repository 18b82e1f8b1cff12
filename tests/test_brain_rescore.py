"""The brain as a dialogue language model for speech recognition: it prefers what people say over word salad."""
from __future__ import annotations

import pytest

from llm.brain.embedded import DEFAULT_CHECKPOINT
from llm.brain.rescore import BrainRescorer, written_form


@pytest.fixture(scope="module")
def rescorer() -> BrainRescorer:
    if not (DEFAULT_CHECKPOINT / "config.json").is_file():
        pytest.skip("the shipped brain checkpoint (llm/models/brain-small) is missing")
    return BrainRescorer(threads=1)


def test_written_form_capitalises_like_chat_text():
    assert written_form("i think i'm late  and i'll go") == "I think I'm late and I'll go"
    assert written_form("okay") == "Okay" and written_form("") == ""


def test_fluent_sentences_beat_word_salad_of_the_same_words(rescorer):
    pairs = [("i like to read books", "books read to like i"),
             ("i have a job interview tomorrow", "interview tomorrow a i have job"),
             ("what did you do last weekend", "weekend you last do did what")]
    scores = rescorer([s for pair in pairs for s in pair])
    for k, (fluent, salad) in enumerate(pairs):
        assert scores[2 * k] > scores[2 * k + 1] + 5.0, (fluent, salad, scores[2 * k:2 * k + 2])


def test_scores_are_one_per_hypothesis_independent_of_batch(rescorer):
    alone = rescorer(["see you later"])[0]
    batch = rescorer(["i have a job you to tomorrow", "see you later", ""])
    assert len(batch) == 3 and batch[1] == pytest.approx(alone, abs=1e-3)
    assert rescorer([]) == []
    assert all(s < 0 for s in batch)
