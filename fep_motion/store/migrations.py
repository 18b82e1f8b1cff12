"""Versioned schema for the study database: an ordered list of migrations, applied once each, tracked in schema_version.

Adding a table later is a one-function job (see README, section sessions):

    from fep_motion.store.migrations import migration

    @migration(4, "my_tables")
    def _my_tables(conn):
        conn.execute("CREATE TABLE ... (...)")

The session tables are defined here; a layer above registers its own tables the same way from the module that owns
them (the experiment tables are migration 2, in experiments/schema.py), so versions are unique across layers.
`Store.open` applies every registered migration not yet recorded in the database, by version, in one transaction
each (docs/architecture.md §4).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

MigrationFn = Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class Migration:
    """One schema step: its version number (unique, increasing), a short name, and the function applying it."""

    version: int
    name: str
    apply: MigrationFn


_REGISTRY: dict[int, Migration] = {}


def migration(version: int, name: str) -> Callable[[MigrationFn], MigrationFn]:
    """Register `fn(conn)` as schema migration `version`; versions must be unique positive integers."""

    def deco(fn: MigrationFn) -> MigrationFn:
        if version < 1:
            raise ValueError(f"migration version must be >= 1, got {version}")
        old = _REGISTRY.get(version)
        if old is not None and old.apply is not fn and old.apply.__qualname__ != fn.__qualname__:
            raise ValueError(f"migration version {version} already registered as '{old.name}'")
        _REGISTRY[version] = Migration(version, name, fn)
        return fn

    return deco


def registered() -> list[Migration]:
    """All registered migrations, ordered by version."""
    return [_REGISTRY[v] for v in sorted(_REGISTRY)]


def latest_version() -> int:
    """The highest registered schema version (what a freshly opened database is migrated to)."""
    return max(_REGISTRY) if _REGISTRY else 0


def unknown_versions(applied: set[int]) -> list[int]:
    """Applied versions above every registered one: the database was written by a newer fep-motion.

    A version below the latest that is not registered here belongs to a layer this process did not import (e.g. the
    experiment tables in a plain session); its tables are left alone."""
    top = latest_version()
    return sorted(v for v in applied if v not in _REGISTRY and v > top)


def run_script(conn: sqlite3.Connection, sql: str) -> None:
    """Execute several `;`-separated statements inside the caller's transaction (executescript would commit)."""
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            conn.execute(buf)
            buf = ""
    if buf.strip() and not buf.strip().startswith("--"):
        conn.execute(buf)


@migration(1, "core")
def _core(conn: sqlite3.Connection) -> None:
    """Participants, sessions, per-frame pose/observation/agent rows, decisions, events, gaps, markers, utterances."""
    run_script(
        conn,
        """
        CREATE TABLE participants (
            id TEXT PRIMARY KEY,                 -- pseudonymous id, e.g. P01
            created_at REAL NOT NULL,            -- unix time
            notes TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            participant_id TEXT NOT NULL REFERENCES participants(id),
            policy TEXT NOT NULL,
            mode TEXT NOT NULL,                  -- demo | live | run
            source TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted')),
            started_at REAL NOT NULL,            -- unix time at session t = 0
            ended_at REAL,
            fps REAL NOT NULL,
            scheduled_frames INTEGER NOT NULL DEFAULT 0,
            stored_frames INTEGER NOT NULL DEFAULT 0,
            seed INTEGER,
            pid INTEGER                          -- writer process; a dead pid + running = interrupted
        );
        CREATE TABLE session_meta (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,                 -- JSON
            PRIMARY KEY (session_id, key)
        );
        CREATE TABLE frames (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            idx INTEGER NOT NULL,                -- scheduler tick index
            t REAL NOT NULL,                     -- session seconds
            valid INTEGER NOT NULL,
            gap INTEGER NOT NULL DEFAULT 0,      -- 1 when the source delivered nothing this tick
            landmarks BLOB,                      -- float32 [33, 4]
            world BLOB,                          -- float32 [33, 3] or NULL
            agent_pose BLOB,                     -- float32 [NUM_DOF] joint angles of the agent
            stage_ms BLOB,                       -- float32 per-stage latency, names in session_meta 'stage_names'
            PRIMARY KEY (session_id, idx)
        );
        CREATE TABLE observations (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            idx INTEGER NOT NULL,
            t REAL NOT NULL,
            features BLOB NOT NULL,              -- float64 [len(FEATURE_NAMES)], NaN where missing
            mask BLOB NOT NULL,                  -- uint8 [len(FEATURE_NAMES)]
            confidence BLOB NOT NULL,            -- float64
            free_energy REAL,                    -- the agent's variational F after this frame (NULL if none)
            PRIMARY KEY (session_id, idx)
        );
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            t REAL NOT NULL,
            candidates TEXT NOT NULL,            -- JSON list: primitive, class, params, G, risk, ambiguity, novelty
            chosen INTEGER,                      -- index into candidates, NULL when none chosen
            gamma REAL,
            free_energy REAL,
            belief TEXT NOT NULL DEFAULT '{}'    -- JSON summary of the posterior
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            actor TEXT NOT NULL,                 -- agent | participant (detected) | participant_truth (virtual)
            kind TEXT NOT NULL,                  -- primitive / gesture class / nod, shake, gesture
            t_onset REAL NOT NULL,
            t_offset REAL,
            params TEXT NOT NULL DEFAULT '{}'    -- JSON
        );
        CREATE TABLE gaps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            t_start REAL NOT NULL,
            t_end REAL,
            reason TEXT NOT NULL
        );
        CREATE TABLE markers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            t REAL NOT NULL,
            label TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE utterances (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            t REAL NOT NULL,
            speaker TEXT NOT NULL,               -- participant | agent
            text TEXT NOT NULL,
            intent TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX events_by_session ON events(session_id, actor, t_onset);
        CREATE INDEX decisions_by_session ON decisions(session_id, t);
        """
    )


