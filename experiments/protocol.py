"""Experiment protocol schema (docs/architecture.md §5): conditions, within-subject order, durations, instructions,
breaks and questionnaire blocks, validated on load with errors that name the field and its YAML line."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, model_validator

import yamlconf
from experiments.errors import ExperimentError
from experiments.yamlsrc import YamlDoc, load_yaml, parse_yaml

ORDER_METHODS: tuple[str, ...] = ("latin_square", "random", "fixed")
QUESTIONNAIRE_KINDS: tuple[str, ...] = ("likert", "semantic_differential")
ADMINISTER: tuple[str, ...] = ("after_each_trial", "after_all_trials")
MAX_DURATION_S = 86_400.0  # a trial or break longer than a day is a typo (and would run for days)

# The built-in policies (docs/architecture.md §2); used only when the policy registry (fep_motion.policies) is not
# importable.
BUILTIN_POLICIES: tuple[str, ...] = ("fep", "random", "mimic", "reactive", "idle")


def _text(value: str) -> str:
    if not value.strip():
        raise yamlconf.FieldError((), "must not be empty", "write text")
    return value


def _ident(value: str) -> str:
    if not all(ch.isalnum() or ch in "_-" for ch in _text(value)):
        raise yamlconf.FieldError((), f"{value!r} is not an identifier", "use letters, digits, '_' or '-'")
    return value


Text = Annotated[str, AfterValidator(_text)]
Ident = Annotated[str, AfterValidator(_ident)]
Duration = Annotated[float, Field(gt=0, le=MAX_DURATION_S)]


@dataclass(frozen=True)
class Condition:
    """One experimental condition: an id, the agent policy that runs it, and that policy's parameters."""

    __pydantic_config__ = yamlconf.SCHEMA

    id: Ident
    policy: Text
    params: dict[str, Any] = field(default_factory=dict)
    label: Text = ""  # the id when not given
    duration_s: Duration | None = None  # overrides Protocol.trial_duration_s
    utterances: str = ""  # `t_seconds<TAB>text` script said to the brain during the trial (path relative to protocol)

    @model_validator(mode="after")
    def _label_and_script(self, info: ValidationInfo) -> Condition:
        if not self.label:
            object.__setattr__(self, "label", self.id)
        if self.utterances:
            _check_script(_relative_to((info.context or {}).get("source", ""), self.utterances))
        return self


@dataclass(frozen=True)
class Item:
    """A questionnaire item: Likert statement (text) or semantic differential (left/right adjectives)."""

    __pydantic_config__ = yamlconf.SCHEMA

    id: Ident
    text: Text = ""
    left: Text = ""
    right: Text = ""
    reverse: bool = False


@dataclass(frozen=True)
class QuestionnaireBlock:
    """A block of items sharing one response scale [low, high]; its score is the mean of its (reverse-keyed) items."""

    __pydantic_config__ = yamlconf.SCHEMA

    id: Ident
    kind: Literal[QUESTIONNAIRE_KINDS]  # type: ignore[valid-type]
    scale: tuple[int, int]
    items: Annotated[tuple[Item, ...], Field(min_length=1)]
    title: Text = ""  # the id when not given
    anchors: tuple[Text, Text] = ("", "")
    instructions: str = ""

    @model_validator(mode="after")
    def _scale_and_items(self) -> QuestionnaireBlock:
        lo, hi = self.scale
        if hi - lo < 1:
            raise yamlconf.FieldError("scale", f"high ({hi}) must exceed low ({lo})", "write e.g. [1, 7]")
        need = ("text",) if self.kind == "likert" else ("left", "right")
        seen: set[str] = set()
        for i, item in enumerate(self.items):
            for name in need:
                if not getattr(item, name):
                    raise yamlconf.FieldError(("items", i, name), f"is required for a {self.kind} item", "add it")
            if item.id in seen:
                raise yamlconf.FieldError(("items", i, "id"), f"duplicate item id {item.id!r}",
                                          "give each item a unique id")
            seen.add(item.id)
        if not self.title:
            object.__setattr__(self, "title", self.id)
        return self

    def score_value(self, item: Item, value: int) -> float:
        """The item's contribution to the block score (reverse-keyed items are mirrored on the scale)."""
        lo, hi = self.scale
        return float(lo + hi - value) if item.reverse else float(value)


@dataclass(frozen=True)
class OrderSpec:
    """Within-subject order: Latin square (balanced, Williams 1949), seeded random permutation, or fixed."""

    __pydantic_config__ = yamlconf.SCHEMA

    method: Literal[ORDER_METHODS] = "latin_square"  # type: ignore[valid-type]
    seed: int = 0


