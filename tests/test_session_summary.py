"""The elicitation statistic the demo summary and the experiment analysis share (property tests)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fep_motion.elicitation import elicitation


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(5, 40), st.floats(0.6, 2.9))
def test_a_participant_who_always_answers_is_detected(seed, n, lag):
    rng = np.random.default_rng(seed)
    agent = np.sort(rng.uniform(0, 297, n))  # answers (<= 2.9 s later) stay inside the 300 s trial
    e = elicitation(agent, agent + lag, 300.0, rng=np.random.default_rng(seed))
    assert e.proportion == 1.0 and e.p < 0.05 and e.surrogate_mean < 0.6


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_rates_are_fractions_and_p_is_valid(seed):
    rng = np.random.default_rng(seed)
    agent, human = rng.uniform(0, 120, rng.integers(1, 30)), rng.uniform(0, 120, rng.integers(0, 30))
    e = elicitation(agent, human, 120.0, n_surrogates=200, rng=np.random.default_rng(seed))
    assert 0 <= e.proportion <= 1 and 0 <= e.surrogate_mean <= 1 and 1 / 201 <= e.p <= 1


def test_independent_streams_are_not_significant_more_than_alpha():
    rng = np.random.default_rng(0)
    ps = [elicitation(rng.uniform(0, 300, 20), rng.uniform(0, 300, 30), 300.0, n_surrogates=200,
                      rng=np.random.default_rng(k)).p
          for k in range(200)]
    assert np.mean(np.array(ps) < 0.05) <= 0.09  # alpha 0.05 plus binomial slack (sd 0.015 at n=200)


def test_no_agent_gestures_gives_nan():
    assert np.isnan(elicitation(np.array([]), np.array([1.0]), 10.0).proportion)


# ---- the printed summary: interrupted sessions and statistics without data --------------------------------------

def _session(path, status: str, ticks: int, planned: int, agent: list[float], human: list[float]) -> tuple:
    """A stored session of `ticks` frames at 30 fps, finished with `status` and `planned` scheduled frames."""
    from fep_motion.store import SessionWriter, Store
    from perception.types import PoseFrame

    st = Store.open(path)
    sid = st.start_session("P01", "fep", "demo", 30.0)
    w = SessionWriter(st, sid)
    for i in range(ticks):
        w.frame(i, i / 30, PoseFrame.empty(i / 30, (640, 480)))
    for t in agent:
        w.event("agent", "nod", t, t + 1.0, {"class": "nod"})
    for t in human:
        w.event("participant_truth", "nod", t, t + 1.0)
    w.flush()
    st.finish_session(sid, status, planned)
    return st, sid


def test_interrupted_session_reports_the_time_it_ran_not_the_configured_length(tmp_path):
    from fep_motion.session.summary import format_summary, summarize

    st, sid = _session(tmp_path / "s.db", "interrupted", ticks=423, planned=1800, agent=[1.0, 5.0, 9.0],
                       human=[2.0, 6.0, 13.0])
    with st:
        s = summarize(st, sid)
    assert s.duration_s == pytest.approx(423 / 30) and s.scheduled == 423 and s.planned == 1800
    text = format_summary(s)
    assert text.splitlines()[0] == f"session {sid}: interrupted, 14.1 s"
    assert "423 of 423 scheduled (interrupted; 1800 planned) (100.0 %)" in text
    assert "60.0 s" not in text


def test_completed_session_keeps_its_scheduled_length(tmp_path):
    from fep_motion.session.summary import summarize

    st, sid = _session(tmp_path / "s.db", "completed", ticks=90, planned=90, agent=[0.5], human=[1.5])
    with st:
        s = summarize(st, sid)
    assert s.duration_s == pytest.approx(3.0) and s.elicitation is not None and s.elicitation.proportion == 1.0


@pytest.mark.parametrize("agent, human, why", [
    ([1.0, 4.0], [], "no participant gestures"),
    ([], [2.0, 5.0], "no agent gestures"),
])
def test_elicitation_without_agent_or_participant_gestures_is_na_not_a_p_value(tmp_path, agent, human, why):
    from fep_motion.session.summary import format_summary, summarize

    st, sid = _session(tmp_path / "s.db", "interrupted", ticks=300, planned=1800, agent=agent, human=human)
    with st:
        text = format_summary(summarize(st, sid))
    (line,) = [x for x in text.splitlines() if "elicitation" in x]
    assert line.split() == ["elicitation", "n/a", *f"({why})".split()]
    assert "F over time          n/a" in text  # nothing reported F either
