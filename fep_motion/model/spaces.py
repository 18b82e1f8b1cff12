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
# Two more are the agent's part in the human's speech: a nod or tilt that starts in the human's pause (a
# backchannel), or a pause let pass without one (docs/architecture.md §3).
ENGAGEMENT_CONTROLS: tuple[str, ...] = ("idle", "unprompted", "answer", "backchannel", "let_pass")
ANSWER_LAG_S: tuple[float, float] = (0.3, 3.0)  # a contingent response's lag (docs/architecture.md §5)
BACKCHANNEL_CLASSES: tuple[str, ...] = ("nod", "tilt")  # the gestures a listener gives in a speaker's pauses
LARGE_CLASSES: tuple[str, ...] = ("wave", "welcome", "lean", "beat")  # gestures that take the floor (turn-taking)
# The speech events that open a pause (perception.audio): the early `silence` cue (200 ms of non-speech inside a
# segment), or the voice gate's `offset` where no silence cue came first. A listener response counts up to 0.5 s
# after the phrase ends or while the pause lasts (Bavelas et al. 2000; experiments.vp_speech); the offset alone comes
# ~0.42 s after the end, which left a backchannel the last ~80 ms of that window.
PAUSE_CUES: tuple[str, ...] = ("silence", "offset")
# A gesture starting at most this long after a pause cue starts in the pause (the cue, ~0.22 s after the phrase end,
# plus this stays inside the speaker's 0.5 s window).
PAUSE_WINDOW_S = 0.1

MODALITIES: dict[str, tuple[str, ...]] = {
    "head": ("still", "pitching", "yawing"),  # from head pitch / yaw velocity
    "arms": ("still", "moving"),  # from wrist speeds
    "body": ("calm", "active"),  # from motion energy
    "facing": ("away", "toward"),  # from the facing score
    "event": ("none", "nod", "shake", "gesture"),  # perception's detected human events this frame
    "speech": ("silent", "speaking", "pause"),  # the voice: VAD gate, and a pause cue this frame
}
MODALITY_NAMES: tuple[str, ...] = tuple(MODALITIES)
