"""The end-of-session summary read back from the store: gestures by agent and participant, an elicitation estimate
against shuffled-onset surrogates, F over time, achieved fps and per-stage latency.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from fep_motion.elicitation import ElicitationResult, elicitation
from fep_motion.store import Store


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
    elicitation: ElicitationResult | None
    free_energy_bins: list[tuple[float, float]]  # (bin start s, mean F)
    achieved_fps: float | None
    stage_ms: dict[str, tuple[float, float]] = field(default_factory=dict)
    gaps: int = 0

    @property
    def stored_fraction(self) -> float:
        return self.stored / self.scheduled if self.scheduled else float("nan")


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
    agent_onsets = np.array([e.t_onset for e in events if e.actor == "agent"])
    el = elicitation(agent_onsets, np.array(human), duration, n_surrogates=500) if len(agent_onsets) else None
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
            f"  elicitation          {e.proportion:.2f} of agent gestures answered within 0.5-3 s "
            f"(shuffled onsets {e.surrogate_mean:.2f}, z = {e.z:.2f}, p = {e.p:.3f})"
        )
    else:
        lines.append("  elicitation          n/a (no agent gestures)")
    if s.free_energy_bins:
        lines.append("  F over time          " + "  ".join(f"{t0:.0f}s:{f:.2f}" for t0, f in s.free_energy_bins))
    if s.stage_ms:
        lines.append("  latency ms (p50/p95) " + "  ".join(f"{k} {a:.1f}/{b:.1f}" for k, (a, b) in s.stage_ms.items()))
    return "\n".join(lines)
