"""Fuzzing the files users hand to fep-motion (hypothesis, derandomized: the same cases every run).

Valid protocol, cohort, agent, virtual-participant, perception and brain YAML files and utterance scripts are mutated
(wrong types, missing and extra keys, huge numbers, NaN, empty strings, unicode, deep nesting, binary bytes, raw byte
damage). Each case must either load, or fail with one line naming the file (and, for a mutated field, that field);
the command that takes the file then exits with code 2 and one stderr line, and the study database next to it is
byte-for-byte unchanged. Cases per file kind are in CASES (at least 2,000 in all per run).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import main, user_error_types

REPO = Path(__file__).parents[1]
PROTOCOL = REPO / "examples" / "protocols" / "horibe2022_two_conditions.yaml"
CASES: dict[str, int] = {"protocol": 400, "cohort": 300, "agent": 300, "participant": 300, "perception": 250,
                         "brain": 250, "utterances": 250, "protocol_script": 150}
FUZZ = settings(max_examples=1, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])

# ---- hostile values --------------------------------------------------------------------------------------------------
HUGE = st.sampled_from([10**30, -10**30, 2**63, 1e308, -1e308, float("inf"), float("-inf"), float("nan"), 1e-320])
TEXT = st.one_of(st.just(""), st.just(" "), st.text(max_size=30),
                 st.sampled_from(["日本語のテキスト", "🙂🙃", "\u202e\u0000x", "ß" * 5000, "null", "~", "1e999"]))


def _deep(depth: int, leaf: Any = 1) -> Any:
    v: Any = leaf
    for i in range(depth):
        v = [v] if i % 2 else {"a": v}
    return v


HOSTILE = st.one_of(
    HUGE, TEXT, st.booleans(), st.none(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=16),  # dumped as !!binary, loaded back as bytes
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.integers(5, 60).map(_deep),
)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a YAML document (mapping keys and list indices)."""
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, prefix + (i,))
    return out


def _get(data: Any, path: tuple) -> Any:
    for p in path:
        data = data[p]
    return data


@dataclass
class Mutation:
    """One fuzz case: the file bytes, and the mapping path it damaged (None for damage not tied to a field)."""

    content: bytes
    path: tuple | None
    op: str


@st.composite
def yaml_mutation(draw: st.DrawFn, base: Any) -> Mutation:
    """A valid document with one field replaced, removed or added, or the whole text damaged."""
    import copy

    op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "extra", "root", "bytes", "truncate",
                               "deep", "duplicate"]))
    text = yaml.safe_dump(base, allow_unicode=True, sort_keys=False)
    if op == "bytes":  # binary garbage spliced into the text
        raw = text.encode()
        at = draw(st.integers(0, len(raw)))
        return Mutation(raw[:at] + draw(st.binary(min_size=1, max_size=12)) + raw[at:], None, op)
    if op == "truncate":
        raw = text.encode()
        return Mutation(raw[:draw(st.integers(0, len(raw)))], None, op)
    if op == "deep":  # nesting far past any sane document (and Python's recursion limit)
        depth = draw(st.sampled_from([200, 1000, 5000]))
        return Mutation(("a: " + "[" * depth + "]" * depth + "\n").encode(), None, op)
    if op == "duplicate":
        first = text.splitlines()[0] if text.strip() else "x: 1"
        return Mutation((text + first + "\n").encode(), None, op)
    data = copy.deepcopy(base)
    if op == "root":
        return Mutation(yaml.safe_dump(draw(HOSTILE), allow_unicode=True).encode(), (), op)
    paths = [p for p in _paths(data) if p]
    path = draw(st.sampled_from(paths)) if paths else ()
    if op == "replace" and path:
        _get(data, path[:-1])[path[-1]] = draw(HOSTILE)
    elif op == "delete" and path:
        parent = _get(data, path[:-1])
        del parent[path[-1]]
    else:  # an extra key in a mapping on the path (or at the root)
        maps = [p for p in [()] + paths if isinstance(_get(data, p), dict)]
        path = draw(st.sampled_from(maps))
        key = draw(st.one_of(st.text(min_size=1, max_size=12), st.integers(), st.just("ünknöwn")))
        if key in _get(data, path):
            key = f"{key}_extra"
        _get(data, path)[key] = draw(HOSTILE)
        path = path + (key,)
        op = "extra"
    return Mutation(yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode(), path, op)


