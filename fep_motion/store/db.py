"""The study database (docs/architecture.md §4): one SQLite file per study, WAL mode, migrated on open,
crash-recovering.

A session whose status is still `running` when the database is opened, and whose writer process is gone, is marked
`interrupted` (a killed process). Per-session rows are written through `SessionWriter` (fep_motion.store.writer).
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from fep_motion.store.errors import StoreError
from fep_motion.store.migrations import latest_version, registered, unknown_versions

SESSION_STATUSES: tuple[str, ...] = ("running", "completed", "interrupted")


@dataclass
class SessionInfo:
    """One row of the sessions table."""

    id: int
    participant_id: str
    policy: str
    mode: str
    source: str
    status: str
    started_at: float
    ended_at: float | None
    fps: float
    scheduled_frames: int
    stored_frames: int
    seed: int | None


@dataclass
class EventRow:
    """An agent or participant gesture event as stored."""

    actor: str
    kind: str
    t_onset: float
    t_offset: float | None
    params: dict[str, Any]


@dataclass
class HeardRecord:
    """What a session heard (migration 4): speech time, speech segments, transcripts and the replies they got.

    `transcript_delays` are utterance end -> transcript in the loop (t_ready - end_t); `reply_delays` utterance end
    -> the brain's reply reaching the agent (brain_turns.t_reply - end_t), both in session seconds."""

    audio_frames: int
    speech_s: float
    utterances: int  # speech segments the VAD gate closed (offset events)
    transcripts: int  # non-empty transcripts
    transcript_delays: np.ndarray
    reply_delays: np.ndarray
    brain_turns: int
    heard_turns: int  # brain turns whose utterance came from speech recognition


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed child not yet reaped) still answers kill(0); read its state where /proc exists.
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


