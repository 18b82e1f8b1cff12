"""Versioned schema for the study database: an ordered list of migrations, applied once each, tracked in schema_version.

Adding a table later is a one-function job (see README, section sessions):

    from fep_motion.store.migrations import migration

    @migration(2, "trials")
    def _trials(conn):
        conn.execute("CREATE TABLE trials (...)")

Define migrations in this module, so every command that opens a study database knows the whole schema; `Store.open`
applies every registered migration whose version is above the database's current one, in order, in one transaction
each.
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


@migration(2, "experiments")
def _experiments(conn: sqlite3.Connection) -> None:
    """Experiment tables (docs/architecture.md §4-5), owned here so every command opens every study database: study_protocol, study_participants, trials, questionnaire_responses, trial_signals."""
    run_script(
        conn,
        """
        CREATE TABLE study_protocol (
            name TEXT PRIMARY KEY, digest TEXT NOT NULL, protocol TEXT NOT NULL, created_at REAL NOT NULL
        );
        CREATE TABLE study_participants (
            participant_id TEXT PRIMARY KEY REFERENCES participants(id),
            idx INTEGER NOT NULL,                 -- 0-based participant index used for counterbalancing
            order_method TEXT NOT NULL,
            seed INTEGER NOT NULL,
            condition_order TEXT NOT NULL,        -- JSON list of condition ids
            kind TEXT NOT NULL,                   -- camera | video | virtual | simulated
            spec TEXT NOT NULL DEFAULT '{}',      -- JSON: virtual participant parameters, source path, ...
            created_at REAL NOT NULL
        );
        CREATE TABLE trials (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            participant_id TEXT NOT NULL REFERENCES participants(id),
            trial_index INTEGER NOT NULL,
            condition_id TEXT NOT NULL,
            policy TEXT NOT NULL,
            duration_s REAL NOT NULL,
            status TEXT NOT NULL,
            session_id INTEGER REFERENCES sessions(id),
            started_at REAL,
            ended_at REAL,
            truth TEXT NOT NULL DEFAULT '{}',     -- JSON ground truth of simulated trials (engagement, contingency)
            UNIQUE (participant_id, trial_index)
        );
        CREATE TABLE questionnaire_responses (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            participant_id TEXT NOT NULL REFERENCES participants(id),
            trial_index INTEGER NOT NULL,         -- -1 for blocks administered after all trials
            condition_id TEXT NOT NULL,
            block_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            value INTEGER NOT NULL,
            via TEXT NOT NULL,                    -- terminal | web | virtual
            answered_at REAL NOT NULL,
            UNIQUE (participant_id, trial_index, block_id, item_id)
        );
        CREATE TABLE trial_signals (
            session_id INTEGER PRIMARY KEY REFERENCES sessions(id),
            fs REAL NOT NULL,
            agent_energy BLOB NOT NULL,           -- float32 motion energy of the agent
            human_energy BLOB NOT NULL            -- float32 motion energy of the participant
        );
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
            source TEXT NOT NULL,                 -- script | chat
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
