"""Names of the generative model's hidden-state factors, controls and outcome modalities (in array order)."""
from __future__ import annotations

from sampling.primitives.base import GESTURE_CLASSES

ENGAGEMENT: tuple[str, ...] = ("disengaged", "attending", "engaged")
ACTIVITY: tuple[str, ...] = ("still", "nodding", "gesturing", "moving")
FACTORS: dict[str, tuple[str, ...]] = {"engagement": ENGAGEMENT, "activity": ACTIVITY}
FACTOR_NAMES: tuple[str, ...] = tuple(FACTORS)
NUM_STATES: tuple[int, ...] = tuple(len(v) for v in FACTORS.values())

# Controls of the activity factor: the agent's gesture class (GESTURE_CLASSES, index 0 = "none").
CONTROLS: tuple[str, ...] = GESTURE_CLASSES
NUM_CONTROLS = len(CONTROLS)
# Controls of the engagement factor: what the agent's gesture is to the human, not which one it is: none, a gesture
# unprompted, or a gesture that answers the human's own event (its onset ANSWER_LAG_S after that event's onset).
ENGAGEMENT_CONTROLS: tuple[str, ...] = ("idle", "unprompted", "answer")
ANSWER_LAG_S: tuple[float, float] = (0.3, 3.0)  # a contingent response's lag (docs/architecture.md §5)

MODALITIES: dict[str, tuple[str, ...]] = {
    "head": ("still", "pitching", "yawing"),  # from head pitch / yaw velocity
    "arms": ("still", "moving"),  # from wrist speeds
    "body": ("calm", "active"),  # from motion energy
    "facing": ("away", "toward"),  # from the facing score
    "event": ("none", "nod", "shake", "gesture"),  # perception's detected human events this frame
}
MODALITY_NAMES: tuple[str, ...] = tuple(MODALITIES)
