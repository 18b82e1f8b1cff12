"""The store's read/write functions that layers above use instead of SQL on `store.conn` (docs/architecture.md §4):
per-frame series come back as written, several writes land together or not at all, simulated events round-trip."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fep_motion.store import EventRow, SessionWriter, Store
from perception.types import FEATURE_NAMES, Observation, PoseFrame


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 40))
def test_feature_and_agent_pose_series_come_back_in_tick_order(tmp_path_factory, seed, n):
    rng = np.random.default_rng(seed)
    path = tmp_path_factory.mktemp("q") / "s.db"
    feats = rng.normal(size=(n, len(FEATURE_NAMES)))
    feats[rng.random(feats.shape) < 0.2] = np.nan
    poses = rng.normal(size=(n, 7)).astype(np.float32)
    order = rng.permutation(n)  # written out of order: read back by tick index
    with Store.open(path) as s:
        sid = s.start_session("P01", "fep", "test", 30.0)
        w = SessionWriter(s, sid)
        for i in order:
            w.frame(int(i), i / 30, PoseFrame.empty(i / 30, (640, 480)), agent_pose=poses[i] if i % 3 else None)
            w.observation(int(i), Observation(i / 30, feats[i], np.isfinite(feats[i]), np.ones(len(FEATURE_NAMES))))
        w.flush()
        t, f = s.feature_series(sid)
        tp, q = s.agent_pose_series(sid)
        assert s.ticks_elapsed(sid) == n
    np.testing.assert_allclose(t, np.arange(n) / 30)
    np.testing.assert_array_equal(f, feats)  # NaN where missing, bit for bit elsewhere
    kept = [i for i in range(n) if i % 3]
    np.testing.assert_allclose(tp, np.array(kept) / 30)
    if kept:
        np.testing.assert_array_equal(q, poses[kept].astype(float))
    else:
        assert q.size == 0


def test_empty_session_has_empty_series_and_no_ticks(tmp_path):
    with Store.open(tmp_path / "s.db") as s:
        sid = s.start_session("P01", "fep", "test", 30.0)
        assert s.feature_series(sid)[0].size == 0 and s.agent_pose_series(sid)[0].size == 0
        assert s.ticks_elapsed(sid) == 0 and s.decision_count(sid) == 0


def test_a_failed_transaction_leaves_nothing_and_a_good_one_everything(tmp_path):
    with Store.open(tmp_path / "s.db") as s:
        sid = s.start_session("P01", "fep", "simulated", 10.0)
        events = [EventRow("agent", "nod", 1.0, 2.5, {}), EventRow("participant_truth", "nod", 2.0, None,
                                                                   {"answer": True})]
        with pytest.raises(RuntimeError), s.transaction():
            s.add_events(sid, events)
            raise RuntimeError("simulation failed half-way")
        assert s.events(sid) == []
        with s.transaction():
            s.add_events(sid, events)
        assert s.events(sid) == events


def test_mark_interrupted_touches_only_a_running_session(tmp_path):
    with Store.open(tmp_path / "s.db") as s:
        done = s.start_session("P01", "fep", "simulated", 10.0)
        s.finish_session(done, "completed", 0)
        running = s.start_session("P01", "fep", "simulated", 10.0)
        s.mark_interrupted(done)
        s.mark_interrupted(running)
        assert s.session(done).status == "completed" and s.session(running).status == "interrupted"
