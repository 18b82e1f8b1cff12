"""Virtual cohorts: distributions over virtual-participant parameters plus a questionnaire-answer model tied to the
contingency each participant experienced. Sampling is seeded per participant index, so a cohort is reproducible."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from experiments.errors import ExperimentError
from experiments.protocol import QuestionnaireBlock
from experiments.vp_config import VirtualParticipantConfig, config_from_dict
from experiments.yamlsrc import YamlDoc, dotted, load_yaml, parse_yaml

DISTRIBUTIONS: dict[str, int] = {"uniform": 2, "normal": 2, "beta": 2, "lognormal": 2, "choice": -1}


@dataclass(frozen=True)
class QuestionnaireModel:
    """Answers on a [0, 1] latent: intercept + slope * experienced contingency + participant offset + item noise,
    mapped to the block's scale and rounded (reverse-keyed items answered mirrored)."""

    intercept: float = 0.3
    slope: float = 0.6
    elicitation_slope: float = 0.3  # weight of the fraction of agent gestures the participant answered
    participant_sd: float = 0.08
    item_sd: float = 0.1


@dataclass(frozen=True)
class Cohort:
    """A validated cohort: name, seed, per-field parameter distributions and the questionnaire model."""

    name: str
    seed: int
    participant: dict[str, Any]
    questionnaire: QuestionnaireModel = QuestionnaireModel()
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def sample(self, index: int) -> VirtualParticipantConfig:
        """The virtual participant `index` (0-based): each distribution drawn with rng seeded by (seed, index)."""
        rng = np.random.default_rng([self.seed, index])
        data = _draw(self.participant, rng)
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
        where = doc.where(path + (kind,))
        if not isinstance(args, list) or (n > 0 and len(args) != n) or not args:
            raise ExperimentError(f"{where} needs a list of {n if n > 0 else 'one or more'} values: write e.g. "
                                  f"{{{kind}: [1, 2]}}")
        if kind != "choice":
            if not all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in args):
                raise ExperimentError(f"{where} arguments must be finite numbers, got {args}: fix them")
            if kind == "uniform" and args[0] > args[1]:
                raise ExperimentError(f"{where} low {args[0]} > high {args[1]}: swap them")
            if kind in ("normal", "lognormal") and args[1] < 0:
                raise ExperimentError(f"{where} sd must be >= 0, got {args[1]}: fix it")
            if kind == "beta" and min(args) <= 0:
                raise ExperimentError(f"{where} shape parameters must be > 0, got {args}: fix them")
        else:
            for i, option in enumerate(args):  # options may be mappings of fields with distributions of their own
                _check_dists(doc, option, path + (kind, i))
        return
    if isinstance(spec, dict):
        for k, v in spec.items():
            _check_dists(doc, v, path + (k,))


def cohort_from_doc(doc: YamlDoc) -> Cohort:
    """Validate a cohort document: distribution specs, then one sampled participant through the VP config check."""
    d = doc.data
    if not isinstance(d, dict):
        raise ExperimentError(f"{doc.where(())} must be a mapping with name, seed, participant, questionnaire: fix it")
    for k in d:
        if k not in ("name", "seed", "participant", "questionnaire", "description"):
            raise ExperimentError(f"{doc.where((k,))} is not a known field: use name, seed, participant, questionnaire")
    name = d.get("name", Path(doc.source).stem)
    if not isinstance(name, str) or not name.strip():
        raise ExperimentError(f"{doc.where(('name',))} must be a non-empty string, got {name!r}: quote it")
    seed = d.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ExperimentError(f"{doc.where(('seed',))} must be an integer, got {seed!r}: write a whole number")
    part = d.get("participant", {}) or {}
    if not isinstance(part, dict):
        raise ExperimentError(f"{doc.where(('participant',))} must be a mapping of participant fields: fix it")
    _check_dists(doc, part, ("participant",))
    qd = d.get("questionnaire", {}) or {}
    if not isinstance(qd, dict):
        raise ExperimentError(f"{doc.where(('questionnaire',))} must be a mapping: fix it")
    qfields = QuestionnaireModel.__dataclass_fields__
    for k, v in qd.items():
        if k not in qfields:
            raise ExperimentError(f"{doc.where(('questionnaire', k))} is not a known field: use {sorted(qfields)}")
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or \
                (k.endswith("_sd") and v < 0):
            raise ExperimentError(f"{doc.where(('questionnaire', k))} must be a finite number (sd >= 0), got {v!r}")
    cohort = Cohort(name=str(name), seed=seed, participant=part,
                    questionnaire=QuestionnaireModel(**{k: float(v) for k, v in qd.items()}), source=doc.source, raw=d)
    try:
        cohort.sample(0)
    except ExperimentError as exc:
        msg = str(exc)
        for key in part:  # point at the offending field's line where the VP check named it
            if f"'{key}" in msg or f"field '{key}" in msg:
                raise ExperimentError(f"{doc.where(('participant', key))}: {msg}") from None
        raise ExperimentError(f"{doc.where(('participant',))}: {msg}") from None
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