@migration(3, "brain_turns")
def _brain_turns(conn: sqlite3.Connection) -> None:
    """One row per conversational turn of a session: the participant's utterance, the perception
    summary sent with it, the brain's reply + intent (or the fallback and its error), and the shift of the agent's
    habits E / preferences C that the intent applied (at full strength; it then fades with the steering half-life)."""
    run_script(
        conn,
        """
        CREATE TABLE brain_turns (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            t REAL NOT NULL,                      -- session seconds the utterance was sent
            t_reply REAL NOT NULL,                -- session seconds the reply reached the agent (and steering began)
            utterance TEXT NOT NULL,
            source TEXT NOT NULL,                 -- script | chat | speech (a transcript)
            summary TEXT NOT NULL,                -- perception summary sent with the utterance
            reply TEXT NOT NULL,
            intent TEXT NOT NULL,                 -- greet | listen | agree | ask | encourage | explain | farewell
            intent_parsed INTEGER NOT NULL,       -- 0: the model broke the format, the intent was inferred
            fallback INTEGER NOT NULL,            -- 1: time-out / server failure, the fallback reply was used
            error TEXT NOT NULL DEFAULT '',       -- why, for fallbacks (e.g. 'brain time-out: ...')
            backend TEXT NOT NULL,                -- embedded | openai
            latency_s REAL NOT NULL,
            habit_shift TEXT NOT NULL DEFAULT '{}',       -- JSON {gesture class: delta of ln E}
            preference_shift TEXT NOT NULL DEFAULT '{}'   -- JSON {"modality.outcome": delta of C}
        );
        CREATE INDEX brain_turns_by_session ON brain_turns(session_id, t_reply);
        """
    )


@migration(4, "audio")
def _audio(conn: sqlite3.Connection) -> None:
    """What the agent heard (docs/architecture.md §1, §4): per 20 ms audio frame its voice features, the derived speech
    events, and the recognised utterances with their timing on the session clock."""
    run_script(
        conn,
        """
        CREATE TABLE audio_features (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            idx INTEGER NOT NULL,                 -- audio frame index (20 ms frames from the source's start)
            t REAL NOT NULL,                      -- session seconds of the frame's first sample
            vad INTEGER NOT NULL,                 -- raw voice-activity decision
            in_speech INTEGER NOT NULL,           -- the hangover gate's speech state
            energy_db REAL NOT NULL,              -- frame RMS, dBFS
            f0_hz REAL NOT NULL,                  -- YIN pitch, 0 when unvoiced
            voiced INTEGER NOT NULL,
            PRIMARY KEY (session_id, idx)
        );
        CREATE TABLE speech_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            kind TEXT NOT NULL,                   -- onset | offset | pause | low_pitch
            t REAL NOT NULL,                      -- session seconds it happened (backdated to the speech frame)
            t_detected REAL NOT NULL,             -- session seconds the detector could know it
            duration_s REAL NOT NULL DEFAULT 0    -- pause / low-pitch region length
        );
        CREATE TABLE transcripts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            start_t REAL NOT NULL,                -- session seconds: the utterance's speech onset
            end_t REAL NOT NULL,                  -- session seconds: its last speech frame
            text TEXT NOT NULL,
            confidence REAL NOT NULL,             -- mean word posterior 0..1
            latency_s REAL NOT NULL,              -- decoder wall time from the utterance's end to the result
            t_ready REAL NOT NULL                 -- session seconds the transcript reached the session loop
        );
        CREATE INDEX speech_events_by_session ON speech_events(session_id, t);
        CREATE INDEX transcripts_by_session ON transcripts(session_id, end_t);
        """
    )
