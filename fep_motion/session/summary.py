"""The end-of-session summary read back from the store: gestures by agent and participant, an elicitation estimate
against shuffled-onset surrogates, F over time, achieved fps and per-stage latency.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from fep_motion.store import Store

ELICIT_WINDOW = (0.5, 3.0)  # s after an agent gesture onset (DESIGN.md §5)


@dataclass
class Elicitation:
    """P(participant onset within ELICIT_WINDOW after an agent onset), its surrogate mean and a one-sided p."""

    observed: float
    surrogate_mean: float
    p_value: float
    n_agent: int
    n_participant: int


@dataclass
class SessionSummary:
    session_id: int
    status: str
    duration_s: float
    scheduled: int
    stored: int
    agent_gestures: dict[str, int]
    participant_truth: dict[str, int]
    participant_detected: dict[str, int]
    decisions: int
    elicitation: Elicitation | None
    free_energy_bins: list[tuple[float, float]]  # (bin start s, mean F)
    achieved_fps: float | None
    stage_ms: dict[str, tuple[float, float]] = field(default_factory=dict)
    gaps: int = 0

    @property
    def stored_fraction(self) -> float:
        return self.stored / self.scheduled if self.scheduled else float("nan")


def elicitation(agent_onsets: np.ndarray, human_onsets: np.ndarray, duration: float, n_surrogates: int = 500,
                seed: int = 0) -> Elicitation | None:
    """Fraction of agent gestures followed by a participant onset 0.5-3 s later, vs. uniformly re-drawn agent onsets.

    The surrogate keeps the number of agent gestures and the participant's own onsets, destroying only their timing
    relation (shuffled-onset surrogates, DESIGN.md §5); p = (1 + #{surrogate >= observed}) / (1 + n_surrogates).
    """
    a = np.sort(np.asarray(agent_onsets, float))
    h = np.sort(np.asarray(human_onsets, float))
    if len(a) == 0 or duration <= 0:
        return None

    def rate(onsets: np.ndarray) -> np.ndarray:  # onsets [..., n] -> fraction answered per row
        lo = np.searchsorted(h, onsets + ELICIT_WINDOW[0], side="left")
        hi = np.searchsorted(h, onsets + ELICIT_WINDOW[1], side="right")
        return (hi > lo).mean(axis=-1)

    obs = float(rate(a))
    rng = np.random.default_rng(seed)
    sur = rate(rng.uniform(0.0, max(duration - ELICIT_WINDOW[1], 1e-9), size=(n_surrogates, len(a))))
    p = (1 + int(np.sum(sur >= obs))) / (1 + n_surrogates)
    return Elicitation(obs, float(sur.mean()), p, len(a), len(h))


def summarize(store: Store, session_id: int, achieved_fps: float | None = None,
              stage_ms: dict[str, tuple[float, float]] | None = None, bin_s: float = 10.0) -> SessionSummary:
    """Read a session back and summarize it (what `fep-motion demo` prints)."""
    info = store.session(session_id)
    events = store.events(session_id)
    stored = store.frame_count(session_id)
    duration = (info.scheduled_frames or stored) / info.fps
    agent = collections.Counter(e.params.get("class", e.kind) for e in events if e.actor == "agent")
    truth = collections.Counter(e.kind for e in events if e.actor == "participant_truth")
    detected = collections.Counter(e.kind for e in events if e.actor == "participant")
    human = [e.t_onset for e in events if e.actor == "participant_truth"] or [
        e.t_onset for e in events if e.actor == "participant"
    ]
    el = elicitation(np.array([e.t_onset for e in events if e.actor == "agent"]), np.array(human), duration)
    t, F = store.free_energy(session_id)
    bins: list[tuple[float, float]] = []
    if len(t):
        for b0 in np.arange(0.0, float(t.max()) + 1e-9, bin_s):
            sel = (t >= b0) & (t < b0 + bin_s)
            if sel.any():
                bins.append((float(b0), float(np.mean(F[sel]))))
    n_dec = int(store.conn.execute("SELECT COUNT(*) FROM decisions WHERE session_id = ?", (session_id,)).fetchone()[0])
    return SessionSummary(
        session_id=session_id, status=info.status, duration_s=duration, scheduled=info.scheduled_frames,
        stored=stored, agent_gestures=dict(agent), participant_truth=dict(truth), participant_detected=dict(detected),
        decisions=n_dec, elicitation=el, free_energy_bins=bins, achieved_fps=achieved_fps, stage_ms=stage_ms or {},
        gaps=len(store.gaps(session_id)),
    )


def format_summary(s: SessionSummary) -> str:
    """A plain-text table for the terminal."""
    lines = [
        f"session {s.session_id}: {s.status}, {s.duration_s:.1f} s",
        f"  frames stored        {s.stored} of {s.scheduled} scheduled ({100 * s.stored_fraction:.1f} %)"
        + (f", {s.achieved_fps:.1f} fps achieved" if s.achieved_fps else ""),
        f"  gaps recorded        {s.gaps}",
        f"  agent decisions      {s.decisions}",
        "  gestures             count",
    ]
    for label, counts in (("agent", s.agent_gestures), ("participant (truth)", s.participant_truth),
                          ("participant (detected)", s.participant_detected)):
        text = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
        lines.append(f"    {label:<22} {sum(counts.values()):>3}  ({text})")
    if s.elicitation is not None:
        e = s.elicitation
        lines.append(
            f"  elicitation          {e.observed:.2f} of agent gestures answered within 0.5-3 s "
            f"(shuffled onsets {e.surrogate_mean:.2f}, p = {e.p_value:.3f})"
        )
    else:
        lines.append("  elicitation          n/a (no agent gestures)")
    if s.free_energy_bins:
        lines.append("  F over time          " + "  ".join(f"{t0:.0f}s:{f:.2f}" for t0, f in s.free_energy_bins))
    if s.stage_ms:
        lines.append("  latency ms (p50/p95) " + "  ".join(f"{k} {a:.1f}/{b:.1f}" for k, (a, b) in s.stage_ms.items()))
    return "\n".join(lines)