class Store:
    """An open study database. Use `Store.open(path)`; close() (or a with-block) when done."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn

    # ---- opening -------------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = True, recover: bool = True) -> Store:
        """Open (or create) the study database at `path`, apply pending migrations, mark dead sessions interrupted."""
        p = Path(path)
        if not create and not p.exists():
            raise StoreError(f"{p}: no such study database (check the path, or run a session to create it)")
        if p.exists() and p.is_dir():
            raise StoreError(f"{p} is a directory, not a study database file (pass a path like {p}/study.db)")
        if not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(str(p), isolation_level=None, timeout=10.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            store = cls(p, conn)
            store._migrate()
            if recover:
                store.recover_interrupted()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{p} is not a readable fep-motion study database ({exc}); restore it from a backup or pass a new path"
            ) from None
        return store

    def _migrate(self) -> None:
        c = self.conn
        c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)")
        current = self.schema_version()
        if unknown_versions(self.applied_versions()):
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this fep-motion ({latest_version()}); "
                "upgrade fep-motion to open it"
            )
        for m in registered():
            if m.version in self.applied_versions():
                continue
            c.execute("BEGIN IMMEDIATE")
            try:
                if m.version in self.applied_versions():  # another process migrated meanwhile
                    c.execute("COMMIT")
                    continue
                m.apply(c)
                c.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (m.version, m.name, time.time()))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def schema_version(self) -> int:
        """The highest migration applied to this database."""
        row = self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def applied_versions(self) -> set[int]:
        """Every migration applied to this database (a layer's migration may be applied after later core ones)."""
        return {int(v) for (v,) in self.conn.execute("SELECT version FROM schema_version")}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT around the block (ROLLBACK on any exception): several writes land together."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def recover_interrupted(self) -> list[int]:
        """Mark `running` sessions whose writer process is gone as interrupted; returns their ids."""
        rows = self.conn.execute("SELECT id, pid FROM sessions WHERE status = 'running'").fetchall()
        dead = [sid for sid, pid in rows if not _pid_alive(pid)]
        for sid in dead:
            last = self.conn.execute("SELECT MAX(t), COUNT(*) FROM frames WHERE session_id = ?", (sid,)).fetchone()
            started = self.conn.execute("SELECT started_at FROM sessions WHERE id = ?", (sid,)).fetchone()[0]
            ended = started + float(last[0]) if last[0] is not None else None
            self.conn.execute(
                "UPDATE sessions SET status = 'interrupted', ended_at = ?, stored_frames = ? WHERE id = ?",
                (ended, int(last[1]), sid),
            )
        return dead

    def close(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- participants and sessions -------------------------------------------------------------------------------
    def ensure_participant(self, participant_id: str, notes: str = "") -> None:
        """Create the pseudonymous participant if new (ids are opaque labels like P01, never names)."""
        if not participant_id or not participant_id.strip():
            raise StoreError("participant id is empty: pass --participant with a pseudonymous id such as P01")
        self.conn.execute(
            "INSERT OR IGNORE INTO participants (id, created_at, notes) VALUES (?, ?, ?)",
            (participant_id, time.time(), notes),
        )

    def start_session(
        self,
        participant_id: str,
        policy: str,
        mode: str,
        fps: float,
        source: str = "",
        seed: int | None = None,
        started_at: float | None = None,
    ) -> int:
        """Insert a `running` session and return its id; its t = 0 is `started_at` (unix time, default now)."""
        self.ensure_participant(participant_id)
        cur = self.conn.execute(
            "INSERT INTO sessions (participant_id, policy, mode, source, status, started_at, fps, seed, pid) "
            "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)",
            (participant_id, policy, mode, source, started_at or time.time(), float(fps), seed, os.getpid()),
        )
        return int(cur.lastrowid)

    def finish_session(self, session_id: int, status: str, scheduled_frames: int) -> None:
        """Close a session: its final status, how many frames the scheduler planned and how many were stored."""
        if status not in SESSION_STATUSES[1:]:
            raise ValueError(f"final status must be completed or interrupted, got {status!r}")
        n = self.conn.execute("SELECT COUNT(*) FROM frames WHERE session_id = ?", (session_id,)).fetchone()[0]
        self.conn.execute(
            "UPDATE sessions SET status = ?, ended_at = ?, scheduled_frames = ?, stored_frames = ?, pid = NULL "
            "WHERE id = ?",
            (status, time.time(), int(scheduled_frames), int(n), session_id),
        )

    def mark_interrupted(self, session_id: int) -> None:
        """Mark a session still `running` as interrupted (a trial re-run after its process died)."""
        self.conn.execute("UPDATE sessions SET status = 'interrupted' WHERE id = ? AND status = 'running'",
                          (session_id,))

    def add_events(self, session_id: int, events: Sequence[EventRow]) -> None:
        """Store gesture events of a session (e.g. simulated ones) in one statement."""
        self.conn.executemany(
            "INSERT INTO events (session_id, actor, kind, t_onset, t_offset, params) VALUES (?, ?, ?, ?, ?, ?)",
            [(session_id, e.actor, e.kind, float(e.t_onset), None if e.t_offset is None else float(e.t_offset),
              json.dumps(e.params)) for e in events],
        )

    def set_meta(self, session_id: int, key: str, value: Any) -> None:
        """Store a JSON-serializable session metadata value under `key` (overwrites)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO session_meta (session_id, key, value) VALUES (?, ?, ?)",
            (session_id, key, json.dumps(value)),
        )

    def meta(self, session_id: int) -> dict[str, Any]:
        rows = self.conn.execute("SELECT key, value FROM session_meta WHERE session_id = ?", (session_id,))
        return {k: json.loads(v) for k, v in rows}

    def sessions(self) -> list[SessionInfo]:
        rows = self.conn.execute(
            "SELECT id, participant_id, policy, mode, source, status, started_at, ended_at, fps, scheduled_frames, "
            "stored_frames, seed FROM sessions ORDER BY id"
        ).fetchall()
        return [SessionInfo(*r) for r in rows]

    def session(self, session_id: int) -> SessionInfo:
        for s in self.sessions():
            if s.id == session_id:
                return s
        ids = ", ".join(str(s.id) for s in self.sessions()) or "none"
        raise StoreError(f"{self.path} has no session {session_id} (sessions: {ids})")

    # ---- reading back --------------------------------------------------------------------------------------------
    def frame_count(self, session_id: int) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM frames WHERE session_id = ?", (session_id,)).fetchone()[0])

    def ticks_elapsed(self, session_id: int) -> int:
        """Scheduler ticks the session got through: last stored tick index + 1 (0 without frames)."""
        row = self.conn.execute("SELECT MAX(idx) FROM frames WHERE session_id = ?", (session_id,)).fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def decision_count(self, session_id: int) -> int:
        """How many times the agent's policy chose among candidates in the session."""
        return int(self.conn.execute("SELECT COUNT(*) FROM decisions WHERE session_id = ?", (session_id,))
                   .fetchone()[0])

    def feature_series(self, session_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(t [n], features [n, F]) of the participant's observations, in tick order (NaN where missing)."""
        rows = self.conn.execute("SELECT t, features FROM observations WHERE session_id = ? ORDER BY idx",
                                 (session_id,)).fetchall()
        t = np.array([r[0] for r in rows], dtype=float)
        feats = [np.frombuffer(r[1], np.float64) for r in rows]
        return t, (np.stack(feats) if feats else np.empty((0, 0)))

    def agent_pose_series(self, session_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(t [n], joint angles [n, DOF]) of the agent's body on the frames where it was stored."""
        rows = self.conn.execute("SELECT t, agent_pose FROM frames WHERE session_id = ? AND agent_pose IS NOT NULL "
                                 "ORDER BY idx", (session_id,)).fetchall()
        t = np.array([r[0] for r in rows], dtype=float)
        q = [np.frombuffer(r[1], np.float32).astype(float) for r in rows]
        return t, (np.stack(q) if q else np.empty((0, 0)))

    def pose_stream(self, session_id: int) -> list[tuple[int, float, bool, np.ndarray, np.ndarray | None, bool]]:
        """Stored participant frames: (idx, t, valid, landmarks [33, 4], world [33, 3] or None, gap), in order."""
        out = []
        for idx, t, valid, lm, world, gap in self.conn.execute(
            "SELECT idx, t, valid, landmarks, world, gap FROM frames WHERE session_id = ? ORDER BY idx", (session_id,)
        ):
            land = np.frombuffer(lm, np.float32).reshape(33, 4).copy() if lm else np.full((33, 4), np.nan, np.float32)
            w = np.frombuffer(world, np.float32).reshape(33, 3).copy() if world else None
            out.append((int(idx), float(t), bool(valid), land, w, bool(gap)))
        return out

    def events(self, session_id: int, actor: str | None = None) -> list[EventRow]:
        sql = "SELECT actor, kind, t_onset, t_offset, params FROM events WHERE session_id = ?"
        args: tuple[Any, ...] = (session_id,)
        if actor is not None:
            sql += " AND actor = ?"
            args += (actor,)
        rows = self.conn.execute(sql + " ORDER BY t_onset", args).fetchall()
        return [EventRow(a, k, on, off, json.loads(p)) for a, k, on, off, p in rows]

    def free_energy(self, session_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(t, F) per frame where the agent reported F."""
        rows = self.conn.execute(
            "SELECT t, free_energy FROM observations WHERE session_id = ? AND free_energy IS NOT NULL ORDER BY idx",
            (session_id,),
        ).fetchall()
        arr = np.array(rows, dtype=float).reshape(-1, 2)
        return arr[:, 0], arr[:, 1]

    def gaps(self, session_id: int) -> list[tuple[float, float | None, str]]:
        return [
            (float(a), None if b is None else float(b), r)
            for a, b, r in self.conn.execute(
                "SELECT t_start, t_end, reason FROM gaps WHERE session_id = ? ORDER BY t_start", (session_id,)
            )
        ]

    def heard(self, session_id: int, frame_s: float = 0.02) -> HeardRecord:
        """The session's hearing, read back for the summary and the benchmarks (docs/architecture.md §4)."""
        c = self.conn
        n_frames, n_speech = c.execute("SELECT COUNT(*), COALESCE(SUM(in_speech), 0) FROM audio_features "
                                       "WHERE session_id = ?", (session_id,)).fetchone()
        segments = c.execute("SELECT COUNT(*) FROM speech_events WHERE session_id = ? AND kind = 'offset'",
                             (session_id,)).fetchone()[0]
        tr = c.execute("SELECT end_t, t_ready FROM transcripts WHERE session_id = ? AND TRIM(text) != '' "
                       "ORDER BY end_t", (session_id,)).fetchall()
        replies = c.execute(
            "SELECT MIN(b.t_reply) - tr.end_t FROM transcripts tr JOIN brain_turns b ON b.session_id = tr.session_id "
            "AND b.source = 'speech' AND b.t = tr.t_ready AND b.utterance = TRIM(tr.text) "
            "WHERE tr.session_id = ? GROUP BY tr.id ORDER BY tr.end_t", (session_id,)).fetchall()
        turns, heard_turns = c.execute("SELECT COUNT(*), COALESCE(SUM(source = 'speech'), 0) FROM brain_turns "
                                       "WHERE session_id = ?", (session_id,)).fetchone()
        return HeardRecord(int(n_frames), int(n_speech) * frame_s, int(segments), len(tr),
                           np.array([b - a for a, b in tr], dtype=float),
                           np.array([r[0] for r in replies], dtype=float), int(turns), int(heard_turns))

    def integrity_ok(self) -> bool:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
