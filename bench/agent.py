"""Benchmark the FEP agent on one CPU core: decision latency (propose K candidates + G + choice) for K ∈ {32, 256,
1024} × horizon 1–4, and the per-frame belief update; beside pymdp (JAX, jitted) on the same discrete model (same A,
B, C, the same K policies) when an interpreter with `inferactively-pymdp` is given or found.

Our G path evaluates each distinct control sequence once (K sampled candidates share a few dozen); pymdp is given
all K. The ratio column compares our whole decision with pymdp's policy evaluation alone.

Usage: .venv/bin/python bench/agent.py [--repeats 200] [--peer-python /path/to/python-with-pymdp]
The peer runs in its own interpreter (pymdp pulls in JAX; it is not a project dependency); without one, the peer
columns say so and the bench still runs. One core: the process is pinned to CPU 0 and BLAS/XLA threads are set to 1.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# bench/ holds perception.py etc.: run as a script, it must not shadow the project's packages
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

import numpy as np

KS = (32, 256, 1024)
HORIZONS = (1, 2, 3, 4)
DEFAULT_PEER = (sys.executable,)  # pymdp is in the dev extras (inferactively-pymdp), beside this package


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


# ---------------------------------------------------------------------------------------------------------- peer
def peer_main(npz_path: str, repeats: int) -> None:
    """Run inside the pymdp interpreter: time jitted policy evaluation and state inference; print JSON."""
    pin_one_core()
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from pymdp import algos, control

    d = np.load(npz_path)
    A = [jnp.asarray(d[f"A{m}"]) for m in range(int(d["nm"]))]
    B = [jnp.asarray(d[f"B{f}"]) for f in range(2)]
    C = [jnp.asarray(d[f"C{m}"]) for m in range(int(d["nm"]))]
    qs = [jnp.asarray(d["q0"]), jnp.asarray(d["q1"])]
    A_dep, B_dep = [[0, 1]] * len(A), [[0], [1]]
    out: dict = {"decision": {}, "G": {}}
    for K in KS:
        for H in HORIZONS:
            pols = jnp.asarray(d[f"pol_{K}_{H}"])
            E = jnp.zeros(K)

            @jax.jit
            def decide(qs, pols=pols, E=E):
                q_pi, neg_efe = control.update_posterior_policies(pols, qs, A, B, C, E, None, None, A_dep, B_dep,
                                                                  gamma=16.0)
                return q_pi, neg_efe

            _, neg = decide(qs)
            jax.block_until_ready(neg)
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                jax.block_until_ready(decide(qs))
                ts.append(time.perf_counter() - t0)
            out["decision"][f"{K}_{H}"] = float(np.median(ts) * 1e3)
            if K == 32:
                out["G"][f"{K}_{H}"] = (-np.asarray(neg)).tolist()
    obs = [jnp.asarray(d[f"o{m}"]) for m in range(int(d["nm"]))]

    @jax.jit
    def infer(prior):
        return algos.run_vanilla_fpi(A, obs, prior, num_iter=8)

    jax.block_until_ready(infer(qs))
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(infer(qs))
        ts.append(time.perf_counter() - t0)
    out["frame"] = float(np.median(ts) * 1e3)
    from importlib.metadata import version

    out["version"] = version("inferactively-pymdp")
    print(json.dumps(out))


def find_peer(arg: str | None) -> str | None:
    cands = [arg] if arg else [os.environ.get("PYMDP_PYTHON", ""), *DEFAULT_PEER]
    for c in cands:
        if not (c and Path(c).exists()):
            continue
        if subprocess.run([c, "-c", "import pymdp"], capture_output=True, check=False).returncode == 0:
            return c
    return None


# ---------------------------------------------------------------------------------------------------------- ours
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--peer-python", default=None, help="interpreter with inferactively-pymdp installed")
    ap.add_argument("--peer", metavar="NPZ", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        peer_main(args.peer, args.repeats)
        return 0
    pin_one_core()
    from fep_motion.policies.fep_policy import FepPolicy
    from perception.types import FEATURE_INDEX, FEATURE_NAMES, Observation
    from selection.efe import expected_free_energy, log_softmax

    rng = np.random.default_rng(0)
    n = len(FEATURE_NAMES)

    def obs(t: float) -> Observation:
        f = rng.normal(0, 0.05, n)
        f[FEATURE_INDEX["facing"]] = 0.9
        f[FEATURE_INDEX["head_pitch"]] = 0.1 * np.sin(2 * np.pi * 1.5 * t)
        f[FEATURE_INDEX["head_pitch_vel"]] = 0.1 * 2 * np.pi * 1.5 * np.cos(2 * np.pi * 1.5 * t)
        return Observation(t=t, features=f, mask=np.ones(n, bool), confidence=np.full(n, 0.9))

    ours: dict[str, float] = {}
    ours_g: dict[str, float] = {}
    uniq: dict[str, int] = {}
    npz: dict[str, np.ndarray] = {}
    agent = None
    for K in KS:
        for H in HORIZONS:
            agent = FepPolicy(num_candidates=K, horizon=H)
            agent.reset(0)
            for i in range(90):  # 3 s of frames: beliefs and rhythm warmed up
                agent._perceive(obs(i / 30), i / 30)
            for _ in range(5):
                agent.decide(3.0)
            ts, tg = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                agent.decide(3.0)
                ts.append(time.perf_counter() - t0)
            cands = agent.last_decision.candidates
            pols = agent.candidate_policies(cands.onset_delay, cands.gesture_index)
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                agent.kernel.evaluate(agent.qs, agent.model.B, pols, agent.model.pB)
                tg.append(time.perf_counter() - t0)
            uniq[f"{K}_{H}"] = int(np.unique(pols.reshape(K, -1), axis=0).shape[0])
            ours[f"{K}_{H}"] = float(np.median(ts) * 1e3)
            ours_g[f"{K}_{H}"] = float(np.median(tg) * 1e3)
            npz[f"pol_{K}_{H}"] = pols
    # per-frame belief update (discrete F minimization + rhythm EKF + learning tick bookkeeping)
    tf = []
    for i in range(args.repeats * 5):
        o = obs(3 + i / 30)
        t0 = time.perf_counter()
        agent._perceive(o, 3 + i / 30)
        tf.append(time.perf_counter() - t0)
    frame_ms = float(np.median(tf) * 1e3)

    # peer
    peer_py = find_peer(args.peer_python)
    peer = None
    model = agent.model
    if peer_py:
        from fep_motion.model.outcomes import discretize

        so = discretize(obs(10.0))
        tmp = Path(tempfile.mkdtemp(prefix="bench_agent_"))
        data = {**npz, "nm": np.array(len(model.A)), "q0": agent.qs[0], "q1": agent.qs[1],
                "B0": model.B[0], "B1": model.B[1]}
        for m, (a, c, o) in enumerate(zip(model.A, model.C, so.dists)):
            data[f"A{m}"], data[f"C{m}"], data[f"o{m}"] = a, log_softmax(c), o
        np.savez(tmp / "model.npz", **data)
        r = subprocess.run([peer_py, __file__, "--peer", str(tmp / "model.npz"), "--repeats", str(args.repeats)],
                           capture_output=True, text=True, check=False, env={**os.environ, "JAX_PLATFORMS": "cpu"})
        shutil.rmtree(tmp, ignore_errors=True)
        if r.returncode == 0:
            peer = json.loads(r.stdout.strip().splitlines()[-1])
        else:
            print(f"peer failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")

    print("FEP agent decision latency, one core (median ms). ours = the whole decision: propose K candidates + G + "
          "choice + record; G-only = our vectorized G, which evaluates each distinct control sequence once (uniq of "
          "K); pymdp = jitted update_posterior_policies on all K of the same policies (same A/B/C), G + q(pi) only")
    print(f"{'K':>6} {'H':>3} {'uniq':>5} {'ours':>9} {'G-only':>9} {'pymdp':>9} {'ours/pymdp':>11}")
    for K in KS:
        for H in HORIZONS:
            k = f"{K}_{H}"
            p = peer["decision"][k] if peer else None
            ratio = f"{ours[k] / p:11.2f}" if p else f"{'n/a':>11}"
            ps = f"{p:9.3f}" if p else f"{'n/a':>9}"
            print(f"{K:>6} {H:>3} {uniq[k]:>5} {ours[k]:9.3f} {ours_g[k]:9.3f} {ps} {ratio}")
    pf = peer["frame"] if peer else None
    print(f"per-frame belief update: ours {frame_ms:.3f} ms (F minimization, 2 factors x 5 modalities, + rhythm EKF)"
          + (f"; pymdp run_vanilla_fpi {pf:.3f} ms; ratio ours/pymdp {frame_ms / pf:.2f}" if pf else
             "; pymdp: not available (pass --peer-python)"))
    if peer:
        # agreement check: pymdp's G (with normalized C) against our pure function on the same 32 policies
        worst = 0.0
        for H in HORIZONS:
            pols = npz[f"pol_32_{H}"]
            for i, g_peer in enumerate(peer["G"][f"32_{H}"]):
                g = expected_free_energy(agent.qs, model.A, model.B, model.C, pols[i])[0]
                worst = max(worst, abs(g - g_peer))
        print(f"pymdp {peer['version']}: max |G_ours - G_pymdp| over 128 policies = {worst:.2e}")
    target = ours["256_2"]
    print(f"target: median decision <= 1 ms at K=256, H=2: {target:.3f} ms -> {'PASS' if target <= 1.0 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
