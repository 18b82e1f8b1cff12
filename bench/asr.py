"""Benchmark: speech recognition WER, utterance-end latency and VAD segmentation, on hand-written everyday sentences.

The 30 sentences of tests/data/speech_sentences.txt (written before any tuning) are spoken by espeak-ng in two
voices x two speeds. Rows, all in this run on the same audio:
  default   pocketsphinx's own en-us LM, espeak's 22,050 Hz resampled naively (linear interpolation, no
            anti-alias filter), each sentence's whole clip decoded as one utterance (the peer);
  +audio    pocketsphinx's LM, our audio path: resample_poly to 16 kHz, a session stream cut by the VAD gate;
  ours      our conversational LM (perception/audio/lm) with our audio path;
  +brain    ours, its N-best list re-ranked by the embedded brain's dialogue log-probability
            (llm.brain.rescore.BrainRescorer through Recognizer's rescorer hook);
  adapted   the three rows above again with the acoustic model adapted to the voice (perception.audio.adapt: MLLR
            from the 40 shipped enrollment sentences, perception/audio/data/enrollment.txt, read by the same voice
            at the same speeds; none of them is a test sentence), as `fep-motion hearing enroll --voice V` makes it.
Latency (ours+brain): utterance end (last speech sample) -> transcript ready = the gate's hangover (audio time)
plus the decoder's end-of-utterance wall time with the rescoring; the real-time factor shows the frame-by-frame part
keeps up. --heldout N draws sentences from chitchat conversations held out of both the LM (10 %) and the brain (5 %):
the only sentences the rescoring weights and VAD settings were tuned on.
VAD: the sentences with random silences (0.6-2.0 s) under white or babble noise at 20 and 10 dB SNR; onset and
offset F1 within +-100 ms of the clean speech's extent.

    .venv/bin/python bench/asr.py [--voices en-us en-us+f3] [--speeds 140 175] [--heldout N]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from llm.brain.rescore import BrainRescorer
from perception.audio import adapt, enroll
from perception.audio.asr import Recognizer, RecognizerConfig, SegmentedRecognizer
from perception.audio.features import AnalyzerConfig, AudioAnalyzer
from perception.audio.sources import ArraySource, speech_extent, synthesize
from perception.audio.types import SAMPLE_RATE, AudioFrame, SpeechEvent, Transcript

SENTENCES = ROOT / "tests" / "data" / "speech_sentences.txt"
TOLERANCE_S = 0.1


@dataclass
class Clip:
    """One synthesized sentence: its text, 16 kHz samples (resample_poly) and espeak's raw 22,050 Hz samples."""

    text: str
    samples: np.ndarray
    raw22k: np.ndarray


def espeak_raw(text: str, voice: str, speed: int) -> np.ndarray:
    """espeak-ng's own 22,050 Hz output (for the naive-resampling peer)."""
    import subprocess
    import tempfile

    from scipy.io import wavfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text], check=True)
        return wavfile.read(out)[1].astype(np.float64)


def naive_16k(raw: np.ndarray, rate: int = 22_050) -> np.ndarray:
    """Linear interpolation to 16 kHz without an anti-alias filter (what a quick script does)."""
    t_out = np.arange(int(len(raw) * SAMPLE_RATE / rate)) / SAMPLE_RATE
    return np.clip(np.interp(t_out, np.arange(len(raw)) / rate, raw), -32768, 32767).astype(np.int16)


