"""The brain on real conversation: held-out bits per byte of human replies, context ranking R@1/10, and intent
accuracy on hand-written natural utterances (tests/data/intent_natural.jsonl).

- bits per byte: −Σ log2 p(reply | utterance) / Σ UTF-8 bytes of the replies, over held-out reply pairs (the
  brain's prompt, intent tag summed out), so models with different tokenizers compare.
- R@1/10: for a held-out human reply of at least `min_words` words, its own preceding turn and 9 turns drawn from
  other held-out conversations are each scored as the utterance; the share of replies whose own turn ranks first
  (chance 0.10). A model that ignores the utterance scores chance.
- intent accuracy: the intent tag of the greedy reply against the hand-written label, per intent and overall.
"""
from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llm.brain.errors import BrainError
from llm.brain.score import reply_logprob

INTENT_SET = Path(__file__).resolve().parents[2] / "tests" / "data" / "intent_natural.jsonl"


@dataclass
class DialogueScores:
    """What `evaluate_dialogue` measured, with the sizes it was measured on."""

    bits_per_byte: float
    bpb_pairs: int
    recall_at_1: float
    ranking_items: int
    candidates: int
    intent_accuracy: float | None
    intent_items: int
    intent_per_class: dict[str, float] = field(default_factory=dict)
    intent_errors: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def heldout_pairs(heldout_percent: float = 5.0) -> list[Any]:
    """Every (utterance, reply) pair of the held-out conversations, in a fixed order."""
    from llm.data import dialogue

    _, held = dialogue.split(dialogue.load_conversations(), heldout_percent)
    return [p for c in held for p in dialogue.pairs(c)]


def bits_per_byte(score: Callable[[Sequence[str], Sequence[str]], list[float]], pairs: Sequence[Any]) -> float:
    """−Σ log2 p(reply | utterance) / Σ bytes of the replies."""
    lps = score([p.utterance for p in pairs], [p.reply for p in pairs])
    nbytes = sum(len(p.reply.strip().encode("utf-8")) for p in pairs)
    return -sum(lps) / math.log(2) / max(1, nbytes)


def ranking_items(pairs: Sequence[Any], n: int, candidates: int = 10, min_words: int = 4,
                  seed: int = 0) -> list[tuple[str, list[str]]]:
    """(reply, [its own utterance, then candidates−1 utterances of other conversations]) for up to n replies."""
    rng = random.Random(seed)
    eligible = [p for p in pairs if len(p.reply.split()) >= min_words]
    chosen = rng.sample(eligible, min(n, len(eligible)))
    items = []
    for p in chosen:
        others = [q.utterance for q in pairs if q.conversation != p.conversation]
        items.append((p.reply, [p.utterance] + rng.sample(others, candidates - 1)))
    return items


def recall_at_1(score: Callable[[Sequence[str], Sequence[str]], list[float]],
                items: Sequence[tuple[str, list[str]]]) -> float:
    """Share of items whose true utterance (index 0) gets the highest log p(reply | utterance); ties count as
    misses, so a model that ignores the utterance cannot score above chance."""
    utts = [u for _, cands in items for u in cands]
    reps = [r for r, cands in items for _ in cands]
    lps = score(utts, reps)
    hits, k = 0, 0
    for _, cands in items:
        block = lps[k:k + len(cands)]
        k += len(cands)
        hits += int(all(block[0] > x for x in block[1:]))
    return hits / max(1, len(items))


def load_intent_set(path: str | Path = INTENT_SET) -> list[tuple[str, str]]:
    """(utterance, intent) rows of a hand-written JSONL file; a bad line is a one-line error naming it."""
    from llm.data.interaction import INTENTS

    p = Path(path)
    if not p.is_file():
        raise BrainError(f"{p}: intent test set not found; pass --intent-set FILE.jsonl")
    rows = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            u, i = str(obj["utterance"]), str(obj["intent"])
        except (ValueError, KeyError, TypeError):
            raise BrainError(f"{p}:{n}: expected {{\"utterance\": ..., \"intent\": ...}}") from None
        if i not in INTENTS:
            raise BrainError(f"{p}:{n}: intent: {i!r} is not one of {', '.join(INTENTS)}")
        rows.append((u, i))
    return rows


def intent_accuracy(predict: Callable[[Sequence[str]], list[str]], rows: Sequence[tuple[str, str]]
                    ) -> tuple[float, dict[str, float], list[dict[str, str]]]:
    """Overall accuracy, accuracy per gold intent, and the misses."""
    preds = predict([u for u, _ in rows])
    per: dict[str, list[int]] = {}
    errors = []
    for (u, gold), pred in zip(rows, preds):
        per.setdefault(gold, []).append(int(pred == gold))
        if pred != gold:
            errors.append({"utterance": u, "gold": gold, "predicted": pred})
    acc = sum(sum(v) for v in per.values()) / max(1, len(rows))
    return acc, {k: sum(v) / len(v) for k, v in sorted(per.items())}, errors


def greedy_intents(model: Any, tokenizer: Any, utterances: Sequence[str], batch_size: int = 64) -> list[str]:
    """The intent tag the brain emits first for each utterance (greedy, no perception)."""
    from llm.brain.intent import parse_reply
    from llm.brain.prompt import build_messages
    from llm.train import greedy_generate

    out = []
    for i in range(0, len(utterances), batch_size):
        chunk = utterances[i:i + batch_size]
        prompts = [tokenizer.encode_chat(build_messages(u)) for u in chunk]
        gen = greedy_generate(model, prompts, tokenizer.eos_id, tokenizer.pad_id, max_new_tokens=6)
        out += [parse_reply(tokenizer.decode(g))[1] for g in gen]
    return out


def evaluate_dialogue(model: Any, tokenizer: Any, *, bpb_pairs: int = 2000, ranking: int = 300,
                      candidates: int = 10, min_words: int = 4, seed: int = 0, heldout_percent: float = 5.0,
                      intent_set: str | Path | None = INTENT_SET, max_batch_tokens: int = 16384) -> DialogueScores:
    """All three measures for one model (sizes are caps: the held-out set decides how many there are)."""
    pairs = heldout_pairs(heldout_percent)
    if not pairs:
        raise BrainError("no held-out conversations: raise heldout_percent")

    def score(utts: Sequence[str], reps: Sequence[str]) -> list[float]:
        return reply_logprob(utts, reps, model=model, tokenizer=tokenizer, max_batch_tokens=max_batch_tokens)

    rng = random.Random(seed)
    bpb_set = rng.sample(pairs, min(bpb_pairs, len(pairs)))
    bpb = bits_per_byte(score, bpb_set)
    items = ranking_items(pairs, ranking, candidates, min_words, seed)
    r1 = recall_at_1(score, items)
    acc, per, errs = None, {}, []
    n_int = 0
    if intent_set is not None:
        rows = load_intent_set(intent_set)
        n_int = len(rows)
        acc, per, errs = intent_accuracy(lambda us: greedy_intents(model, tokenizer, us), rows)
    return DialogueScores(bits_per_byte=bpb, bpb_pairs=len(bpb_set), recall_at_1=r1, ranking_items=len(items),
                          candidates=candidates, intent_accuracy=acc, intent_items=n_int, intent_per_class=per,
                          intent_errors=errs)
