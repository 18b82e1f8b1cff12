"""`experiment run`: one participant through the protocol in their counterbalanced order — instructions, one session
per condition, the questionnaire after each (terminal or local web form), answers into the study database. Re-running
the same participant resumes at the next uncompleted trial (a trial awaiting its questionnaire resumes there)."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from experiments import study_store as ss
from experiments.cohort import QuestionnaireModel
from experiments.errors import ExperimentError
from experiments.order import condition_order
from experiments.protocol import Protocol
from experiments.questionnaire import Answers, WebQuestionnaire, ask_terminal
from experiments.simulate import finish_trial, record_loop_trial, run_event_session, virtual_answers
from experiments.vp_config import VirtualParticipantConfig, load_config

QUESTIONNAIRE_MODES: tuple[str, ...] = ("terminal", "web", "virtual")
ENGINES: tuple[str, ...] = ("loop", "events")


@dataclass
class RunSummary:
    participant: str
    index: int
    order: list[str]
    trials_run: int
    trials_skipped: int


def _virtual_config(spec: str) -> VirtualParticipantConfig:
    """--virtual default | PATH.yaml (a virtual participant config)."""
    if spec == "default":
        return VirtualParticipantConfig()
    return load_config(spec)


def run_participant(protocol: Protocol, db_path: str | Path, participant: str, *, virtual: str | None = None,
                    camera: int | None = None, source: str | None = None, questionnaire: str = "terminal",
                    engine: str = "loop", fps: float = 30.0, display: bool = True, web_port: int = 0,
                    breaks: bool = True, seed: int = 0, speech: bool = False,
                    stdin: TextIO | None = None, stdout: TextIO | None = None,
                    on_web_url: Callable[[str], None] | None = None) -> RunSummary:
    """Run (or resume) one participant; every input is validated before the database is touched. `speech`: a
    virtual participant speaks its condition's utterance script aloud and the brain hears it (loop engine)."""
    out = stdout or sys.stdout
    if sum(x is not None for x in (virtual, camera, source)) != 1:
        raise ExperimentError("pass exactly one of --virtual SPEC, --camera INDEX or --source VIDEO")
    if questionnaire not in QUESTIONNAIRE_MODES:
        raise ExperimentError(f"--questionnaire '{questionnaire}' is unknown: use one of {list(QUESTIONNAIRE_MODES)}")
    if engine not in ENGINES:
        raise ExperimentError(f"--engine '{engine}' is unknown: use one of {list(ENGINES)}")
    if questionnaire == "virtual" and virtual is None:
        raise ExperimentError("--questionnaire virtual needs --virtual (a live participant answers in the terminal "
                              "or web form)")
    if speech and (virtual is None or engine != "loop"):
        raise ExperimentError("--audio on needs --virtual and --engine loop (the virtual participant talks; a live "
                              "or recorded participant's audio is not taken here)")
    if engine == "events" and virtual is None:
        raise ExperimentError("--engine events simulates a virtual participant: pass --virtual, or use --engine loop")
    if source is not None and not Path(source).is_file():
        from experiments.loop_session import is_recorded

        if not is_recorded(source):
            raise ExperimentError(f"--source {source}: no such video file or STUDY.db:SESSION_ID recording: pass the "
                                  "participant's video or a stored session")
    cfg = _virtual_config(virtual) if virtual is not None else None
    if engine == "loop":
        from experiments.loop_session import check_policies

        check_policies(protocol)
    store = ss.open_study(db_path)
    run = skipped = 0
    try:
        ss.bind_protocol(store, protocol)
        plan = ss.participant_plan(store, participant)
        if plan is None:
            idx = ss.next_participant_index(store)
            order = condition_order(protocol, idx)
            kind = "virtual" if virtual is not None else ("camera" if camera is not None else "video")
            ss.register_participant(store, protocol, participant, idx, order, kind,
                                    {"virtual": virtual, "camera": camera, "source": source, "engine": engine,
                                     "config": asdict(cfg) if cfg is not None else None})
        else:
            idx, order = plan
        rows = ss.trials(store, participant)
        if all(r.status == "completed" for r in rows):
            out.write(f"{participant}: all {len(rows)} trials already completed\n")
            return RunSummary(participant, idx, order, 0, len(rows))
        if not any(r.status != "pending" for r in rows) and protocol.instructions:
            out.write("\n" + protocol.instructions.strip() + "\n")
        first = True
        contingencies: list[tuple[float, float]] = []
        for tr in rows:
            if tr.status == "completed":
                skipped += 1
                continue
            cond = protocol.condition(tr.condition_id)
            rng = np.random.default_rng([seed, protocol.order.seed, idx, tr.trial_index])
            felt: tuple[float, float] | None = None
            if tr.status != "awaiting_questionnaire":
                if not first and breaks and protocol.break_s > 0:
                    out.write(f"Break: {protocol.break_s:g} s\n")
                    out.flush()
                    time.sleep(protocol.break_s)
                out.write(f"Trial {tr.trial_index + 1}/{len(rows)}: {cond.label} ({tr.duration_s:g} s)\n")
                out.flush()
                felt = _session(store, db_path, protocol, participant, tr, rng, engine, cfg, camera, source, fps,
                                virtual, display and camera is not None, speech)
                contingencies.append(felt)
            first = False
            answers: Answers = {}
            if protocol.administer == "after_each_trial":
                answers = _ask(protocol, questionnaire, felt, rng, web_port, stdin, out, on_web_url)
            finish_trial(store, protocol, participant, tr, answers, questionnaire)
            run += 1
        if protocol.administer == "after_all_trials" and protocol.questionnaires:
            felt = tuple(np.mean(contingencies, axis=0)) if contingencies else None
            answers = _ask(protocol, questionnaire, felt, np.random.default_rng([seed, idx]), web_port, stdin, out,
                           on_web_url)
            for bid, ans in answers.items():
                ss.save_answers(store, participant, -1, "all", bid, ans, questionnaire)
    finally:
        store.close()
    return RunSummary(participant, idx, order, run, skipped)


