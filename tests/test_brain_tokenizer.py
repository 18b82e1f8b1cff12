"""The byte-level BPE tokenizer: round trips, single-token tags, chat template identical to the jinja one."""
from __future__ import annotations

from pathlib import Path

import pytest

from llm import tokenizer as T
from llm.brain.errors import BrainError
from llm.data.config import CorpusConfig


@pytest.fixture(scope="module")
def tok() -> T.ChatTokenizer:
    cfg = CorpusConfig(seed=0, train={"interaction": 400, "word_sort": 50, "object_count": 50, "game24": 20})
    return T.train_on_corpus(cfg, vocab_size=1000)


def test_roundtrip_any_text_including_unseen_bytes(tok: T.ChatTokenizer) -> None:
    for text in ("Hi! I just came back from a trip to Kyoto.", "naïve café – 東京 🎌", "<think>\n8 * 3 = 24\n</think>"):
        assert tok.decode(tok.encode(text)) == text


def test_tags_and_specials_are_single_tokens(tok: T.ChatTokenizer) -> None:
    for t in T.SPECIAL_TOKENS + T.TAG_TOKENS:
        assert len(tok.encode(t)) == 1, t
    assert tok.eos_id == tok.tok.token_to_id("<|im_end|>")
    assert tok.pad_id != tok.eos_id


def test_training_compresses_the_corpus(tok: T.ChatTokenizer) -> None:
    text = "Perception: the user nodded twice; engagement high; looking at you"
    assert len(tok.encode(text)) < len(text.encode()) / 3


def test_chat_template_matches_transformers(tok: T.ChatTokenizer, tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    tok.save(tmp_path)
    hf = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    msgs = [{"role": "system", "content": "sys"}, {"role": "user", "content": "Hi!"},
            {"role": "assistant", "content": "<intent>greet</intent> Hello!"}, {"role": "user", "content": "Bye"}]
    for gen in (True, False):
        assert hf.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen) == T.render_chat(msgs, gen)
    assert hf.eos_token == "<|im_end|>"
    assert hf.encode("Hello <intent>", add_special_tokens=False) == tok.encode("Hello <intent>")


def test_save_load_and_errors(tok: T.ChatTokenizer, tmp_path: Path) -> None:
    tok.save(tmp_path)
    again = T.ChatTokenizer.load(tmp_path)
    assert again.encode("Good morning!") == tok.encode("Good morning!")
    with pytest.raises(BrainError, match="tokenizer.json not found"):
        T.ChatTokenizer.load(tmp_path / "nowhere")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "tokenizer.json").write_text("{not json")
    with pytest.raises(BrainError, match="not a valid tokenizer.json"):
        T.ChatTokenizer.load(tmp_path / "broken")
    with pytest.raises(BrainError, match="vocab_size"):
        T.train(["abc"], vocab_size=100)
