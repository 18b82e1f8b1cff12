"""Backchannel placement: of the agent's nods and tilts, the share that start in one of the participant's pauses, per
30 s window of a trial (a learning curve: an agent that learns to answer pauses rises over the session).

A pause window is [phrase end, max(pause end, phrase end + 0.5 s)]: a response that starts in the pause, or up to
0.5 s after the phrase ends, is what the virtual participant counts as a listener response (experiments.vp_speech;
Bavelas et al. 2000, JPSP 79:941). Phrases come from the stored ground truth (actor 'participant_speech'); the
chance level is the share of trial time the windows cover (what a nodder blind to the speech gets).

The share also moves with how many nods and tilts the agent makes outside the pauses (one that gestures less for
other reasons rises without placing its nods any better), so a second view counts from the pauses' side: the share
of pause windows in which a nod or tilt starts (`answered`, `answered_curve`), which extra gestures elsewhere do not
dilute.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from experiments.analysis.learning import DEFAULT_CURVE_WINDOW_S, LearningCurve, mean_curves
from fep_motion.store import EventRow

SPEECH_ACTOR = "participant_speech"
BACKCHANNEL_CLASSES: tuple[str, ...] = ("nod", "tilt")
RESPONSE_WINDOW_S = 0.5  # as experiments.vp_config.SpeechConfig.backchannel_window_s
CURVE_WIDTH_S = DEFAULT_CURVE_WINDOW_S  # the learning curve's windows


@dataclass(frozen=True)
class BackchannelTrial:
    """One trial's speech and agent timing: pause windows (n, 2), agent nod/tilt onsets, every agent onset."""

    duration_s: float
    windows: np.ndarray
    backchannels: np.ndarray
    agent_onsets: np.ndarray
    phrases: int
    turns: int
    extended: int  # phrases said because a listener response grew the turn

    @property
    def share(self) -> float:
        """Share of the agent's nods/tilts that start in a pause window (NaN without any)."""
        return float(np.mean(in_windows(self.backchannels, self.windows))) if self.backchannels.size else np.nan

    @property
    def answered(self) -> float:
        """Share of the pause windows in which one of the agent's nods/tilts starts (NaN without any window)."""
        return float(np.mean(answered_windows(self.backchannels, self.windows))) if len(self.windows) else np.nan

    @property
    def chance(self) -> float:
        """Share of the trial covered by pause windows: the expected share of a nodder blind to the speech."""
        return covered_s(self.windows, 0.0, self.duration_s) / self.duration_s

    @property
    def phrases_per_turn(self) -> float:
        return self.phrases / self.turns if self.turns else np.nan


def pause_windows(phrase_ends: np.ndarray, pause_ends: np.ndarray, response_s: float = RESPONSE_WINDOW_S
                  ) -> np.ndarray:
    """(n, 2) windows [end, max(pause end, end + response_s)] of the phrases' pauses."""
    ends = np.asarray(phrase_ends, dtype=float)
    return np.stack([ends, np.maximum(np.asarray(pause_ends, dtype=float), ends + response_s)], axis=1) \
        if ends.size else np.zeros((0, 2))


