"""Per-frame belief updating: F = complexity − accuracy is minimized, bounds surprise, and survives missing data."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fep_motion.inference.vfe import free_energy, log_likelihood, minimize_free_energy
from fep_motion.model.config import load_agent_config
from fep_motion.model.generative import build_generative_model
from fep_motion.model.outcomes import discretize
from fep_motion.model.rhythm import RhythmTracker
from fep_motion.policies.fep_policy import FepPolicy
from perception.types import FEATURE_INDEX, FEATURE_NAMES, HumanEvent, Observation


def still_obs(t: float, rng: np.random.Generator) -> Observation:
    f = rng.normal(0, 0.02, len(FEATURE_NAMES))
    f[FEATURE_INDEX["facing"]] = 0.9
    return Observation(t=t, features=f, mask=np.ones(len(f), bool), confidence=np.full(len(f), 0.9))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_fixed_point_bounds_surprise_and_descends(seed):
    """F(q*) ≥ −ln p(õ) (equality iff q* is the exact posterior) and F(q*) ≤ F(prior)."""
    rng = np.random.default_rng(seed)
    model = build_generative_model(load_agent_config())
    prior = [rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(4))]
    dists = [rng.dirichlet(np.ones(a.shape[0])) for a in model.A]
    w = rng.uniform(0, 1, len(model.A))
    logL = log_likelihood(model.A, dists, w)
    upd = minimize_free_energy(prior, logL, iterations=32)
    joint_prior = np.multiply.outer(prior[0], prior[1])
    surprise = -math.log(float(np.sum(joint_prior * np.exp(logL))))
    assert upd.F >= surprise - 1e-9
    assert upd.F <= free_energy(prior, prior, logL)[0] + 1e-12
    assert upd.F == pytest.approx(upd.complexity - upd.accuracy)
    assert all(abs(q.sum() - 1) < 1e-12 for q in upd.qs)


def test_single_factor_fixed_point_is_exact_bayes():
    A = [np.array([[0.9, 0.3], [0.1, 0.7]])]
    prior = [np.array([0.5, 0.5])]
    logL = log_likelihood(A, [np.array([1.0, 0.0])], np.array([1.0]))
    upd = minimize_free_energy(prior, logL)
    assert upd.qs[0] == pytest.approx(np.array([0.75, 0.25]))
    assert upd.F == pytest.approx(-math.log(0.6))


def test_nan_observations_predict_only():
    """2 s of NaN observations: no exception, belief entropy (discrete and rhythm) grows, F stays finite."""
    rng = np.random.default_rng(0)
    agent = FepPolicy()
    agent.reset(0)
    t = 0.0
    for i in range(150):  # 5 s of a still, facing human
        t = i / 30
        agent.step(still_obs(t, rng), t)
    h0, r0 = agent.belief.entropy, agent.belief.rhythm_entropy
    Fs = []
    for i in range(150, 210):  # 2 s of NaN features (with mask claiming observed: a corrupted stream)
        t = i / 30
        nan = Observation(t=t, features=np.full(len(FEATURE_NAMES), np.nan), mask=np.ones(len(FEATURE_NAMES), bool),
                          confidence=np.full(len(FEATURE_NAMES), np.nan))
        agent.step(nan if i % 2 else Observation.missing(t), t)
        Fs.append(agent.free_energy)
    assert agent.belief.entropy > h0 + 0.05
    assert agent.belief.rhythm_entropy > r0
    assert all(math.isfinite(F) for F in Fs)


def test_confidence_weights_the_evidence():
    """The same nodding frame moves the belief less at low perception confidence; at zero it is ignored."""
    f = np.zeros(len(FEATURE_NAMES))
    f[FEATURE_INDEX["head_pitch_vel"]] = 1.5
    post = []
    for c in (1.0, 0.3, 0.0):
        so = discretize(Observation(t=0, features=f, mask=np.ones(len(f), bool), confidence=np.full(len(f), c)))
        model = build_generative_model(load_agent_config())
        upd = minimize_free_energy(model.D, log_likelihood(model.A, so.dists, so.weights))
        post.append(upd.qs[1][1])  # q(nodding)
    assert post[0] > post[1] > post[2] == pytest.approx(build_generative_model(load_agent_config()).D[1][1])


def test_rhythm_tracker_locks_onto_tempo():
    """An EKF fed a 1.2 Hz head-pitch oscillation converges to ≈1.2 Hz with a confident phase."""
    tr = RhythmTracker()
    n = len(FEATURE_NAMES)
    for i in range(240):
        t = i / 30
        f = np.zeros(n)
        f[FEATURE_INDEX["head_pitch"]] = 0.1 * math.sin(2 * math.pi * 1.2 * t)
        f[FEATURE_INDEX["head_pitch_vel"]] = 0.1 * 2 * math.pi * 1.2 * math.cos(2 * math.pi * 1.2 * t)
        ev = [HumanEvent("nod", t)] if i % 25 == 0 else []
        tr.update(Observation(t=t, features=f, mask=np.ones(n, bool), confidence=np.ones(n), events=ev))
    est = tr.estimate()
    assert est.tempo_hz == pytest.approx(1.2, abs=0.1)
    assert est.confidence > 0.8
    true_phase = (2 * math.pi * 1.2 * t + math.pi / 2) % (2 * math.pi)  # y ∝ sin → phase of cos shifted by −π/2
    err = (est.phase - (2 * math.pi * 1.2 * t - math.pi / 2)) % (2 * math.pi)
    assert min(err, 2 * math.pi - err) < 0.5, (est.phase, true_phase)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_garbage_observations_never_break_the_belief(seed):
    """Random NaN / inf / out-of-range features, masks and confidences: beliefs stay distributions, F finite."""
    rng = np.random.default_rng(seed)
    agent = FepPolicy(num_candidates=16)
    agent.reset(seed)
    n = len(FEATURE_NAMES)
    pool = np.array([np.nan, np.inf, -np.inf, 0.0, 1e6, -3.0, 0.5])
    for i in range(60):
        t = i / 30
        f = np.where(rng.random(n) < 0.5, rng.choice(pool, n), rng.normal(0, 1, n))
        c = np.where(rng.random(n) < 0.3, rng.choice(pool, n), rng.random(n))
        ev = [HumanEvent(str(rng.choice(["nod", "shake", "gesture"])), t)] if rng.random() < 0.1 else []
        agent.step(Observation(t=t, features=f, mask=rng.random(n) < 0.7, confidence=c, events=ev), t)
        assert math.isfinite(agent.free_energy)
        assert all(abs(q.sum() - 1) < 1e-9 and np.all(q >= 0) for q in agent.qs)
    agent.step(Observation.missing(float("nan")), float("nan"))  # no usable clock: ignored, no exception
