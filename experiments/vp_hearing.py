"""A talking virtual participant heard by the session loop: its own talk model (experiments.vp_speech) as the audio
source of the hearing stage, and its phrases stored afterwards as ground truth for the backchannel analysis
(docs/architecture.md §1, §5).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from experiments.vp_config import VirtualParticipantConfig


def talking(config: VirtualParticipantConfig) -> VirtualParticipantConfig:
    """`config` with speech on: a silent participant talks with the default SpeechConfig; a talking one is unchanged."""
    if config.speech.enabled:
        return config
    return dataclasses.replace(config, speech=dataclasses.replace(config.speech, enabled=True))


def speech_truth_rows(vp: Any) -> list:  # -> list[fep_motion.store.EventRow]
    """Every phrase `vp` said, as store rows (actor 'participant_speech'); call once, after the session."""
    from experiments.analysis.backchannel import speech_rows

    phrases, _ = vp.new_speech_truth(final=True)
    return speech_rows(phrases)


def store_speech_truth(db_path: str | Path, session_id: int, vp: Any) -> int:
    """Store `vp`'s phrases with session `session_id` (read by experiments.analysis.backchannel); returns how many."""
    from fep_motion.store import Store

    rows = speech_truth_rows(vp)
    with Store.open(db_path, recover=False) as store, store.transaction():
        store.add_events(session_id, rows)
    return len(rows)