def in_windows(onsets: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Per onset: does it fall inside one of the (sorted, disjoint-start) windows?"""
    t = np.asarray(onsets, dtype=float)
    if windows.size == 0:
        return np.zeros(t.shape, bool)
    k = np.searchsorted(windows[:, 0], t, side="right") - 1
    ok = k >= 0
    out = np.zeros(t.shape, bool)
    out[ok] = t[ok] <= windows[k[ok], 1]
    return out


def answered_windows(onsets: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Per window: does one of the onsets fall inside it?"""
    t = np.sort(np.asarray(onsets, dtype=float))
    if windows.size == 0:
        return np.zeros(0, bool)
    return np.searchsorted(t, windows[:, 1], side="right") > np.searchsorted(t, windows[:, 0], side="left")


def covered_s(windows: np.ndarray, t0: float, t1: float) -> float:
    """Seconds of [t0, t1) inside the union of the windows."""
    total, reach = 0.0, t0
    for a, b in windows:
        a, b = max(a, reach), min(b, t1)
        if b > a:
            total += b - a
            reach = b
    return total


def _window_means(times: np.ndarray, hit: np.ndarray, duration_s: float, width_s: float) -> np.ndarray:
    """Mean of `hit` over the items whose time falls in each window [k·width, (k+1)·width) (NaN: none there)."""
    n = int(np.ceil(duration_s / width_s - 1e-9))
    out = np.full(n, np.nan)
    for k in range(n):
        sel = (times >= k * width_s) & (times < (k + 1) * width_s)
        if sel.any():
            out[k] = float(np.mean(hit[sel]))
    return out


def share_curve(trial: BackchannelTrial, width_s: float = CURVE_WIDTH_S) -> np.ndarray:
    """Share of the agent's nods/tilts in pause windows, per window [k·width, (k+1)·width) (NaN: none started)."""
    return _window_means(trial.backchannels, in_windows(trial.backchannels, trial.windows), trial.duration_s, width_s)


def answered_curve(trial: BackchannelTrial, width_s: float = CURVE_WIDTH_S) -> np.ndarray:
    """Share of the pause windows starting in [k·width, (k+1)·width) that a nod/tilt answered (NaN: no pause)."""
    starts = trial.windows[:, 0] if len(trial.windows) else np.zeros(0)
    return _window_means(starts, answered_windows(trial.backchannels, trial.windows), trial.duration_s, width_s)


# A condition's curve: window starts, mean share per window over trials with a nod/tilt in it, trials counted; the
# same record as the elicitation learning curve.
ShareCurve = LearningCurve


def _condition_curves(trials: Iterable[tuple[str, BackchannelTrial]], conditions: Sequence[str], width_s: float,
                      curve: Callable[[BackchannelTrial, float], np.ndarray]) -> dict[str, ShareCurve]:
    """Per condition, the mean of the trials' `curve`s (NaN windows do not count)."""
    per: dict[str, list[np.ndarray]] = {c: [] for c in conditions}
    for cond, tr in trials:
        if cond in per:
            per[cond].append(curve(tr, width_s))
    return mean_curves(per, width_s)


def share_curves(trials: Iterable[tuple[str, BackchannelTrial]], conditions: Sequence[str],
                 width_s: float = CURVE_WIDTH_S) -> dict[str, ShareCurve]:
    """Per condition, the mean of the trials' share curves (windows without a nod/tilt do not count)."""
    return _condition_curves(trials, conditions, width_s, share_curve)


def answered_curves(trials: Iterable[tuple[str, BackchannelTrial]], conditions: Sequence[str],
                    width_s: float = CURVE_WIDTH_S) -> dict[str, ShareCurve]:
    """Per condition, the mean of the trials' answered-pause curves (windows without a pause do not count)."""
    return _condition_curves(trials, conditions, width_s, answered_curve)


def speech_rows(phrases: Iterable) -> list[EventRow]:
    """Store rows (actor 'participant_speech', kind 'phrase') for a virtual participant's phrases (experiments.vp_speech
    .Phrase): the ground truth this analysis reads back."""
    return [EventRow(SPEECH_ACTOR, "phrase", p.t_onset, p.t_offset,
                     {"text": p.text, "turn": p.turn, "index": p.index, "t_low": p.t_low, "extended": p.extended,
                      "pause_end": p.pause_end if np.isfinite(p.pause_end) else p.t_offset})
            for p in phrases]


def trial_from_events(events: Sequence[EventRow], duration_s: float) -> BackchannelTrial | None:
    """A trial's backchannel timing from its stored events; None when the participant's speech was not stored."""
    ph = sorted((e for e in events if e.actor == SPEECH_ACTOR and e.kind == "phrase"), key=lambda e: e.t_onset)
    if not ph:
        return None
    ends = np.array([e.t_offset for e in ph], dtype=float)
    pause_ends = np.array([e.params.get("pause_end", e.t_offset) for e in ph], dtype=float)
    agent = [e for e in events if e.actor == "agent"]
    bc = np.sort([e.t_onset for e in agent if e.params.get("class") in BACKCHANNEL_CLASSES])
    return BackchannelTrial(duration_s, pause_windows(ends, pause_ends), np.asarray(bc, dtype=float),
                            np.sort([e.t_onset for e in agent]), len(ph), len({e.params.get("turn") for e in ph}),
                            sum(bool(e.params.get("extended")) for e in ph))
