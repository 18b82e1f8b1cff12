"""Reads and writes the experiment tables of the study database (schema: experiments.schema, migration 2): the
study's protocol, each participant's counterbalanced order, trials with their status (for resuming), questionnaire
responses, and per-trial motion-energy series of fast-path (event-level) sessions. The one module of this layer that
runs SQL; session tables are read through fep_motion.store.Store."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments import schema  # noqa: F401  (registers the experiment tables' migration with the store)
from experiments.errors import ExperimentError
from experiments.protocol import Protocol
from fep_motion.store import Store, StoreError

TRIAL_STATUSES: tuple[str, ...] = ("pending", "running", "awaiting_questionnaire", "completed", "interrupted")


@dataclass
class TrialRow:
    """One planned trial of a participant."""

    id: int
    participant_id: str
    trial_index: int
    condition_id: str
    policy: str
    duration_s: float
    status: str
    session_id: int | None


def open_study(path: str | Path, create: bool = True) -> Store:
    """Open the study database (applying the experiments migration); a bad file is a one-line ExperimentError."""
    try:
        return Store.open(path, create=create)
    except StoreError as exc:
        raise ExperimentError(str(exc)) from None


def bind_protocol(store: Store, protocol: Protocol) -> None:
    """Record the study's protocol; refuse a different protocol in the same database."""
    row = store.conn.execute("SELECT name, digest FROM study_protocol").fetchone()
    if row is None:
        store.conn.execute("INSERT INTO study_protocol VALUES (?, ?, ?, ?)",
                           (protocol.name, protocol.digest(), protocol.to_json(), time.time()))
    elif row[1] != protocol.digest():
        raise ExperimentError(f"{store.path} belongs to protocol '{row[0]}' ({row[1]}), not '{protocol.name}' "
                              f"({protocol.digest()}): use a new --store for a changed protocol")


def study_protocol_json(store: Store) -> dict:
    row = store.conn.execute("SELECT protocol FROM study_protocol").fetchone()
    if row is None:
        raise ExperimentError(f"{store.path} holds no experiment (no protocol recorded): run `fep-motion experiment "
                              "run` or `simulate` into it first")
    return json.loads(row[0])


def participant_plan(store: Store, participant_id: str) -> tuple[int, list[str]] | None:
    row = store.conn.execute("SELECT idx, condition_order FROM study_participants WHERE participant_id = ?",
                             (participant_id,)).fetchone()
    return None if row is None else (int(row[0]), json.loads(row[1]))


def next_participant_index(store: Store) -> int:
    row = store.conn.execute("SELECT MAX(idx) FROM study_participants").fetchone()
    return 0 if row[0] is None else int(row[0]) + 1


def register_participant(store: Store, protocol: Protocol, participant_id: str, index: int, order: list[str],
                         kind: str, spec: dict) -> None:
    """Insert the participant, their order and one pending trial per condition, atomically."""
    c = store.conn
    with store.transaction():
        store.ensure_participant(participant_id)
        c.execute("INSERT INTO study_participants VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (participant_id, index, protocol.order.method, protocol.order.seed, json.dumps(order), kind,
                   json.dumps(spec), time.time()))
        for i, cid in enumerate(order):
            cond = protocol.condition(cid)
            c.execute("INSERT INTO trials (participant_id, trial_index, condition_id, policy, duration_s, status) "
                      "VALUES (?, ?, ?, ?, ?, 'pending')", (participant_id, i, cid, cond.policy,
                                                           protocol.duration_of(cid)))


def trials(store: Store, participant_id: str | None = None) -> list[TrialRow]:
    sql = ("SELECT id, participant_id, trial_index, condition_id, policy, duration_s, status, session_id FROM trials")
    args: tuple = ()
    if participant_id is not None:
        sql += " WHERE participant_id = ?"
        args = (participant_id,)
    return [TrialRow(*r) for r in store.conn.execute(sql + " ORDER BY participant_id, trial_index", args)]


def set_trial(store: Store, trial_id: int, status: str, session_id: int | None = None,
              truth: dict | None = None) -> None:
    if status not in TRIAL_STATUSES:
        raise ValueError(f"unknown trial status {status}")
    now = time.time()
    sets, args = ["status = ?"], [status]
    if session_id is not None:
        sets.append("session_id = ?")
        args.append(session_id)
    if status == "running":
        sets.append("started_at = ?")
        args.append(now)
    if status in ("completed", "interrupted"):
        sets.append("ended_at = ?")
        args.append(now)
    if truth is not None:
        sets.append("truth = ?")
        args.append(json.dumps(truth))
    store.conn.execute(f"UPDATE trials SET {', '.join(sets)} WHERE id = ?", (*args, trial_id))


def save_answers(store: Store, participant_id: str, trial_index: int, condition_id: str, block_id: str,
                 answers: dict[str, int], via: str) -> None:
    now = time.time()
    store.conn.executemany(
        "INSERT OR REPLACE INTO questionnaire_responses (participant_id, trial_index, condition_id, block_id, item_id, "
        "value, via, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(participant_id, trial_index, condition_id, block_id, k, int(v), via, now) for k, v in answers.items()])


def answers(store: Store) -> list[tuple[str, int, str, str, str, int]]:
    """(participant, trial_index, condition, block, item, value) rows."""
    return store.conn.execute("SELECT participant_id, trial_index, condition_id, block_id, item_id, value FROM "
                              "questionnaire_responses ORDER BY participant_id, trial_index").fetchall()


def has_final_answers(store: Store, participant_id: str) -> bool:
    """True once the participant answered the questionnaire given after all trials (trial_index -1)."""
    return store.conn.execute("SELECT 1 FROM questionnaire_responses WHERE participant_id = ? AND trial_index = -1",
                              (participant_id,)).fetchone() is not None


def completed_truths(store: Store, participant_id: str) -> list[dict]:
    """The stored ground truth (JSON) of each completed trial of a participant, in trial order."""
    rows = store.conn.execute("SELECT truth FROM trials WHERE participant_id = ? AND status = 'completed' "
                              "ORDER BY trial_index", (participant_id,))
    return [json.loads(r[0]) for r in rows]


def save_signals(store: Store, session_id: int, fs: float, agent: np.ndarray, human: np.ndarray) -> None:
    store.conn.execute("INSERT OR REPLACE INTO trial_signals VALUES (?, ?, ?, ?)",
                       (session_id, fs, np.asarray(agent, np.float32).tobytes(),
                        np.asarray(human, np.float32).tobytes()))


def load_signals(store: Store, session_id: int) -> tuple[float, np.ndarray, np.ndarray] | None:
    row = store.conn.execute("SELECT fs, agent_energy, human_energy FROM trial_signals WHERE session_id = ?",
                             (session_id,)).fetchone()
    if row is None:
        return None
    return (float(row[0]), np.frombuffer(row[1], np.float32).astype(float),
            np.frombuffer(row[2], np.float32).astype(float))
