"""The loop's hook for the agent's face and voice: per tick, read what the session already has (the participant's face
in the pose, the agent's gestures on the timeline, the conversation's turns) and return the head offsets and face.

Gaze target: the participant's nose landmark in their webcam image, mapped to a point at the camera (the human's
seat) so that a participant centred in their image gets mutual gaze in the agent video; the participant's left in
their unmirrored image (image right) is the agent's right. Participant turn ends (an utterance sent to the brain)
start a thinking aversion; a landed reply is spoken (fep_motion/voice) and drives the mouth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fep_motion.body.expression import Expression
from fep_motion.body.face import FaceState
from fep_motion.body.render import Camera

SEAT = Camera().eye  # the render camera's eye: where the human sits


@dataclass(frozen=True)
class SeatMapping:
    """Normalized image position of the participant's face -> world point around the seat (m)."""

    seat: tuple[float, float, float] = SEAT
    half_width: float = 0.45
    half_height: float = 0.30

    def point(self, x: float, y: float) -> tuple[float, float, float]:
        sx, sy, sz = self.seat
        return (sx, sy - (x - 0.5) * 2.0 * self.half_width, sz - (y - 0.5) * 2.0 * self.half_height)


class Embodiment:
    """Owns the Expression and the Voice of one session; `step` once per tick, `finish` after the loop."""

    def __init__(self, expression: Expression, voice: Any = None, mapping: SeatMapping | None = None) -> None:
        self.expression = expression
        self.voice = voice  # fep_motion.voice.voice.Voice (None: replies are not voiced or mouthed)
        self.mapping = mapping or SeatMapping()
        self._turns_seen = 0
        self._replied: set[int] = set()
        self._segments_seen = 0

    def _participant(self, pose: Any) -> None:
        if pose is None or not getattr(pose, "valid", False):
            return
        lm = np.asarray(pose.landmarks)
        if lm.ndim == 2 and lm.shape[0] > 0 and np.all(np.isfinite(lm[0, :2])):
            self.expression.look_at(self.mapping.point(float(lm[0, 0]), float(lm[0, 1])))

    def _gestures(self, timeline: Any, t: float) -> None:
        segments = getattr(timeline, "segments", [])
        for seg in segments[self._segments_seen:]:
            if seg.primitive.gesture_class == "nod":
                self.expression.nod(seg.onset)
        self._segments_seen = len(segments)

    def _dialogue(self, dialogue: Any, t: float) -> None:
        turns = getattr(dialogue, "turns", [])
        for turn in turns[self._turns_seen:]:
            self.expression.thinking(turn.t)
        self._turns_seen = len(turns)
        for i, turn in enumerate(turns):
            if i not in self._replied and turn.t_reply is not None and turn.reply is not None:
                self._replied.add(i)
                if self.voice is not None:
                    self.voice.say(str(turn.reply.reply))

    def step(self, t: float, pose: Any, timeline: Any, dialogue: Any = None) -> tuple[np.ndarray, FaceState]:
        """Head offsets over DOF_NAMES (added to the body pose) and the face for tick t."""
        self._participant(pose)
        self._gestures(timeline, t)
        if dialogue is not None:
            self._dialogue(dialogue, t)
        if self.voice is not None:
            for utterance in self.voice.poll(t):
                self.expression.speak(utterance)
        return self.expression.step(t)

    def finish(self, video: Any, duration: float) -> Any:
        """After the loop: the voice track into the video (see Voice.finish)."""
        return self.voice.finish(video, duration) if self.voice is not None else None