def session_stream(clips: list[Clip], rng: np.random.Generator, gap: tuple[float, float] = (0.6, 2.0),
                   lead_s: float = 0.5) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The clips one after another with random silences between; returns samples and true speech extents."""
    parts, spans, pos = [np.zeros(int(lead_s * SAMPLE_RATE), np.int16)], [], int(lead_s * SAMPLE_RATE)
    for c in clips:
        a, b = speech_extent(c.samples)
        spans.append((pos / SAMPLE_RATE + a, pos / SAMPLE_RATE + b))
        parts.append(c.samples)
        pos += len(c.samples)
        silence = np.zeros(int(rng.uniform(*gap) * SAMPLE_RATE), np.int16)
        parts.append(silence)
        pos += len(silence)
    return np.concatenate(parts), spans


def run_stream(samples: np.ndarray, recognizer: SegmentedRecognizer | None
               ) -> tuple[list[SpeechEvent], list[tuple[Transcript, float]], float]:
    """Analyse (and recognise) a stream frame by frame; returns events, (transcript, hangover s) and wall s."""
    analyzer, events, transcripts = AudioAnalyzer(), [], []
    t0 = time.perf_counter()
    for item in ArraySource(samples):
        if not isinstance(item, AudioFrame):
            continue
        _, evs = analyzer.process(item)
        events += evs
        if recognizer is not None:
            tr = recognizer.process(item, evs)
            if tr is not None:
                off = [e for e in evs if e.kind == "offset"][-1]
                transcripts.append((tr, off.t_detected - off.t))
    tail = analyzer.gate.flush(len(samples) / SAMPLE_RATE)
    events += tail
    if recognizer is not None and (tr := recognizer.flush(tail)) is not None:
        transcripts.append((tr, 0.0))
    return events, transcripts, time.perf_counter() - t0


def assign(transcripts: list[Transcript], spans: list[tuple[float, float]]) -> list[str]:
    """Each transcript's words to the sentence its span overlaps most (split or merged segments still count)."""
    hyps: list[list[str]] = [[] for _ in spans]
    for tr in transcripts:
        overlaps = [min(tr.end_t, b) - max(tr.start_t, a) for a, b in spans]
        i = int(np.argmax(overlaps))
        if overlaps[i] > 0:
            hyps[i].append(tr.text)
    return [" ".join(h) for h in hyps]


def wer(refs: list[str], hyps: list[str]) -> float:
    """Corpus word error rate (jiwer: substitutions + deletions + insertions over reference words)."""
    import jiwer

    return float(jiwer.wer([r.lower() for r in refs], [h if h.strip() else "<empty>" for h in hyps]))


def f1(truth: list[float], found: list[float], tol: float = TOLERANCE_S) -> float:
    """F1 of one-to-one matches (greedy by distance) between true and detected times within +-tol."""
    pairs = sorted((abs(t - f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found) if abs(t - f) <= tol)
    used_t, used_f, hits = set(), set(), 0
    for _, i, j in pairs:
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            hits += 1
    if not truth and not found:
        return 1.0
    p = hits / len(found) if found else 0.0
    r = hits / len(truth) if truth else 0.0
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def add_noise(samples: np.ndarray, spans: list[tuple[float, float]], noise: np.ndarray, snr_db: float) -> np.ndarray:
    """samples + noise scaled so speech power (inside the true spans) over noise power is snr_db."""
    x = samples.astype(np.float64)
    mask = np.zeros(len(x), bool)
    for a, b in spans:
        mask[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)] = True
    p_speech = np.mean(x[mask] ** 2)
    n = noise[: len(x)].astype(np.float64)
    n *= np.sqrt(p_speech / (np.mean(n ** 2) * 10 ** (snr_db / 10)))
    return np.clip(np.rint(x + n), -32768, 32767).astype(np.int16)


def babble(sentences: list[str], length: int, rng: np.random.Generator, talkers: int = 6) -> np.ndarray:
    """Sum of `talkers` streams of other voices reading the sentences in shuffled order, with no pauses."""
    voices = ["en-gb", "en-us+f2", "en-gb-x-rp", "en-us+m3", "en-029", "en-gb-scotland"]
    out = np.zeros(length)
    for k in range(talkers):
        order = rng.permutation(len(sentences))
        pieces, n = [], 0
        while n < length:
            for i in order:
                clip = synthesize(sentences[i], voices[k % len(voices)], int(rng.integers(140, 190)))
                a, b = speech_extent(clip)
                pieces.append(clip[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)])
                n += len(pieces[-1])
                if n >= length:
                    break
        out += np.concatenate(pieces)[:length]
    return out