def _session(store, db_path: str | Path, protocol: Protocol, participant: str, tr: ss.TrialRow,
             rng: np.random.Generator, engine: str, cfg: VirtualParticipantConfig | None, camera: int | None,
             source: str | None, fps: float, virtual: str | None, display: bool,
             speech: bool = False) -> tuple[float, float]:
    """Run the trial's session; returns (experienced contingency, fraction of agent gestures answered)."""
    cond = protocol.condition(tr.condition_id)
    if engine == "events":
        with store.transaction():
            _, trial = run_event_session(store, cond, cfg, participant, tr, rng, f"virtual:{virtual}")
        return trial.experienced_contingency, float(trial.human_answer.sum()) / max(1, trial.agent_t.size)
    from experiments.loop_session import run_loop_trial

    ss.set_trial(store, tr.id, "running")
    lt = run_loop_trial(db_path, cond, participant, tr.trial_index, tr.duration_s, int(rng.integers(2**31)),
                        virtual=cfg, camera=camera, source=source, fps=fps, display=display,
                        utterances=protocol.utterance_script(cond.id), speech=speech)
    record_loop_trial(store, protocol, participant, tr, lt)
    return lt.experienced_contingency, lt.answered_fraction_of_agent


def _ask(protocol: Protocol, mode: str, felt: tuple[float, float] | None, rng: np.random.Generator, web_port: int,
         stdin: TextIO | None, out: TextIO, on_web_url: Callable[[str], None] | None) -> Answers:
    if not protocol.questionnaires:
        return {}
    if mode == "virtual":
        if felt is None:  # resumed at the questionnaire: the answer model needs the trial's experience
            raise ExperimentError("a virtual participant cannot resume at a questionnaire: rerun the study into a "
                                  "new --store")
        return virtual_answers(protocol, QuestionnaireModel(), felt[0], felt[1], 0.0, rng)
    if mode == "terminal":
        return ask_terminal(protocol.questionnaires, stdin=stdin, stdout=out)
    web = WebQuestionnaire(protocol.questionnaires, title=f"{protocol.name}: questionnaire", port=web_port).start()
    out.write(f"Open {web.url} in a browser on this computer and answer the questionnaire.\n")
    out.flush()
    if on_web_url:
        on_web_url(web.url)
    answers = web.wait()
    if answers is None:
        raise ExperimentError("the web questionnaire closed without answers: rerun to resume at this questionnaire")
    return answers
