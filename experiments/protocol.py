"""Experiment protocol schema (docs/architecture.md §5): conditions, within-subject order, durations, instructions, breaks and
questionnaire blocks, validated on load with errors that name the field and its YAML line."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from experiments.errors import ExperimentError
from experiments.yamlsrc import Path_, YamlDoc, load_yaml, parse_yaml

ORDER_METHODS: tuple[str, ...] = ("latin_square", "random", "fixed")
QUESTIONNAIRE_KINDS: tuple[str, ...] = ("likert", "semantic_differential")
ADMINISTER: tuple[str, ...] = ("after_each_trial", "after_all_trials")
MAX_DURATION_S = 86_400.0  # a trial or break longer than a day is a typo (and would run for days)

# The built-in policies (docs/architecture.md §2); used only when the policy registry (fep_motion.policies) is not importable.
BUILTIN_POLICIES: tuple[str, ...] = ("fep", "random", "mimic", "reactive", "idle")


@dataclass(frozen=True)
class Condition:
    """One experimental condition: an id, the agent policy that runs it, and that policy's parameters."""

    id: str
    policy: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    duration_s: float | None = None  # overrides Protocol.trial_duration_s
    utterances: str = ""  # `t_seconds<TAB>text` script said to the brain during the trial (path relative to protocol)


@dataclass(frozen=True)
class Item:
    """A questionnaire item: Likert statement (text) or semantic differential (left/right adjectives)."""

    id: str
    text: str = ""
    left: str = ""
    right: str = ""
    reverse: bool = False


@dataclass(frozen=True)
class QuestionnaireBlock:
    """A block of items sharing one response scale [low, high]; its score is the mean of its (reverse-keyed) items."""

    id: str
    kind: str
    scale: tuple[int, int]
    items: tuple[Item, ...]
    title: str = ""
    anchors: tuple[str, str] = ("", "")
    instructions: str = ""

    def score_value(self, item: Item, value: int) -> float:
        """The item's contribution to the block score (reverse-keyed items are mirrored on the scale)."""
        lo, hi = self.scale
        return float(lo + hi - value) if item.reverse else float(value)


@dataclass(frozen=True)
class OrderSpec:
    """Within-subject order: Latin square (balanced, Williams 1949), seeded random permutation, or fixed."""

    method: str = "latin_square"
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
    """Policy names the protocol may use: the registry's when available, else the built-ins of docs/architecture.md §2."""
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


class _V:
    """Field validators that raise ExperimentError with 'file:line: field X: problem: fix'."""

    def __init__(self, doc: YamlDoc):
        self.doc = doc

    def fail(self, path: Path_, problem: str, fix: str) -> None:
        raise ExperimentError(f"{self.doc.where(path)} {problem}: {fix}")

    def mapping(self, value: Any, path: Path_) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, got {type(value).__name__}", "write key: value pairs")
        return value

    def keys(self, m: dict[str, Any], path: Path_, allowed: set[str], required: set[str]) -> None:
        for k in m:
            if k not in allowed:
                self.fail(path + (k,), "is not a known field", f"use one of {sorted(allowed)}")
        for k in sorted(required):
            if k not in m:
                self.fail(path + (k,), "is missing", "add it")

    def string(self, value: Any, path: Path_, nonempty: bool = True) -> str:
        if not isinstance(value, str) or (nonempty and not value.strip()):
            self.fail(path, f"must be a non-empty string, got {value!r}", "write text")
        return value

    def ident(self, value: Any, path: Path_) -> str:
        s = self.string(value, path)
        if not all(ch.isalnum() or ch in "_-" for ch in s):
            self.fail(path, f"'{s}' is not an identifier", "use letters, digits, '_' or '-'")
        return s

    def number(self, value: Any, path: Path_, minimum: float, strict: bool, maximum: float = math.inf) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            try:
                v = float(value)
            except OverflowError:  # an integer beyond any float
                v = math.inf
            ok = math.isfinite(v) and (v > minimum if strict else v >= minimum) and v <= maximum
        if not ok:
            rel = ">" if strict else ">="
            upto = f" and <= {maximum:g}" if math.isfinite(maximum) else ""
            self.fail(path, f"must be a finite number {rel} {minimum:g}{upto}, got {value!r}",
                      f"set a number {rel} {minimum:g}{upto}")
        return float(value)

    def json_value(self, value: Any, path: Path_) -> Any:
        """Plain YAML data that the study database can store as JSON (no binary, no non-string keys)."""
        try:
            json.dumps(value, sort_keys=True)
        except (TypeError, ValueError):
            self.fail(path, "holds a value that cannot be stored (binary data or a non-text key)",
                      "use numbers, text, lists and mappings with text keys")
        except RecursionError:
            self.fail(path, "is nested too deeply", "flatten it")
        return value

    def integer(self, value: Any, path: Path_) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(path, f"must be an integer, got {value!r}", "write a whole number")
        return int(value)

    def choice(self, value: Any, path: Path_, options: tuple[str, ...]) -> str:
        if value not in options:
            self.fail(path, f"'{value}' is not allowed", f"use one of {list(options)}")
        return str(value)

    def seq(self, value: Any, path: Path_, min_len: int = 1) -> list[Any]:
        if not isinstance(value, list) or len(value) < min_len:
            self.fail(path, f"must be a list of at least {min_len} entr{'y' if min_len == 1 else 'ies'}", "add entries")
        return value

    def boolean(self, value: Any, path: Path_) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {value!r}", "write true or false")
        return value


