"""Intent -> bounded shifts of the agent's habits E and preferences C (docs/architecture.md §6: greet -> wave habit,
agree -> nod habit, listen -> backchannel preference, ...). Pure functions; the agent adds the deltas to its
log-weights.

The brain never drives joints: an intent only re-weights which gestures the agent favours (E, log habit weights over
gesture classes) and which human responses it prefers to cause (C, log-preferences over outcomes), within bounds,
and the shift fades with a half-life so the conversation's influence is temporary.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

# Base shifts in log units at strength 1. Keys: gesture classes (sampling.primitives.base.GESTURE_CLASSES) for E;
# (modality, outcome) of the agent's generative model (fep_motion.model.spaces.MODALITIES) for C.
HABIT_SHIFTS: dict[str, dict[str, float]] = {
    "greet": {"wave": 1.0, "welcome": 0.5},
    "farewell": {"wave": 1.0, "nod": 0.3},
    "agree": {"nod": 1.0, "shake": -1.0},
    "listen": {"nod": 0.5, "tilt": 0.3, "beat": -0.5, "wave": -0.5},
    "ask": {"tilt": 0.8, "lean": 0.3},
    "encourage": {"nod": 0.5, "lean": 0.5, "welcome": 0.3},
    "explain": {"beat": 1.0},
}
PREFERENCE_SHIFTS: dict[str, dict[tuple[str, str], float]] = {
    "greet": {("facing", "toward"): 0.5, ("event", "gesture"): 0.5},
    "farewell": {("event", "gesture"): 0.3},
    "agree": {("event", "nod"): 0.5},
    "listen": {("event", "nod"): 0.5, ("arms", "moving"): 0.5},   # backchannel: the human keeps talking
    "ask": {("event", "gesture"): 0.5, ("arms", "moving"): 0.3},
    "encourage": {("facing", "toward"): 1.0, ("event", "nod"): 0.3},
    "explain": {("facing", "toward"): 0.5},
}


@dataclass(frozen=True)
class SteeringBounds:
    """Largest absolute shift the brain may apply to one habit / one preference (log units), and its half-life."""

    max_habit: float = 1.0
    max_preference: float = 1.0
    half_life_s: float = 20.0

    def __post_init__(self) -> None:
        for name in ("max_habit", "max_preference", "half_life_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"steering bounds: {name} must be a finite number >= 0, got {v!r}")


@dataclass(frozen=True)
class IntentShift:
    """Additive deltas: habits[gesture] to E, preferences[(modality, outcome)] to C."""

    intent: str
    habits: dict[str, float] = field(default_factory=dict)
    preferences: dict[tuple[str, str], float] = field(default_factory=dict)


def _clip(x: float, bound: float) -> float:
    return max(-bound, min(bound, x))


def intent_shift(intent: str, strength: float = 1.0, bounds: SteeringBounds = SteeringBounds()) -> IntentShift:
    """The shift for `intent` scaled by `strength` in [0, 1] (e.g. recency or confidence), clipped to `bounds`.

    Unknown intents and non-finite strengths give no shift (the brain may fail; the agent must not).
    """
    if intent not in HABIT_SHIFTS or not math.isfinite(strength):
        return IntentShift(intent=intent)
    s = min(1.0, max(0.0, strength))
    return IntentShift(
        intent=intent,
        habits={g: _clip(v * s, bounds.max_habit) for g, v in HABIT_SHIFTS[intent].items()},
        preferences={k: _clip(v * s, bounds.max_preference) for k, v in PREFERENCE_SHIFTS[intent].items()},
    )


def decayed_strength(age_s: float, bounds: SteeringBounds = SteeringBounds()) -> float:
    """2^(−age / half-life): 1 when the intent is fresh, 0.5 one half-life later; 0 for a zero half-life."""
    if not math.isfinite(age_s) or age_s < 0:
        return 0.0 if not math.isfinite(age_s) else 1.0
    if bounds.half_life_s == 0:
        return 0.0
    return 2.0 ** (-age_s / bounds.half_life_s)


@dataclass
class SteeringState:
    """The latest intent and when it arrived; `current(now)` is its shift faded by the half-life (the session loop
    calls `update` when a BrainReply lands and adds `current(now)` to E and C before each decision)."""

    bounds: SteeringBounds = field(default_factory=SteeringBounds)
    intent: str | None = None
    since: float = 0.0

    def update(self, intent: str, now: float) -> None:
        self.intent, self.since = intent, now

    def current(self, now: float) -> IntentShift:
        if self.intent is None:
            return IntentShift(intent="")
        return intent_shift(self.intent, decayed_strength(now - self.since, self.bounds), self.bounds)
