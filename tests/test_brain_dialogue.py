"""Real dialogue for the brain: loading and cleaning the corpus, the held-out split, intent labels, the scoring
API against a brute-force computation, and the dialogue evaluation on a micro model."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from llm.brain.dialogue_eval import (
    evaluate_dialogue,
    intent_accuracy,
    load_intent_set,
    ranking_items,
    recall_at_1,
)
from llm.brain.errors import BrainError
from llm.brain.score import prompts_for, reply_logprob
from llm.config import preset
from llm.data import dialogue
from llm.data.dialogue_intent import is_memory_claim, label_intent, reply_fits
from llm.data.interaction import INTENTS, SYSTEM_PROMPT
from llm.model import MiniMaxForCausalLM
from llm.tokenizer import train as train_tokenizer

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def conversations() -> list[dialogue.Conversation]:
    return dialogue.load_conversations()


@pytest.fixture(scope="module")
def micro() -> tuple[MiniMaxForCausalLM, object]:
    """A random micro model with a small BPE tokenizer trained on chat-rendered dialogue text."""
    torch.manual_seed(0)
    texts = ["<|im_start|>system\n" + SYSTEM_PROMPT + "<|im_end|>", "Perception: none\nUser: hello there",
             "<intent>ask</intent> how was your day?", "I went to the lake and it was lovely"] * 20
    tok = train_tokenizer(texts, vocab_size=600)
    cfg = preset("micro")
    cfg = dataclasses.replace(cfg, vocab_size=((tok.vocab_size + 63) // 64) * 64,
                              eos_token_id=tok.eos_id, pad_token_id=tok.pad_id)
    model = MiniMaxForCausalLM(cfg)
    model.init_weights(3)
    return model.eval(), tok


def test_corpus_loads_every_two_sided_conversation_with_merged_cleaned_turns(conversations) -> None:
    # 7,168 conversations ship; 3,150 are one person waiting alone (a single speaker group): no reply to learn
    assert 4000 <= len(conversations) <= 4020
    turns = sum(len(c.turns) for c in conversations)
    assert turns > 130_000
    assert all(t and t == " ".join(t.split()) for c in conversations[:300] for t in c.turns)
    assert not any("!!" in t or "??" in t or "...." in t for c in conversations[:300] for t in c.turns)


def test_consecutive_messages_of_one_speaker_become_one_turn() -> None:
    raw = {"c1": {"prompt": "p", "messages": [
        [{"text": "Hello", "sender": "a"}, {"text": " Is anybody here?!!", "sender": "a"}],
        [{"text": "", "sender": "b"}],
        [{"text": "yes  hi", "sender": "a"}],
        [{"text": "sooooo tired......", "sender": "b"}]]}}
    (conv,) = dialogue.conversations_from_json(raw)
    assert conv.turns == ("Hello Is anybody here?! yes hi", "sooo tired...")


def test_heldout_split_is_fixed_by_id_and_never_trained_on(conversations) -> None:
    train, held = dialogue.split(conversations, 5.0)
    assert 0.03 < len(held) / len(conversations) < 0.07
    _, again_held = dialogue.split(list(reversed(conversations)), 5.0)
    assert {c.id for c in held} == {c.id for c in again_held}
    held_ids = {c.id for c in held}
    examples = dialogue.build_examples(train[:200], seed=1)
    assert examples and not any(e.meta["conversation"] in held_ids for e in examples)
    held_texts = {t for c in held for t in c.turns if len(t.split()) > 12}
    assert not any(e.answer.split("</intent> ", 1)[1] in held_texts for e in examples)


def test_examples_carry_history_and_keep_memories_out_of_the_listener_voice(conversations) -> None:
    examples = dialogue.build_examples(conversations[:300], seed=2, history_share=1.0)
    with_history = [e for e in examples if e.history]
    assert len(with_history) > len(examples) / 3
    msgs = with_history[0].messages()
    assert [m["role"] for m in msgs][:3] == ["system", "user", "assistant"] and msgs[-1]["role"] == "user"
    listener = [e for e in examples if e.meta["voice"] == "listener" and "derived" not in e.meta]
    assert listener and all(e.system == SYSTEM_PROMPT for e in listener)
    assert not any(is_memory_claim(e.answer.split("</intent> ", 1)[1]) for e in listener)
    assert all(reply_fits(e.meta["intent"], e.answer.split("</intent> ", 1)[1]) for e in listener)
    assert {e.system for e in examples if e.meta["voice"] == "peer"} == {dialogue.PEER_SYSTEM_PROMPT}


def test_labeler_on_the_handwritten_dev_sets() -> None:
    """A training number: the rules were tuned on these two dev sets (never on the test sets)."""
    for name in ("intent_natural_dev.jsonl", "intent_natural_dev2.jsonl"):
        rows = load_intent_set(DATA / name)
        acc = sum(label_intent(u) == gold for u, gold in rows) / len(rows)
        assert acc >= 0.93, (name, acc)


@pytest.mark.parametrize("utterance, intent", [
    ("My dog died yesterday.", "encourage"), ("hey you", "greet"), ("ok gotta run, see ya", "farewell"),
    ("so then my brother, he", "listen"), ("why is the sea salty?", "explain"),
    ("Pizza is the best food ever.", "agree"), ("We went camping last weekend.", "ask"),
])
def test_labeler_basic_cues(utterance: str, intent: str) -> None:
    assert label_intent(utterance) == intent


def test_handwritten_sets_are_disjoint_and_complete() -> None:
    files = ["intent_natural.jsonl", "intent_natural_dev.jsonl", "intent_natural_dev2.jsonl",
             "intent_natural_test2.jsonl"]
    seen: set[str] = set()
    for name in files:
        rows = load_intent_set(DATA / name)
        texts = {u.lower() for u, _ in rows}
        assert not texts & seen, name
        seen |= texts
        assert all(sum(1 for _, i in rows if i == k) >= 10 for k in INTENTS), name


def test_intent_set_errors_name_the_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"utterance": "hi", "intent": "greet"}\n{"utterance": "x", "intent": "shout"}\n')
    with pytest.raises(BrainError, match=r"bad.jsonl:2: intent: 'shout'"):
        load_intent_set(p)


def _brute_force(model, tok, utterance: str, reply: str, context: str = "") -> float:
    """log Σ_intent p(tag + reply + end | prompt), one full forward per intent, no cache."""
    (item,) = prompts_for(tok, [utterance], [reply], [context])
    vals = []
    for cont in item.continuations:
        ids = torch.tensor([list(item.prompt) + list(cont)])
        with torch.no_grad():
            lp = torch.log_softmax(model(ids).logits[0].double(), -1)
        P = len(item.prompt)
        vals.append(sum(float(lp[P - 1 + k, cont[k]]) for k in range(len(cont))))
    return float(logsumexp(vals))


@settings(max_examples=8, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.text("abc dog?!", min_size=1, max_size=30), st.text("xyz lake.", min_size=1,
                                                                                   max_size=25)),
                min_size=1, max_size=5), st.booleans())
def test_reply_logprob_equals_brute_force(micro, pairs, with_context: bool) -> None:
    model, tok = micro
    utts = [u if u.strip() else "hi" for u, _ in pairs]
    reps = [r if r.strip() else "ok" for _, r in pairs]
    ctx = ["the user nodded once; engagement high; looking at you"] * len(utts) if with_context else None
    got = reply_logprob(utts, reps, ctx, model=model, tokenizer=tok, max_batch_tokens=300)
    want = [_brute_force(model, tok, u, r, ctx[i] if ctx else "") for i, (u, r) in enumerate(zip(utts, reps))]
    assert got == pytest.approx(want, abs=2e-4)


def test_reply_logprob_rejects_mismatched_lengths(micro) -> None:
    model, tok = micro
    with pytest.raises(BrainError, match="2 utterances but 1 replies"):
        reply_logprob(["a", "b"], ["c"], model=model, tokenizer=tok)


def test_recall_at_1_is_chance_free_for_a_model_that_ignores_the_utterance() -> None:
    pairs = [dialogue.Pair(f"c{i}", 1, f"utterance {i}", f"reply number {i} here", ()) for i in range(40)]
    items = ranking_items(pairs, 20, candidates=10, min_words=4, seed=0)
    assert len(items) == 20 and all(len(c) == 10 and c[0] == f"utterance {r.split()[2]}" for r, c in items)
    assert recall_at_1(lambda us, rs: [0.0] * len(us), items) == 0.0           # ties are misses
    oracle = recall_at_1(lambda us, rs: [float(u.split()[1] == r.split()[2]) for u, r in zip(us, rs)], items)
    assert oracle == 1.0


def test_intent_accuracy_counts_per_class() -> None:
    rows = [("a", "greet"), ("b", "greet"), ("c", "ask")]
    acc, per, errs = intent_accuracy(lambda us: ["greet", "ask", "ask"], rows)
    assert acc == pytest.approx(2 / 3) and per == {"ask": 1.0, "greet": 0.5} and errs[0]["utterance"] == "b"


def test_dialogue_eval_on_a_micro_model(micro) -> None:
    model, tok = micro
    s = evaluate_dialogue(model, tok, bpb_pairs=12, ranking=4, intent_set=DATA / "intent_natural_dev.jsonl")
    assert s.bpb_pairs == 12 and s.ranking_items == 4 and s.intent_items >= 70
    assert s.bits_per_byte > 1.0 and 0.0 <= s.recall_at_1 <= 1.0 and 0.0 <= s.intent_accuracy <= 1.0
    assert json.loads(json.dumps(s.to_json()))["candidates"] == 10


@settings(max_examples=300, derandomize=True)
@given(st.lists(st.sampled_from(["Yes", "no way", "ok", ".", "!", "?", " ", "...", "e.g"]), max_size=20),
       st.integers(0, 3))
def test_first_sentences_keeps_a_prefix_of_at_most_n_sentences(parts, n) -> None:
    from llm.brain.intent import _SENTENCE_END, first_sentences

    text = "".join(parts)
    out = first_sentences(text, n)
    assert text.startswith(out)
    if n:
        assert len(list(_SENTENCE_END.finditer(out))) <= n
    else:
        assert out == text


def test_the_shipped_brain_says_at_most_the_configured_sentences() -> None:
    from llm.brain.brain import Brain
    from llm.brain.config import BrainConfig
    from llm.brain.intent import _SENTENCE_END

    brain = Brain(BrainConfig(timeout_s=120, history_turns=0, max_sentences=1))
    try:
        r = brain.ask("I'm so tired of work, my boss keeps yelling at me.")
    finally:
        brain.close()
    assert not r.fallback and r.reply and len(list(_SENTENCE_END.finditer(r.reply))) <= 1
    with pytest.raises(BrainError, match="max_sentences"):
        BrainConfig(max_sentences=-1).validate()