def _order(v: _V, value: Any, path: Path_, seed: int) -> OrderSpec:
    if isinstance(value, str):
        return OrderSpec(method=v.choice(value, path, ORDER_METHODS), seed=seed)
    m = v.mapping(value, path)
    v.keys(m, path, {"method", "seed"}, {"method"})
    method = v.choice(m["method"], path + ("method",), ORDER_METHODS)
    s = v.integer(m.get("seed", seed), path + ("seed",))
    return OrderSpec(method=method, seed=s)


def _condition(v: _V, value: Any, path: Path_, policies: tuple[str, ...]) -> Condition:
    m = v.mapping(value, path)
    v.keys(m, path, {"id", "policy", "params", "label", "duration_s", "utterances"}, {"id", "policy"})
    cid = v.ident(m["id"], path + ("id",))
    policy = v.string(m["policy"], path + ("policy",))
    if policy not in policies and ":" not in policy:  # module:Class loads a third-party policy (docs/architecture.md §2)
        v.fail(path + ("policy",), f"unknown policy '{policy}'", f"use one of {list(policies)} or module:Class")
    params = v.json_value(v.mapping(m.get("params", {}) or {}, path + ("params",)), path + ("params",))
    dur = m.get("duration_s")
    duration = None if dur is None else v.number(dur, path + ("duration_s",), 0.0, strict=True,
                                                  maximum=MAX_DURATION_S)
    label = v.string(m.get("label", cid), path + ("label",))
    script = v.string(m.get("utterances", ""), path + ("utterances",), nonempty=False)
    if script and not _relative_to(v.doc.source, script).is_file():
        v.fail(path + ("utterances",), f"utterance script '{script}' not found",
               "give a `t_seconds<TAB>text` file, relative to the protocol file")
    if script:  # read it now, so a bad line fails before any trial touches the study database
        from fep_motion.session.dialogue import load_script
        from fep_motion.session.errors import SessionError

        try:
            load_script(_relative_to(v.doc.source, script))
        except SessionError as exc:
            v.fail(path + ("utterances",), f"utterance script is malformed ({exc})", "fix that line of the script")
    return Condition(id=cid, policy=policy, params=dict(params), label=label, duration_s=duration, utterances=script)


def _relative_to(protocol_source: str, path: str) -> Path:
    """A path written in a protocol, resolved against the protocol file's folder."""
    p = Path(path)
    return p if p.is_absolute() else Path(protocol_source).parent / p


