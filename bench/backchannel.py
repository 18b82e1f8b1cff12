"""Backchannel benchmark: does the agent learn to nod in the participant's pauses? Talking virtual participants
through the real session loop with its audio stage.

For each cohort (backchannel: nods/tilts in a pause sustain the speaker; null: they change nothing) and each of n
virtual participants, one trial per condition (fep, reactive, random) runs through the session loop: the
participant's poses -> perception, its espeak-ng voice -> the hearing stage (webrtcvad gate, pitch, listener cues;
no recognition) -> policy -> body -> store, in virtual time. fep runs first; random is frequency-matched to that
participant's fep rate. Every condition of a participant meets the same participant seed. After each trial the
participant's phrases are stored as ground truth (actor 'participant_speech') and the measure is read back from the
store (experiments.analysis.backchannel): the share of the agent's nods and tilts that start in a pause window,
per 30 s window (the learning curve), against chance (the share of time the windows cover); beside it the share of
the participant's pauses in which a nod or tilt starts (not diluted by gestures elsewhere, so not a gesture rate).

    .venv/bin/python bench/backchannel.py [--n 12] [--first-index 0] [--duration 180] [--jobs 2]
        [--cohorts backchannel,null] [--conditions fep,reactive,random] [--seed 0] [--json out.json]

Participants are cohort indices first-index .. first-index+n-1: tune on one range (--first-index 100), report
another (the default 0..11).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

# bench/ holds scripts named like top-level packages (perception.py ...): keep it off the import path.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COHORTS = {"backchannel": ROOT / "examples/cohorts/backchannel.yaml", "null": ROOT / "examples/cohorts/null.yaml"}
CONDITIONS = ("fep", "reactive", "random")
WIDTH_S = 30.0


def run_trial(db: Path, cohort_path: str, index: int, cond: str, params: dict[str, Any], duration: float,
              vp_seed: int, k: int) -> dict[str, Any]:
    """One condition for one participant through the session loop with hearing; the measure read from the store."""
    from experiments.analysis.backchannel import speech_rows, trial_from_events
    from experiments.cohort import load_cohort
    from experiments.virtual_participant import VirtualParticipant
    from fep_motion.policies import make_policy
    from fep_motion.session.agent import PolicyAgent
    from fep_motion.session.hearing import Hearing
    from fep_motion.session.runner import SessionSpec, run_session
    from fep_motion.session.sources import VirtualParticipantSource
    from fep_motion.store import Store

    vp = VirtualParticipant(load_cohort(cohort_path).sample(index), seed=vp_seed)
    hearing = Hearing(vp.speech_source(), asr=False, realtime=False, label="virtual participant voice")
    spec = SessionSpec(db, f"V{index:03d}", cond, "run", fps=30.0, duration=duration, realtime=False, seed=vp_seed + k,
                       progress=False, voice="off")
    t0 = time.perf_counter()
    sid, result = run_session(spec, VirtualParticipantSource(vp), source_label="virtual participant", participant=vp,
                              agent=PolicyAgent(make_policy(cond, **params), vp_seed + k), hearing=hearing)
    wall = time.perf_counter() - t0
    phrases, _ = vp.new_speech_truth(final=True)
    with Store.open(db, recover=False) as st:
        st.add_events(sid, speech_rows(phrases))
        st.conn.commit()
        events = st.events(sid)
        heard = st.heard(sid)
    tr = trial_from_events(events, duration)
    assert tr is not None
    return {"condition": cond, "index": index, "windows": tr.windows.tolist(), "backchannels": tr.backchannels.tolist(),
            "agent": tr.agent_onsets.tolist(), "phrases": tr.phrases, "turns": tr.turns, "extended": tr.extended,
            "speech_s_heard": heard.speech_s, "wall_s": wall, "status": result.status if result else "interrupted"}


def run_participant(cohort_path: str, index: int, conditions: tuple[str, ...], duration: float, seed: int
                    ) -> list[dict[str, Any]]:
    """Every condition for one participant (fep first; random matched to fep's gesture rate)."""
    from experiments.cohort import load_cohort

    cohort = load_cohort(cohort_path)
    vp_seed = int(np.random.default_rng([seed, cohort.seed, index]).integers(2**31))
    order = ["fep"] + [c for c in conditions if c != "fep"] if "fep" in conditions else list(conditions)
    out: list[dict[str, Any]] = []
    fep_rate = None
    with tempfile.TemporaryDirectory() as d:
        for k, cond in enumerate(order):
            params = {"rate_hz": fep_rate} if cond == "random" and fep_rate else {}
            row = run_trial(Path(d) / "study.db", str(cohort_path), index, cond, params, duration, vp_seed, k)
            if cond == "fep" and row["agent"]:
                fep_rate = len(row["agent"]) / duration
            out.append(row)
    return out


def _trial(row: dict[str, Any], duration: float):
    from experiments.analysis.backchannel import BackchannelTrial

    return BackchannelTrial(duration, np.asarray(row["windows"], dtype=float).reshape(-1, 2),
                            np.asarray(row["backchannels"], dtype=float), np.asarray(row["agent"], dtype=float),
                            row["phrases"], row["turns"], row["extended"])


def summarize(cohort: str, rows: list[dict[str, Any]], conditions: tuple[str, ...], duration: float
              ) -> dict[str, Any]:
    """Per condition: share in pauses (whole trial, first and last minute), chance, rates, turn length, curves."""
    from scipy.stats import wilcoxon

    from experiments.analysis.backchannel import answered_curve, answered_curves, share_curve, share_curves

    def rise(curves: list[np.ndarray]) -> tuple[float, float, float]:
        """Mean of the first and of the last two windows over trials, and Wilcoxon's one-sided p for a rise."""
        e = np.array([np.nanmean(x[:2]) if np.isfinite(x[:2]).any() else np.nan for x in curves])
        la = np.array([np.nanmean(x[-2:]) if np.isfinite(x[-2:]).any() else np.nan for x in curves])
        ok = np.isfinite(e) & np.isfinite(la)
        p = float(wilcoxon(la[ok], e[ok], alternative="greater").pvalue) if ok.sum() >= 5 and np.any(
            la[ok] != e[ok]) else float("nan")
        return float(np.nanmean(e)), float(np.nanmean(la)), p

    trials = [(r["condition"], _trial(r, duration)) for r in rows]
    curves = share_curves(trials, conditions, WIDTH_S)
    answered = answered_curves(trials, conditions, WIDTH_S)
    table = {}
    for c in conditions:
        ts = [t for cc, t in trials if cc == c]
        first, last, p = rise([share_curve(t, WIDTH_S) for t in ts])
        a_first, a_last, a_p = rise([answered_curve(t, WIDTH_S) for t in ts])
        table[c] = {
            "share": float(np.nanmean([t.share for t in ts])), "chance": float(np.mean([t.chance for t in ts])),
            "first_min": first, "last_min": last, "p_rise": p,
            "answered": float(np.nanmean([t.answered for t in ts])), "answered_first_min": a_first,
            "answered_last_min": a_last, "answered_p_rise": a_p,
            "bc_per_min": float(np.mean([60 * t.backchannels.size / duration for t in ts])),
            "gestures_per_min": float(np.mean([60 * t.agent_onsets.size / duration for t in ts])),
            "phrases_per_turn": float(np.nanmean([t.phrases_per_turn for t in ts])),
            "extended": float(np.mean([t.extended for t in ts])), "n": len(ts),
        }
    return {"cohort": cohort, "indices": sorted({r["index"] for r in rows}), "table": table, "curves": curves,
            "answered_curves": answered}


def print_summary(s: dict[str, Any], conditions: tuple[str, ...]) -> None:
    idx = s["indices"]
    print(f"\n== cohort {s['cohort']}: n = {len(idx)} (cohort indices {idx[0]}..{idx[-1]})")
    print(f"{'condition':<10}{'in pauses':>10}{'chance':>8}{'1st min':>9}{'last min':>10}{'p rise':>8}"
          f"{'nod+tilt/min':>13}{'gest/min':>10}{'phr/turn':>10}{'grown':>7}")
    for c in conditions:
        r = s["table"][c]
        print(f"{c:<10}{r['share']:>10.3f}{r['chance']:>8.3f}{r['first_min']:>9.3f}{r['last_min']:>10.3f}"
              f"{r['p_rise']:>8.3f}{r['bc_per_min']:>13.2f}{r['gestures_per_min']:>10.2f}"
              f"{r['phrases_per_turn']:>10.2f}{r['extended']:>7.1f}")
    print(f"{'':<10}{'answered':>10}{'':>8}{'1st min':>9}{'last min':>10}{'p rise':>8}   (share of pauses in which a"
          " nod/tilt starts)")
    for c in conditions:
        r = s["table"][c]
        print(f"{c:<10}{r['answered']:>10.3f}{'':>8}{r['answered_first_min']:>9.3f}{r['answered_last_min']:>10.3f}"
              f"{r['answered_p_rise']:>8.3f}")
    for title, key in (("share of nods/tilts in pauses", "curves"), ("share of pauses answered", "answered_curves")):
        print(f"learning curve: {title} per {WIDTH_S:g} s window (mean over participants)")
        for c in conditions:
            cu = s[key][c]
            print(f"  {c:<9}" + " ".join("  -  " if not np.isfinite(v) else f"{v:5.2f}" for v in cu.mean))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--first-index", type=int, default=0)
    ap.add_argument("--duration", type=float, default=180.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cohorts", default="backchannel,null")
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    cohorts = [c.strip() for c in a.cohorts.split(",") if c.strip()]
    conditions = tuple(c.strip() for c in a.conditions.split(",") if c.strip())
    for c in cohorts:
        if c not in COHORTS:
            ap.error(f"--cohorts: unknown cohort {c!r}; use {', '.join(COHORTS)}")
    t0 = time.perf_counter()
    results = {}
    for c in cohorts:
        idx = range(a.first_index, a.first_index + a.n)
        with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as ex:
            futs = [ex.submit(run_participant, str(COHORTS[c]), i, conditions, a.duration, a.seed) for i in idx]
            rows = [r for f in futs for r in f.result()]
        s = summarize(c, rows, conditions, a.duration)
        print_summary(s, conditions)
        results[c] = {"table": s["table"], "indices": s["indices"],
                      "curves": {k: v.mean.tolist() for k, v in s["curves"].items()},
                      "answered_curves": {k: v.mean.tolist() for k, v in s["answered_curves"].items()}, "trials": rows}
    print(f"\nwall {time.perf_counter() - t0:.0f} s")
    if a.json:
        a.json.write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
