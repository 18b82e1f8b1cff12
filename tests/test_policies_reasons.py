"""DECISION_REASONS is the complete list of the built-in policies' decision reasons: every reason their code can give
is in it, every entry is given by some policy, and the reasons of real runs are in it."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from experiments.vp_config import Contingency, VirtualParticipantConfig
from fep_motion.policies import BUILTIN_POLICIES, DECISION_REASONS, make_policy
from perception.types import FEATURE_INDEX, FEATURE_NAMES, HumanEvent, Observation
from sampling.primitives import get_primitive

FPS = 30


def _reason_literals(tree: ast.AST) -> set[str]:
    """String constants that become a reason: `reason="x"` in a call, `reason = "x"`, a `reason` parameter's default,
    and `return "x"` in a function whose name says reason."""
    out: set[str] = set()

    def text(node: ast.AST | None) -> str | None:
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            out |= {v for kw in node.keywords if kw.arg == "reason" and (v := text(kw.value))}
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "reason" for t in node.targets):
            out |= {v for v in [text(node.value)] if v}
        elif isinstance(node, ast.FunctionDef):
            args = node.args.args[len(node.args.args) - len(node.args.defaults):]
            out |= {v for a, d in zip(args, node.args.defaults) if a.arg == "reason" and (v := text(d))}
            if "reason" in node.name:
                out |= {v for r in ast.walk(node) if isinstance(r, ast.Return) and (v := text(r.value))}
    return out


def test_every_reason_in_the_code_is_listed_and_every_listed_reason_is_given():
    given: dict[str, set[str]] = {}
    for name, spec in BUILTIN_POLICIES.items():
        path = Path(importlib.import_module(spec.split(":")[0]).__file__)
        given[name] = _reason_literals(ast.parse(path.read_text(encoding="utf-8")))
    assert {"start", "gesture_end", "wait_end", "human_event", "hazard", "manual"} <= given["fep"]
    unlisted = {(name, r) for name, rs in given.items() for r in rs if r not in DECISION_REASONS}
    assert not unlisted, f"reasons missing from DECISION_REASONS: {sorted(unlisted)}"
    assert set(DECISION_REASONS) == set().union(*given.values()), "DECISION_REASONS lists a reason no policy gives"


def _participant() -> SimpleNamespace:
    cfg = VirtualParticipantConfig()
    cfg.contingencies = {c: Contingency(0.9 if c == "nod" else 0.05) for c in cfg.contingencies}
    return SimpleNamespace(config=cfg)


def _run(policy, seconds: float) -> list[str]:
    """Step a policy for `seconds` with a human who nods every 4 s in the first half and is still otherwise; the body is
    busy for each command's duration. Returns the reasons of its decisions."""
    policy.reset(3)
    n = len(FEATURE_NAMES)
    reasons, busy = [], -1.0
    for i in range(int(seconds * FPS)):
        t = i / FPS
        f = np.zeros(n)
        f[FEATURE_INDEX["facing"]] = 0.9
        nod = i % (4 * FPS) == 2 * FPS and t < seconds / 2
        events = [HumanEvent("nod", t, cycles=2, magnitude=0.3)] if nod else []
        obs = Observation(t=t, features=f, mask=np.ones(n, bool), confidence=np.full(n, 0.9), events=events)
        cmd, rec, _ = policy.step_frame(obs, t, body_busy=t < busy)
        if cmd is not None:
            busy = cmd.onset + get_primitive(cmd.primitive).duration(cmd.params)
        if rec is not None:
            reasons.append(rec.reason)
    return reasons


def test_reasons_of_real_runs_are_listed():
    seen: dict[str, set[str]] = {}
    for name in BUILTIN_POLICIES:
        kwargs: dict = {"num_candidates": 32} if name == "fep" else {}
        policy = make_policy(name, **kwargs)
        if name == "oracle":
            policy.bind_participant(_participant())
        seen[name] = set(_run(policy, 40.0))
    assert all(r in DECISION_REASONS for rs in seen.values() for r in rs), seen
    assert {"start", "gesture_end"} <= seen["fep"] and {"human_nod", "stillness"} <= seen["reactive"]
    assert seen["mimic"] == {"mimic"} and seen["idle"] == set()
