"""Generation: sampling filters, stop strings, eos, streaming, batches, thinking budget, tokenizer compatibility."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.config import preset
from llm.errors import LLMError
from llm.generate import ByteTokenizer, GenerationConfig, generate, nucleus_mask, sample_next, stream
from llm.model import MiniMaxForCausalLM

TOK = ByteTokenizer()
GREEDY = {"temperature": 0.0}


@pytest.fixture(scope="module")
def model() -> MiniMaxForCausalLM:
    cfg = dataclasses.replace(preset("micro"), vocab_size=TOK.vocab_size, initializer_range=0.2)
    m = MiniMaxForCausalLM(cfg)
    m.init_weights(0)
    return m.eval()


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.lists(st.one_of(st.text(max_size=6), st.sampled_from(ByteTokenizer.DEFAULT_SPECIALS)), max_size=6))
def test_byte_tokenizer_round_trip(parts):
    text = "".join(parts)
    ids = TOK.encode(text)
    assert TOK.decode(ids) == text
    assert all(0 <= i < TOK.vocab_size for i in ids)


def test_sampling_filters_restrict_the_support():
    logits = torch.log(torch.tensor([[0.05, 0.6, 0.25, 0.1]])).repeat(400, 1)
    g = torch.Generator().manual_seed(0)
    assert set(sample_next(logits, GenerationConfig(top_k=2, seed=0), g).tolist()) == {1, 2}
    assert set(sample_next(logits, GenerationConfig(top_p=0.5), g).tolist()) == {1}
    assert set(sample_next(logits, GenerationConfig(top_p=0.7), g).tolist()) == {1, 2}
    assert set(sample_next(logits, GenerationConfig(), g).tolist()) == {0, 1, 2, 3}
    assert sample_next(logits[:1], GenerationConfig(temperature=0), None).item() == 1
    freq = (sample_next(logits, GenerationConfig(), g) == 1).float().mean().item()
    assert 0.45 < freq < 0.75  # temperature 1 samples the model's own distribution (p = 0.6)


def test_greedy_is_deterministic_and_equals_top_k_1(model):
    a = generate(model, TOK, "hello", GenerationConfig(max_new_tokens=12, **GREEDY))[0]
    b = generate(model, TOK, "hello", GenerationConfig(max_new_tokens=12, top_k=1, seed=5))[0]
    assert a.token_ids == b.token_ids and len(a.token_ids) == 12 and a.finish_reason == "length"
    c = generate(model, TOK, "hello", GenerationConfig(max_new_tokens=12, seed=1))[0]
    d = generate(model, TOK, "hello", GenerationConfig(max_new_tokens=12, seed=1))[0]
    assert c.token_ids == d.token_ids  # seeded sampling is reproducible


def test_batch_generation_equals_one_by_one(model):
    prompts = ["a", "a longer prompt here", "mid size"]
    cfg = GenerationConfig(max_new_tokens=10, **GREEDY)
    batch = generate(model, TOK, prompts, cfg)
    for p, res in zip(prompts, batch):
        assert res.token_ids == generate(model, TOK, p, cfg)[0].token_ids


def test_rows_that_stop_early_leave_the_others_unchanged(model):
    prompts = ["first prompt", "second", "third one"]
    free = generate(model, TOK, prompts, GenerationConfig(max_new_tokens=14, **GREEDY))
    eos = free[1].token_ids[2]  # row 1 ends at its third token; rows 0 and 2 keep decoding from a shrunk cache
    cut = generate(model, TOK, prompts, GenerationConfig(max_new_tokens=14, eos_token_id=eos, **GREEDY))
    assert cut[1].finish_reason == "eos" and cut[1].token_ids == free[1].token_ids[: free[1].token_ids.index(eos)]
    for i in (0, 2):
        if eos not in free[i].token_ids:
            assert cut[i].token_ids == free[i].token_ids
        else:
            assert cut[i].token_ids == free[i].token_ids[: free[i].token_ids.index(eos)]


def test_stop_string_and_eos_end_generation(model):
    base = generate(model, TOK, "xyz", GenerationConfig(max_new_tokens=16, **GREEDY))[0]
    stop = base.text[6:8]
    res = generate(model, TOK, "xyz", GenerationConfig(max_new_tokens=16, stop=(stop,), **GREEDY))[0]
    assert res.finish_reason == "stop" and res.text == base.text[: base.text.find(stop)]
    eos = base.token_ids[4]
    res = generate(model, TOK, "xyz", GenerationConfig(max_new_tokens=16, eos_token_id=eos, **GREEDY))[0]
    first = base.token_ids.index(eos)
    assert res.finish_reason == "eos" and res.token_ids == base.token_ids[:first]


def test_stream_pieces_join_to_the_generated_text(model):
    for cfg in (GenerationConfig(max_new_tokens=20, seed=3),
                GenerationConfig(max_new_tokens=20, stop=("zz", "q"), seed=3)):
        pieces = list(stream(model, TOK, "stream me", cfg))
        assert len(pieces) > 1
        assert "".join(pieces) == generate(model, TOK, "stream me", cfg)[0].text


def test_thinking_budget_forces_the_close_tag(model):
    close = TOK.token_to_id("</think>")
    res = generate(model, TOK, "Q: why?<think>", GenerationConfig(max_new_tokens=20, thinking_budget=4, **GREEDY))[0]
    assert res.forced_think_close and res.thinking_tokens == 4
    assert res.token_ids[4] == close and "</think>" in res.text and len(res.token_ids) == 20
    free = generate(model, TOK, "Q: why?<think>", GenerationConfig(max_new_tokens=20, **GREEDY))[0]
    assert not free.forced_think_close and close not in free.token_ids[:5]
    # a close tag that spans several tokens (no special tokens: 8 bytes) is forced whole
    plain = ByteTokenizer(specials=())
    res = generate(model, plain, "go <think>", GenerationConfig(max_new_tokens=20, thinking_budget=3, **GREEDY))[0]
    assert res.forced_think_close and plain.decode(res.token_ids[3:11]) == "</think>"
    # a thought opened during generation counts from its opening tag
    res = generate(model, TOK, "<think>ok</think> and", GenerationConfig(max_new_tokens=5, thinking_budget=0,
                                                                         **GREEDY))[0]
    assert not res.forced_think_close


def test_tokenizers_library_tokenizer_works(model):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: i for i, w in enumerate(["[UNK]", "hello", "world", "<think>", "</think>", "yes", "no"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    res = generate(model, tok, "hello world", GenerationConfig(max_new_tokens=6, top_k=7, seed=0))[0]
    assert len(res.token_ids) == 6 or res.finish_reason != "length"
    assert res.text == tok.decode(res.token_ids)


def test_bad_settings_and_inputs_are_reported(model):
    with pytest.raises(LLMError, match="top_p"):
        GenerationConfig(top_p=0)
    with pytest.raises(LLMError, match="max_new_tokens"):
        GenerationConfig(max_new_tokens=0)
    with pytest.raises(LLMError, match="empty"):
        generate(model, TOK, "", GenerationConfig())
    big = ByteTokenizer(specials=tuple(f"<s{i}>" for i in range(20)))
    with pytest.raises(LLMError, match="outside the model vocabulary"):
        generate(model, big, "<s19>", GenerationConfig())


def test_generate_command(model, tmp_path, capsys):
    from cli import main
    from llm.checkpoint import save

    save(model, tmp_path)
    assert main(["llm", "generate", str(tmp_path), "hi", "there", "--max-new-tokens", "4",
                 "--temperature", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("'hi' -> ") and "4 tokens" in out[0]
    assert main(["llm", "generate", str(tmp_path), "hi", "--max-new-tokens", "4", "--stream", "--seed", "1"]) == 0
    assert main(["llm", "generate", str(tmp_path), "hi", "--top-p", "2"]) == 2
    assert "top_p" in capsys.readouterr().err


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), V=st.integers(1, 600), p=st.floats(0.01, 0.999), spread=st.floats(0.1, 8.0))
def test_nucleus_mask_equals_full_sort_reference(seed, V, p, spread):
    """Sorting only the top candidates keeps exactly the tokens a full sort keeps (flat and peaked distributions)."""
    logits = torch.randn(3, V, generator=torch.Generator().manual_seed(seed)) * spread
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    probs = torch.softmax(sorted_logits, dim=-1)
    drop = (probs.cumsum(-1) - probs) >= p
    ref = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    got = nucleus_mask(logits, p)
    assert torch.equal(torch.isinf(got), torch.isinf(ref))
    assert torch.equal(got[~torch.isinf(got)], logits[~torch.isinf(ref)])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 4), max_size=14), st.integers(1, 4))
def test_repeated_ngram_tokens_are_exactly_the_completions_of_a_seen_ngram(ids, n):
    from llm.generate import repeated_ngram_tokens

    seen = {tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)}
    for t in range(5):
        would_repeat = len(ids) >= n - 1 and tuple((ids + [t])[len(ids) + 1 - n:]) in seen
        assert (t in repeated_ngram_tokens(ids, n)) == would_repeat


def test_no_repeat_ngram_keeps_a_looping_greedy_model_out_of_loops(model):
    loops = generate(model, TOK, "abcabc", GenerationConfig(max_new_tokens=40, **GREEDY))[0].token_ids
    grams = [tuple(loops[i:i + 3]) for i in range(len(loops) - 2)]
    assert len(set(grams)) < len(grams)          # this random model repeats itself when left alone
    out = generate(model, TOK, "abcabc", GenerationConfig(max_new_tokens=40, no_repeat_ngram=3, **GREEDY))[0]
    grams = [tuple(out.token_ids[i:i + 3]) for i in range(len(out.token_ids) - 2)]
    assert len(set(grams)) == len(grams)
    with pytest.raises(LLMError, match="no_repeat_ngram"):
        GenerationConfig(no_repeat_ngram=-1)