@dataclass(frozen=True)
class Protocol:
    """A validated experiment protocol."""

    name: str
    conditions: tuple[Condition, ...]
    trial_duration_s: float
    order: OrderSpec = OrderSpec()
    instructions: str = ""
    break_s: float = 0.0
    questionnaires: tuple[QuestionnaireBlock, ...] = ()
    administer: str = "after_each_trial"
    description: str = ""
    source: str = ""
    condition_lines: tuple[int, ...] = ()  # YAML line of each condition, for errors found after loading

    def condition(self, cid: str) -> Condition:
        for c in self.conditions:
            if c.id == cid:
                return c
        raise ExperimentError(f"protocol '{self.name}' has no condition '{cid}'")

    def utterance_script(self, cid: str) -> Path | None:
        """The condition's utterance script, resolved against this protocol file's folder (None if it has none)."""
        c = self.condition(cid)
        return _relative_to(self.source, c.utterances) if c.utterances else None

    def duration_of(self, cid: str) -> float:
        c = self.condition(cid)
        return float(c.duration_s if c.duration_s is not None else self.trial_duration_s)

    def to_json(self) -> str:
        d = asdict(self)
        d.pop("source", None)
        d.pop("condition_lines", None)
        return json.dumps(d, sort_keys=True)

    def digest(self) -> str:
        """A short content hash: a study database refuses a protocol that changed after participants started."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def known_policies() -> tuple[str, ...]:
    """Policy names the protocol may use: the registry's when available, else docs/architecture.md §2's built-ins."""
    try:
        from fep_motion import policies as reg  # experiments drives fep_motion (one-way dependency)
    except ImportError:
        return BUILTIN_POLICIES
    for attr in ("available_policies", "available", "names", "policy_names", "list_policies", "registered"):
        fn = getattr(reg, attr, None)
        if callable(fn):
            try:
                names = fn()
            except (ImportError, RuntimeError, TypeError, ValueError):  # cannot enumerate: documented built-ins
                continue
            names = tuple(sorted(str(n) for n in names))
            if names:
                return names
    return BUILTIN_POLICIES


def _check_script(path: Path) -> None:
    """An utterance script must exist and parse now, so a bad line fails before any trial touches the database."""
    if not path.is_file():
        raise yamlconf.FieldError("utterances", f"utterance script '{path}' not found",
                                  "give a `t_seconds<TAB>text` file, relative to the protocol file")
    from fep_motion.session.dialogue import load_script
    from fep_motion.session.errors import SessionError

    try:
        load_script(path)
    except SessionError as exc:
        raise yamlconf.FieldError("utterances", f"utterance script is malformed ({exc})",
                                  "fix that line of the script") from None


def _relative_to(protocol_source: str, path: str) -> Path:
    """A path written in a protocol, resolved against the protocol file's folder."""
    p = Path(path)
    return p if p.is_absolute() else Path(protocol_source).parent / p


def _order_spec(value: Any, info: ValidationInfo) -> Any:
    """`order: latin_square` is short for {method: latin_square}; the order's seed defaults to the protocol's."""
    spec = {"method": value} if isinstance(value, str) else value
    seed = info.data.get("seed", 0)
    return {"seed": seed, **spec} if isinstance(spec, dict) else spec


def _unique(ids: list[str], where: str, what: str) -> None:
    for i, x in enumerate(ids):
        if x in ids[:i]:
            raise yamlconf.FieldError((where, i, "id"), f"duplicate {what} id {x!r}", f"give each {what} a unique id")


@dataclass(frozen=True)
class ProtocolFile:
    """The protocol YAML as written (docs/architecture.md §5); `protocol_from_doc` turns it into a Protocol."""

    __pydantic_config__ = yamlconf.SCHEMA

    name: Ident
    trial_duration_s: Duration
    conditions: Annotated[tuple[Condition, ...], Field(min_length=1)]
    description: str = ""
    seed: int = 0
    order: Annotated[OrderSpec, BeforeValidator(_order_spec)] = OrderSpec()
    instructions: str = ""
    break_s: Annotated[float, Field(ge=0, le=MAX_DURATION_S)] = 0.0
    questionnaires: tuple[QuestionnaireBlock, ...] = ()
    administer: Literal[ADMINISTER] = "after_each_trial"  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _policies_and_unique_ids(self) -> ProtocolFile:
        policies = known_policies()
        for i, c in enumerate(self.conditions):
            if c.policy not in policies and ":" not in c.policy:  # module:Class: a third-party policy (§2)
                raise yamlconf.FieldError(("conditions", i, "policy"), f"unknown policy {c.policy!r}",
                                          f"use one of {list(policies)} or module:Class")
        _unique([c.id for c in self.conditions], "conditions", "condition")
        _unique([b.id for b in self.questionnaires], "questionnaires", "questionnaire")
        return self


def protocol_from_doc(doc: YamlDoc) -> Protocol:
    """Validate a parsed YAML document into a Protocol (first error wins, naming field and line)."""
    f = yamlconf.validate(ProtocolFile, doc.data, doc.source, doc, ExperimentError)
    return Protocol(name=f.name, description=f.description, conditions=f.conditions,
                    trial_duration_s=f.trial_duration_s, order=f.order, instructions=f.instructions,
                    break_s=f.break_s, questionnaires=f.questionnaires, administer=f.administer, source=doc.source,
                    condition_lines=tuple(doc.line(("conditions", i)) for i in range(len(f.conditions))))


def load_protocol(path: str | Path) -> Protocol:
    """Load and validate a protocol YAML file; any problem raises a one-line ExperimentError."""
    return protocol_from_doc(load_yaml(path, what="protocol"))


def parse_protocol(text: str, source: str = "<protocol>") -> Protocol:
    """Validate protocol YAML text (tests, embedded protocols)."""
    return protocol_from_doc(parse_yaml(text, source))