def heldout_sentences(n: int, rng: np.random.Generator) -> list[str]:
    """n sentences of 4-10 words from chitchat conversations held out of the LM and the brain (the brain's 5 % split,
    inside the LM's 10 %), all in the LM's vocabulary."""
    from perception.audio import build_lm

    vocab = build_lm.dictionary_words()
    pool = sorted({" ".join(s) for cid, text in build_lm.corpus_messages() if build_lm.is_heldout(cid, 5.0)
                   for s in build_lm.sentences(text) if 4 <= len(s) <= 10 and all(w in vocab for w in s)})
    return [pool[i] for i in rng.choice(len(pool), n, replace=False)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", nargs="+", default=["en-us", "en-us+f3"])
    ap.add_argument("--speeds", nargs="+", type=int, default=[140, 175])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--heldout", type=int, default=0,
                    help="use N held-out chitchat sentences (4-10 words) instead of the hand-written ones")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads of the brain rescorer")
    ap.add_argument("--no-vad", action="store_true", help="skip the VAD segmentation table")
    ap.add_argument("--vad-only", action="store_true", help="only the VAD segmentation table")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    sentences = heldout_sentences(args.heldout, rng) if args.heldout else [
        s.strip() for s in SENTENCES.read_text().splitlines() if s.strip()]
    if args.vad_only:
        vad_table(sentences, np.random.default_rng(args.seed + 1))
        return 0
    print(f"{len(sentences)} sentences x voices {args.voices} x speeds {args.speeds}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    default_cfg = RecognizerConfig(lm="default")
    ours_cfg = RecognizerConfig()
    peer, plus_audio, ours = Recognizer(default_cfg), Recognizer(default_cfg), Recognizer(ours_cfg)
    rescorer = BrainRescorer(threads=args.threads)
    brain = Recognizer(ours_cfg, rescorer=rescorer)
    brain.rescorer(["hello"])   # load the weights before the clock starts
    refs: list[str] = []
    hyp_default, hyp_audio, hyp_ours, hyp_brain, latencies, end_walls, rtf = [], [], [], [], [], [], []
    adapted: dict[str, list[str]] = {"audio": [], "ours": [], "brain": []}
    enroll_s: list[float] = []
    for voice in args.voices:
        t0 = time.perf_counter()
        adaptation = adapt.enroll(enroll.synthesized(adapt.enrollment_sentences(), voice, args.speeds), speaker=voice)
        enroll_s.append(time.perf_counter() - t0)
        with tempfile.TemporaryDirectory() as tmp:
            adaptation.save(Path(tmp) / "a.json")
            recs_adapted = {"audio": Recognizer(RecognizerConfig(lm="default", adaptation=Path(tmp) / "a.json")),
                            "ours": Recognizer(RecognizerConfig(adaptation=Path(tmp) / "a.json")),
                            "brain": Recognizer(RecognizerConfig(adaptation=Path(tmp) / "a.json"), rescorer=rescorer)}
        print(f"  {voice:9s} adapted on {adaptation.aligned}/{adaptation.utterances} enrollment utterances "
              f"({adaptation.frames} speech frames) in {enroll_s[-1]:.0f} s", flush=True)
        for speed in args.speeds:
            clips = [Clip(s, synthesize(s, voice, speed), espeak_raw(s, voice, speed)) for s in sentences]
            refs += [c.text for c in clips]
            hyp_default += [peer.transcribe(naive_16k(c.raw22k)).text for c in clips]
            stream, spans = session_stream(clips, rng)
            for rec, sink in ((plus_audio, hyp_audio), (ours, hyp_ours), (brain, hyp_brain)):
                _, trs, wall = run_stream(stream, SegmentedRecognizer(rec.config, rec))
                sink += assign([t for t, _ in trs], spans)
                if rec is brain:
                    rtf.append(wall / (len(stream) / SAMPLE_RATE))
                    latencies += [hang + t.latency_s for t, hang in trs]
                    end_walls += [t.latency_s for t, _ in trs]
            for key, rec in recs_adapted.items():
                _, trs, _ = run_stream(stream, SegmentedRecognizer(rec.config, rec))
                adapted[key] += assign([t for t, _ in trs], spans)
            w = [wer(refs[-len(clips):], h[-len(clips):]) for h in (hyp_default, hyp_audio, hyp_ours, hyp_brain,
                                                                     adapted["audio"], adapted["ours"],
                                                                     adapted["brain"])]
            print(f"  {voice:9s} {speed} wpm: WER default {w[0]:.3f}  +audio {w[1]:.3f}  ours {w[2]:.3f}  "
                  f"+brain {w[3]:.3f} | adapted: +audio {w[4]:.3f}  ours {w[5]:.3f}  +brain {w[6]:.3f}", flush=True)
    w_def, w_audio, w_ours = wer(refs, hyp_default), wer(refs, hyp_audio), wer(refs, hyp_ours)
    w_brain = wer(refs, hyp_brain)
    print("\nrow       LM                 audio path                          WER")
    print(f"default   pocketsphinx en-us  linear resample, whole clip         {w_def:.3f}")
    print(f"+audio    pocketsphinx en-us  resample_poly, VAD-cut stream       {w_audio:.3f}")
    print(f"ours      chitchat trigram    resample_poly, VAD-cut stream       {w_ours:.3f}")
    print(f"+brain    trigram + brain     resample_poly, VAD-cut stream       {w_brain:.3f}")
    w_ad = {k: wer(refs, h) for k, h in adapted.items()}
    print(f"adapted acoustic model (MLLR from the enrollment script, {np.mean(enroll_s):.0f} s per voice):")
    print(f"+audio    pocketsphinx en-us  resample_poly, VAD-cut stream       {w_ad['audio']:.3f}")
    print(f"ours      chitchat trigram    resample_poly, VAD-cut stream       {w_ad['ours']:.3f}")
    print(f"+brain    trigram + brain     resample_poly, VAD-cut stream       {w_ad['brain']:.3f}")
    print(f"ratio ours / default = {w_ours / w_def:.2f}, +brain / default = {w_brain / w_def:.2f}; adapted: +audio "
          f"{w_ad['audio'] / w_def:.2f}, ours {w_ad['ours'] / w_def:.2f}, +brain {w_ad['brain'] / w_def:.2f} "
          f"(target <= 0.60) over {len(refs)} utterances")
    lat = np.array(latencies)
    print(f"utterance end -> transcript: p50 {np.percentile(lat, 50):.3f} s, p95 {np.percentile(lat, 95):.3f} s "
          f"(target p95 <= 1.0 s; gate hangover {AnalyzerConfig().gate.hangover_ms / 1000:.1f} s + end_utt wall p50 "
          f"{np.percentile(end_walls, 50) * 1000:.0f} ms, p95 {np.percentile(end_walls, 95) * 1000:.0f} ms); "
          f"stream real-time factor {np.mean(rtf):.2f} (VAD + pitch + decoding per frame)")
    for i in range(0, len(refs), max(1, len(refs) // 6)):
        print(f"  ref {refs[i]!r}\n     default {hyp_default[i]!r}\n     ours    {hyp_ours[i]!r}\n"
              f"     +brain  {hyp_brain[i]!r}\n     adapted {adapted['brain'][i]!r}")

    if not args.no_vad:
        vad_table(sentences, np.random.default_rng(args.seed + 1))
    return 0


def vad_table(sentences: list[str], rng: np.random.Generator) -> None:
    """Onset/offset F1 of the VAD gate on the sentences (en-us 150 wpm) with silences, clean and under noise."""
    print("\nVAD segmentation (onset/offset F1 within +-100 ms; 30 sentences, en-us 150 wpm, silences 0.6-2.0 s)")
    clips = [Clip(s, synthesize(s, "en-us", 150), np.zeros(0)) for s in sentences]
    stream, spans = session_stream(clips, rng)
    noises = {"white": rng.normal(0, 1, len(stream)), "babble": babble(sentences, len(stream), rng)}
    print("noise   SNR dB  onset F1  offset F1  segments found/true")
    clean_events, _, _ = run_stream(stream, None)
    rows = [("clean", "-", clean_events)]
    for name, noise in noises.items():
        for snr in (20, 10):
            evs, _, _ = run_stream(add_noise(stream, spans, noise, snr), None)
            rows.append((name, str(snr), evs))
    for name, snr, evs in rows:
        on = [e.t for e in evs if e.kind == "onset"]
        off = [e.t for e in evs if e.kind == "offset"]
        print(f"{name:7s} {snr:>6s}  {f1([a for a, _ in spans], on):8.3f}  {f1([b for _, b in spans], off):9.3f}  "
              f"{len(on)}/{len(spans)}")


if __name__ == "__main__":
    sys.exit(main())
