"""Adaptivity benchmark: does the FEP agent learn each participant? Virtual cohorts through the real session loop.

For each cohort (default, heterogeneous, null) and each of n virtual participants, one trial per condition (fep,
reactive, random, mimic, oracle) runs through the session loop (virtual participant poses -> perception -> policy ->
body timeline -> store; no rendering, virtual time). fep runs first; oracle and random are then frequency-matched to
that participant's fep rate (random: RandomPolicy.matched_to). Every condition of a participant meets the same
virtual participant seed. Elicitation is computed from the detected participant events as `experiment analyze` does
(1,000 shuffled-onset surrogates), conditions are compared by Wilcoxon signed-rank with Holm correction over all pairs
(experiments.analysis.group_tests), and the learning curve is elicitation per 30 s window
(experiments.analysis.learning).
The peer is the oracle (it reads the participant's configuration): the table prints fep / oracle.

    .venv/bin/python bench/adaptivity.py [--n 12] [--first-index 0] [--duration 180] [--jobs 2]
        [--cohorts default,heterogeneous,null] [--conditions fep,reactive,random,mimic,oracle] [--seed 0]
        [--fep-param key=value ...] [--json out.json]

Participants are cohort indices first-index .. first-index+n-1: tune on one range (e.g. --first-index 100), report
another (the default 0..11).
"""
from __future__ import annotations

import argparse
import json
import os
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
import yaml

ROOT = Path(__file__).resolve().parents[1]
COHORTS = {"default": ROOT / "examples/cohorts/default.yaml",
           "heterogeneous": ROOT / "examples/cohorts/heterogeneous.yaml",
           "null": ROOT / "examples/cohorts/null.yaml"}
CONDITIONS = ("fep", "reactive", "random", "mimic", "oracle")
CURVE_WIDTH_S = 30.0


def run_participant(cohort_path: str, index: int, conditions: tuple[str, ...], duration: float, seed: int,
                    fep_params: dict[str, Any]) -> list[dict[str, Any]]:
    """All conditions for one virtual participant; returns per-condition onsets (agent, detected human)."""
    from experiments.cohort import load_cohort
    from experiments.loop_session import run_loop_trial
    from experiments.protocol import Condition
    from fep_motion.store import Store

    cohort = load_cohort(cohort_path)
    cfg = cohort.sample(index)
    vp_seed = int(np.random.default_rng([seed, cohort.seed, index]).integers(2**31))
    order = ["fep"] + [c for c in conditions if c != "fep"] if "fep" in conditions else list(conditions)
    out: list[dict[str, Any]] = []
    fep_rate = None
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "study.db"
        for k, cond in enumerate(order):
            params: dict[str, Any] = {}
            if cond == "fep":
                params = dict(fep_params)
            elif cond in ("oracle", "random") and fep_rate:
                params = {"rate_hz": fep_rate}
            t0 = time.perf_counter()
            lt = run_loop_trial(db, Condition(cond, cond, params), f"V{index:03d}", k, duration, vp_seed,
                                virtual=cfg)
            wall = time.perf_counter() - t0
            with Store.open(db, recover=False) as st:
                ev = st.events(lt.session_id)
            agent = sorted(e.t_onset for e in ev if e.actor == "agent")
            human = sorted(e.t_onset for e in ev if e.actor == "participant")
            if cond == "fep" and agent:
                fep_rate = len(agent) / duration
            out.append({"condition": cond, "index": index, "agent": agent, "human": human, "wall_s": wall,
                        "status": lt.status})
    return out


