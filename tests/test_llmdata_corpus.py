"""Corpus building: deterministic, held-out disjoint from training, config errors name the field."""
from __future__ import annotations

from pathlib import Path

import pytest

from llm.brain.errors import BrainError
from llm.data.config import CorpusConfig
from llm.data.corpus import build, generate_heldout, generate_train, read_jsonl

SMALL = CorpusConfig(seed=3, train={"interaction": 300, "game24": 30, "word_sort": 30, "object_count": 30},
                     heldout_per_difficulty=5)


def test_build_is_deterministic_and_heldout_disjoint(tmp_path: Path) -> None:
    t1, h1 = build(SMALL, tmp_path / "a")
    t2, h2 = build(SMALL, tmp_path / "b")
    assert t1.read_text() == t2.read_text() and h1.read_text() == h2.read_text()
    train = list(read_jsonl(t1))
    held = list(read_jsonl(h1))
    assert len(train) == 390 and len(held) == 4 * 3 * 5
    assert not {e.user for e in train} & {e.user for e in held}
    assert {e.task for e in train} == {"interaction", "game24", "word_sort", "object_count"}


def test_difficulty_weights_select_difficulties() -> None:
    cfg = CorpusConfig(seed=0, train={"word_sort": 50}, difficulty_weights=(0.0, 0.0, 1.0))
    assert {e.difficulty for e in generate_train(cfg)} == {3}
    assert len(generate_heldout(cfg)) == 3 * cfg.heldout_per_difficulty


@pytest.mark.parametrize("raw,field", [
    ({"train": {"poetry": 5}}, "train.poetry"),
    ({"train": {"game24": -1}}, "train.game24"),
    ({"difficulty_weights": [1, 1]}, "difficulty_weights"),
    ({"heldout_per_difficulty": "many"}, "heldout_per_difficulty"),
    ({"sizes": 3}, "sizes"),
])
def test_config_errors_name_the_field(raw: dict, field: str) -> None:
    with pytest.raises(BrainError, match=field.replace(".", r"\.")):
        CorpusConfig.from_dict(raw)


def test_yaml_load_errors(tmp_path: Path) -> None:
    with pytest.raises(BrainError, match="not found"):
        CorpusConfig.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(BrainError, match=r"bad\.yaml:2: not valid YAML"):
        CorpusConfig.load(bad)


def test_corrupt_jsonl_line_is_named(tmp_path: Path) -> None:
    p = tmp_path / "train.jsonl"
    p.write_text('{"task": "game24"}\nnot json\n')
    with pytest.raises(BrainError, match=r"train\.jsonl:1"):
        list(read_jsonl(p))