def _block(v: _V, value: Any, path: Path_) -> QuestionnaireBlock:
    m = v.mapping(value, path)
    v.keys(m, path, {"id", "kind", "title", "scale", "anchors", "items", "instructions"}, {"id", "kind", "scale", "items"})
    bid = v.ident(m["id"], path + ("id",))
    kind = v.choice(m["kind"], path + ("kind",), QUESTIONNAIRE_KINDS)
    sc = m["scale"]
    if not (isinstance(sc, list) and len(sc) == 2):
        v.fail(path + ("scale",), f"must be [low, high], got {sc!r}", "write e.g. [1, 7]")
    lo = v.integer(sc[0], path + ("scale", 0))
    hi = v.integer(sc[1], path + ("scale", 1))
    if hi - lo < 1:
        v.fail(path + ("scale",), f"high ({hi}) must exceed low ({lo})", "write e.g. [1, 7]")
    anchors: tuple[str, str] = ("", "")
    if "anchors" in m:
        a = m["anchors"]
        if not (isinstance(a, list) and len(a) == 2):
            v.fail(path + ("anchors",), f"must be [low label, high label], got {a!r}", "write two labels")
        anchors = (v.string(a[0], path + ("anchors", 0)), v.string(a[1], path + ("anchors", 1)))
    items: list[Item] = []
    seen: set[str] = set()
    for i, it in enumerate(v.seq(m["items"], path + ("items",))):
        ip = path + ("items", i)
        im = v.mapping(it, ip)
        need = {"id", "text"} if kind == "likert" else {"id", "left", "right"}
        v.keys(im, ip, {"id", "text", "left", "right", "reverse"}, need)
        iid = v.ident(im["id"], ip + ("id",))
        if iid in seen:
            v.fail(ip + ("id",), f"duplicate item id '{iid}'", "give each item a unique id")
        seen.add(iid)
        items.append(Item(
            id=iid,
            text=v.string(im["text"], ip + ("text",)) if "text" in im else "",
            left=v.string(im["left"], ip + ("left",)) if "left" in im else "",
            right=v.string(im["right"], ip + ("right",)) if "right" in im else "",
            reverse=v.boolean(im.get("reverse", False), ip + ("reverse",)),
        ))
    return QuestionnaireBlock(
        id=bid, kind=kind, scale=(lo, hi), items=tuple(items), anchors=anchors,
        title=v.string(m.get("title", bid), path + ("title",)),
        instructions=v.string(m.get("instructions", ""), path + ("instructions",), nonempty=False),
    )


def protocol_from_doc(doc: YamlDoc) -> Protocol:
    """Validate a parsed YAML document into a Protocol (first error wins, naming field and line)."""
    v = _V(doc)
    root = v.mapping(doc.data, ())
    allowed = {"name", "description", "seed", "order", "trial_duration_s", "instructions", "break_s",
               "conditions", "questionnaires", "administer"}
    v.keys(root, (), allowed, {"name", "conditions", "trial_duration_s"})
    name = v.ident(root["name"], ("name",))
    seed = v.integer(root.get("seed", 0), ("seed",))
    duration = v.number(root["trial_duration_s"], ("trial_duration_s",), 0.0, strict=True, maximum=MAX_DURATION_S)
    policies = known_policies()
    conds = [_condition(v, c, ("conditions", i), policies) for i, c in enumerate(v.seq(root["conditions"], ("conditions",)))]
    ids = [c.id for c in conds]
    for i, cid in enumerate(ids):
        if cid in ids[:i]:
            v.fail(("conditions", i, "id"), f"duplicate condition id '{cid}'", "give each condition a unique id")
    blocks = [_block(v, b, ("questionnaires", i)) for i, b in enumerate(v.seq(root.get("questionnaires", []) or [],
                                                                               ("questionnaires",), min_len=0))]
    bids = [b.id for b in blocks]
    for i, bid in enumerate(bids):
        if bid in bids[:i]:
            v.fail(("questionnaires", i, "id"), f"duplicate questionnaire id '{bid}'", "give each block a unique id")
    return Protocol(
        name=name,
        description=v.string(root.get("description", ""), ("description",), nonempty=False),
        conditions=tuple(conds),
        trial_duration_s=duration,
        order=_order(v, root.get("order", "latin_square"), ("order",), seed),
        instructions=v.string(root.get("instructions", ""), ("instructions",), nonempty=False),
        break_s=v.number(root.get("break_s", 0.0), ("break_s",), 0.0, strict=False, maximum=MAX_DURATION_S),
        questionnaires=tuple(blocks),
        administer=v.choice(root.get("administer", "after_each_trial"), ("administer",), ADMINISTER),
        source=doc.source,
        condition_lines=tuple(doc.line(("conditions", i)) for i in range(len(conds))),
    )


def load_protocol(path: str | Path) -> Protocol:
    """Load and validate a protocol YAML file; any problem raises a one-line ExperimentError."""
    return protocol_from_doc(load_yaml(path, what="protocol"))


def parse_protocol(text: str, source: str = "<protocol>") -> Protocol:
    """Validate protocol YAML text (tests, embedded protocols)."""
    return protocol_from_doc(parse_yaml(text, source))
