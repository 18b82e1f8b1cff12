"""Policies by name: built-ins, third-party packages (entry-point group `fep_motion.policies`), or `module:Class`."""
from __future__ import annotations

import importlib
import inspect
from importlib import metadata
from typing import Any

from fep_motion.policies.base import MotionPolicy, PolicyError

ENTRY_POINT_GROUP = "fep_motion.policies"

BUILTIN_POLICIES: dict[str, str] = {
    "fep": "fep_motion.policies.fep_policy:FepPolicy",
    "random": "fep_motion.policies.random_policy:RandomPolicy",
    "mimic": "fep_motion.policies.mimic:MimicPolicy",
    "reactive": "fep_motion.policies.reactive:ReactivePolicy",
    "idle": "fep_motion.policies.idle:IdlePolicy",
    "oracle": "fep_motion.policies.oracle:OraclePolicy",  # simulations only: reads the virtual participant
}


def entry_point_policies() -> dict[str, str]:
    """name -> 'module:Class' for every installed distribution's `fep_motion.policies` entry point."""
    return {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available_policies() -> dict[str, str]:
    """Every selectable policy name -> 'module:Class' (built-ins win over a third-party name clash)."""
    out = dict(entry_point_policies())
    out.update(BUILTIN_POLICIES)
    return out


def _import(spec: str) -> Any:
    mod_name, _, attr = spec.partition(":")
    if not mod_name or not attr:
        raise PolicyError(f"policy '{spec}': expected a name or module:Class")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as exc:
        raise PolicyError(f"policy '{spec}': cannot import module '{mod_name}' ({exc}); is its package installed?") \
            from None
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PolicyError(f"policy '{spec}': module '{mod_name}' has no '{attr}'")
        obj = getattr(obj, part)
    return obj


def load_policy_class(spec: str) -> type[MotionPolicy]:
    """A policy class from a registered name or 'module:Class'; unknown names list what is available."""
    known = available_policies()
    if spec in known:
        target = known[spec]
    elif ":" in spec:
        target = spec
    else:
        raise PolicyError(f"unknown policy '{spec}' (available: {', '.join(sorted(known))}; or give module:Class)")
    cls = _import(target)
    if not inspect.isclass(cls) or not all(callable(getattr(cls, m, None)) for m in ("reset", "step")):
        raise PolicyError(f"policy '{spec}' ({target}) is not a class with reset(seed) and step(observation, now)")
    return cls


def make_policy(spec: str, **params: Any) -> MotionPolicy:
    """Instantiate a policy by name or 'module:Class' with keyword parameters; bad parameters raise PolicyError."""
    cls = load_policy_class(spec)
    try:
        return cls(**params)
    except PolicyError:
        raise
    except TypeError as exc:
        raise PolicyError(f"policy '{spec}': bad parameters {sorted(params)}: {exc}") from None
    except ValueError as exc:  # a config/primitive error inside the policy: keep its message, name the policy
        raise PolicyError(f"policy '{spec}': {exc}") from None


def describe_policy(spec: str) -> str:
    """The first docstring line of a policy class (for `fep-motion policies`)."""
    try:
        cls = load_policy_class(spec)
    except PolicyError as exc:
        return f"(unavailable: {exc})"
    doc = inspect.getdoc(cls) or ""
    return doc.splitlines()[0] if doc else ""
