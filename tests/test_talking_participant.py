"""The talking virtual participant in the demo and the experiment loop: with audio on and no script it talks with its
own talk model, heard through the hearing stage (features, speech events, transcripts -> brain turns), its phrases
stored as ground truth so the backchannel analysis and the report's learning curve work on these databases; a text
starting with '-' is still spoken by espeak-ng."""
from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from pathlib import Path

import pytest

from cli import main
from experiments.analysis.backchannel import trial_from_events
from fep_motion.store import Store
from perception.audio.sources import speech_extent, synthesize

ROOT = Path(__file__).resolve().parents[1]
TWO = ROOT / "examples/protocols/horibe2022_two_conditions.yaml"
DEMO_S = 20.0


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


def _phrases(db: Path, sid: int) -> list[tuple[float, float, str]]:
    return [(a, b, json.loads(p)["text"]) for a, b, p in _rows(
        db, f"SELECT t_onset, t_offset, params FROM events WHERE session_id = {sid} AND actor = 'participant_speech' "
            "ORDER BY t_onset")]


def _check_heard_session(db: Path, sid: int, duration: float) -> None:
    """Audio analysed for the whole session, speech where the participant spoke, each phrase recognised and every
    non-empty transcript handed to the brain as the participant's utterance."""
    phrases = _phrases(db, sid)
    assert len(phrases) >= 3
    n_frames, n_speech = _rows(
        db, f"SELECT COUNT(*), SUM(in_speech) FROM audio_features WHERE session_id = {sid}")[0]
    assert abs(n_frames * 0.02 - duration) <= 0.1  # every 20 ms of the session was heard
    spoken = sum(b - a for a, b, _ in phrases)
    assert 0.8 * spoken < n_speech * 0.02 < spoken + len(phrases) * 0.4  # speech time: the phrases (+ hangovers)
    kinds = [k for (k,) in _rows(db, f"SELECT kind FROM speech_events WHERE session_id = {sid}")]
    assert kinds.count("onset") >= len(phrases) - 1 and abs(kinds.count("onset") - kinds.count("offset")) <= 1
    trs = _rows(db, f"SELECT start_t, end_t, text, t_ready FROM transcripts WHERE session_id = {sid} ORDER BY end_t")
    for a, b, _ in phrases:
        if b < duration - 0.5:  # each finished phrase is covered by a transcript ending with it
            over = [r for r in trs if r[0] < b and r[1] > a]
            assert over and any(r[2] for r in over), (a, b, trs)
            assert b - 0.1 <= max(r[1] for r in over) <= b + 0.2
    turns = _rows(db, f"SELECT t, utterance, source FROM brain_turns WHERE session_id = {sid} ORDER BY t, id")
    assert [(t, u) for t, u, _ in turns] == [(r[3], r[2]) for r in trs if r[2].strip()]
    assert turns and all(s == "speech" for _, _, s in turns)


@pytest.fixture(scope="module")
def talking_demo(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("talking") / "demo"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["demo", "--fast", "--no-video", "--duration", str(DEMO_S), "--seed", "5", "--out", str(out),
                     "--audio", "on"]) == 0
    return out / "study.db", buf.getvalue()


def test_demo_participant_talks_is_heard_answered_and_its_speech_is_stored(talking_demo):
    db, printed = talking_demo
    (sid,) = _rows(db, "SELECT id FROM sessions")[0]
    _check_heard_session(db, sid, DEMO_S)
    meta = dict(_rows(db, f"SELECT key, value FROM session_meta WHERE session_id = {sid}"))
    assert json.loads(meta["virtual_participant"])["config"]["speech"]["enabled"] is True
    assert json.loads(meta["brain"])["backend"] == "embedded"
    # the summary's hearing lines are filled with what was stored
    n_tr = _rows(db, "SELECT COUNT(*) FROM transcripts")[0][0]
    n_turns = _rows(db, "SELECT COUNT(*) FROM brain_turns")[0][0]
    heard = next(x for x in printed.splitlines() if x.strip().startswith("heard"))
    assert f"{n_tr} transcripts" in heard and f"brain turns {n_turns} ({n_turns} from speech)" in heard
    assert f"dialogue             {n_turns} turns" in printed
    assert f"participant speech   {len(_phrases(db, sid))} phrases" in printed
    assert printed.strip() == (db.parent / "summary.txt").read_text().strip()
    # the backchannel analysis reads the demo database
    with Store.open(db, recover=False) as st:
        trial = trial_from_events(st.events(sid), DEMO_S)
    assert trial is not None and trial.phrases == len(_phrases(db, sid)) and 0 < trial.chance < 1


