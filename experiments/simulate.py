"""`experiment simulate`: replay a whole study with virtual participants drawn from a cohort, unattended.

Fast path: the event-level simulator (experiments.eventsim) stands in for the pose loop and rendering; each trial
becomes a completed session with its agent/participant events, motion-energy series and questionnaire answers.
Re-running into the same database resumes: completed trials are kept, unfinished ones are redone.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from experiments import study_store as ss
from experiments.cohort import Cohort, QuestionnaireModel, answer_questionnaire
from experiments.errors import ExperimentError
from experiments.eventsim import AGENT_MODELS, DEFAULT_AGENT_RATE, TrialEvents, simulate_trial
from experiments.order import condition_order
from experiments.protocol import Protocol
from fep_motion.store import EventRow

SIM_FS = 10.0  # Hz of the simulated motion-energy series


@dataclass
class SimulationSummary:
    participants: int
    trials_run: int
    trials_skipped: int


def _check_policies(protocol: Protocol) -> None:
    for c in protocol.conditions:
        if c.policy not in AGENT_MODELS:
            raise ExperimentError(f"{protocol.source}: condition '{c.id}' uses policy '{c.policy}', which has no "
                                  f"event-level model for the fast path (have {sorted(AGENT_MODELS)})")


ENGINES: tuple[str, ...] = ("events", "loop")


def simulate_study(protocol: Protocol, cohort: Cohort, n: int, db_path: str | Path, seed: int = 0,
                   progress: Callable[[int, int], None] | None = None, engine: str = "events",
                   speech: bool = False) -> SimulationSummary:
    """Simulate n virtual participants (ids V001..) through the protocol into the study database.
    engine 'events' is the fast path (event-level simulator); 'loop' runs every trial through the real session loop
    (virtual participant poses -> perception -> policy -> body -> store) without rendering. `speech` (loop only):
    the participants talk aloud and the agent hears them (experiments.loop_session.run_loop_trial)."""
    if n < 1:
        raise ExperimentError(f"--n must be >= 1, got {n}")
    if engine not in ENGINES:
        raise ExperimentError(f"--engine '{engine}' is unknown: use one of {list(ENGINES)}")
    if speech and engine != "loop":
        raise ExperimentError("--audio on needs --engine loop (the event-level fast path has no audio)")
    if engine == "events":
        _check_policies(protocol)
    else:
        from experiments.loop_session import check_policies

        check_policies(protocol)
    store = ss.open_study(db_path)
    run = skipped = 0
    try:
        ss.bind_protocol(store, protocol)
        total = n * len(protocol.conditions)
        done = 0
        for i in range(n):
            pid = f"V{i + 1:03d}"
            plan = ss.participant_plan(store, pid)
            if plan is None:
                idx = ss.next_participant_index(store)
                order = condition_order(protocol, idx)
                cfg = cohort.sample(i)
                ss.register_participant(store, protocol, pid, idx, order, "simulated",
                                        {"cohort": cohort.name, "cohort_index": i, "config": asdict(cfg)})
            else:
                idx = plan[0]
            cfg = cohort.sample(i)
            offset = cohort.participant_offset(i)
            for tr in ss.trials(store, pid):
                done += 1
                if tr.status == "completed":
                    skipped += 1
                    continue
                if engine == "events":
                    _run_trial(store, protocol, cohort, cfg, offset, pid, idx, tr, seed)
                else:
                    _run_loop_trial(store, db_path, protocol, cohort, cfg, offset, pid, idx, tr, seed, speech)
                run += 1
                if progress:
                    progress(done, total)
            if protocol.administer == "after_all_trials" and protocol.questionnaires:
                _answer_after_all(store, protocol, cohort, pid, idx, offset, seed)
    finally:
        store.close()
    return SimulationSummary(n, run, skipped)


def run_event_session(store, cond, cfg, pid: str, tr: ss.TrialRow, rng: np.random.Generator,
                      source: str) -> tuple[int, TrialEvents]:
    """One trial on the fast path: simulate events, store them as a completed session with its motion energy.
    Call inside a transaction; a re-run after an interruption marks the earlier session interrupted."""
    rate = float(cond.params.get("rate_per_min", DEFAULT_AGENT_RATE))
    trial = simulate_trial(cond.policy, cfg, tr.duration_s, rng, agent_rate_per_min=rate, fs=SIM_FS)
    if tr.session_id is not None:
        store.mark_interrupted(tr.session_id)
    sid = store.start_session(pid, cond.policy, "simulated", SIM_FS, source=source, seed=int(rng.integers(2**31)))
    store.set_meta(sid, "trial", {"trial_index": tr.trial_index, "condition": cond.id, "engine": "events"})
    store.add_events(sid, [EventRow("agent", k, float(t), float(t) + 1.5, {})
                           for t, k in zip(trial.agent_t, trial.agent_kind)])
    store.add_events(sid, [EventRow("participant_truth", k, float(t), float(t) + 1.2, {"answer": bool(a)})
                           for t, k, a in zip(trial.human_t, trial.human_kind, trial.human_answer)])
    ss.save_signals(store, sid, SIM_FS, trial.agent_energy, trial.human_energy)
    store.finish_session(sid, "completed", scheduled_frames=round(tr.duration_s * SIM_FS))
    answered_agent = float(trial.human_answer.sum()) / max(1, trial.agent_t.size)
    ss.set_trial(store, tr.id, "awaiting_questionnaire", session_id=sid,
                 truth={"mean_engagement": trial.mean_engagement,
                        "experienced_contingency": trial.experienced_contingency,
                        "answered_fraction_of_agent": answered_agent})
    return sid, trial


def virtual_answers(protocol: Protocol, cohort_q: QuestionnaireModel, contingency: float, answered_agent: float,
                    offset: float, rng: np.random.Generator) -> dict[str, dict[str, int]]:
    """The virtual participant's answers to every block, driven by the contingency it experienced (fraction of its
    events the agent answered) and the fraction of agent gestures it answered."""
    return {b.id: answer_questionnaire(b, cohort_q, contingency, min(1.0, answered_agent), offset, rng)
            for b in protocol.questionnaires}


def _run_trial(store, protocol: Protocol, cohort: Cohort, cfg, offset: float, pid: str, idx: int,
               tr: ss.TrialRow, seed: int) -> None:
    cond = protocol.condition(tr.condition_id)
    rng = np.random.default_rng([seed, protocol.order.seed, cohort.seed, idx, tr.trial_index])
    with store.transaction():
        _, trial = run_event_session(store, cond, cfg, pid, tr, rng, f"cohort:{cohort.name}")
        answered = float(trial.human_answer.sum()) / max(1, trial.agent_t.size)
        if protocol.administer == "after_each_trial":
            for bid, ans in virtual_answers(protocol, cohort.questionnaire, trial.experienced_contingency, answered,
                                            offset, rng).items():
                ss.save_answers(store, pid, tr.trial_index, cond.id, bid, ans, "virtual")
        ss.set_trial(store, tr.id, "completed")


def _run_loop_trial(store, db_path: str | Path, protocol: Protocol, cohort: Cohort, cfg, offset: float, pid: str,
                    idx: int, tr: ss.TrialRow, seed: int, speech: bool = False) -> None:
    from experiments.loop_session import run_loop_trial

    cond = protocol.condition(tr.condition_id)
    rng = np.random.default_rng([seed, protocol.order.seed, cohort.seed, idx, tr.trial_index])
    ss.set_trial(store, tr.id, "running")
    lt = run_loop_trial(db_path, cond, pid, tr.trial_index, tr.duration_s, int(rng.integers(2**31)), virtual=cfg,
                        utterances=protocol.utterance_script(cond.id), speech=speech)
    record_loop_trial(store, protocol, pid, tr, lt)
    answers = {}
    if protocol.administer == "after_each_trial":
        answers = virtual_answers(protocol, cohort.questionnaire, lt.experienced_contingency,
                                  lt.answered_fraction_of_agent, offset, rng)
    finish_trial(store, protocol, pid, tr, answers, "virtual")


def record_loop_trial(store, protocol: Protocol, pid: str, tr: ss.TrialRow, lt) -> None:
    """Mark a loop trial awaiting its questionnaire, or interrupted (and stop) if its session did not complete."""
    truth = {"experienced_contingency": lt.experienced_contingency,
             "answered_fraction_of_agent": lt.answered_fraction_of_agent}
    if lt.status != "completed":
        ss.set_trial(store, tr.id, "interrupted", session_id=lt.session_id, truth=truth)
        raise ExperimentError(f"{pid} trial {tr.trial_index + 1} ({tr.condition_id}) was interrupted: rerun the same "
                              "command to resume at this trial")
    ss.set_trial(store, tr.id, "awaiting_questionnaire", session_id=lt.session_id, truth=truth)


def finish_trial(store, protocol: Protocol, pid: str, tr: ss.TrialRow, answers: dict[str, dict[str, int]],
                 via: str) -> None:
    """Store a trial's questionnaire answers and mark it completed, atomically."""
    with store.transaction():
        for bid, ans in answers.items():
            ss.save_answers(store, pid, tr.trial_index, tr.condition_id, bid, ans, via)
        ss.set_trial(store, tr.id, "completed")


def _answer_after_all(store, protocol: Protocol, cohort: Cohort, pid: str, idx: int, offset: float, seed: int) -> None:
    """One questionnaire after all trials (trial_index -1, condition 'all'), from the mean experienced contingency."""
    if ss.has_final_answers(store, pid):
        return
    truths = ss.completed_truths(store, pid)
    cont = float(np.mean([t.get("experienced_contingency", 0.0) for t in truths])) if truths else 0.0
    ans_frac = float(np.mean([t.get("answered_fraction_of_agent", 0.0) for t in truths])) if truths else 0.0
    rng = np.random.default_rng([seed, protocol.order.seed, cohort.seed, idx, 10**6])
    for bid, ans in virtual_answers(protocol, cohort.questionnaire, cont, ans_frac, offset, rng).items():
        ss.save_answers(store, pid, -1, "all", bid, ans, "virtual")
