"""The live dashboard: camera + skeleton + detected events, the agent's view, strip charts of F and of the last
decision's G per gesture class, with audio a speech strip (voice activity as a band, F0 as a line), and the chat with
the agent (recognised speech marked as heard, with its confidence); an OpenCV window maps keys q (quit), space (pause),
m (marker), and t or Tab to type to the agent (Enter sends, Esc cancels, Backspace deletes).

`compose` and `ChatBox.key` are pure (no window) so they are testable headless; `OpenCVDisplay` shows them.
"""
from __future__ import annotations

import collections
import os
import sys
from collections.abc import Callable

import numpy as np

from fep_motion.session.errors import SessionError
from fep_motion.session.loop import DisplayState
from sampling.primitives.base import GESTURE_CLASSES

CAMERA_SIZE = (480, 360)
AGENT_SIZE = (320, 240)
CHART_H = 120
# Skeleton edges between MediaPipe landmark indices (upper body).
EDGES: tuple[tuple[int, int], ...] = (
    (11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24), (23, 24), (15, 19), (16, 20),
    (0, 2), (0, 5), (2, 7), (5, 8), (9, 10),
)
KEYS = {ord("q"): "quit", 27: "quit", ord(" "): "pause", ord("m"): "marker"}
TYPE_KEYS = (ord("t"), 9)  # t or Tab: focus the chat box
ENTER, BACKSPACE, ESC = (10, 13), (8, 127), 27
CHAT_H = 118
SPEECH_H = 48  # the speech strip under the F chart (only in sessions with audio)
F0_RANGE = (60.0, 400.0)  # Hz drawn from the strip's bottom to its top
VAD_COLOR, F0_COLOR = (90, 60, 160), (255, 255, 0)
CHAT_COLORS = {"participant": (255, 255, 255), "agent": (120, 255, 120), "system": (80, 80, 255)}


class ChatBox:
    """The live window's text input: unfocused, keys are the window's commands; focused (t / Tab), keys type text,
    Enter hands it to `say` (the session's Dialogue.say), Esc cancels. Max `limit` characters."""

    def __init__(self, say: Callable[[str], None] | None, limit: int = 120) -> None:
        self.say = say
        self.limit = limit
        self.typing = False
        self.text = ""

    def key(self, code: int) -> str | None:
        """Act on one key code (-1/255 = none); returns the window action (quit/pause/marker) or None."""
        if code < 0 or code == 255:
            return None
        if not self.typing:
            if self.say is not None and code in TYPE_KEYS:
                self.typing, self.text = True, ""
                return None
            return KEYS.get(code)
        if code in ENTER:
            if self.text.strip() and self.say is not None:
                self.say(self.text.strip())
            self.typing, self.text = False, ""
        elif code == ESC:
            self.typing, self.text = False, ""
        elif code in BACKSPACE:
            self.text = self.text[:-1]
        elif 32 <= code < 127 and len(self.text) < self.limit:
            self.text += chr(code)
        return None


