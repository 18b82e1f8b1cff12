"""The gesture library and its registry: every primitive by name, with its parameter ranges and gesture class.

Primitives are joint-space offsets over DOF_NAMES layered on idle motion; `MotionTimeline` (timeline.py) mixes them.
"""

from __future__ import annotations

from sampling.primitives.arms import Beat, Wave, Welcome
from sampling.primitives.base import (
    DOF,
    DOF_GROUPS,
    DOF_NAMES,
    GESTURE_CLASSES,
    NUM_DOF,
    MotionCommand,
    ParamRange,
    Primitive,
    PrimitiveError,
)
from sampling.primitives.head import DoubleNod, HeadShake, HeadTilt, Nod
from sampling.primitives.idle import REST_POSE, Idle, IdleMotion
from sampling.primitives.torso import LeanBack, LeanForward

_REGISTRY: dict[str, Primitive] = {}


def register_primitive(primitive: Primitive, replace: bool = False) -> Primitive:
    """Add a primitive under its name; a duplicate name or an unknown gesture_class raises PrimitiveError."""
    if not primitive.name:
        raise PrimitiveError(f"{type(primitive).__name__} has no name")
    if primitive.gesture_class not in GESTURE_CLASSES:
        raise PrimitiveError(
            f"primitive '{primitive.name}' gesture_class '{primitive.gesture_class}' not in {GESTURE_CLASSES}"
        )
    if primitive.name in _REGISTRY and not replace:
        raise PrimitiveError(f"primitive '{primitive.name}' is already registered (pass replace=True)")
    _REGISTRY[primitive.name] = primitive
    return primitive


def unregister_primitive(name: str) -> None:
    """Remove a registered primitive (plugins and tests); unknown names raise PrimitiveError."""
    get_primitive(name)
    del _REGISTRY[name]


def get_primitive(name: str) -> Primitive:
    """The registered primitive called name; unknown names raise PrimitiveError listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise PrimitiveError(f"unknown primitive '{name}' (known: {', '.join(sorted(_REGISTRY))})") from None


def all_primitives() -> list[Primitive]:
    """Every registered primitive, in registration order."""
    return list(_REGISTRY.values())


def primitive_names() -> list[str]:
    return list(_REGISTRY)


for _p in (
    Idle(),
    Nod(),
    DoubleNod(),
    HeadTilt(),
    HeadShake(),
    LeanForward(),
    LeanBack(),
    Wave(),
    Beat(),
    Welcome(),
):
    register_primitive(_p)

from sampling.primitives.timeline import MotionTimeline

__all__ = [
    "DOF",
    "DOF_GROUPS",
    "DOF_NAMES",
    "GESTURE_CLASSES",
    "NUM_DOF",
    "REST_POSE",
    "IdleMotion",
    "MotionCommand",
    "MotionTimeline",
    "ParamRange",
    "Primitive",
    "PrimitiveError",
    "all_primitives",
    "get_primitive",
    "primitive_names",
    "register_primitive",
    "unregister_primitive",
]
