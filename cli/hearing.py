"""`fep-motion hearing enroll|transcribe`: adapt the recogniser to a speaker, and recognise WAV files with it."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "hearing",
        help="speaker adaptation for speech recognition (enroll) and recognising WAV files (transcribe)",
        description="The agent's ears outside a session: adapt pocketsphinx's acoustic model to one speaker, and "
        "recognise recordings with or without that adaptation.",
    )
    sub = p.add_subparsers(dest="hearing_command", metavar="SUBCOMMAND", required=True)
    e = sub.add_parser(
        "enroll",
        help="estimate a speaker adaptation (MLLR) from enrollment sentences read by the speaker",
        description="The speaker reads the enrollment sentences (40 by default; about two minutes); the adapted "
        "model is written to FILE, which demo/live/run take as --asr-adapt FILE.",
    )
    e.add_argument("--out", required=True, type=Path, help="adaptation file to write (JSON), e.g. P01.adapt.json")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--mic", nargs="?", const="default", metavar="DEVICE",
                     help="prompt each sentence on the terminal and record it from the microphone (PortAudio)")
    src.add_argument("--recordings", type=Path, metavar="DIR",
                     help="a folder of NAME.wav recordings, each with the text read in NAME.txt")
    src.add_argument("--voice", metavar="ESPEAK_VOICE",
                     help="an espeak-ng voice reads the sentences (a virtual participant's voice, e.g. en-us+f3)")
    e.add_argument("--speeds", nargs="+", type=int, default=[140, 175],
                   help="with --voice: speaking rates in words per minute (default 140 175)")
    e.add_argument("--sentences", type=Path, default=None,
                   help="enrollment script, one sentence per line (default: the shipped 40 sentences)")
    e.add_argument("--iterations", type=int, default=2, help="align-and-estimate passes (default 2)")
    e.add_argument("--speaker", default="", help="speaker label stored in the file (default: the file's stem)")
    e.set_defaults(func=_enroll)
    t = sub.add_parser("transcribe", help="recognise WAV files (one utterance each) and print the words",
                       description="Each WAV file is decoded as one utterance with our recogniser.")
    t.add_argument("wavs", nargs="+", type=Path, help="WAV files (any rate; mixed to mono, resampled to 16 kHz)")
    t.add_argument("--asr-adapt", type=Path, default=None, metavar="FILE", help="speaker adaptation file")
    t.add_argument("--lm", default=None, help="language model: 'default' (pocketsphinx's) or an ARPA path "
                                              "(default: our conversational trigram)")
    t.set_defaults(func=_transcribe)


def _enroll(args: argparse.Namespace) -> int:
    from perception.audio import enroll
    from perception.audio.adapt import enroll as estimate
    from perception.audio.adapt import enrollment_sentences
    from perception.errors import PerceptionError

    if args.iterations < 1:
        raise PerceptionError(f"--iterations: must be >= 1, got {args.iterations}")
    if args.sentences is not None and not args.sentences.is_file():
        raise PerceptionError(f"--sentences: {args.sentences}: no such file; give a text file, one sentence per line")
    sentences = enrollment_sentences(args.sentences) if args.sentences is not None else enrollment_sentences()
    if args.voice is not None:
        utterances = enroll.synthesized(sentences, args.voice, args.speeds)
        source = f"espeak-ng voice {args.voice} at {args.speeds} wpm"
    elif args.recordings is not None:
        utterances = enroll.recordings(args.recordings)
        source = f"recordings in {args.recordings}"
    else:
        from perception.audio.sources import MicrophoneSource

        dev = None if args.mic == "default" else (int(args.mic) if args.mic.isdigit() else args.mic)
        mic = MicrophoneSource(dev)
        print(f"Read each sentence aloud when it appears ({len(sentences)} sentences); pause after each.")

        def show(k: int, sentence: str) -> None:
            print(f"  [{k + 1}/{len(sentences)}] {sentence}", flush=True)

        utterances = list(enroll.prompted(mic, sentences, show))
        source = f"{mic.name}, prompted"
    print(f"{len(utterances)} utterances, {enroll.total_seconds(utterances):.0f} s of audio; estimating "
          f"({args.iterations} passes)", file=sys.stderr)
    adaptation = estimate(utterances, iterations=args.iterations, speaker=args.speaker or args.out.stem.split(".")[0],
                          source=source, progress=lambda line: print("  " + line, file=sys.stderr))
    adaptation.save(args.out)
    print(f"wrote {args.out}: {adaptation.aligned}/{adaptation.utterances} utterances aligned, "
          f"{adaptation.frames} speech frames; use it as --asr-adapt {args.out}")
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    from perception.audio.asr import Recognizer, RecognizerConfig
    from perception.audio.sources import WavFileSource

    kwargs: dict[str, object] = {"adaptation": args.asr_adapt}
    if args.lm is not None:
        kwargs["lm"] = args.lm
    rec = Recognizer(RecognizerConfig(**kwargs))
    for wav in args.wavs:
        tr = rec.transcribe(WavFileSource(wav).samples)
        print(f"{wav}\t{tr.confidence:.2f}\t{tr.text}")
    return 0
