"""Study analysis: per participant x condition metrics from the study database, then within-subject group tests."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from experiments import study_store as ss
from experiments.analysis.backchannel import trial_from_events
from experiments.analysis.elicitation import (
    DEFAULT_SURROGATES,
    DEFAULT_WINDOW,
    ElicitationResult,
    GroupElicitation,
    elicitation,
    group_elicitation,
    peri_event_histogram,
)
from experiments.analysis.granger import DEFAULT_FS as GRANGER_FS
from experiments.analysis.granger import DEFAULT_LAG_S as GRANGER_LAG_S
from experiments.analysis.granger import granger_both
from experiments.analysis.group_tests import (
    FriedmanResult,
    WilcoxonResult,
    friedman_w,
    pairwise_holm,
    wilcoxon_r,
)
from experiments.analysis.rates import rate_per_minute
from experiments.analysis.wcc import DEFAULT_MAX_LAG_S, DEFAULT_STEP_S, DEFAULT_WINDOW_S, windowed_xcorr
from experiments.errors import ExperimentError
from perception.types import FEATURE_INDEX


@dataclass(frozen=True)
class AnalysisParams:
    """Every analysis parameter (all are stated in the report's methods paragraph)."""

    window: tuple[float, float] = DEFAULT_WINDOW
    n_surrogates: int = DEFAULT_SURROGATES
    wcc_window_s: float = DEFAULT_WINDOW_S
    wcc_step_s: float = DEFAULT_STEP_S
    wcc_max_lag_s: float = DEFAULT_MAX_LAG_S
    granger_fs: float = GRANGER_FS
    granger_lag_s: float = GRANGER_LAG_S
    alpha: float = 0.05
    seed: int = 0


METRICS: tuple[str, ...] = ("human_rate_per_min", "agent_rate_per_min", "elicitation", "elicitation_z",
                            "wcc_peak_z", "wcc_mean_abs_z", "granger_f_agent_to_human", "granger_f_human_to_agent")


@dataclass
class TrialMetrics:
    participant: str
    condition: str
    trial_index: int
    session_id: int
    duration_s: float
    values: dict[str, float]
    elicitation: ElicitationResult
    human_source: str
    agent_t: np.ndarray
    human_t: np.ndarray
    wcc: Any = None
    backchannel: Any = None  # experiments.analysis.backchannel.BackchannelTrial when the participant's speech is stored


@dataclass
class StudyAnalysis:
    protocol: dict
    params: AnalysisParams
    conditions: list[str]
    participants: list[str]
    trials: list[TrialMetrics]
    scales: list[str]
    group_elicitation: dict[str, GroupElicitation] = field(default_factory=dict)
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> {"friedman"|"wilcoxon", "pairs"}
    human_sources: set[str] = field(default_factory=set)

    def matrix(self, metric: str) -> np.ndarray:
        """[participants, conditions] of a metric (NaN where missing)."""
        m = np.full((len(self.participants), len(self.conditions)), np.nan)
        pi = {p: i for i, p in enumerate(self.participants)}
        ci = {c: j for j, c in enumerate(self.conditions)}
        for t in self.trials:
            v = t.values.get(metric)
            if v is not None:
                m[pi[t.participant], ci[t.condition]] = v
        return m


def _fill_gaps(x: np.ndarray) -> np.ndarray | None:
    """Linear interpolation over NaN samples (missing data); None when fewer than half the samples are finite."""
    ok = np.isfinite(x)
    if ok.sum() < max(10, x.size // 2):
        return None
    if ok.all():
        return x
    i = np.arange(x.size)
    return np.interp(i, i[ok], x[ok])


def _signals(store, sid: int) -> tuple[float, np.ndarray, np.ndarray] | None:
    """Agent and human motion energy of a session (gaps interpolated): fast-path series, else from stored
    observations and agent poses. None when there is too little data."""
    raw = _raw_signals(store, sid)
    if raw is None:
        return None
    fs, a, h = raw
    a, h = _fill_gaps(np.asarray(a, float)), _fill_gaps(np.asarray(h, float))
    return None if a is None or h is None else (fs, a, h)


def _raw_signals(store, sid: int) -> tuple[float, np.ndarray, np.ndarray] | None:
    got = ss.load_signals(store, sid)
    if got is not None:
        return got
    t, features = store.feature_series(sid)
    tp, q = store.agent_pose_series(sid)
    if t.size < 20 or tp.size < 20:
        return None
    human = features[:, FEATURE_INDEX["motion_energy"]]
    agent_e = np.r_[0.0, np.linalg.norm(np.diff(q, axis=0), axis=1) / np.maximum(np.diff(tp), 1e-6)]
    fs = 10.0  # resample both onto a common 10 Hz grid
    grid = np.arange(max(t[0], tp[0]), min(t[-1], tp[-1]), 1 / fs)
    ok = np.isfinite(human)
    if grid.size < 20 or ok.sum() < 10:
        return None
    return fs, np.interp(grid, tp, agent_e), np.interp(grid, t[ok], human[ok])


def analyze_study(db_path: str, params: AnalysisParams = AnalysisParams(),
                  progress: Callable[[int, int], None] | None = None) -> StudyAnalysis:
    """Compute every per-trial metric and group test for the study database at db_path."""
    store = ss.open_study(db_path, create=False)
    try:
        protocol = ss.study_protocol_json(store)
        conditions = [c["id"] for c in protocol["conditions"]]
        rows = [t for t in ss.trials(store) if t.status == "completed" and t.session_id is not None]
        if not rows:
            raise ExperimentError(f"{db_path} has no completed trials: run or simulate participants first")
        rng = np.random.default_rng(params.seed)
        trials: list[TrialMetrics] = []
        sources: set[str] = set()
        for k, tr in enumerate(rows):
            ev = store.events(tr.session_id)
            agent = np.array([e.t_onset for e in ev if e.actor == "agent"])
            detected = [e.t_onset for e in ev if e.actor == "participant"]
            truth = [e.t_onset for e in ev if e.actor == "participant_truth"]
            source = "participant" if detected or not truth else "participant_truth"
            human = np.array(detected if source == "participant" else truth)
            sources.add(source)
            el = elicitation(agent, human, tr.duration_s, params.window, params.n_surrogates, rng)
            vals = {"human_rate_per_min": rate_per_minute(human, tr.duration_s),
                    "agent_rate_per_min": rate_per_minute(agent, tr.duration_s),
                    "elicitation": el.proportion, "elicitation_z": el.z, "elicitation_p": el.p}
            sig = _signals(store, tr.session_id)
            w = None
            if sig is not None:
                fs, xa, xh = sig
                w = windowed_xcorr(xa, xh, fs, params.wcc_window_s, params.wcc_step_s, params.wcc_max_lag_s)
                g = granger_both(xa, xh, fs, params.granger_fs, params.granger_lag_s)
                vals.update(wcc_peak_z=w.peak_z, wcc_mean_abs_z=w.mean_abs_z, wcc_peak_lag_s=w.median_peak_lag_s,
                            granger_f_agent_to_human=g.f_xy, granger_p_agent_to_human=g.p_xy,
                            granger_f_human_to_agent=g.f_yx, granger_p_human_to_agent=g.p_yx)
            trials.append(TrialMetrics(tr.participant_id, tr.condition_id, tr.trial_index, tr.session_id,
                                       tr.duration_s, vals, el, source, agent, human, w,
                                       trial_from_events(ev, tr.duration_s)))
            if progress:
                progress(k + 1, len(rows))
        scales = _add_scales(store, protocol, trials)
    finally:
        store.close()
    participants = sorted({t.participant for t in trials})
    res = StudyAnalysis(protocol, params, conditions, participants, trials, scales, human_sources=sources)
    for c in conditions:
        res.group_elicitation[c] = group_elicitation([t.elicitation for t in trials if t.condition == c])
    for metric in list(METRICS) + [f"q_{s}" for s in scales]:
        res.tests[metric] = compare_conditions(res.matrix(metric), conditions)
    return res


def _add_scales(store, protocol: dict, trials: list[TrialMetrics]) -> list[str]:
    """Scale score = mean of a block's items, reverse-keyed items mirrored (low + high - value)."""
    blocks = {b["id"]: b for b in protocol.get("questionnaires", [])}
    acc: dict[tuple[str, int, str], list[float]] = {}
    for pid, ti, _cond, bid, iid, value in ss.answers(store):
        b = blocks.get(bid)
        if b is None:
            continue
        item = next((it for it in b["items"] if it["id"] == iid), None)
        if item is None:
            continue
        lo, hi = b["scale"]
        acc.setdefault((pid, ti, bid), []).append(float(lo + hi - value) if item.get("reverse") else float(value))
    used: set[str] = set()
    for t in trials:
        for bid in blocks:
            vals = acc.get((t.participant, t.trial_index, bid))
            if vals:
                t.values[f"q_{bid}"] = float(np.mean(vals))
                used.add(bid)
    return [b for b in blocks if b in used]  # blocks answered after all trials have no per-condition score


def compare_conditions(m: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Wilcoxon (r = Z/sqrt N) for two conditions; Friedman + Kendall's W + Holm pairwise Wilcoxon for more."""
    complete = m[np.all(np.isfinite(m), axis=1)]
    if len(names) == 2:
        return {"wilcoxon": wilcoxon_r(complete[:, 0], complete[:, 1], names[0], names[1]), "n": len(complete)}
    if len(names) >= 3:
        fr: FriedmanResult = friedman_w(complete)
        pairs: list[WilcoxonResult] = pairwise_holm(complete, names) if len(complete) >= 2 else []
        return {"friedman": fr, "pairs": pairs, "n": len(complete)}
    return {"n": len(complete)}


def peri_event(analysis: StudyAnalysis, condition: str) -> tuple[np.ndarray, np.ndarray]:
    """Pooled peri-event histogram (human onsets around agent onsets) of one condition, per agent onset per s."""
    edges, tot, n = None, None, 0
    for t in analysis.trials:
        if t.condition != condition or t.agent_t.size == 0:
            continue
        edges, c = peri_event_histogram(t.agent_t, t.human_t)
        tot = c * t.agent_t.size if tot is None else tot + c * t.agent_t.size
        n += t.agent_t.size
    if edges is None:
        edges, tot = peri_event_histogram(np.empty(0), np.empty(0))
        return edges, tot
    return edges, tot / max(n, 1)
