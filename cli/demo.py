"""`fep-motion demo`: the embedded default — a virtual participant drives the agent; video, store and summary."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_dialogue_flags(p: argparse.ArgumentParser) -> None:
    """--utterances/--brain/--base-url/--brain-model/--brain-timeout, shared by demo, live and run."""
    g = p.add_argument_group("talking to the agent (the brain's intent steers habits E / preferences C)")
    g.add_argument("--utterances", default=None, metavar="FILE",
                   help="script of 't_seconds<TAB>text' lines said to the agent at those session times")
    g.add_argument("--brain", choices=("embedded", "openai", "off"), default=None,
                   help="who answers: embedded (shipped model, default when utterances or a chat box are used), "
                        "openai (a chat-completions server), off (default otherwise)")
    g.add_argument("--base-url", default=None, help="--brain openai: server URL (default http://127.0.0.1:8000/v1)")
    g.add_argument("--brain-model", default=None,
                   help="--brain openai: model name (default fep-brain-small); embedded: checkpoint directory")
    g.add_argument("--brain-timeout", type=float, default=None,
                   help="seconds before a reply becomes the fallback '[listen] Mm-hm.' (default 10)")
    g.add_argument("--voice", choices=("on", "off"), default="on",
                   help="speak the agent's replies with espeak-ng: into the agent video, and aloud in live sessions "
                        "(default on; off = text only, the mouth still moves)")


def add_audio_flags(p: argparse.ArgumentParser, choices: tuple[str, ...] | None, audio_help: str,
                    default: str = "auto") -> None:
    """--audio (what the agent hears) and --asr (whether what it hears reaches the brain), for demo, live and run."""
    g = p.add_argument_group("hearing (voice activity, pitch and speech recognition on the session clock)")
    g.add_argument("--audio", default=default, choices=choices, metavar="|".join(choices) if choices else "SOURCE",
                   help=audio_help)
    g.add_argument("--asr", choices=("on", "off"), default="on",
                   help="on (default when audio is on): recognised speech goes to the brain like a typed line; "
                        "off: audio is analysed and stored, the brain gets typed or scripted text only")
    g.add_argument("--asr-adapt", type=Path, default=None, metavar="FILE",
                   help="recognise with this speaker's adapted acoustic model (from `fep-motion hearing enroll`; "
                        "default: pocketsphinx's own en-us means)")


def dialogue_options(args: argparse.Namespace):  # -> fep_motion.session.modes.DialogueOptions
    """The dialogue flags as the session's DialogueOptions."""
    from fep_motion.session.modes import DialogueOptions

    return DialogueOptions(utterances=args.utterances, brain=args.brain, base_url=args.base_url,
                           brain_model=args.brain_model, brain_timeout=args.brain_timeout)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the embedded demo: a virtual participant interacts with the agent (no webcam, GPU or server)",
        description="A virtual participant drives the session loop; the agent is rendered to an H.264 video "
        "(DIR/agent.mp4), the session is stored in DIR/study.db, and a summary table is printed (DIR/summary.txt).",
    )
    p.add_argument("--duration", type=float, default=60.0, help="session length in seconds (default 60)")
    p.add_argument("--out", default="out/demo", help="output directory (default out/demo)")
    p.add_argument("--seed", type=int, default=0, help="seed of the virtual participant and the policy")
    p.add_argument("--policy", default="fep", help="agent policy name or module:Class (default fep)")
    p.add_argument("--fps", type=float, default=30.0, help="scheduler rate in Hz (default 30)")
    p.add_argument("--participant-config", default=None, help="YAML config of the virtual participant")
    p.add_argument("--fast", action="store_true", help="virtual time: run as fast as possible instead of real time")
    p.add_argument("--no-video", action="store_true", help="skip rendering the agent video")
    add_dialogue_flags(p)
    add_audio_flags(p, ("on", "off"),
                    "on: the virtual participant talks aloud (espeak-ng) and the agent hears it: its --utterances "
                    "script, else its own turns of phrases and pauses (stored as ground truth for the backchannel "
                    "analysis; a silent --participant-config talks with the default speech settings); "
                    "off (default): no audio, a script goes to the brain as text", default="off")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # The CLI is the one layer allowed to wire experiments (the virtual participant) into fep_motion's session loop.
    from experiments.virtual_participant import VirtualParticipant
    from experiments.vp_config import VirtualParticipantConfig, load_config
    from experiments.vp_hearing import speech_truth_rows, talking
    from fep_motion.session.modes import DemoOptions, run_demo

    config = load_config(args.participant_config) if args.participant_config else VirtualParticipantConfig()
    own_voice = args.audio == "on" and not args.utterances
    if own_voice:
        config = talking(config)
    opts = DemoOptions(out=Path(args.out), duration=args.duration, policy=args.policy, fps=args.fps, seed=args.seed,
                       fast=args.fast, video=not args.no_video, voice=args.voice, dialogue=dialogue_options(args),
                       audio=args.audio, asr=args.asr, asr_adapt=args.asr_adapt)
    vp = VirtualParticipant(config, seed=args.seed)
    return run_demo(opts, vp, speech_truth=(lambda: speech_truth_rows(vp)) if own_voice else None)