@st.composite
def script_mutation(draw: st.DrawFn) -> Mutation:
    """An utterance script (`t_seconds<TAB>text` lines) with hostile times, texts, separators and bytes."""
    times = st.one_of(st.floats(0, 600).map(lambda x: f"{x:.2f}"), st.sampled_from(
        ["nan", "inf", "-1", "1e999", "", " ", "abc", "0x10", "1_0", "１２", "-0", "1e-400"]), TEXT)
    texts = st.one_of(st.just("I agree, good idea."), TEXT, st.just("x" * 100_000))
    line = st.one_of(st.tuples(times, texts).map(lambda tt: f"{tt[0]}\t{tt[1]}"), TEXT,
                     st.just("# a comment"), st.just(""), st.tuples(times, texts).map(lambda tt: f"{tt[0]} {tt[1]}"))
    lines = draw(st.lists(line, min_size=0, max_size=8))
    raw = "\n".join(["1.0\tHello there."] + lines).encode("utf-8", "surrogatepass")
    if draw(st.booleans()) and draw(st.booleans()):
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    return Mutation(raw, None, "script")


# ---- what each file kind is, how it loads, which command takes it ----------------------------------------------------
@dataclass
class Target:
    """A file kind: its valid base, its loader, and the fep-motion command line that reads it (FILE, DB, DIR)."""

    name: str
    base: Any
    load: Callable[[Path], Any]
    argv: Callable[[Path, Path], list[str]]
    suffix: str = ".yaml"


def _perception_base() -> Any:
    from perception.config import PerceptionConfig

    return yaml.safe_load(yaml.safe_dump(_plain(dataclasses.asdict(PerceptionConfig()))))


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _targets() -> dict[str, Target]:
    from cli.brain import load_brain_config
    from experiments.cohort import load_cohort
    from experiments.protocol import load_protocol
    from experiments.vp_config import load_config as load_vp
    from fep_motion.model.config import load_agent_config
    from fep_motion.session.dialogue import load_script
    from perception.config import load_config as load_perception

    def sim(*extra: str) -> Callable[[Path, Path], list[str]]:
        return lambda f, db: ["experiment", "simulate", *[str(f) if x == "FILE" else x for x in extra],
                              "--n", "1", "--store", str(db)]

    return {
        "protocol": Target("protocol", yaml.safe_load(PROTOCOL.read_text()), load_protocol, sim("FILE")),
        "cohort": Target("cohort", yaml.safe_load((REPO / "examples" / "cohorts" / "default.yaml").read_text()),
                         load_cohort, sim(str(PROTOCOL), "--cohort", "FILE")),
        "agent": Target("agent", yaml.safe_load((REPO / "fep_motion" / "agent.yaml").read_text()),
                        load_agent_config, lambda f, db: ["agent", "config", "--config", str(f)]),
        "participant": Target("participant", {
            "nod_rate": 3.0, "gesture_rate": 1.5, "nod_tempo": 2.0, "image_size": [640, 480],
            "contingencies": {"nod": {"probability": 0.7, "latency_mean": 1.0, "latency_sd": 0.3, "response": "nod"},
                              "wave": {"probability": 0.6, "latency_mean": 1.2, "latency_sd": 0.4,
                                       "response": "gesture"}},
            "engagement_tau": 15.0, "dropout_rate": 1.0}, load_vp,
            lambda f, db: ["experiment", "run", str(PROTOCOL), "--participant", "V99", "--virtual", str(f),
                           "--questionnaire", "virtual", "--engine", "events", "--store", str(db)]),
        "perception": Target("perception", _perception_base(), load_perception,
                             lambda f, db: ["perceive", str(db.parent / "no-such-video.mp4"), "--config", str(f),
                                            "--out", str(db.parent / "features.csv")]),
        "brain": Target("brain", {"backend": "embedded", "timeout_s": 10.0, "temperature": 0.0, "max_tokens": 96,
                                  "history_turns": 0, "fallback_intent": "listen", "fallback_reply": "Mm-hm."},
                        load_brain_config, lambda f, db: ["brain", "ask", "Hello", "--config", str(f)]),
        "protocol_script": Target("protocol_script", None, lambda f: load_protocol(_protocol_saying(f)),
                                  lambda f, db: ["experiment", "run", str(_protocol_saying(f)), "--participant",
                                                 "V99", "--virtual", "default", "--questionnaire", "virtual",
                                                 "--engine", "loop", "--store", str(db)], suffix=".tsv"),
        "utterances": Target("utterances", None, load_script,
                             lambda f, db: ["demo", "--fast", "--no-video", "--duration", "1", "--utterances", str(f),
                                            "--out", str(db.parent)], suffix=".tsv"),
    }


SYNTHETIC = None  # a 2 s synthetic pose stream with a nod, built once (perception.synthetic)


