"""Session-loop benchmark: sustained fps and p50/p95 per-stage latency of the full loop (source -> perception ->
FEP policy -> body timeline -> 320x240 render + H.264 video -> SQLite store), on the virtual participant and on
vtest.avi at 640x480 with MediaPipe in the loop, and vtest.avi with the ears on (espeak-ng sentences through VAD, pitch
and pocketsphinx, fep_motion/session/hearing.py); peer: MediaPipe pose estimation alone on the same frames, same run.

    .venv/bin/python bench/loop.py [--seconds 20] [--policy fep]

Target (docs/architecture.md §7): >= 30 fps sustained, p95 <= 50 ms camera frame -> avatar pose, on 2 cores. The
machine's load average is printed with the results, since a shared machine changes them.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def _loop(name: str, source, participant, policy: str, seconds: float, realtime: bool, out: Path,
          hearing=None) -> dict:
    from fep_motion.session.runner import SessionSpec, run_session

    spec = SessionSpec(out / f"{name}.db", "bench", policy, "bench", fps=30.0, duration=seconds, realtime=realtime,
                       seed=0, video_path=out / f"{name}.mp4", progress=False)
    _, r = run_session(spec, source, participant=participant, hearing=hearing)
    pct = r.stage_percentiles()
    # frame -> avatar pose latency: everything before rendering (rendering runs beside the loop in real time)
    pre = r.stage_ms[:, :4].sum(axis=1)
    return {
        "name": name, "mode": "real time" if realtime else "as fast as possible", "fps": r.achieved_fps,
        "stored": r.stored, "scheduled": r.scheduled, "dropped": r.dropped, "pct": pct,
        "pose_p50": float(np.percentile(pre, 50)), "pose_p95": float(np.percentile(pre, 95)),
    }


def _vp():
    from experiments.virtual_participant import VirtualParticipant
    from fep_motion.session.sources import VirtualParticipantSource

    vp = VirtualParticipant(seed=0)
    return VirtualParticipantSource(vp), vp


def _video():
    from fep_motion.session.sources import FrameSourceAdapter

    return FrameSourceAdapter(str(VTEST), reconnect_attempts=0, resize=(640, 480)), None


def _speech(seconds: float, realtime: bool):
    """The ears: everyday sentences (tests/data/speech_sentences.txt) spoken by espeak-ng, one every 4 s."""
    from fep_motion.session.hearing import spoken_script

    lines = [x.strip() for x in (ROOT / "tests" / "data" / "speech_sentences.txt").read_text().splitlines()
             if x.strip()]
    script = [(0.5 + 4.0 * i, lines[i % len(lines)]) for i in range(max(1, int((seconds - 2.0) // 4.0)))]
    return spoken_script(script, asr=True, realtime=realtime)


def _mediapipe_alone(n: int) -> tuple[float, float, float]:
    """p50/p95 ms and fps of MediaPipe pose estimation alone on the first n vtest frames at 640x480."""
    from perception.pose import create_estimator
    from perception.sources import Frame, open_source

    est = create_estimator("mediapipe", None, static_image_mode=False)
    ms = []
    with open_source(str(VTEST), resize=(640, 480)) as src:
        for item in src:
            if not isinstance(item, Frame):
                continue
            t0 = time.perf_counter()
            est.estimate(item.image, item.t, item.index)
            ms.append((time.perf_counter() - t0) * 1e3)
            if len(ms) >= n:
                break
    est.close()
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), 1e3 / float(np.mean(ms))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="session length per scenario (default 20)")
    ap.add_argument("--policy", default="fep")
    args = ap.parse_args()
    if not VTEST.exists():
        print(f"{VTEST} missing: apt-get install opencv-doc", file=sys.stderr)
        return 2
    load0 = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for realtime in (True, False):
            src, vp = _vp()
            rows.append(_loop("virtual participant", src, vp, args.policy, args.seconds, realtime, out))
            src, vp = _video()
            rows.append(_loop("vtest.avi + MediaPipe", src, vp, args.policy, args.seconds, realtime, out))
            src, vp = _video()
            rows.append(_loop("vtest + MediaPipe + ears", src, vp, args.policy, args.seconds, realtime, out,
                              hearing=_speech(args.seconds, realtime)))
        mp50, mp95, mpfps = _mediapipe_alone(int(args.seconds * 30))
    load1 = os.getloadavg()
    stages = ["source", "perception", "agent", "body", "render", "store", "total"]
    print(f"\nsession loop, 30 Hz, pose 640x480, render 320x240 TinyRenderer + H.264; {os.cpu_count()} cores; "
          f"load average {load0[0]:.1f} -> {load1[0]:.1f}")
    head = f"{'scenario':<26}{'mode':<22}{'fps':>6}{'stored':>9}{'drop':>6}  {'pose p50/p95':>13}  " + "  ".join(
        f"{s:>11}" for s in stages)
    print(head)
    print("-" * len(head))
    for r in rows:
        cells = "  ".join(f"{r['pct'][s][0]:5.1f}/{r['pct'][s][1]:<5.1f}" for s in stages)
        print(f"{r['name']:<26}{r['mode']:<22}{r['fps']:6.1f}{r['stored']:>5}/{r['scheduled']:<4}{r['dropped']:>5}  "
              f"{r['pose_p50']:5.1f}/{r['pose_p95']:<6.1f}  {cells}")
    print(f"{'MediaPipe alone (peer)':<26}{'as fast as possible':<22}{mpfps:6.1f}{'':>15}  {mp50:5.1f}/{mp95:<6.1f}")
    live, ears = rows[1], rows[2]
    print(f"\nratio: loop frame->avatar p95 / MediaPipe-alone p95 = {live['pose_p95'] / mp95:.2f} "
          f"(vtest real time: {live['fps']:.1f} fps sustained, target >= 30; p95 {live['pose_p95']:.1f} ms, "
          f"target <= 50)")
    print(f"with the ears on (VAD, pitch, pocketsphinx in its own process): {ears['fps']:.1f} fps sustained, "
          f"p95 {ears['pose_p95']:.1f} ms (targets >= 30 fps, <= 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