def _parse_params(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if any(it.startswith(("preferences.", "habits.")) for it in items):  # these maps are replaced whole on merge:
        import dataclasses  # start from the shipped ones so key=value changes one entry

        from fep_motion.model.config import load_agent_config

        base = dataclasses.asdict(load_agent_config())
        out = {k: base[k] for k in ("preferences", "habits") if any(it.startswith(k + ".") for it in items)}
    for it in items:
        key, sep, val = it.partition("=")
        if not sep:
            raise SystemExit(f"bench/adaptivity.py: error: --fep-param {it!r}: write key=value (e.g. gamma=8)")
        cur = out
        parts = key.split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = yaml.safe_load(val)
    return out


def summarize(cohort: str, rows: list[dict[str, Any]], conditions: tuple[str, ...], duration: float,
              n_surrogates: int = 1000) -> dict[str, Any]:
    """Elicitation per condition, fep/oracle, Holm-corrected pairwise Wilcoxon, z-scores and learning curves."""
    from experiments.analysis.elicitation import elicitation
    from experiments.analysis.group_tests import friedman_w, pairwise_holm
    from experiments.analysis.learning import learning_curves

    idx = sorted({r["index"] for r in rows})
    el = np.full((len(idx), len(conditions)), np.nan)
    z = np.full_like(el, np.nan)
    rate = np.full_like(el, np.nan)
    rng = np.random.default_rng(0)
    for r in rows:
        i, j = idx.index(r["index"]), conditions.index(r["condition"])
        res = elicitation(np.array(r["agent"]), np.array(r["human"]), duration, n_surrogates=n_surrogates, rng=rng)
        el[i, j], z[i, j] = res.proportion, res.z
        rate[i, j] = 60.0 * len(r["agent"]) / duration
    complete = el[np.all(np.isfinite(el), axis=1)]
    pairs = pairwise_holm(complete, list(conditions)) if len(complete) >= 2 and len(conditions) >= 2 else []
    curves = learning_curves(((r["condition"], np.array(r["agent"]), np.array(r["human"]), duration) for r in rows),
                             conditions, CURVE_WIDTH_S)
    return {"cohort": cohort, "n": len(idx), "indices": idx, "elicitation": el, "z": z, "rate": rate,
            "friedman": friedman_w(complete) if len(conditions) >= 3 else None, "pairs": pairs, "curves": curves}


def print_summary(s: dict[str, Any], conditions: tuple[str, ...]) -> dict[str, bool]:
    """Print one cohort's tables; return the acceptance checks that apply to it."""
    from scipy import stats

    el, z, rate = s["elicitation"], s["z"], s["rate"]
    print(f"\n== cohort {s['cohort']}: n = {s['n']} (cohort indices {s['indices'][0]}..{s['indices'][-1]})")
    print(f"{'condition':<10}{'elicitation':>12}{'sd':>7}{'mean z':>8}{'gestures/min':>14}")
    for j, c in enumerate(conditions):
        print(f"{c:<10}{np.nanmean(el[:, j]):>12.3f}{np.nanstd(el[:, j]):>7.3f}{np.nanmean(z[:, j]):>8.2f}"
              f"{np.nanmean(rate[:, j]):>14.2f}")
    checks: dict[str, bool] = {}
    mean = {c: float(np.nanmean(el[:, j])) for j, c in enumerate(conditions)}
    if "fep" in mean and "oracle" in mean:
        ratio = mean["fep"] / mean["oracle"] if mean["oracle"] > 0 else float("nan")
        print(f"ratio fep / oracle (peer): {ratio:.3f}")
        if s["cohort"] != "null":
            checks["fep >= 0.8 x oracle"] = bool(ratio >= 0.8)
    if s["friedman"] is not None:
        f = s["friedman"]
        print(f"Friedman chi2({f.k - 1}) = {f.chi2:.2f}, p = {f.p:.4f}, Kendall's W = {f.kendall_w:.2f}")
    print("pairwise Wilcoxon signed-rank (Holm over all pairs):")
    for w in s["pairs"]:
        print(f"  {w.a:>8} vs {w.b:<8} median diff {w.median_diff:+.3f}  Z = {w.z:+.2f}  p = {w.p:.4f}  "
              f"p_Holm = {w.p_holm:.4f}")
        if s["cohort"] != "null" and w.a == "fep" and w.b in ("reactive", "random", "mimic"):
            checks[f"fep > {w.b} (p_Holm < 0.05)"] = bool(w.median_diff > 0 and w.p_holm < 0.05)
    if s["cohort"] == "null":
        checks["no condition differs (all p_Holm > 0.05)"] = all(w.p_holm > 0.05 for w in s["pairs"])
        if "fep" in conditions:
            zf = z[:, conditions.index("fep")]
            zf = zf[np.isfinite(zf)]
            p0 = float(stats.wilcoxon(zf).pvalue) if zf.size and np.any(zf != 0) else 1.0
            ci = 1.96 * np.std(zf, ddof=1) / np.sqrt(zf.size) if zf.size > 1 else float("nan")
            print(f"fep elicitation z: mean {np.mean(zf):+.2f} (95 % CI +/- {ci:.2f}), median {np.median(zf):+.2f}, "
                  f"Wilcoxon vs 0 p = {p0:.3f}")
            checks["fep z centred on 0 (Wilcoxon vs 0 p > 0.05)"] = p0 > 0.05
    curves = s["curves"]
    starts = next(iter(curves.values())).starts_s
    print("learning curve: elicitation per 30 s window (start s)")
    print(f"{'condition':<10}" + "".join(f"{t:>7.0f}" for t in starts))
    for c in conditions:
        print(f"{c:<10}" + "".join(f"{v:>7.3f}" for v in curves[c].mean))
    if "fep" in curves and s["cohort"] != "null":
        lc = curves["fep"]
        second, final = lc.level(60.0, 120.0), lc.level(120.0, 180.0)
        print(f"fep level in minute 2: {second:.3f}, final minute: {final:.3f} (ratio {second / final:.3f})")
        checks["fep within 10 % of final by minute 2"] = bool(second >= 0.9 * final)
    return checks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--first-index", type=int, default=0, help="first cohort index (participants are index..index+n-1)")
    ap.add_argument("--duration", type=float, default=180.0)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--cohorts", default="default,heterogeneous,null")
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--surrogates", type=int, default=1000)
    ap.add_argument("--fep-param", action="append", default=[], help="override an agent.yaml field, key=value")
    ap.add_argument("--json", help="write every trial's onsets and the summary here")
    args = ap.parse_args()
    cohorts = [c.strip() for c in args.cohorts.split(",") if c.strip()]
    conditions = tuple(c.strip() for c in args.conditions.split(",") if c.strip())
    for c in cohorts:
        if c not in COHORTS and not Path(c).is_file():
            raise SystemExit(f"bench/adaptivity.py: error: --cohorts {c!r}: use {sorted(COHORTS)} or a cohort YAML")
    fep_params = _parse_params(args.fep_param)
    jobs = [(c, i) for c in cohorts for i in range(args.first_index, args.first_index + args.n)]
    t0 = time.perf_counter()
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in cohorts}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = {ex.submit(run_participant, str(COHORTS.get(c, c)), i, conditions, args.duration, args.seed,
                          fep_params): c for c, i in jobs}
        for f, c in futs.items():
            results[c].extend(f.result())
    wall = time.perf_counter() - t0
    trials = sum(len(v) for v in results.values())
    session_s = trials * args.duration
    print(f"adaptivity: {len(cohorts)} cohorts x {args.n} participants x {len(conditions)} conditions x "
          f"{args.duration:g} s through the session loop (virtual time, no rendering), seed {args.seed}, "
          f"fep overrides {fep_params or 'none'}")
    print(f"wall {wall:.1f} s with {args.jobs} processes for {trials} trials ({session_s / 3600:.2f} h of session "
          f"time): ratio session time / wall = {session_s / wall:.0f}x")
    all_checks: dict[str, bool] = {}
    summaries = {}
    for c in cohorts:
        s = summarize(c, results[c], conditions, args.duration, args.surrogates)
        summaries[c] = s
        for k, v in print_summary(s, conditions).items():
            all_checks[f"{c}: {k}"] = v
    print("\nacceptance")
    for k, v in all_checks.items():
        print(f"  {'PASS' if v else 'FAIL'}  {k}")
    if args.json:
        doc = {"args": vars(args), "wall_s": wall, "trials": results, "checks": all_checks,
               "summary": {c: {"elicitation": s["elicitation"].tolist(), "z": s["z"].tolist(),
                               "rate": s["rate"].tolist(), "indices": s["indices"],
                               "pairs": [vars(w) for w in s["pairs"]],
                               "curves": {k: v.mean.tolist() for k, v in s["curves"].items()}}
                           for c, s in summaries.items()}}
        Path(args.json).write_text(json.dumps(doc, default=float, indent=1))


if __name__ == "__main__":
    main()
