"""One trial through the real session loop (fep_motion.session): camera, video file or virtual participant ->
perception -> the condition's policy -> body -> store, without rendering. Returns what the questionnaire model and
the trial record need."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.errors import ExperimentError
from experiments.protocol import Condition, Protocol
from experiments.vp_config import VirtualParticipantConfig

CONTINGENT_LAG: tuple[float, float] = (0.3, 3.0)  # as experiments.virtual_participant judges the agent's answers


@dataclass
class LoopTrial:
    """A finished loop trial: session id, status, and onsets for the virtual questionnaire model."""

    session_id: int
    status: str
    agent_t: np.ndarray
    human_t: np.ndarray
    human_answer: np.ndarray  # bool: truth events that answered an agent gesture (virtual participants only)

    @property
    def experienced_contingency(self) -> float:
        """Fraction of the participant's events the agent answered within CONTINGENT_LAG."""
        if self.human_t.size == 0:
            return 0.0
        a = self.agent_t
        hits = [bool(np.any((a >= h + CONTINGENT_LAG[0]) & (a <= h + CONTINGENT_LAG[1]))) for h in self.human_t]
        return float(np.mean(hits))

    @property
    def answered_fraction_of_agent(self) -> float:
        return float(self.human_answer.sum()) / max(1, self.agent_t.size)


def is_recorded(source: str) -> bool:
    """True for 'STUDY.db:SESSION_ID' naming an existing database (not a video file)."""
    from fep_motion.session.sources import parse_recorded_spec

    rec = parse_recorded_spec(source)
    return rec is not None and not Path(source).exists() and Path(rec[0]).is_file()


def check_policies(protocol: Protocol) -> None:
    """Instantiate every condition's policy with its params once, so a bad one fails before the database is touched."""
    from fep_motion.config import ConfigError
    from fep_motion.policies import make_policy
    from fep_motion.policies.base import PolicyError
    from sampling.primitives.base import PrimitiveError

    for i, c in enumerate(protocol.conditions):
        try:
            make_policy(c.policy, **c.params)
        except (PolicyError, ConfigError, PrimitiveError, TypeError, ValueError) as exc:
            line = protocol.condition_lines[i] if i < len(protocol.condition_lines) else 0
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExperimentError(f"{protocol.source}:{line}: field 'conditions[{i}].params' of policy "
                                  f"'{c.policy}' rejected: {msg}") from None


def run_loop_trial(db_path: str | Path, cond: Condition, participant: str, trial_index: int, duration: float,
                   seed: int, *, virtual: VirtualParticipantConfig | None = None, camera: int | None = None,
                   source: str | None = None, fps: float = 30.0, display: bool = False,
                   utterances: str | Path | None = None, speech: bool = False) -> LoopTrial:
    """Run one condition as a session of the study database; live cameras run in real time with the agent shown in
    the session dashboard window (display=True), video files and virtual participants faster, unrendered. A
    condition's utterance script is said to the embedded brain during the trial (replies, intents and the agent's
    preference shifts are stored with the session). With `speech` a virtual participant says the script aloud and the
    brain hears it through speech recognition (fep_motion/session/hearing.py); without a script it talks with its own
    talk model (a silent config gets the default speech settings), is heard and recognised the same way, and its
    phrases are stored as ground truth for the backchannel analysis (experiments.vp_hearing)."""
    import dataclasses

    from fep_motion.policies import make_policy
    from fep_motion.session.agent import PolicyAgent
    from fep_motion.session.errors import SessionError
    from fep_motion.session.runner import SessionSpec, run_session
    from fep_motion.session.sources import (
        FrameSourceAdapter,
        RecordedSessionSource,
        VirtualParticipantSource,
        parse_recorded_spec,
    )
    from fep_motion.store import Store

    vp = None
    own_voice = speech and virtual is not None and utterances is None
    try:
        if virtual is not None:
            from experiments.virtual_participant import VirtualParticipant
            from experiments.vp_hearing import talking

            vp = VirtualParticipant(talking(virtual) if own_voice else virtual, seed=seed)
            src, label, mode = VirtualParticipantSource(vp), "virtual participant", "run"
        elif source is not None and is_recorded(source):
            db_in, sid_in = parse_recorded_spec(source)  # a stored participant's pose stream, replayed
            src, label, mode = RecordedSessionSource(db_in, sid_in), source, "run"
        else:
            spec_src = str(camera) if camera is not None else str(source)
            src, label, mode = FrameSourceAdapter(spec_src), spec_src, ("live" if camera is not None else "run")
        extra = {"render": display} if any(f.name == "render" for f in dataclasses.fields(SessionSpec)) else {}
        spec = SessionSpec(Path(db_path), participant, cond.policy, mode, fps=fps, duration=duration,
                           realtime=camera is not None, seed=seed, progress=True, **extra)
        agent = PolicyAgent(make_policy(cond.policy, **cond.params), seed)
        meta = {"trial": {"trial_index": trial_index, "condition": cond.id, "engine": "loop"}}
        dialogue, hearing = None, None
        if utterances is not None:
            from fep_motion.session.dialogue import dialogue_from_options, load_script

            spoken = speech and vp is not None
            dialogue, brain_meta = dialogue_from_options(str(utterances), None, realtime=camera is not None,
                                                         heard=spoken)
            meta["brain"] = brain_meta
            if spoken:
                from fep_motion.session.hearing import spoken_script

                hearing = spoken_script([(x.t, x.text) for x in load_script(utterances)], asr=True,
                                        realtime=camera is not None)
        elif own_voice:
            from fep_motion.session.dialogue import dialogue_from_options
            from fep_motion.session.hearing import participant_voice

            dialogue, meta["brain"] = dialogue_from_options(None, "embedded", realtime=False, heard=True)
            hearing = participant_voice(vp, asr=True, realtime=camera is not None)
        window = None
        if display:
            from fep_motion.session.display import OpenCVDisplay

            window = OpenCVDisplay()
        try:
            sid, result = run_session(spec, src, source_label=label, participant=vp, agent=agent, meta=meta,
                                      display=window, dialogue=dialogue, hearing=hearing)
        finally:
            if window is not None:
                window.close()
    except SessionError as exc:
        raise ExperimentError(f"trial {trial_index + 1} ({cond.id}): {exc}") from None
    if own_voice:
        from experiments.vp_hearing import store_speech_truth

        store_speech_truth(db_path, sid, vp)
    with Store.open(db_path, recover=False) as store:
        ev = store.events(sid)
    agent_t = np.array([e.t_onset for e in ev if e.actor == "agent"])
    truth = [e for e in ev if e.actor == "participant_truth"]
    human = truth if truth else [e for e in ev if e.actor == "participant"]
    return LoopTrial(sid, result.status if result is not None else "interrupted", agent_t,
                     np.array([e.t_onset for e in human]),
                     np.array([e.params.get("cause") == "response" for e in human], bool))
