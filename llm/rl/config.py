"""RL run configuration (YAML keys = field names), validated on load with errors that name the field."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

import yamlconf
from llm.brain.errors import BrainError
from llm.data.config import check_tasks, check_weights
from llm.rl.rollout import RolloutConfig

ALGOS: tuple[str, ...] = ("cispo", "grpo")

PositiveInt = Annotated[int, Field(ge=1)]
Unit = Annotated[float, Field(ge=0, le=1)]
Weight = Annotated[float, Field(ge=0)]


@dataclass(frozen=True)
class RLConfig(yamlconf.Loadable):
    """One RL run from a checkpoint: the task mix, group sampling, the update (M1 §3.1–3.2 defaults), evaluation."""

    __pydantic_config__ = yamlconf.SCHEMA
    what, error, relative = "rl config", BrainError, ("init_from", "sft_config")

    init_from: str = ""                    # checkpoint dir (relative paths resolve against the YAML file)
    sft_config: str | None = None          # train YAML of that checkpoint: its held-out split is reused
    tasks: dict[str, Annotated[float, Field(gt=0)]] = field(
        default_factory=lambda: {"game24": 1.0, "object_count": 1.0})
    difficulty_weights: tuple[Weight, Weight, Weight] = (0.2, 0.3, 0.5)
    heldout_per_difficulty: PositiveInt = 100
    algo: Literal[ALGOS] = "cispo"         # type: ignore[valid-type]
    steps: PositiveInt = 100
    prompts_per_step: PositiveInt = 64
    group_size: Annotated[int, Field(ge=2)] = 8  # advantages are relative to the group
    temperature: Annotated[float, Field(gt=0, le=2)] = 1.0
    max_new_tokens: PositiveInt = 192
    thinking_budget: Annotated[int, Field(ge=0)] | None = 160
    updates_per_step: PositiveInt = 4      # minibatches per generation batch, one optimizer step each
    lr: Annotated[float, Field(gt=0, le=1)] = 2e-5
    beta1: Unit = 0.9
    beta2: Unit = 0.95
    adam_eps: Annotated[float, Field(gt=0, le=1)] = 1e-15  # M1 §3.2: a tiny epsilon keeps small updates alive
    weight_decay: Unit = 0.0
    grad_clip: Annotated[float, Field(gt=0)] = 1.0
    eps_low: Unit = 1.0                    # CISPO weight clip: no lower bound
    eps_high: Annotated[float, Field(ge=0, le=10)] = 0.28
    grpo_eps: Unit = 0.2                   # PPO-clip range of the GRPO baseline
    kl_coef: Annotated[float, Field(ge=0, le=10)] = 0.0  # GRPO's KL to the initial policy (0: off, as in DAPO)
    format_weight: Unit = 0.0              # reward for a well-formed response (reported separately either way)
    eval_every: PositiveInt = 10
    eval_max_new_tokens: PositiveInt = 192
    eval_batch_size: PositiveInt = 256
    checkpoint_every: PositiveInt = 50
    time_budget_s: Annotated[float, Field(gt=0)] | None = None  # stop (state saved) once this much time has passed
    seed: int = 0
    bf16: bool = True

    def rollout(self) -> RolloutConfig:
        return RolloutConfig(group_size=self.group_size, temperature=self.temperature,
                             max_new_tokens=self.max_new_tokens, thinking_budget=self.thinking_budget)

    @model_validator(mode="after")
    def _tasks(self) -> RLConfig:
        if not self.tasks:
            raise yamlconf.FieldError("tasks", "is empty", "map at least one reasoning task to a weight")
        check_tasks(self.tasks, "tasks", exclude=("interaction",))
        check_weights(self.difficulty_weights, "difficulty_weights")
        return self

    def check_paths(self, where: str) -> RLConfig:
        """init_from must hold a checkpoint and sft_config (if set) a file; BrainError names the field."""
        if not (Path(self.init_from) / "config.json").is_file():
            raise BrainError(f"{where}: init_from: {self.init_from or '(empty)'}/config.json not found; "
                             "point it at a checkpoint directory")
        if self.sft_config is not None and not Path(self.sft_config).is_file():
            raise BrainError(f"{where}: sft_config: {self.sft_config} not found; point it at the checkpoint's "
                             "train YAML or null")
        return self

    def validate(self, where: str = "rl config") -> RLConfig:
        """This config (built in code or from flags) checked like a file, paths included; BrainError names the
        field."""
        return super().validate(where).check_paths(where)

    @classmethod
    def from_dict(cls, raw: Any, where: str = "rl config") -> RLConfig:
        return super().from_dict(raw, where).check_paths(where)

    @classmethod
    def load(cls, path: str | Path) -> RLConfig:
        """Read a YAML file; init_from and sft_config resolve relative to it."""
        return super().load(path).check_paths(str(path))