def test_a_fast_talking_demo_is_reproducible(tmp_path):
    def once(name: str) -> list[list[tuple]]:
        out = tmp_path / name
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["demo", "--fast", "--no-video", "--duration", "8", "--seed", "4", "--out", str(out),
                         "--audio", "on"]) == 0
        db = out / "study.db"
        return [_rows(db, q) for q in ("SELECT start_t, end_t, text FROM transcripts",
                                       "SELECT actor, kind, t_onset, t_offset, params FROM events",
                                       "SELECT t, utterance, reply FROM brain_turns")]

    first = once("a")
    assert first[0] and first[2]
    assert once("b") == first


def test_demo_audio_off_keeps_a_talking_participant_unheard_and_stores_no_speech(tmp_path):
    cfg = tmp_path / "vp.yaml"
    cfg.write_text("speech: {enabled: true}\n")
    out = tmp_path / "off"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["demo", "--fast", "--no-video", "--duration", "3", "--out", str(out), "--audio", "off",
                     "--participant-config", str(cfg)]) == 0
    db = out / "study.db"
    assert _rows(db, "SELECT COUNT(*) FROM audio_features")[0][0] == 0
    assert _rows(db, "SELECT COUNT(*) FROM events WHERE actor = 'participant_speech'")[0][0] == 0
    assert _rows(db, "SELECT COUNT(*) FROM brain_turns")[0][0] == 0


def test_a_text_starting_with_a_dash_is_spoken_not_taken_as_an_option():
    x = synthesize("-v is a flag, but here it is what I say")
    a, b = speech_extent(x)
    assert b - a > 1.0  # about two seconds of speech, not an espeak-ng 'invalid option' error


def _short_protocol(tmp_path, seconds: int):
    """The two-condition protocol with `seconds`-long trials and no breaks."""
    proto = tmp_path / "short.yaml"
    proto.write_text(TWO.read_text().replace("trial_duration_s: 180", f"trial_duration_s: {seconds}")
                     .replace("break_s: 30", "break_s: 0"))
    return proto


def test_simulate_loop_with_audio_stores_speech_and_the_report_draws_the_backchannel_curve(tmp_path):
    seconds = 20
    proto = _short_protocol(tmp_path, seconds)
    db = tmp_path / "s.db"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["experiment", "simulate", str(proto), "--n", "1", "--store", str(db), "--engine", "loop",
                     "--audio", "on", "--seed", "4"]) == 0
        assert main(["experiment", "report", str(db), "--out", str(tmp_path / "rep"), "--surrogates", "20"]) == 0
    sids = [s for (s,) in _rows(db, "SELECT id FROM sessions WHERE status = 'completed' ORDER BY id")]
    assert len(sids) == 2
    for sid in sids:
        _check_heard_session(db, sid, seconds)
    assert (tmp_path / "rep" / "backchannel_curve.png").stat().st_size > 1000
    assert "Learning curve of backchannel placement" in (tmp_path / "rep" / "report.html").read_text()


def test_simulate_audio_on_needs_the_loop_engine(tmp_path, capsys):
    db = tmp_path / "s.db"
    assert main(["experiment", "simulate", str(TWO), "--n", "1", "--store", str(db), "--audio", "on"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--audio on needs --engine loop" in err[0]
    assert not db.exists()


def test_experiment_run_virtual_with_audio_talks_and_is_heard(tmp_path):
    seconds = 15
    proto = _short_protocol(tmp_path, seconds)
    db = tmp_path / "r.db"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["experiment", "run", str(proto), "--participant", "P01", "--virtual", "default", "--store",
                     str(db), "--questionnaire", "virtual", "--audio", "on", "--seed", "9"]) == 0
    sids = [s for (s,) in _rows(db, "SELECT id FROM sessions WHERE status = 'completed' ORDER BY id")]
    assert len(sids) == 2
    for sid in sids:
        _check_heard_session(db, sid, seconds)


def test_experiment_run_audio_on_needs_a_virtual_participant_on_the_loop_engine(tmp_path, capsys):
    db = tmp_path / "r.db"
    assert main(["experiment", "run", str(TWO), "--participant", "P01", "--virtual", "default", "--store", str(db),
                 "--questionnaire", "virtual", "--engine", "events", "--audio", "on"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--audio on needs --virtual and --engine loop" in err[0]
    assert not db.exists()
