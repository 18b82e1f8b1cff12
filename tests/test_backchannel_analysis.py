"""The backchannel-placement measure (experiments.analysis.backchannel) and its learning curve in the study report."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cli import main
from experiments.analysis.backchannel import (
    BackchannelTrial,
    answered_curve,
    answered_curves,
    answered_windows,
    covered_s,
    in_windows,
    pause_windows,
    share_curve,
    share_curves,
    speech_rows,
    trial_from_events,
)
from experiments.vp_config import config_from_dict
from experiments.vp_speech import TalkModel
from fep_motion.store import EventRow, Store

ROOT = Path(__file__).resolve().parents[1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 4.0), st.floats(0.05, 1.5)), min_size=1, max_size=12),
       st.lists(st.floats(0, 40), max_size=20))
def test_in_windows_is_membership_in_some_pause_window(gaps_pauses, onsets) -> None:
    """Against brute force on random phrase/pause layouts; the windows are [end, max(pause end, end + 0.5)]."""
    t, ends, pause_ends = 0.0, [], []
    for phrase, pause in gaps_pauses:
        t += phrase
        ends.append(t)
        pause_ends.append(t + pause)
        t += pause
    w = pause_windows(np.array(ends), np.array(pause_ends))
    assert np.all(w[:, 1] >= w[:, 0] + 0.5 - 1e-12)
    got = in_windows(np.array(onsets), w)
    want = [any(a <= x <= b for a, b in w) for x in onsets]
    assert got.tolist() == want
    grid = np.linspace(0, t + 1, 20001)
    assert abs(covered_s(w, 0, t + 1) - in_windows(grid, w).mean() * (t + 1)) < 0.01


def _trial(backchannels: list[float]) -> BackchannelTrial:
    ends = np.arange(5.0, 60.0, 5.0)
    w = pause_windows(ends, ends + 0.8)
    return BackchannelTrial(60.0, w, np.array(backchannels), np.array(backchannels), len(ends), 3, 0)


def test_share_per_window_and_chance() -> None:
    """Two nods in a pause and two over speech in the first 30 s, three in pauses after: 0.5 then 1.0."""
    tr = _trial([5.1, 10.7, 12.0, 17.0, 35.3, 40.0, 55.8])
    assert share_curve(tr).tolist() == [0.5, 1.0]
    assert tr.share == 5 / 7
    assert abs(tr.chance - 11 * 0.8 / 60) < 1e-12
    curves = share_curves([("fep", tr), ("fep", _trial([31.0])), ("random", _trial([]))], ["fep", "random"])
    assert curves["fep"].mean.tolist() == [0.5, 0.5] and curves["fep"].n.tolist() == [1, 2]
    assert np.isnan(curves["random"].mean).all()


def test_answered_pauses_do_not_count_gestures_elsewhere() -> None:
    """The pauses' side: of the 5 pauses in the first 30 s two got a nod (one got two), of the 6 after, three; nods over
    speech change nothing (the share above counts them against the agent)."""
    tr = _trial([5.1, 5.3, 10.7, 12.0, 17.0, 35.3, 40.0, 55.8])
    assert answered_windows(tr.backchannels, tr.windows).tolist() == [
        True, True, False, False, False, False, True, True, False, False, True]
    assert answered_curve(tr).tolist() == [2 / 5, 3 / 6]
    assert tr.answered == 5 / 11
    more = _trial([5.1, 5.3, 10.7, 12.0, 17.0, 35.3, 40.0, 55.8] + [1.0, 2.0, 13.0, 33.0])
    assert answered_curve(more).tolist() == answered_curve(tr).tolist() and more.share < tr.share
    curves = answered_curves([("fep", tr), ("fep", _trial([]))], ["fep"])
    assert curves["fep"].mean.tolist() == [1 / 5, 1 / 4] and curves["fep"].n.tolist() == [2, 2]


def test_stored_speech_and_agent_events_give_the_trial_back(tmp_path: Path) -> None:
    talk = TalkModel(config_from_dict({"speech": {"enabled": True}}).speech, seed=1)
    for i in range(1, 60 * 60 + 1):
        talk.step(i / 60)
    phrases = talk.new_truth()[0] + talk.flush_truth()
    agent = [EventRow("agent", "nod", phrases[0].t_offset + 0.2, None, {"class": "nod"}),
             EventRow("agent", "wave", 3.0, None, {"class": "wave"})]
    with Store.open(tmp_path / "s.db") as s:
        sid = s.start_session("P1", "fep", "run", 30.0)
        s.add_events(sid, speech_rows(phrases) + agent)
        tr = trial_from_events(s.events(sid), 60.0)
        assert trial_from_events(s.events(sid, "agent"), 60.0) is None
    assert tr is not None and tr.phrases == len(phrases) and tr.backchannels.tolist() == [agent[0].t_onset]
    assert tr.share == 1.0 and tr.agent_onsets.size == 2


def test_the_report_draws_the_backchannel_curve_for_a_study_with_speech(tmp_path: Path) -> None:
    """A simulated study (180 s trials) whose sessions carry the participant's phrases gets the figure; its agent
    nods fall over the speech in the first minute and in the pauses after it, so the curve rises from 0 to 1."""
    db, out = tmp_path / "study.db", tmp_path / "out"
    assert main(["experiment", "simulate", str(ROOT / "examples/protocols/horibe2022.yaml"), "--n", "3",
                 "--store", str(db)]) == 0
    talk = TalkModel(config_from_dict({"speech": {"enabled": True, "gap_mean_s": 1.0}}).speech, seed=2)
    for i in range(1, 180 * 60 + 1):
        talk.step(i / 60)
    phrases = talk.new_truth()[0] + talk.flush_truth()
    with Store.open(db) as s:
        for info in s.sessions():
            nods = [EventRow("agent", "nod", p.t_offset + (0.1 if p.t_offset > 60 else -0.8), None, {"class": "nod"})
                    for p in phrases if p.t_offset < 179]
            s.add_events(info.id, speech_rows(phrases) + nods)
        s.conn.commit()
    assert main(["experiment", "analyze", str(db), "--out", str(out), "--surrogates", "50"]) == 0
    html = (out / "report.html").read_text()
    assert "backchannel_curve.png" in html and (out / "backchannel_curve.png").stat().st_size > 5000
    from experiments.analysis.study import analyze_study

    a = analyze_study(str(db))
    curves = share_curves([(t.condition, t.backchannel) for t in a.trials], a.conditions)
    assert all(c.mean.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0] for c in curves.values()), curves
