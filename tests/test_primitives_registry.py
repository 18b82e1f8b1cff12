"""The gesture registry: names, classes, parameter ranges, and errors users see."""

from __future__ import annotations

import numpy as np
import pytest

from sampling.primitives import (
    GESTURE_CLASSES,
    NUM_DOF,
    ParamRange,
    Primitive,
    PrimitiveError,
    all_primitives,
    get_primitive,
    primitive_names,
    register_primitive,
    unregister_primitive,
)

REQUIRED = {
    "idle",
    "nod",
    "double_nod",
    "head_tilt",
    "head_shake",
    "lean_forward",
    "lean_back",
    "wave",
    "beat",
    "welcome",
}


def test_library_has_every_required_gesture_with_a_known_class():
    names = set(primitive_names())
    assert REQUIRED <= names
    for prim in all_primitives():
        assert prim.gesture_class in GESTURE_CLASSES
        assert get_primitive(prim.name) is prim
    # Every gesture class the agent reasons about has at least one primitive.
    assert {p.gesture_class for p in all_primitives()} == set(GESTURE_CLASSES)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(PrimitiveError) as exc:
        get_primitive("salute")
    assert "salute" in str(exc.value) and "nod" in str(exc.value) and "wave" in str(exc.value)


def test_ranges_are_consistent_and_defaults_inside():
    for prim in all_primitives():
        assert prim.ranges, prim.name
        for r in prim.ranges:
            assert r.low <= r.default <= r.high, (prim.name, r)
        assert prim.duration(prim.defaults()) > 0


def test_resolve_rejects_unknown_and_out_of_range_parameters_by_name():
    nod = get_primitive("nod")
    with pytest.raises(PrimitiveError, match="no parameter 'speed'"):
        nod.resolve({"speed": 1.0})
    with pytest.raises(PrimitiveError, match="amplitude"):
        nod.resolve({"amplitude": 2.0})
    with pytest.raises(PrimitiveError):
        nod.resolve({"tempo": float("nan")})
    assert nod.resolve({"cycles": 3})["cycles"] == 3


def test_durations_follow_parameters():
    nod = get_primitive("nod")
    assert nod.duration({"cycles": 3, "tempo": 1.5}) == pytest.approx(2.0)
    assert nod.duration({"cycles": 4}) > nod.duration({"cycles": 1})
    assert get_primitive("head_tilt").duration({"hold": 2.0}) > get_primitive("head_tilt").duration(
        {"hold": 0.5}
    )


class _Shrug(Primitive):
    name = "test_shrug"
    gesture_class = "beat"
    ranges = (ParamRange("amplitude", 0.0, 0.2, 0.1),)

    def duration(self, params):
        return 1.0

    def offsets(self, t, params):
        return np.zeros((len(np.atleast_1d(t)), NUM_DOF))


def test_register_new_primitive_and_reject_duplicates():
    p = register_primitive(_Shrug())
    try:
        assert get_primitive("test_shrug") is p and p in all_primitives()
        with pytest.raises(PrimitiveError, match="already registered"):
            register_primitive(_Shrug())
    finally:
        unregister_primitive("test_shrug")
    assert "test_shrug" not in primitive_names()


def test_register_rejects_unknown_gesture_class():
    bad = _Shrug()
    bad.gesture_class = "dance"
    with pytest.raises(PrimitiveError, match="gesture_class"):
        register_primitive(bad)
