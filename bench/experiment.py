"""Experiment fast-path benchmark: simulate + analyze a 24-participant, 3-condition study (horibe2022.yaml).

Target (docs/architecture.md §7): <= 10 minutes on 2 cores. Peers measured in the same run: a straightforward
per-surrogate Python loop for the elicitation test (what the vectorized searchsorted version replaces), and the
study's real-time length.

    .venv/bin/python bench/experiment.py [--n 24] [--surrogates 1000] [--engine events|loop]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# bench/ holds scripts named like top-level packages (perception.py ...): keep it off the import path.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import numpy as np

from experiments.analysis.elicitation import shuffled_onsets
from experiments.analysis.study import AnalysisParams, analyze_study
from experiments.cohort import load_cohort
from experiments.protocol import load_protocol
from experiments.report import write_report
from experiments.simulate import simulate_study

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 600.0


def _loop_elicitation(agent: np.ndarray, human: np.ndarray, duration: float, k: int, rng) -> float:
    """Peer: the obvious implementation, one surrogate and one agent onset at a time."""
    sur = shuffled_onsets(agent, duration, k, rng)
    props = []
    for row in sur:
        hits = 0
        for a in row:
            hits += any(a + 0.5 <= h <= a + 3.0 for h in human)
        props.append(hits / len(row))
    return float(np.mean(props))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--surrogates", type=int, default=1000)
    ap.add_argument("--engine", default="events", choices=("events", "loop"),
                    help="events: the fast path (default); loop: every trial through the real session loop")
    args = ap.parse_args()
    protocol = load_protocol(ROOT / "examples/protocols/horibe2022.yaml")
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "study.db"
        t0 = time.perf_counter()
        simulate_study(protocol, load_cohort(), args.n, db, engine=args.engine)
        t1 = time.perf_counter()
        a = analyze_study(str(db), AnalysisParams(n_surrogates=args.surrogates))
        t2 = time.perf_counter()
        write_report(a, Path(d) / "out")
        t3 = time.perf_counter()
        rng = np.random.default_rng(0)
        for tr in a.trials:
            if tr.agent_t.size:
                _loop_elicitation(tr.agent_t, tr.human_t, tr.duration_s, args.surrogates, rng)
        t4 = time.perf_counter()
    total = t3 - t0
    real_time = sum(t.duration_s for t in a.trials)
    print(f"study: {args.n} participants x {len(protocol.conditions)} conditions x "
          f"{protocol.trial_duration_s:g} s, {args.surrogates} surrogates per trial")
    print(f"{'stage':<34}{'seconds':>10}")
    print(f"{'simulate (' + args.engine + ' engine)':<34}{t1 - t0:>10.2f}")
    print(f"{'analyze (all metrics + tests)':<34}{t2 - t1:>10.2f}")
    print(f"{'report (html + figures)':<34}{t3 - t2:>10.2f}")
    print(f"{'total':<34}{total:>10.2f}")
    print(f"{'peer: loop elicitation only':<34}{t4 - t3:>10.2f}")
    print(f"ratio total / target ({TARGET_S:.0f} s): {total / TARGET_S:.4f}  "
          f"-> {'PASS' if total <= TARGET_S else 'FAIL'}")
    print(f"ratio peer loop elicitation / our whole analysis: {(t4 - t3) / (t2 - t1):.1f}x")
    print(f"ratio real-time study length ({real_time / 3600:.1f} h) / total: {real_time / total:.0f}x")


if __name__ == "__main__":
    main()
