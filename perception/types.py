"""The perception data contracts (docs/architecture.md §2): PoseFrame per camera frame, Observation per frame for the
agent.

Missing data is explicit: invalid frames carry NaN landmarks and valid=False; observation features carry NaN plus a
mask, so the agent can predict through gaps instead of crashing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NUM_LANDMARKS = 33

# MediaPipe Pose landmark order (BlazePose topology).
LANDMARK_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
LM = {name: i for i, name in enumerate(LANDMARK_NAMES)}

# Per-frame features the agent reasons about (Observation.features columns, in this order).
FEATURE_NAMES: tuple[str, ...] = (
    "head_pitch",         # rad, + = chin down (nodding down)
    "head_yaw",           # rad, + = turning to the person's left
    "head_roll",          # rad, + = tilting toward the person's left shoulder
    "head_pitch_vel",     # rad/s
    "head_yaw_vel",       # rad/s
    "head_roll_vel",      # rad/s
    "wrist_speed_left",   # shoulder widths per second
    "wrist_speed_right",  # shoulder widths per second
    "torso_lean",         # rad, + = leaning toward the camera
    "motion_energy",      # mean landmark speed, shoulder widths per second
    "facing",             # [0, 1], 1 = facing the camera/agent
)
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}

EVENT_KINDS: tuple[str, ...] = ("nod", "shake", "gesture")


@dataclass
class PoseFrame:
    """One frame's pose: landmarks [33, 4] float32 (x, y normalized to the image, z, visibility)."""

    t: float
    landmarks: np.ndarray
    world: np.ndarray | None
    image_size: tuple[int, int]  # (width, height) in pixels
    valid: bool
    frame_index: int = -1

    @classmethod
    def empty(cls, t: float, image_size: tuple[int, int], frame_index: int = -1) -> PoseFrame:
        """A frame with no person: NaN landmarks, valid=False (never an exception)."""
        lm = np.full((NUM_LANDMARKS, 4), np.nan, dtype=np.float32)
        lm[:, 3] = 0.0
        return cls(t=t, landmarks=lm, world=None, image_size=image_size, valid=False, frame_index=frame_index)


@dataclass
class HumanEvent:
    """A detected human gesture event: onset (and offset once known), with cycle count and magnitude.

    Perception reports each event twice: once when it is detected (complete=False, t_offset None, cycles so far)
    and once when it has ended (complete=True, same t_onset, final t_offset/cycles/magnitude). Count events by
    their complete=False report (or by complete=True), never both.
    """

    kind: str  # one of EVENT_KINDS
    t_onset: float
    t_offset: float | None = None
    cycles: int = 0
    magnitude: float = 0.0  # nod/shake: largest peak-to-peak angle of a cycle (rad); gesture: peak wrist speed
    complete: bool = False


@dataclass
class Observation:
    """What the agent sees each frame: feature vector (NaN where missing), mask, confidence and new events, and what
    it hears: whether the person is speaking, the speech events since the last tick, pitch and the turn's length."""

    t: float
    features: np.ndarray  # float64 [len(FEATURE_NAMES)], NaN where missing
    mask: np.ndarray  # bool, True where the feature is observed
    confidence: np.ndarray  # float64 in [0, 1] per feature
    events: list[HumanEvent] = field(default_factory=list)
    # The voice side (docs/architecture.md §2), filled by the session loop's audio stage; the defaults mean "no
    # audio in this session", so a session without audio sees exactly the observation it saw before.
    speaking: bool | None = None  # None: no audio this session; else the VAD gate says the person is in speech now
    speech_events: tuple[str, ...] = ()  # SpeechEvent kinds detected since the previous tick, in order:
    #                                      'onset' | 'offset' | 'pause' | 'silence' | 'low_pitch'
    f0_hz: float | None = None  # the last voiced F0 (Hz) among this tick's audio frames; None: none voiced / no audio
    speech_s: float = 0.0  # seconds of the current speech turn so far (since its onset); 0.0 when not speaking

    def get(self, name: str) -> float:
        """A feature by name (NaN when missing)."""
        return float(self.features[FEATURE_INDEX[name]])

    @classmethod
    def missing(cls, t: float) -> Observation:
        """An observation with every feature missing (no person, camera gap)."""
        n = len(FEATURE_NAMES)
        return cls(t=t, features=np.full(n, np.nan), mask=np.zeros(n, bool), confidence=np.zeros(n))
