"""Intent-tag calibration: a short fine-tune whose loss covers only the `<intent>NAME</intent>` tag the brain emits
first, on real utterances of the training conversations labelled by `dialogue_intent.label_intent`, balanced
across the seven intents.

Why: after supervised training on dialogue the model tags the frequent intents as the labeller does but lags on
the rare ones (sad news, goodbyes), which the corpus holds in the low thousands. Balanced tag-only batches move the
tag distribution without touching what the reply tokens learned (no loss on them, a small learning rate).
Hand-labelled utterances (the dev sets) can be added with `--extra`; the test sets never are.
`python -m llm.brain.intent_tune --checkpoint DIR --out DIR [--per-intent N] [--steps N] [--extra FILE.jsonl]`
(CPU is enough: ~5 s a step of 32 on two cores).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm.brain.errors import BrainError
from llm.data.interaction import INTENTS


@dataclass(frozen=True)
class TagExample:
    """A prompt (the brain's chat prompt for one utterance) and the intent its tag should name."""

    utterance: str
    context: str
    intent: str


def balanced_examples(per_intent: int, seed: int = 0, heldout_percent: float = 5.0) -> list[TagExample]:
    """Up to `per_intent` utterances per intent from the training conversations (never the held-out ones), plus
    trailing-off cuts for `listen`; a quarter carry a calm perception line."""
    from llm.data import dialogue
    from llm.data.dialogue_intent import label_intent
    from llm.data.interaction import NO_PERCEPTION, Perception

    rng = random.Random(seed)
    train, _ = dialogue.split(dialogue.load_conversations(), heldout_percent)
    by_intent: dict[str, list[str]] = {k: [] for k in INTENTS}
    for conv in train:
        for t in conv.turns:
            by_intent[label_intent(t)].append(t)
            if rng.random() < 0.05:
                ex = dialogue.trailing_example(dialogue.Pair(conv.id, 0, t, "", ()), rng)
                if ex is not None:
                    by_intent["listen"].append(dialogue.clean_text(ex.user.split("User: ", 1)[1]))
    out = []
    for intent, texts in by_intent.items():
        texts = sorted(set(texts))
        rng.shuffle(texts)
        for u in texts[:per_intent]:
            ctx = NO_PERCEPTION if rng.random() < 0.75 else Perception(
                nods=rng.choice([0, 1, 2]), engagement=rng.choice(["high", "medium"])).summary()
            if label_intent(u, ctx) == intent:
                out.append(TagExample(u, ctx, intent))
    rng.shuffle(out)
    return out


def encode(tok: Any, examples: Sequence[TagExample]) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, tag ids) per example, tokenized exactly as the brain sees and emits them."""
    from llm.brain.prompt import build_messages
    from llm.tokenizer import render_chat

    rows = []
    for ex in examples:
        prompt = tok.tok.encode(render_chat(build_messages(ex.utterance, ex.context), True),
                                add_special_tokens=False).ids
        rows.append((list(prompt), tok.encode(f"<intent>{ex.intent}</intent>")))
    return rows


def tune(model: Any, rows: Sequence[tuple[list[int], list[int]]], pad_id: int, steps: int, batch_size: int = 32,
         lr: float = 5e-5, seed: int = 0, progress: bool = False) -> list[float]:
    """AdamW on the tag tokens only (cross-entropy at the tag positions); returns the loss per step."""
    import torch
    import torch.nn.functional as F

    g = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    model.train()
    losses = []
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch_size:
            order += g.sample(range(len(rows)), len(rows))
        batch = [rows[i] for i in order[:batch_size]]
        del order[:batch_size]
        L = max(len(p) + len(t) for p, t in batch)
        ids = torch.full((len(batch), L), pad_id, dtype=torch.long)
        tgt = torch.full((len(batch), L), -100, dtype=torch.long)
        for b, (p, t) in enumerate(batch):
            full = p + t
            ids[b, :len(full)] = torch.tensor(full)
            tgt[b, len(p) - 1:len(full) - 1] = torch.tensor(t)
        logits = model(ids).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if progress and (len(losses) % 10 == 0 or len(losses) == steps):
            print(f"step {len(losses)}/{steps} loss {sum(losses[-10:]) / len(losses[-10:]):.4f}", flush=True)
    model.eval()
    return losses


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m llm.brain.intent_tune", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="checkpoint to start from")
    ap.add_argument("--out", required=True, help="directory for the tuned checkpoint (+ intent_tune.json)")
    ap.add_argument("--per-intent", type=int, default=600)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--extra", action="append", default=[],
                    help="hand-labelled JSONL {utterance, intent} to add (repeatable), e.g. the dev sets")
    ap.add_argument("--extra-repeat", type=int, default=3, help="copies of each --extra example")
    a = ap.parse_args(argv)
    import torch

    from llm import checkpoint
    from llm.tokenizer import ChatTokenizer

    try:
        model = checkpoint.load(a.checkpoint, dtype=torch.float32)
        tok = ChatTokenizer.load(a.checkpoint)
        t0 = time.time()
        examples = balanced_examples(a.per_intent, a.seed)
        from llm.brain.dialogue_eval import load_intent_set
        from llm.data.interaction import NO_PERCEPTION

        for path in a.extra:
            examples += [TagExample(u, NO_PERCEPTION, i) for u, i in load_intent_set(path)] * a.extra_repeat
        random.Random(a.seed).shuffle(examples)
        rows = encode(tok, examples)
        print(f"{len(rows)} examples built in {time.time() - t0:.0f} s", flush=True)
        losses = tune(model, rows, tok.pad_id, a.steps, a.batch_size, a.lr, a.seed, progress=True)
        checkpoint.save(model, a.out, dtype=torch.bfloat16)
        tok.save(a.out)
    except (BrainError, OSError) as exc:
        print(f"llm.brain.intent_tune: error: {exc}", file=sys.stderr)
        return 2
    counts = {k: sum(1 for e in examples if e.intent == k) for k in INTENTS}
    report = {"from": str(a.checkpoint), "examples": counts, "extra": a.extra, "extra_repeat": a.extra_repeat,
              "steps": a.steps, "batch_size": a.batch_size,
              "lr": a.lr, "seed": a.seed, "loss_first10": sum(losses[:10]) / 10, "loss_last10": sum(losses[-10:]) / 10,
              "seconds": round(time.time() - t0, 1)}
    (Path(a.out) / "intent_tune.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
