"""The real session loop as the trial engine: virtual participants through perception, policy, body and store, the
analysis reading detected events and motion energy from stored frames, and a killed `experiment run` resuming."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli import main

ROOT = Path(__file__).resolve().parents[1]
TWO = ROOT / "examples/protocols/horibe2022_two_conditions.yaml"
THREE = ROOT / "examples/protocols/horibe2022.yaml"


def _short(tmp_path: Path, src: Path, seconds: int) -> Path:
    p = tmp_path / f"short_{src.stem}.yaml"
    p.write_text(src.read_text().replace("trial_duration_s: 180", f"trial_duration_s: {seconds}").replace(
        "break_s: 30", "break_s: 0"))
    return p


def test_loop_engine_study_is_analyzed_from_stored_frames(tmp_path: Path, capsys) -> None:
    proto = _short(tmp_path, TWO, 45)
    db = tmp_path / "s.db"
    assert main(["experiment", "simulate", str(proto), "--n", "1", "--store", str(db), "--engine", "loop"]) == 0
    c = sqlite3.connect(db)
    assert c.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 2 * 45 * 30  # 30 fps, two trials
    assert c.execute("SELECT COUNT(*) FROM trial_signals").fetchone()[0] == 0  # no fast-path shortcut
    assert main(["experiment", "analyze", str(db), "--out", str(tmp_path / "o"), "--surrogates", "100"]) == 0
    rows = (tmp_path / "o" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    first = dict(zip(header, rows[1].split(",")))
    assert first["human_events_source"] == "participant"  # detected by perception, not the ground truth
    assert first["wcc_peak_z"] != "" and first["granger_p_agent_to_human"] != ""


def test_bad_policy_params_fail_before_the_database(tmp_path: Path, capsys) -> None:
    proto = tmp_path / "p.yaml"
    text = TWO.read_text()
    assert "policy: fep, label" in text
    proto.write_text(text.replace("policy: fep, label", "policy: fep, params: {no_such_knob: 3}, label"))
    db = tmp_path / "s.db"
    assert main(["experiment", "run", str(proto), "--participant", "P01", "--virtual", "default",
                 "--store", str(db), "--questionnaire", "virtual"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "conditions[0]" in err and "no_such_knob" in err
    assert not db.exists()


@pytest.mark.integration
def test_killed_run_resumes_at_next_uncompleted_trial(tmp_path: Path) -> None:
    proto = _short(tmp_path, THREE, 60)
    db = tmp_path / "s.db"
    cmd = [sys.executable, "-m", "cli", "experiment", "run", str(proto), "--participant", "P07",
           "--virtual", "default", "--questionnaire", "virtual", "--store", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.time() + 120
    status: list[str] = []
    live: list[str] = []
    # Wait until trial 1 is completed and trial 2's session is recording, then kill -9. The trial row turns
    # 'running' before the loop opens its session row; killing in between leaves no session to mark interrupted.
    while time.time() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as c:
                    status = [r[0] for r in c.execute(
                        "SELECT status FROM trials WHERE participant_id = 'P07' ORDER BY trial_index")]
                    live = [r[0] for r in c.execute(
                        "SELECT s.status FROM sessions s WHERE s.id IN (SELECT session_id FROM frames) ORDER BY s.id")]
            except sqlite3.Error:
                status, live = [], []
        if status[:2] == ["completed", "running"] and live == ["completed", "running"]:
            break
        if proc.poll() is not None:
            pytest.fail(f"run ended before it could be killed: {proc.communicate()[1].decode()[-400:]}")
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"trial 2 never started recording; trials {status}, sessions with frames {live}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-400:]
    assert "2 trial(s) run, 1 already completed" in out.stdout
    with sqlite3.connect(db) as c:
        assert [r[0] for r in c.execute("SELECT status FROM trials ORDER BY trial_index")] == ["completed"] * 3
        sessions = c.execute("SELECT status FROM sessions ORDER BY id").fetchall()
        assert [s[0] for s in sessions] == ["completed", "interrupted", "completed", "completed"]
        done = c.execute("SELECT COUNT(DISTINCT trial_index) FROM questionnaire_responses").fetchone()[0]
        assert done == 3


def test_video_source_run_with_terminal_questionnaire(tmp_path: Path, vtest_path: Path) -> None:
    import io

    from experiments.protocol import load_protocol
    from experiments.runner import run_participant

    proto = load_protocol(_short(tmp_path, TWO, 4))
    n = sum(len(b.items) for b in proto.questionnaires)
    db = tmp_path / "s.db"
    out = io.StringIO()
    s = run_participant(proto, db, "P03", source=str(vtest_path), stdin=io.StringIO("5\n" * (2 * n)), stdout=out,
                        breaks=False)
    assert (s.trials_run, s.trials_skipped) == (2, 0)
    assert "You will interact" in out.getvalue()  # the protocol's instructions were shown
    with sqlite3.connect(db) as c:
        kinds = c.execute("SELECT kind FROM study_participants").fetchall()
        frames = c.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
        values = {r[0] for r in c.execute("SELECT value FROM questionnaire_responses WHERE via = 'terminal'")}
    assert kinds == [("video",)] and frames > 0 and values == {5}


def test_recorded_participant_is_replayed_through_each_condition(tmp_path: Path) -> None:
    rec_db = tmp_path / "rec.db"
    assert main(["experiment", "simulate", str(_short(tmp_path, TWO, 6)), "--n", "1", "--store", str(rec_db),
                 "--engine", "loop"]) == 0
    db = tmp_path / "s.db"
    proto = _short(tmp_path, THREE, 5)
    assert main(["experiment", "run", str(proto), "--participant", "R01", "--source", f"{rec_db}:1",
                 "--questionnaire", "virtual", "--store", str(db)]) == 2  # virtual answers need --virtual
    assert not db.exists()
    import io

    from experiments.protocol import load_protocol
    from experiments.runner import run_participant

    p = load_protocol(proto)
    n = sum(len(b.items) for b in p.questionnaires)
    s = run_participant(p, db, "R01", source=f"{rec_db}:1", stdin=io.StringIO("3\n" * (3 * n)),
                        stdout=io.StringIO(), breaks=False)
    assert s.trials_run == 3
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT source, stored_frames FROM sessions ORDER BY id").fetchall()
    assert len(rows) == 3 and all(r[0] == f"{rec_db}:1" and r[1] > 0 for r in rows)


def test_a_condition_script_talks_to_the_brain_during_its_trial(tmp_path: Path) -> None:
    """A protocol condition's `utterances` script is said to the embedded brain in that condition's trial only; the
    replies, intents and the agent's preference shifts are stored with the trial's session."""
    (tmp_path / "fep_script.tsv").write_text(
        "1.0\tHi! I just came back from a trip to Kyoto.\n3.0\tThanks, bye for now!\n")
    proto = _short(tmp_path, TWO, 8)
    text = proto.read_text()
    proto.write_text(text.replace("policy: fep, label", "policy: fep, utterances: fep_script.tsv, label"))
    db = tmp_path / "s.db"
    assert main(["experiment", "simulate", str(proto), "--n", "1", "--store", str(db), "--engine", "loop"]) == 0
    c = sqlite3.connect(db)
    rows = c.execute("SELECT s.policy, b.utterance, b.intent, b.habit_shift FROM brain_turns b "
                     "JOIN sessions s ON s.id = b.session_id ORDER BY b.t").fetchall()
    assert [r[0] for r in rows] == ["fep", "fep"]  # only the scripted condition talked
    assert rows[0][1].startswith("Hi!") and rows[0][2] == "greet" and "wave" in rows[0][3]
    assert rows[1][2] == "farewell"
    assert c.execute("SELECT COUNT(*) FROM utterances WHERE speaker = 'agent'").fetchone()[0] == 2


def test_a_missing_condition_script_is_a_one_line_protocol_error(tmp_path: Path, capsys) -> None:
    proto = tmp_path / "p.yaml"
    proto.write_text(TWO.read_text().replace("policy: fep, label", "policy: fep, utterances: nope.tsv, label"))
    db = tmp_path / "s.db"
    assert main(["experiment", "simulate", str(proto), "--n", "1", "--store", str(db)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "utterances" in err and "nope.tsv" in err and "not found" in err
    assert not db.exists()