class Dashboard:
    """Keeps F / event history and draws one dashboard image per frame."""

    def __init__(self, history_s: float = 20.0, chat: bool = False) -> None:
        self.history_s = history_s
        self.chat = chat  # draw the chat panel under the charts (the live window with a brain)
        self.F: collections.deque[tuple[float, float]] = collections.deque()
        self.events: collections.deque[tuple[float, str]] = collections.deque(maxlen=6)
        self.voice: collections.deque[tuple[float, bool, float]] = collections.deque()  # (t, speaking, F0 or NaN)

    def compose(self, s: DisplayState) -> np.ndarray:
        import cv2

        cw, ch = CAMERA_SIZE
        cam = np.zeros((ch, cw, 3), np.uint8)
        if s.image is not None:
            cam = cv2.resize(s.image, (cw, ch), interpolation=cv2.INTER_AREA)
        if s.pose is not None and s.pose.valid:
            pts = np.asarray(s.pose.landmarks[:, :2], float) * np.array([cw, ch])
            vis = np.asarray(s.pose.landmarks[:, 3], float)
            for a, b in EDGES:
                if vis[a] > 0.5 and vis[b] > 0.5 and np.all(np.isfinite(pts[[a, b]])):
                    cv2.line(cam, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), (0, 255, 0), 2)
        elif s.pose is not None or s.image is None:
            cv2.putText(cam, "no person", (10, ch - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 1)
        for ev in s.observation.events:
            self.events.append((s.t, ev.kind))
        for i, (te, kind) in enumerate(self.events):
            if s.t - te < 3.0:
                cv2.putText(cam, f"{kind} @{te:.1f}s", (10, 22 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                            (0, 255, 255), 2)
        aw, ah = AGENT_SIZE
        agent = np.zeros((ch, aw, 3), np.uint8)
        if s.agent_image is not None:
            agent[:ah] = cv2.resize(s.agent_image, (aw, ah))
        label = f"t {s.t:6.1f}s  {s.active_gesture or 'idle'}" + ("  PAUSED" if s.paused else "")
        cv2.putText(agent, label, (8, ah + 24), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1)
        top = np.hstack([cam, agent])
        chart = np.full((CHART_H, top.shape[1], 3), 24, np.uint8)
        if s.free_energy is not None and np.isfinite(s.free_energy):
            self.F.append((s.t, float(s.free_energy)))
        while self.F and s.t - self.F[0][0] > self.history_s:
            self.F.popleft()
        half = cw
        if len(self.F) > 1:
            t_arr, f_arr = np.array(self.F).T
            lo, hi = float(f_arr.min()), float(f_arr.max())
            x = (t_arr - (s.t - self.history_s)) / self.history_s * (half - 20) + 10
            y = CHART_H - 15 - (f_arr - lo) / max(hi - lo, 1e-9) * (CHART_H - 35)
            cv2.polylines(chart, [np.stack([x, y], 1).astype(np.int32)], False, (255, 200, 0), 1)
            cv2.putText(chart, f"F {f_arr[-1]:.2f}", (10, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 200, 0), 1)
        d = s.last_decision
        if d and d.get("candidates"):
            best: dict[str, float] = {}
            for c in d["candidates"]:
                cls, g = c.get("gesture_class", c.get("primitive", "?")), c.get("G")
                if g is not None and np.isfinite(g):
                    best[cls] = min(best.get(cls, np.inf), float(g))
            if best:
                vals = np.array(list(best.values()))
                lo, hi = vals.min(), vals.max()
                bw = max((top.shape[1] - half - 20) // max(len(GESTURE_CLASSES), 1), 8)
                for i, cls in enumerate(k for k in GESTURE_CLASSES if k in best):
                    h = int(10 + (hi - best[cls]) / max(hi - lo, 1e-9) * (CHART_H - 50))  # taller = lower G
                    x0 = half + 10 + i * bw
                    cv2.rectangle(chart, (x0, CHART_H - 20 - h), (x0 + bw - 4, CHART_H - 20), (0, 160, 255), -1)
                    cv2.putText(chart, cls[:5], (x0, CHART_H - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (220, 220, 220), 1)
                cv2.putText(chart, "min G per class (taller = lower G)", (half + 10, 16), cv2.FONT_HERSHEY_SIMPLEX,
                            0.45, (0, 160, 255), 1)
        parts = [top, chart]
        if s.observation.speaking is not None:
            parts.append(self.speech_strip(s, top.shape[1]))
        if self.chat:
            parts.append(self.chat_panel(s, top.shape[1]))
        return np.vstack(parts)

    def speech_strip(self, s: DisplayState, width: int) -> np.ndarray:
        """The last `history_s` of audio: a band where the person was speaking (VAD gate), F0 as a line."""
        import cv2

        strip = np.full((SPEECH_H, width, 3), 20, np.uint8)
        obs = s.observation
        f0 = obs.f0_hz if obs.f0_hz is not None else float("nan")
        self.voice.append((s.t, bool(obs.speaking), f0))
        while self.voice and s.t - self.voice[0][0] > self.history_s:
            self.voice.popleft()
        t0 = s.t - self.history_s

        def x_of(t: float) -> int:
            return int(10 + (t - t0) / self.history_s * (width - 20))

        pts: list[tuple[int, int]] = []
        lo, hi = F0_RANGE
        for i, (t, speaking, hz) in enumerate(self.voice):
            t_next = self.voice[i + 1][0] if i + 1 < len(self.voice) else s.t
            if speaking:
                cv2.rectangle(strip, (x_of(t), 4), (max(x_of(t_next), x_of(t) + 1), SPEECH_H - 4), VAD_COLOR, -1)
            if np.isfinite(hz):
                y = SPEECH_H - 4 - (min(max(hz, lo), hi) - lo) / (hi - lo) * (SPEECH_H - 8)
                pts.append((x_of(t), int(y)))
            elif len(pts) > 1:
                cv2.polylines(strip, [np.array(pts, np.int32)], False, F0_COLOR, 1)
                pts = []
            else:
                pts = []
        if len(pts) > 1:
            cv2.polylines(strip, [np.array(pts, np.int32)], False, F0_COLOR, 1)
        label = "speaking" if obs.speaking else "quiet"
        if obs.speaking and obs.f0_hz is not None:
            label += f"  F0 {obs.f0_hz:.0f} Hz  {obs.speech_s:.1f} s"
        cv2.putText(strip, label, (10, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (220, 220, 220), 1)
        return strip

    def chat_panel(self, s: DisplayState, width: int, typing: str | None = None) -> np.ndarray:
        """The conversation's last lines (participant white, agent green, time-outs red) and the input line."""
        import cv2

        panel = np.full((CHAT_H, width, 3), 16, np.uint8)
        lines = list(s.chat)[-5:]
        for i, line in enumerate(lines):
            who = {"participant": "you", "agent": "agent"}.get(line.speaker, "!")
            heard = getattr(line, "heard", None)
            if heard is not None:  # recognised speech, not typed: say so, with the recogniser's confidence
                who = f"you (heard {heard:.2f})"
            text = f"{line.t:5.1f}s {who}: {line.text}"[:100]
            cv2.putText(panel, text, (8, 16 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        CHAT_COLORS.get(line.speaker, (200, 200, 200)), 1)
        prompt = f"> {typing}_" if typing is not None else "t / Tab: talk to the agent"
        cv2.putText(panel, prompt[-100:], (8, CHAT_H - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 255, 255) if typing is not None else (140, 140, 140), 1)
        return panel


class OpenCVDisplay:
    """Shows the dashboard in a window; returns the key action (quit/pause/marker) for the loop."""

    WINDOW = "fep-motion live"

    def __init__(self, say: Callable[[str], None] | None = None) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise SessionError("no display available for the live window: run with --no-display (headless)")
        self.dashboard = Dashboard(chat=say is not None)
        self.chatbox = ChatBox(say)

    def __call__(self, state: DisplayState) -> str | None:
        import cv2

        img = self.dashboard.compose(state)
        if self.chatbox.typing and self.dashboard.chat:  # redraw the input line with what is being typed
            img[-CHAT_H:] = self.dashboard.chat_panel(state, img.shape[1], self.chatbox.text)
        cv2.imshow(self.WINDOW, img)
        return self.chatbox.key(cv2.waitKey(1) & 0xFF)

    def close(self) -> None:
        import cv2

        try:
            cv2.destroyWindow(self.WINDOW)
        except cv2.error:
            pass
