"""RL run configuration (YAML keys = field names), validated on load with errors that name the field."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm.brain.errors import BrainError
from llm.data.types import DIFFICULTIES
from llm.rl.rollout import RolloutConfig

ALGOS: tuple[str, ...] = ("cispo", "grpo")


@dataclass(frozen=True)
class RLConfig:
    """One RL run from a checkpoint: the task mix, group sampling, the update (M1 §3.1–3.2 defaults), evaluation."""

    init_from: str = ""                    # checkpoint dir (relative paths resolve against the YAML file)
    sft_config: str | None = None          # train YAML of that checkpoint: its held-out split is reused
    tasks: dict[str, float] = field(default_factory=lambda: {"game24": 1.0, "object_count": 1.0})
    difficulty_weights: tuple[float, float, float] = (0.2, 0.3, 0.5)
    heldout_per_difficulty: int = 100
    algo: str = "cispo"
    steps: int = 100
    prompts_per_step: int = 64
    group_size: int = 8
    temperature: float = 1.0
    max_new_tokens: int = 192
    thinking_budget: int | None = 160
    updates_per_step: int = 4              # minibatches per generation batch, one optimizer step each
    lr: float = 2e-5
    beta1: float = 0.9
    beta2: float = 0.95
    adam_eps: float = 1e-15                # M1 §3.2: a tiny epsilon keeps small updates from vanishing
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eps_low: float = 1.0                   # CISPO weight clip: no lower bound
    eps_high: float = 0.28
    grpo_eps: float = 0.2                  # PPO-clip range of the GRPO baseline
    kl_coef: float = 0.0                   # GRPO's KL to the initial policy (0: off, as in DAPO)
    format_weight: float = 0.0             # reward for a well-formed response (reported separately either way)
    eval_every: int = 10
    eval_max_new_tokens: int = 192
    eval_batch_size: int = 256
    checkpoint_every: int = 50
    time_budget_s: float | None = None     # stop (state saved, checkpoint written) once this much time has passed
    seed: int = 0
    bf16: bool = True

    def rollout(self) -> RolloutConfig:
        return RolloutConfig(group_size=self.group_size, temperature=self.temperature,
                             max_new_tokens=self.max_new_tokens, thinking_budget=self.thinking_budget)

    def validate(self, where: str = "rl config", check_paths: bool = True) -> RLConfig:
        from llm.data.registry import TASKS

        if self.algo not in ALGOS:
            raise BrainError(f"{where}: algo: {self.algo!r} is not one of {', '.join(ALGOS)}")
        if check_paths and not (Path(self.init_from) / "config.json").is_file():
            raise BrainError(f"{where}: init_from: {self.init_from or '(empty)'}/config.json not found; "
                             "point it at a checkpoint directory")
        if check_paths and self.sft_config is not None and not Path(self.sft_config).is_file():
            raise BrainError(f"{where}: sft_config: {self.sft_config} not found; point it at the checkpoint's "
                             "train YAML or null")
        if not isinstance(self.tasks, dict) or not self.tasks:
            raise BrainError(f"{where}: tasks: must be a non-empty mapping task -> weight")
        for name, w in self.tasks.items():
            if name not in TASKS or name == "interaction":
                choices = ", ".join(t for t in TASKS if t != "interaction")
                raise BrainError(f"{where}: tasks.{name}: not a verifiable reasoning task; use one of {choices}")
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0:
                raise BrainError(f"{where}: tasks.{name}: weight must be a positive number, got {w!r}")
        dw = self.difficulty_weights
        if len(dw) != len(DIFFICULTIES) or any(isinstance(x, bool) or not isinstance(x, (int, float)) or x < 0
                                               for x in dw) or sum(dw) <= 0:
            raise BrainError(f"{where}: difficulty_weights: need 3 non-negative numbers with a positive sum")
        for name in ("heldout_per_difficulty", "steps", "prompts_per_step", "group_size", "max_new_tokens",
                     "updates_per_step", "eval_every", "eval_max_new_tokens", "eval_batch_size", "checkpoint_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise BrainError(f"{where}: {name}: must be a positive whole number, got {v!r}")
        if self.group_size < 2:
            raise BrainError(f"{where}: group_size: must be >= 2 (advantages are relative to the group)")
        if self.thinking_budget is not None and (not isinstance(self.thinking_budget, int) or self.thinking_budget < 0):
            raise BrainError(f"{where}: thinking_budget: must be a whole number >= 0 or null")
        for name, lo, hi in (("temperature", 0.0, 2.0), ("lr", 0.0, 1.0), ("beta1", 0.0, 1.0), ("beta2", 0.0, 1.0),
                             ("adam_eps", 0.0, 1.0), ("weight_decay", 0.0, 1.0), ("grad_clip", 0.0, math.inf),
                             ("eps_low", 0.0, 1.0), ("eps_high", 0.0, 10.0), ("grpo_eps", 0.0, 1.0),
                             ("kl_coef", 0.0, 10.0), ("format_weight", 0.0, 1.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
                raise BrainError(f"{where}: {name}: must be a number in [{lo:g}, {hi:g}], got {v!r}")
        for name in ("temperature", "lr", "adam_eps", "grad_clip"):
            if getattr(self, name) <= 0:
                raise BrainError(f"{where}: {name}: must be > 0")
        if self.time_budget_s is not None and (isinstance(self.time_budget_s, bool)
                                               or not isinstance(self.time_budget_s, (int, float))
                                               or self.time_budget_s <= 0):
            raise BrainError(f"{where}: time_budget_s: must be a positive number of seconds or null")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise BrainError(f"{where}: seed: must be a whole number, got {self.seed!r}")
        if not isinstance(self.bf16, bool):
            raise BrainError(f"{where}: bf16: must be true or false")
        return self

    @staticmethod
    def from_dict(raw: dict[str, Any], where: str = "rl config", check_paths: bool = True) -> RLConfig:
        from llm.yaml_file import check_fields

        check_fields(raw, {f.name for f in dataclasses.fields(RLConfig)}, where)
        kw = dict(raw)
        if "difficulty_weights" in kw:
            if not isinstance(kw["difficulty_weights"], (list, tuple)):
                raise BrainError(f"{where}: difficulty_weights: must be a list of 3 numbers")
            kw["difficulty_weights"] = tuple(kw["difficulty_weights"])
        if "tasks" in kw and isinstance(kw["tasks"], dict):
            kw["tasks"] = dict(kw["tasks"])
        return RLConfig(**kw).validate(where, check_paths)

    @staticmethod
    def load(path: str | Path) -> RLConfig:
        """Read a YAML file; init_from and sft_config resolve relative to it."""
        from llm.yaml_file import read_mapping

        p = Path(path)
        raw = read_mapping(p, "rl config")
        for key in ("init_from", "sft_config"):
            if isinstance(raw.get(key), str) and not Path(raw[key]).is_absolute():
                raw[key] = str((p.parent / raw[key]).resolve())
        return RLConfig.from_dict(raw, where=str(p))
