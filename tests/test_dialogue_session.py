"""Sessions that talk: a scripted demo stores utterances, replies, intents and the E/C shifts (and exports them);
a hung server never slows the motion loop; a brain server killed mid-session leaves a completed session with the
time-out message stored beside the fallback reply."""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from cli import main
from fep_motion.store import Store

CLI = [sys.executable, "-m", "cli"]


def _script(tmp_path: Path, lines: list[tuple[float, str]]) -> Path:
    f = tmp_path / "script.tsv"
    f.write_text("".join(f"{t}\t{text}\n" for t, text in lines))
    return f


def _turns(db: Path) -> list[dict]:
    with sqlite3.connect(db) as c:
        c.row_factory = sqlite3.Row
        return [dict(r) for r in c.execute("SELECT * FROM brain_turns ORDER BY t, id")]


def test_scripted_demo_stores_replies_intents_and_shifts_and_the_agent_is_steered(tmp_path, capsys):
    script = _script(tmp_path, [(1.0, "Hi! I just came back from a trip to Kyoto."),
                                (4.0, "Thanks, bye for now!")])
    out = tmp_path / "demo"
    assert main(["demo", "--fast", "--no-video", "--duration", "8", "--seed", "2", "--out", str(out),
                 "--utterances", str(script)]) == 0
    db = out / "study.db"
    turns = _turns(db)
    assert [(r["t"], r["t_reply"], r["source"]) for r in turns] == [(1.0, 1.0, "script"), (4.0, 4.0, "script")]
    assert [r["intent"] for r in turns] == ["greet", "farewell"]  # the shipped model, greedy
    assert all(r["fallback"] == 0 and r["backend"] == "embedded" and r["reply"] for r in turns)
    assert json.loads(turns[0]["habit_shift"]) == {"wave": 1.0, "welcome": 0.5}
    assert json.loads(turns[0]["preference_shift"]) == {"facing.toward": 0.5, "event.gesture": 0.5}
    assert turns[0]["summary"].startswith("the user ")  # the perception summary that was sent
    with Store.open(db, recover=False) as st:
        utt = st.conn.execute("SELECT t, speaker, text, intent FROM utterances ORDER BY id").fetchall()
        beliefs = [(t, json.loads(b)) for t, b in st.conn.execute("SELECT t, belief FROM decisions ORDER BY t")]
        meta = st.meta(1)
    # --fast runs on virtual time: each reply is awaited and lands on the tick its utterance was sent
    assert [(u[0], u[1], u[3]) for u in utt] == [(1.0, "participant", ""), (1.0, "agent", "greet"),
                                                 (4.0, "participant", ""), (4.0, "agent", "farewell")]
    # every decision after the greeting carries the (fading, bounded) deltas in force; none before it
    steered = [(t, b["steering"]) for t, b in beliefs if b.get("steering")]
    assert steered and all(t >= 1.0 for t, _ in steered)
    assert all(t < 1.0 for t, b in beliefs if not b.get("steering"))
    assert all(0 < v <= 1.0 for _, s in steered for v in s["habits"].values() if v > 0)
    assert meta["brain"]["backend"] == "embedded" and meta["brain"]["scripted_utterances"] == 2
    printed = capsys.readouterr().out
    assert "dialogue             2 turns" in printed and "agent [greet]" in printed and "E.wave +1.00" in printed
    assert "agent [greet]" in (out / "summary.txt").read_text()
    # `fep-motion export` writes the turns out with everything else
    assert main(["export", str(db), "--format", "csv", "--out", str(tmp_path / "csv")]) == 0
    csv_text = (tmp_path / "csv" / "brain_turns.csv").read_text()
    assert "habit_shift" in csv_text.splitlines()[0] and "farewell" in csv_text


class HungServer:
    """An OpenAI-compatible address that accepts connections and never answers (a stuck LLM server)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)  # read nothing, answer nothing

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_a_hung_server_never_slows_the_loop_and_replies_fall_back(tmp_path, capsys):
    srv = HungServer()
    try:
        script = _script(tmp_path, [(0.3, "Hello?"), (1.0, "Are you there?")])
        out = tmp_path / "hung"
        rc = main(["demo", "--no-video", "--duration", "3", "--out", str(out), "--utterances", str(script),
                   "--brain", "openai", "--base-url", f"http://127.0.0.1:{srv.port}/v1", "--brain-timeout", "1.5"])
    finally:
        srv.close()
    assert rc == 0
    err = capsys.readouterr().err
    assert "warning: brain server" in err  # the start-up probe could not reach it: one line, not fatal
    db = out / "study.db"
    with Store.open(db, recover=False) as st:
        info = st.session(1)
        stored = st.frame_count(1)
        ms = np.array([np.frombuffer(b, np.float32) for (b,) in
                       st.conn.execute("SELECT stage_ms FROM frames WHERE session_id = 1")])
    assert info.status == "completed" and stored >= 0.9 * info.scheduled_frames
    # the loop never waited: no tick came near the brain's 1.5 s time-out while two requests hung
    assert ms.sum(axis=1).max() < 500.0
    turns = _turns(db)
    assert len(turns) == 2 and all(r["fallback"] == 1 and r["reply"] == "Mm-hm." for r in turns)
    assert all("time-out" in r["error"] for r in turns)
    assert all(r["t_reply"] - r["t"] >= 1.0 for r in turns if r["t_reply"] < 3.0)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_brain_server_killed_mid_session_the_session_completes_with_the_timeout_stored(tmp_path, capsys):
    port = _port()
    proc = subprocess.Popen(CLI + ["brain", "serve", "--port", str(port), "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"), start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        t0 = time.monotonic()
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                with urllib.request.urlopen(url + "/models", timeout=2):
                    break
            except OSError:
                assert time.monotonic() - t0 < 60, "brain serve did not come up"
                time.sleep(0.2)
        out = tmp_path / "killed"
        db = out / "study.db"
        killed = threading.Event()

        def kill_after_first_reply() -> None:  # watch the store; kill the server once the first reply is committed
            while not killed.is_set():
                try:
                    with sqlite3.connect(db, timeout=1) as c:
                        n = c.execute("SELECT COUNT(*) FROM brain_turns").fetchone()[0]
                except sqlite3.Error:
                    n = 0
                if n >= 1:
                    os.killpg(proc.pid, signal.SIGKILL)
                    killed.set()
                    return
                time.sleep(0.05)

        watcher = threading.Thread(target=kill_after_first_reply, daemon=True)
        watcher.start()
        script = _script(tmp_path, [(0.3, "Hi! I just came back from a trip to Kyoto."),
                                    (3.0, "Are you still there?")])
        rc = main(["demo", "--no-video", "--duration", "4.5", "--out", str(out), "--utterances", str(script),
                   "--brain", "openai", "--base-url", url, "--brain-timeout", "3"])
        killed.set()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert rc == 0
    with Store.open(db, recover=False) as st:
        assert st.session(1).status == "completed"
    turns = _turns(db)
    assert len(turns) == 2
    assert turns[0]["fallback"] == 0 and turns[0]["intent"] == "greet"  # answered while the server lived
    assert turns[1]["fallback"] == 1 and turns[1]["reply"] == "Mm-hm." and turns[1]["intent"] == "listen"
    assert "time-out" in turns[1]["error"] and "cannot reach" in turns[1]["error"]
    summary = (out / "summary.txt").read_text()
    assert "agent [listen]: Mm-hm.  (brain time-out" in summary  # the time-out message shows in the summary
