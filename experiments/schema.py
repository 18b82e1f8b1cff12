"""The experiment tables of the study database, owned by this layer and registered with the store as migration 2
(docs/architecture.md §4-5): study_protocol, study_participants, trials, questionnaire_responses, trial_signals.

Importing this module registers the migration; `experiments.study_store.open_study` (and the `fep-motion` command)
import it, so any database an experiment opens gets these tables, including one first written by a plain session.
"""
from __future__ import annotations

import sqlite3

from fep_motion.store.migrations import migration, run_script

EXPERIMENTS_VERSION = 2  # the same number as when these tables lived with the session tables: old databases open


@migration(EXPERIMENTS_VERSION, "experiments")
def _experiments(conn: sqlite3.Connection) -> None:
    """Protocol, counterbalanced participants, trials (status for resuming), questionnaire answers, fast-path
    signals."""
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
