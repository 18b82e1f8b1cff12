"""Turn what perception and the agent know about the user into the one-line summary the brain was trained on.

`summarize(nods=2, engagement=0.8, facing=0.9, head_pitch=0.0, speaking=False)` ->
"the user nodded twice; engagement high; looking at you". Plain numbers in, so llm never imports fep_motion: the
session wiring passes the nod count since the last utterance, P(engaged) from the agent's beliefs, perception's
`facing` score and head pitch, and whether the user is still moving/speaking.
"""
from __future__ import annotations

import math

from llm.data.interaction import Perception

LOW_ENGAGEMENT, HIGH_ENGAGEMENT = 1 / 3, 2 / 3   # P(engaged) thresholds between low / medium / high
FACING_AT = 0.5                                  # facing score at or above: looking at the agent
PITCH_DOWN_RAD = 0.35                            # head pitched down more than ~20°: looking down


def summarize(nods: int, engagement: float, facing: float, head_pitch: float = 0.0, speaking: bool = False) -> str:
    """The summary line; NaN inputs (missing data) fall back to the neutral label rather than guessing."""
    if not math.isfinite(engagement):
        level = "medium"
    else:
        level = "low" if engagement < LOW_ENGAGEMENT else "high" if engagement >= HIGH_ENGAGEMENT else "medium"
    if not math.isfinite(facing) or facing >= FACING_AT:
        gaze = "at you"
    else:
        gaze = "down" if math.isfinite(head_pitch) and head_pitch > PITCH_DOWN_RAD else "away"
    return Perception(nods=max(0, int(nods)), engagement=level, gaze=gaze, speaking=bool(speaking)).summary()
