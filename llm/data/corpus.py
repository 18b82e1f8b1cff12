"""Build the training corpus and the held-out split deterministically from a CorpusConfig; read/write JSONL.

The held-out split uses its own seed stream (seed + 1_000_003) and drops any prompt also present in training, so
pass rates measure generalisation over fresh draws, not recall.
"""
from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

from llm.brain.errors import BrainError
from llm.data.config import CorpusConfig
from llm.data.registry import TASKS
from llm.data.types import DIFFICULTIES, Example

HELDOUT_SEED_OFFSET = 1_000_003


def synthetic_train(cfg: CorpusConfig) -> list[Example]:
    """The synthetic-task part of the training set, task by task, difficulty drawn by `difficulty_weights`."""
    out: list[Example] = []
    for i, (name, n) in enumerate(sorted(cfg.train.items())):
        rng = random.Random(cfg.seed * 7919 + i)
        for _ in range(n):
            d = rng.choices(DIFFICULTIES, weights=cfg.difficulty_weights)[0]
            out.append(TASKS[name].generate(rng, d))
    return out


def generate_train(cfg: CorpusConfig) -> list[Example]:
    """Training examples: `synthetic_train`, plus the dialogue and persona examples `cfg.dialogue` asks for
    (training conversations only), shuffled with the seed."""
    out = synthetic_train(cfg) + dialogue_examples(cfg)
    random.Random(cfg.seed).shuffle(out)
    return out


def dialogue_examples(cfg: CorpusConfig) -> list[Example]:
    """Chat examples from the training conversations of the real dialogue corpus, and persona questions."""
    dc = cfg.dialogue
    out: list[Example] = []
    if dc.conversations != 0:
        from llm.data import dialogue

        train, _ = dialogue.split(dialogue.load_conversations(), dc.heldout_percent)
        if dc.conversations is not None:
            train = train[:dc.conversations]
        examples = dialogue.build_examples(train, seed=cfg.seed, history_pairs=dc.history_pairs,
                                           history_share=dc.history_share, trailing_share=dc.trailing_share)
        # rare intents (sad news, goodbyes, greetings, opinions) repeated so the tag is learned for them too
        out += [e for e in examples for _ in range(dc.oversample.get(e.meta["intent"], 1))]
    if dc.persona:
        from llm.data import persona

        rng = random.Random(cfg.seed * 7919 + 99)
        out += [persona.generate(rng) for _ in range(dc.persona)]
    return out


def generate_heldout(cfg: CorpusConfig, exclude: set[str] | None = None) -> list[Example]:
    """Up to `heldout_per_difficulty` fresh examples per task and difficulty, none whose prompt is in `exclude`.

    Fewer (possibly none) when the task's space at that difficulty is used up by the training set (game24 at
    difficulty 1 has 442 distinct puzzles): the split stays unseen rather than padded with training prompts."""
    out: list[Example] = []
    for i, name in enumerate(sorted(cfg.train)):
        rng = random.Random(cfg.seed + HELDOUT_SEED_OFFSET + i)
        for d in DIFFICULTIES:
            got, tries = 0, 0
            while got < cfg.heldout_per_difficulty and tries < 50 * max(cfg.heldout_per_difficulty, 1):
                tries += 1
                ex = TASKS[name].generate(rng, d)
                if exclude and ex.user in exclude:
                    continue
                out.append(ex)
                got += 1
    return out


def write_jsonl(examples: list[Example], path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    with tmp.open("w") as f:
        for ex in examples:
            f.write(json.dumps(ex.to_json()) + "\n")
    tmp.replace(p)


def read_jsonl(path: str | Path) -> Iterator[Example]:
    p = Path(path)
    if not p.is_file():
        raise BrainError(f"{p}: corpus file not found; build it with `fep-motion brain data --out DIR`")
    with p.open() as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield Example.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise BrainError(f"{p}:{n}: corrupt corpus line ({exc}); rebuild the corpus") from None


def build(cfg: CorpusConfig, out_dir: str | Path) -> tuple[Path, Path]:
    """Write train.jsonl and heldout.jsonl under out_dir; returns their paths."""
    train = generate_train(cfg)
    held = generate_heldout(cfg, exclude={ex.user for ex in train})
    out = Path(out_dir)
    write_jsonl(train, out / "train.jsonl")
    write_jsonl(held, out / "heldout.jsonl")
    return out / "train.jsonl", out / "heldout.jsonl"
