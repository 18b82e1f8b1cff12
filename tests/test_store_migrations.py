"""Schema migrations: a study database left at every earlier schema version (0 = an empty SQLite file) opens,
upgrades to the latest version in order, and keeps its rows; a newer-schema database is refused with one line (exit
2) and left byte-for-byte unchanged."""
from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

import experiments.schema  # noqa: F401  (the experiment tables: migration 2, registered by their layer)
from cli import main
from experiments.study_store import open_study, trials
from fep_motion.store import SessionWriter, Store, StoreError
from fep_motion.store import migrations as mig
from perception.types import Observation, PoseFrame

LATEST = mig.latest_version()


def _write_at_version(path: Path, version: int) -> None:
    """A database as fep-motion at schema `version` left it: migrations 1..version, each recorded, plus rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    if version > 0:
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)")
    for m in mig.registered():
        if m.version > version:
            break
        conn.execute("BEGIN")
        m.apply(conn)
        conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (m.version, m.name, time.time()))
        conn.execute("COMMIT")
    if version >= 1:  # a finished session, with the core rows of that era
        conn.execute("INSERT INTO participants (id, created_at) VALUES ('P01', 0)")
        conn.execute("INSERT INTO sessions (participant_id, policy, mode, status, started_at, fps, scheduled_frames, "
                     "stored_frames) VALUES ('P01', 'fep', 'live', 'completed', 1.0, 30.0, 2, 2)")
        lm = np.arange(33 * 4, dtype=np.float32).tobytes()
        for i in range(2):
            conn.execute("INSERT INTO frames (session_id, idx, t, valid, landmarks) VALUES (1, ?, ?, 1, ?)",
                         (i, i / 30, lm))
        conn.execute("INSERT INTO events (session_id, actor, kind, t_onset, params) VALUES (1, 'agent', 'nod', 0.5, "
                     "'{\"cycles\": 2}')")
    if version >= 2:
        conn.execute("INSERT INTO trials (participant_id, trial_index, condition_id, policy, duration_s, status, "
                     "session_id) VALUES ('P01', 0, 'fep', 'fep', 180, 'completed', 1)")
    if version >= 3:
        conn.execute("INSERT INTO brain_turns (session_id, t, t_reply, utterance, source, summary, reply, intent, "
                     "intent_parsed, fallback, backend, latency_s) VALUES (1, 1.0, 1.2, 'Hi', 'script', '', 'Hello!', "
                     "'greet', 1, 0, 'embedded', 0.1)")
    conn.close()


@pytest.mark.parametrize("version", range(LATEST + 1))
def test_database_of_every_earlier_version_opens_upgrades_and_keeps_rows(tmp_path: Path, version: int):
    path = tmp_path / f"v{version}.db"
    _write_at_version(path, version)
    with Store.open(path) as st:
        assert st.schema_version() == LATEST
        applied = [r[0] for r in st.conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert applied == [m.version for m in mig.registered()]  # each migration once, in order
        assert st.integrity_ok()
        if version >= 1:
            s = st.session(1)
            assert (s.participant_id, s.status, s.stored_frames) == ("P01", "completed", 2)
            stream = st.pose_stream(1)
            np.testing.assert_array_equal(stream[1][3].ravel(), np.arange(33 * 4, dtype=np.float32))
            assert st.events(1, "agent")[0].params == {"cycles": 2}
        if version >= 2:
            assert st.conn.execute("SELECT status FROM trials").fetchone()[0] == "completed"
        if version >= 3:
            assert st.conn.execute("SELECT reply FROM brain_turns").fetchone()[0] == "Hello!"
        # the upgraded database takes a new session through today's writer
        sid = st.start_session("P02", "idle", "test", 30.0)
        w = SessionWriter(st, sid)
        w.frame(0, 0.0, PoseFrame.empty(0.0, (640, 480)))
        w.observation(0, Observation.missing(0.0), 1.0)
        w.flush()
        st.finish_session(sid, "completed", 1)
        assert st.session(sid).stored_frames == 1
    with Store.open(path) as st:  # opening again applies nothing more
        assert st.conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == LATEST


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_newer_schema_is_refused_with_one_line_and_left_unchanged(tmp_path: Path, capsys):
    path = tmp_path / "future.db"
    _write_at_version(path, LATEST)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO schema_version VALUES (?, 'from the future', 0)", (LATEST + 1,))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = _digest(path)
    with pytest.raises(StoreError, match=f"schema version {LATEST + 1}, newer .* upgrade fep-motion"):
        Store.open(path)
    rc = main(["export", str(path), "--format", "csv", "--out", str(tmp_path / "csv")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "future.db" in err and "newer" in err
    assert _digest(path) == before


def test_a_session_database_gets_the_experiment_tables_when_an_experiment_opens_it(tmp_path: Path):
    """A database written with the session tables only (1 and 3: no experiments layer imported) gains migration 2
    when an experiment opens it, and a plain Store opens the result without calling it newer."""
    path = tmp_path / "sessions-only.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)")
    for m in mig.registered():
        if m.name != "experiments":
            m.apply(conn)
            conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (m.version, m.name, time.time()))
    conn.close()
    with open_study(path) as st:
        assert st.applied_versions() == {m.version for m in mig.registered()}
        assert trials(st) == []
    with Store.open(path) as st:
        assert st.schema_version() == LATEST and st.integrity_ok()
