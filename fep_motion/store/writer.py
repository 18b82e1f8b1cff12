"""Buffered, crash-safe writes of one session's rows: statements queue in order and commit on a session-clock deadline.

A killed process loses at most `commit_interval` seconds of session time (docs/architecture.md §4 asks for <= 0.5 s);
the loop calls `tick(t)` every frame and `flush()` at the end. WAL + synchronous=NORMAL make each commit survive
`kill -9`.
A commit the database refuses (disk full, I/O error) is rolled back as a whole and raised as one StoreWriteError;
the writer then stops writing, so what was committed before stays intact and nothing half-written is left.
"""
from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

import numpy as np

from fep_motion.store.db import Store
from fep_motion.store.errors import StoreWriteError
from perception.types import Observation, PoseFrame


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "__dataclass_fields__"):
        return {k: getattr(o, k) for k in o.__dataclass_fields__}
    return str(o)


def _finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def to_json(value: Any) -> str:
    """JSON with numpy scalars/arrays and dataclasses converted; non-finite floats become null."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(json.loads(json.dumps(value, default=_json_default))))


class SessionWriter:
    """Queues one session's rows and commits them at least every `commit_interval` seconds of session time."""

    def __init__(self, store: Store, session_id: int, commit_interval: float = 0.25) -> None:
        if not (0 < commit_interval <= 0.5):
            raise ValueError(f"commit_interval must be in (0, 0.5] seconds, got {commit_interval}")
        self.store = store
        self.session_id = session_id
        self.commit_interval = float(commit_interval)
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._last_commit_t = -math.inf
        self.commits = 0
        self.rows_written = 0
        self.failed: StoreWriteError | None = None  # set when the database refused a commit; no writes after it
        self.rows_lost = 0  # rows queued when (or after) the database failed

    # ---- row producers -------------------------------------------------------------------------------------------
    def frame(
        self,
        idx: int,
        t: float,
        pose: PoseFrame | None,
        agent_pose: np.ndarray | None = None,
        stage_ms: np.ndarray | None = None,
        gap: bool = False,
    ) -> None:
        """One scheduler tick: the participant's pose (None in a gap), the agent's joint angles, stage latencies."""
        valid = bool(pose is not None and pose.valid)
        lm = None if pose is None else np.asarray(pose.landmarks, np.float32).tobytes()
        world = None if pose is None or pose.world is None else np.asarray(pose.world, np.float32).tobytes()
        ap = None if agent_pose is None else np.asarray(agent_pose, np.float32).tobytes()
        st = None if stage_ms is None else np.asarray(stage_ms, np.float32).tobytes()
        self._pending.append(
            (
                ("INSERT OR REPLACE INTO frames (session_id, idx, t, valid, gap, landmarks, world, agent_pose, "
                "stage_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                (self.session_id, int(idx), float(t), int(valid), int(gap), lm, world, ap, st),
            )
        )

    def observation(self, idx: int, obs: Observation, free_energy: float | None = None) -> None:
        self._pending.append(
            (
                ("INSERT OR REPLACE INTO observations (session_id, idx, t, features, mask, confidence, free_energy)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"),
                (
                    self.session_id,
                    int(idx),
                    float(obs.t),
                    np.asarray(obs.features, np.float64).tobytes(),
                    np.asarray(obs.mask, np.uint8).tobytes(),
                    np.asarray(obs.confidence, np.float64).tobytes(),
                    _finite_or_none(free_energy),
                ),
            )
        )

    def decision(
        self,
        t: float,
        candidates: list[dict[str, Any]],
        chosen: int | None,
        gamma: float | None,
        free_energy: float | None,
        belief: dict[str, Any] | None = None,
    ) -> None:
        """One agent decision: every candidate (primitive, class, params, G, risk, ambiguity, novelty), the choice."""
        self._pending.append(
            (
                ("INSERT INTO decisions (session_id, t, candidates, chosen, gamma, free_energy, belief)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"),
                (
                    self.session_id,
                    float(t),
                    to_json(candidates),
                    None if chosen is None else int(chosen),
                    _finite_or_none(gamma),
                    _finite_or_none(free_energy),
                    to_json(belief or {}),
                ),
            )
        )

    def event(
        self, actor: str, kind: str, t_onset: float, t_offset: float | None = None, params: dict | None = None
    ) -> None:
        self._pending.append(
            (
                "INSERT INTO events (session_id, actor, kind, t_onset, t_offset, params) VALUES (?, ?, ?, ?, ?, ?)",
                (self.session_id, actor, kind, float(t_onset), _finite_or_none(t_offset), to_json(params or {})),
            )
        )

    def gap_start(self, t: float, reason: str) -> None:
        self._pending.append(
            ("INSERT INTO gaps (session_id, t_start, reason) VALUES (?, ?, ?)", (self.session_id, float(t), reason))
        )

    def gap_end(self, t_start: float, t_end: float) -> None:
        self._pending.append(
            (
                "UPDATE gaps SET t_end = ? WHERE session_id = ? AND t_start = ? AND t_end IS NULL",
                (float(t_end), self.session_id, float(t_start)),
            )
        )

    def started(self, wall_time: float) -> None:
        """Record the unix time of session t = 0 (the first scheduler tick)."""
        self._pending.append(("UPDATE sessions SET started_at = ? WHERE id = ?", (float(wall_time), self.session_id)))

    def marker(self, t: float, label: str = "") -> None:
        self._pending.append(
            ("INSERT INTO markers (session_id, t, label) VALUES (?, ?, ?)", (self.session_id, float(t), label))
        )

    def utterance(self, t: float, speaker: str, text: str, intent: str = "") -> None:
        self._pending.append(
            (
                "INSERT INTO utterances (session_id, t, speaker, text, intent) VALUES (?, ?, ?, ?, ?)",
                (self.session_id, float(t), speaker, text, intent),
            )
        )

    def brain_turn(self, t: float, t_reply: float, utterance: str, source: str, summary: str, reply: str, intent: str,
                   intent_parsed: bool, fallback: bool, error: str, backend: str, latency_s: float,
                   habit_shift: dict, preference_shift: dict) -> None:
        """One exchange with the brain (table brain_turns): what was sent, the reply and intent, the shift it
        applied."""
        self._pending.append((
            ("INSERT INTO brain_turns (session_id, t, t_reply, utterance, source, summary, reply, intent, "
             "intent_parsed, fallback, error, backend, latency_s, habit_shift, preference_shift) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            (self.session_id, float(t), float(t_reply), utterance, source, summary, reply, intent,
             int(bool(intent_parsed)), int(bool(fallback)), error, backend, float(latency_s),
             json.dumps(habit_shift), json.dumps(preference_shift)),
        ))

    def audio_frame(self, idx: int, t: float, vad: bool, in_speech: bool, energy_db: float, f0_hz: float,
                    voiced: bool) -> None:
        """One 20 ms audio frame's voice features (table audio_features, docs/architecture.md §4)."""
        self._pending.append((
            ("INSERT OR REPLACE INTO audio_features (session_id, idx, t, vad, in_speech, energy_db, f0_hz, voiced) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
            (self.session_id, int(idx), float(t), int(bool(vad)), int(bool(in_speech)), float(energy_db),
             float(f0_hz), int(bool(voiced))),
        ))

    def speech_event(self, kind: str, t: float, t_detected: float, duration_s: float = 0.0) -> None:
        """One speech event: onset | offset | pause | silence | low_pitch (table speech_events)."""
        self._pending.append((
            "INSERT INTO speech_events (session_id, kind, t, t_detected, duration_s) VALUES (?, ?, ?, ?, ?)",
            (self.session_id, kind, float(t), float(t_detected), float(duration_s)),
        ))

    def transcript(self, start_t: float, end_t: float, text: str, confidence: float, latency_s: float,
                   t_ready: float) -> None:
        """One recognised utterance and when it reached the loop (table transcripts)."""
        self._pending.append((
            ("INSERT INTO transcripts (session_id, start_t, end_t, text, confidence, latency_s, t_ready) "
             "VALUES (?, ?, ?, ?, ?, ?, ?)"),
            (self.session_id, float(start_t), float(end_t), text, float(confidence), float(latency_s),
             float(t_ready)),
        ))

    # ---- committing ----------------------------------------------------------------------------------------------
    def tick(self, t: float) -> bool:
        """Commit if `commit_interval` of session time has passed since the last commit; True when it committed."""
        if t - self._last_commit_t >= self.commit_interval:
            self.flush(t)
            return True
        return False

    def flush(self, t: float | None = None) -> None:
        """Commit every queued row in one transaction (in the order they were queued).

        Raises StoreWriteError (once) when the database refuses the commit; later calls drop their rows."""
        if t is not None:
            self._last_commit_t = t
        if self.failed is not None:
            self.rows_lost += len(self._pending)
            self._pending = []
            return
        if not self._pending:
            return
        c = self.store.conn
        pending, self._pending = self._pending, []
        try:
            c.execute("BEGIN")
            for sql, args in pending:
                c.execute(sql, args)
            c.execute("COMMIT")
        except sqlite3.Error as exc:  # disk full, I/O error, read-only file: the transaction never happened
            self._rollback()
            self.rows_lost += len(pending) + len(self._pending)
            self._pending = []
            self.failed = self._write_error(exc, t)
            raise self.failed from None
        except BaseException:
            self._rollback()
            self._pending = pending + self._pending
            raise
        self.commits += 1
        self.rows_written += len(pending)

    def _rollback(self) -> None:
        try:
            self.store.conn.execute("ROLLBACK")
        except sqlite3.Error:  # SQLite already rolled back (SQLITE_FULL ends the transaction itself)
            pass

    def _write_error(self, exc: sqlite3.Error, t: float | None) -> StoreWriteError:
        """The one-line message: which file, what SQLite said, what is safe, and what to do."""
        try:
            kept = self.store.frame_count(self.session_id)
        except sqlite3.Error:
            kept = "the"
        when = f" at session t={t:.2f}s" if t is not None else ""
        return StoreWriteError(
            f"{self.store.path}: the study database refused a write{when} ({exc}); session {self.session_id} ends "
            f"interrupted and its {kept} frames committed before are intact; free disk space (or move the database "
            "to a disk with room) before the next session")

    @property
    def pending(self) -> int:
        return len(self._pending)
