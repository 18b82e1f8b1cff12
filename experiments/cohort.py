"""Virtual cohorts: distributions over virtual-participant parameters plus a questionnaire-answer model tied to the
contingency each participant experienced. Sampling is seeded per participant index, so a cohort is reproducible."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

import yamlconf
from experiments.errors import ExperimentError
from experiments.protocol import QuestionnaireBlock, Text
from experiments.vp_config import VirtualParticipantConfig, config_from_dict
from experiments.yamlsrc import YamlDoc, dotted, load_yaml, parse_yaml

DISTRIBUTIONS: dict[str, int] = {"uniform": 2, "normal": 2, "beta": 2, "lognormal": 2, "choice": -1}


@dataclass(frozen=True)
class QuestionnaireModel:
    """Answers on a [0, 1] latent: intercept + slope * experienced contingency + participant offset + item noise,
    mapped to the block's scale and rounded (reverse-keyed items answered mirrored)."""

    __pydantic_config__ = yamlconf.SCHEMA

    intercept: float = 0.3
    slope: float = 0.6
    elicitation_slope: float = 0.3  # weight of the fraction of agent gestures the participant answered
    participant_sd: Annotated[float, Field(ge=0)] = 0.08
    item_sd: Annotated[float, Field(ge=0)] = 0.1


@dataclass(frozen=True)
class Cohort:
    """A validated cohort: name, seed, per-field parameter distributions and the questionnaire model."""

    name: str
    seed: int
    participant: dict[str, Any]
    questionnaire: QuestionnaireModel = QuestionnaireModel()
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def sample(self, index: int, doc: YamlDoc | None = None) -> VirtualParticipantConfig:
        """The virtual participant `index` (0-based): each distribution drawn with rng seeded by (seed, index);
        with the cohort's `doc`, an invalid draw is reported at its line under `participant`."""
        rng = np.random.default_rng([self.seed, index])
        data = _draw(self.participant, rng)
        if doc is not None:
            return config_from_dict(data, where=doc.source, lines=doc, at=("participant",))
        return config_from_dict(data, where=f"{self.source} (participant {index})")

    def participant_offset(self, index: int) -> float:
        return float(np.random.default_rng([self.seed, index, 1]).normal(0, self.questionnaire.participant_sd))


def _is_dist(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and next(iter(v)) in DISTRIBUTIONS


def _draw(spec: Any, rng: np.random.Generator) -> Any:
    if _is_dist(spec):
        (kind, args), = spec.items()
        if kind == "uniform":
            return float(rng.uniform(args[0], args[1]))
        if kind == "normal":
            return float(rng.normal(args[0], args[1]))
        if kind == "beta":
            return float(rng.beta(args[0], args[1]))
        if kind == "lognormal":
            return float(rng.lognormal(args[0], args[1]))
        return _draw(args[int(rng.integers(len(args)))], rng)  # an option may itself hold distributions
    if isinstance(spec, dict):
        return {k: _draw(v, rng) for k, v in spec.items()}
    return spec


def _check_dists(doc: YamlDoc, spec: Any, path: tuple) -> None:
    if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in DISTRIBUTIONS:
        (kind, args), = spec.items()
        n = DISTRIBUTIONS[kind]
        at = path + (kind,)
        if not isinstance(args, list) or (n > 0 and len(args) != n) or not args:
            raise doc.error(at, f"needs a list of {n if n > 0 else 'one or more'} values",
                            f"write e.g. {{{kind}: [1, 2]}}", ExperimentError)
        if kind != "choice":
            if not all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in args):
                raise doc.error(at, f"arguments must be finite numbers (got {args})", "fix them", ExperimentError)
            if kind == "uniform" and args[0] > args[1]:
                raise doc.error(at, f"low {args[0]} > high {args[1]}", "swap them", ExperimentError)
            if kind in ("normal", "lognormal") and args[1] < 0:
                raise doc.error(at, f"sd must be >= 0 (got {args[1]})", "fix it", ExperimentError)
            if kind == "beta" and min(args) <= 0:
                raise doc.error(at, f"shape parameters must be > 0 (got {args})", "fix them", ExperimentError)
        else:
            for i, option in enumerate(args):  # options may be mappings of fields with distributions of their own
                _check_dists(doc, option, path + (kind, i))
        return
    if isinstance(spec, dict):
        for k, v in spec.items():
            _check_dists(doc, v, path + (k,))


@dataclass(frozen=True)
class CohortFile:
    """The cohort YAML as written: participant fields may hold distributions ({uniform: [a, b]}, ...)."""

    __pydantic_config__ = yamlconf.SCHEMA

    name: Text | None = None  # the file's stem when not given
    seed: int = 0
    participant: dict[str, Any] | None = None
    questionnaire: QuestionnaireModel | None = None
    description: str = ""


def cohort_from_doc(doc: YamlDoc) -> Cohort:
    """Validate a cohort document: its fields, distribution specs, then one sampled participant through the VP check."""
    f = yamlconf.validate(CohortFile, doc.data, doc.source, doc, ExperimentError)
    part = f.participant or {}
    _check_dists(doc, part, ("participant",))
    cohort = Cohort(name=f.name or Path(doc.source).stem, seed=f.seed, participant=part,
                    questionnaire=f.questionnaire or QuestionnaireModel(), source=doc.source, raw=doc.data)
    cohort.sample(0, doc)
    return cohort


def load_cohort(path: str | Path | None = None) -> Cohort:
    """Load a cohort YAML; None loads the shipped default cohort (experiments/data/default_cohort.yaml)."""
    if path is None:
        ref = resources.files("experiments") / "data" / "default_cohort.yaml"
        return cohort_from_doc(parse_yaml(ref.read_text(encoding="utf-8"), "default_cohort.yaml"))
    return cohort_from_doc(load_yaml(path, what="cohort"))


def answer_questionnaire(block: QuestionnaireBlock, model: QuestionnaireModel, contingency: float,
                         elicited: float, offset: float, rng: np.random.Generator) -> dict[str, int]:
    """Virtual answers to one block: latent = intercept + slope * contingency + elicitation_slope * elicited + offset
    + item noise, clipped to [0, 1], mapped to [low, high], rounded; reverse-keyed items mirrored."""
    lo, hi = block.scale
    out: dict[str, int] = {}
    for item in block.items:
        latent = model.intercept + model.slope * contingency + model.elicitation_slope * elicited + offset
        latent = min(1.0, max(0.0, latent + float(rng.normal(0, model.item_sd))))
        v = round(lo + latent * (hi - lo))
        out[item.id] = lo + hi - v if item.reverse else v
    return out


__all__ = ["Cohort", "QuestionnaireModel", "answer_questionnaire", "dotted", "load_cohort"]
