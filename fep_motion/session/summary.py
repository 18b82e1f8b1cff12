"""The end-of-session summary read back from the store: gestures by agent and participant, an elicitation estimate
against shuffled-onset surrogates, F over time, achieved fps and per-stage latency, and what the agent heard (speech
time, utterances, transcripts, brain turns, utterance end -> transcript / reply latency).

An interrupted session is summarized over the time it actually ran, and a statistic without the data it needs is
reported as n/a (never as a number computed from nothing).
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from fep_motion.elicitation import ElicitationResult, elicitation
from fep_motion.store import HeardRecord, Store

NA = "n/a"


@dataclass
class SessionSummary:
    """What `fep-motion demo/live/run` print at the end; `duration_s` is the session time that elapsed."""

    session_id: int
    status: str
    duration_s: float
    scheduled: int  # ticks the session went through (the plan, for a session that completed)
    stored: int
    agent_gestures: dict[str, int]
    participant_truth: dict[str, int]
    participant_detected: dict[str, int]
    decisions: int
    elicitation: ElicitationResult | None  # None: no agent or no participant gestures (see elicitation_na)
    free_energy_bins: list[tuple[float, float]]  # (bin start s, mean F)
    achieved_fps: float | None
    stage_ms: dict[str, tuple[float, float]] = field(default_factory=dict)
    gaps: int = 0
    planned: int = 0  # ticks the session was configured for (0: open-ended)
    elicitation_na: str = ""  # why there is no elicitation estimate
    heard: HeardRecord | None = None  # None: the session had no audio
    realtime: bool = True  # False: virtual time, replies were awaited (their latency is not the brain's)

    @property
    def stored_fraction(self) -> float:
        return self.stored / self.scheduled if self.scheduled else float("nan")


def summarize(store: Store, session_id: int, achieved_fps: float | None = None,
              stage_ms: dict[str, tuple[float, float]] | None = None, bin_s: float = 10.0) -> SessionSummary:
    """Read a session back and summarize it (what `fep-motion demo` prints)."""
    info = store.session(session_id)
    events = store.events(session_id)
    stored = store.frame_count(session_id)
    elapsed = store.ticks_elapsed(session_id)
    if info.status == "completed":
        ticks = info.scheduled_frames or elapsed
    else:  # interrupted or still running: only the ticks that happened, not the configured length
        ticks = min(info.scheduled_frames, elapsed) if info.scheduled_frames else elapsed
    duration = ticks / info.fps
    agent = collections.Counter(e.params.get("class", e.kind) for e in events if e.actor == "agent")
    truth = collections.Counter(e.kind for e in events if e.actor == "participant_truth")
    detected = collections.Counter(e.kind for e in events if e.actor == "participant")
    human = [e.t_onset for e in events if e.actor == "participant_truth"] or [
        e.t_onset for e in events if e.actor == "participant"
    ]
    agent_onsets = np.array([e.t_onset for e in events if e.actor == "agent"])
    el, why = None, ""
    if not len(agent_onsets):
        why = "no agent gestures"
    elif not human:
        why = "no participant gestures"
    elif duration <= 0:
        why = "no frames"
    else:
        el = elicitation(agent_onsets, np.array(human), duration, n_surrogates=500)
    t, F = store.free_energy(session_id)
    bins: list[tuple[float, float]] = []
    if len(t):
        for b0 in np.arange(0.0, float(t.max()) + 1e-9, bin_s):
            sel = (t >= b0) & (t < b0 + bin_s)
            if sel.any():
                bins.append((float(b0), float(np.mean(F[sel]))))
    heard = store.heard(session_id)
    meta = store.meta(session_id)
    return SessionSummary(
        session_id=session_id, status=info.status, duration_s=duration, scheduled=ticks,
        stored=stored, agent_gestures=dict(agent), participant_truth=dict(truth), participant_detected=dict(detected),
        decisions=store.decision_count(session_id), elicitation=el, free_energy_bins=bins, achieved_fps=achieved_fps,
        stage_ms=stage_ms or {}, gaps=len(store.gaps(session_id)), planned=info.scheduled_frames, elicitation_na=why,
        heard=heard if heard.audio_frames or "audio" in meta else None, realtime=bool(meta.get("realtime", True)),
    )


def _num(value: float | None, fmt: str) -> str:
    """`value` formatted, or n/a when it is missing or not finite (no data behind it)."""
    return format(value, fmt) if value is not None and np.isfinite(value) else NA


def _p50_p95(x: np.ndarray) -> str:
    if not len(x):
        return NA
    return f"p50 {np.percentile(x, 50):.2f} / p95 {np.percentile(x, 95):.2f} s (n {len(x)})"


def hearing_lines(h: HeardRecord, realtime: bool = True) -> list[str]:
    """The summary's hearing lines: speech time, utterances, transcripts, brain turns, and the two latencies."""
    awaited = "" if realtime else " (virtual time: replies awaited)"
    heard = (f"  heard                speech {h.speech_s:.1f} s in {h.utterances} utterances, {h.transcripts} "
             f"transcripts; brain turns {h.brain_turns} ({h.heard_turns} from speech)")
    delays = (f"  utterance end ->     transcript {_p50_p95(h.transcript_delays)}; "
              f"agent reply {_p50_p95(h.reply_delays)}{awaited}")
    return [heard, delays]


def format_summary(s: SessionSummary) -> str:
    """A plain-text table for the terminal."""
    planned = f" (interrupted; {s.planned} planned)" if s.status != "completed" and s.planned > s.scheduled else ""
    pct = _num(100 * s.stored_fraction, ".1f")
    lines = [
        f"session {s.session_id}: {s.status}, {s.duration_s:.1f} s",
        f"  frames stored        {s.stored} of {s.scheduled} scheduled{planned} ({pct}{' %' if pct != NA else ''})"
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
        z = _num(e.z, ".2f") if e.surrogate_sd > 0 else NA  # no spread among surrogates: z is undefined
        lines.append(
            f"  elicitation          {_num(e.proportion, '.2f')} of agent gestures answered within 0.5-3 s "
            f"(shuffled onsets {_num(e.surrogate_mean, '.2f')}, z = {z}, p = {_num(e.p, '.3f')})"
        )
    else:
        lines.append(f"  elicitation          {NA} ({s.elicitation_na or 'no agent gestures'})")
    lines.append("  F over time          " + ("  ".join(f"{t0:.0f}s:{_num(f, '.2f')}" for t0, f in s.free_energy_bins)
                                             or f"{NA} (the policy reported no F)"))
    if s.heard is not None:
        lines += hearing_lines(s.heard, s.realtime)
    if s.stage_ms:
        lines.append("  latency ms (p50/p95) " + "  ".join(f"{k} {a:.1f}/{b:.1f}" for k, (a, b) in s.stage_ms.items()))
    return "\n".join(lines)