def use(kind: str, obj: Any) -> None:
    """What the program does next with a loaded file, in miniature: it must not fail on anything that loaded."""
    if kind == "protocol":
        from experiments.order import condition_order

        for i in range(3):
            assert sorted(condition_order(obj, i)) == sorted(c.id for c in obj.conditions)
        assert obj.digest() and all(0 < obj.duration_of(c.id) <= 86_400 for c in obj.conditions)
    elif kind == "cohort":
        obj.sample(1)
    elif kind == "participant":
        from experiments.virtual_participant import VirtualParticipant

        vp = VirtualParticipant(obj, seed=0)
        poses = [vp.pose(i / 30) for i in range(30)]
        assert all(p.landmarks.shape == (33, 4) for p in poses)
    elif kind == "perception":
        from perception.pipeline import Perception
        from perception.synthetic import SyntheticSpec, generate

        global SYNTHETIC
        SYNTHETIC = SYNTHETIC or generate(SyntheticSpec(duration_s=2.0, kinds=("nod",)), seed=0)
        per = Perception(create_pose=False, filter_config=obj.filter, feature_config=obj.features,
                         event_params=obj.events)
        for pose in SYNTHETIC.frames:
            per.process_pose(pose)
    elif kind == "brain":
        from llm.brain.brain import Brain

        Brain(obj).close()  # builds the backend (nothing is generated, no server is contacted)
    elif kind == "protocol_script":
        assert obj.utterance_script(obj.conditions[0].id) is not None
    elif kind == "utterances":
        assert all(math.isfinite(line.t) and line.t >= 0 and line.text for line in obj)


def _protocol_saying(script: Path) -> Path:
    """The shipped two-condition protocol with `script` as its first condition's utterances, next to the script."""
    data = yaml.safe_load(PROTOCOL.read_text())
    data["conditions"][0]["utterances"] = script.name
    p = script.parent / "protocol.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study database with a simulated participant in it (what a fuzzed command must never touch)."""
    d = tmp_path_factory.mktemp("study")
    db = d / "study.db"
    assert main(["experiment", "simulate", str(PROTOCOL), "--n", "1", "--store", str(db)]) == 0
    return db


def _digest(db: Path) -> str:
    h = hashlib.sha256()
    for suffix in ("", "-wal"):
        p = Path(str(db) + suffix)
        h.update(p.read_bytes() if p.exists() else b"<none>")
    return h.hexdigest()


def _names_field(msg: str, path: tuple | None) -> bool:
    """The message names the mutated field: one of the path's keys (or a list position under it), or a line."""
    if not path:
        return True
    keys = [str(p) for p in path if not isinstance(p, int)]
    names_index = isinstance(path[-1], int) and f"[{path[-1]}]" in msg
    return any(k in msg or repr(k)[1:-1] in msg for k in keys) or names_index or not keys


def check_case(target: Target, m: Mutation, work: Path, db: Path, stats: dict[str, int]) -> None:
    """Load the mutated file; on a user error, run its command: exit 2, one stderr line, database unchanged."""
    f = work / f"{target.name}{target.suffix}"
    f.write_bytes(m.content)
    stats["cases"] += 1
    try:
        loaded = target.load(f)
    except user_error_types() as exc:
        msg = str(exc)
        assert "\n" not in msg.strip(), f"multi-line error for {m.op} {m.path}: {msg!r}"
        assert str(f) in msg or f.name in msg, f"error does not name the file ({m.op} {m.path}): {msg}"
        if m.op in ("replace", "delete", "extra"):
            assert _names_field(msg, m.path), f"error does not name the field {m.path}: {msg}"
        stats["errors"] += 1
    else:
        stats["loaded"] += 1
        use(target.name, loaded)
        return
    before = _digest(db)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = main(target.argv(f, db))
    lines = err.getvalue().strip().splitlines()
    assert rc == 2, f"exit {rc} for {m.op} {m.path}: {err.getvalue()[-500:]}"
    assert len(lines) == 1 and "Traceback" not in lines[0], err.getvalue()[-500:]
    assert _digest(db) == before, f"study database changed by a rejected {target.name} file ({m.op} {m.path})"


@pytest.mark.parametrize("kind", list(CASES))
def test_fuzzed_input_loads_or_fails_with_one_line(kind: str, study: Path, tmp_path: Path) -> None:
    target = _targets()[kind]
    if target.base is not None:
        base = tmp_path / f"base{target.suffix}"
        base.write_text(yaml.safe_dump(target.base, allow_unicode=True, sort_keys=False))
        use(kind, target.load(base))  # the unmutated file loads and works
    work = tmp_path / "work"
    work.mkdir()
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    db = db_dir / "study.db"
    shutil.copy(study, db)
    stats = {"cases": 0, "errors": 0, "loaded": 0}
    strategy = script_mutation() if target.base is None else yaml_mutation(target.base)

    @settings(FUZZ, max_examples=CASES[kind])
    @given(m=strategy)
    def run(m: Mutation) -> None:
        check_case(target, m, work, db, stats)

    run()
    assert stats["cases"] >= CASES[kind], stats
    assert stats["errors"] > 0.2 * stats["cases"] and stats["loaded"] > 0, stats  # both outcomes were exercised


def test_case_budget_is_at_least_2000() -> None:
    assert sum(CASES.values()) >= 2000
