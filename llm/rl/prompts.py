"""RL prompts: the held-out split the checkpoint was scored on, and a training stream that never draws from it."""
from __future__ import annotations

import random
from collections.abc import Iterator, Mapping

from llm.data.config import CorpusConfig
from llm.data.registry import Task
from llm.data.types import DIFFICULTIES, Example


def heldout(tasks: Mapping[str, Task], per_difficulty: int, seed: int, sft_corpus: CorpusConfig | None = None
            ) -> list[Example]:
    """Held-out examples of `tasks`: with the checkpoint's SFT corpus, its own held-out split (same seed stream,
    none of its training prompts), so RL and SFT numbers are measured on the same prompts; else a fresh split."""
    from llm.data import corpus

    if sft_corpus is not None and set(tasks) <= set(sft_corpus.train):
        cfg = CorpusConfig(seed=sft_corpus.seed, train=dict(sft_corpus.train),
                           difficulty_weights=sft_corpus.difficulty_weights, heldout_per_difficulty=per_difficulty)
        seen = {ex.user for ex in corpus.synthetic_train(cfg)}
        return [ex for ex in corpus.generate_heldout(cfg, exclude=seen) if ex.task in tasks]
    out: list[Example] = []
    for i, name in enumerate(sorted(tasks)):
        rng = random.Random(seed + corpus.HELDOUT_SEED_OFFSET + i)
        out += [tasks[name].generate(rng, d) for d in DIFFICULTIES for _ in range(per_difficulty)]
    return out


def stream(tasks: Mapping[str, Task], weights: Mapping[str, float], difficulty_weights: tuple[float, ...],
           seed: int, exclude: set[str]) -> Iterator[Example]:
    """Training prompts forever: task by weight, difficulty by weight, from the run's own seed stream; a prompt
    whose text is in `exclude` (the held-out split) is skipped."""
    rng = random.Random(seed * 7919 + 424_242)
    names = sorted(weights)
    w = [weights[n] for n in names]
    while True:
        name = rng.choices(names, weights=w)[0]
        d = rng.choices(DIFFICULTIES, weights=difficulty_weights)[0]
        ex = tasks[name].generate(rng, d)
        if ex.user not in exclude:
            yield ex
