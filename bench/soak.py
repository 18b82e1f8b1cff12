"""Soak: one long session with the virtual participant and faults injected on a seeded schedule.

What runs: the real session loop (virtual participant -> perception -> FEP agent -> body timeline -> PyBullet render
-> SQLite store) plus a conversation with a real `fep-motion brain serve` process on 127.0.0.1 (an utterance every
`--utterance-every` s). Faults (fep_motion/session/faults.py): camera drop-outs (the device raises, reports gaps,
is reopened), frames of NaN landmarks, frames without a person, pose-estimator exceptions, a brain server frozen
(SIGSTOP: replies time out) or killed (SIGKILL) and restarted (in virtual time the session clock waits for the
restarted server to listen, so the outage lasts the scheduled session seconds), and a renderer that dies for good.

Printed: RSS of this process (and of the brain server) at each window mark, loop throughput and p50/p95 per window
(with and without the render stage, which the injected renderer failure switches off), stored frames vs scheduled
outside injected gaps, gaps by reason, brain turns and fallbacks, database size and `PRAGMA integrity_check`.
Peer (same run): the same session without faults for `--peer-minutes`; the ratio is soak p95 / peer p95.

Time: virtual by default (ticks as fast as the machine allows; the session clock is the 30 Hz grid), `--realtime`
paces ticks on the wall clock. Usage:

    .venv/bin/python bench/soak.py --minutes 60              # the hour-long soak
    .venv/bin/python bench/soak.py --minutes 3 --window 1 --fault-scale 6 --json out.json   # CI (tests/test_soak.py)
"""
from __future__ import annotations

import argparse
import array
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fep_motion.session.faults import (
    BRAIN_KINDS,
    GAP_KINDS,
    FaultPlan,
    FaultRates,
    FaultyPerceiver,
    FaultyRenderer,
    FaultySource,
    plan_faults,
)

UTTERANCES = ("Hi! How are you today?", "I think that is a good idea.", "Hmm, I am not sure about it.",
              "What do you do all day?", "Tell me about the weather.", "Okay, see you later!")


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of a process (this one by default), MB."""
    try:
        with open(f"/proc/{pid or 'self'}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BrainServer:
    """A `fep-motion brain serve` child process on 127.0.0.1 that can be frozen, thawed, killed and restarted."""

    def __init__(self, port: int, threads: int = 1) -> None:
        self.port = port
        self.threads = threads
        self.proc: subprocess.Popen | None = None
        self.starts = self.kills = self.freezes = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, wait_s: float = 0.0) -> None:
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads), NO_PROXY="127.0.0.1,localhost")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "brain", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--threads", str(self.threads)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True, cwd=REPO)
        self.starts += 1
        t0 = time.monotonic()
        while wait_s and time.monotonic() - t0 < wait_s:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def freeze(self) -> None:
        self._signal(signal.SIGSTOP)
        self.freezes += 1

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)
        self.kills += 1

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid) if self.proc is not None and self.proc.poll() is None else float("nan")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGCONT)
            self._signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


@dataclass
class Probe:
    """Per-tick instrumentation: tick indices in stored order, wall clock and RSS at each window mark."""

    fps: float
    window_s: float
    ticks: array.array = field(default_factory=lambda: array.array("l"))  # compact: one C long per tick
    cpu_ms: array.array = field(default_factory=lambda: array.array("f"))  # loop CPU ms per tick, w/o render
    marks: list[tuple[float, float, float, float]] = field(default_factory=list)  # (t, wall, rss, server rss)


class BrainDriver:
    """Applies the plan's brain faults to the server at the session times they are due (called every tick)."""

    def __init__(self, server: BrainServer | None, plan: FaultPlan, restart_wait_s: float = 0.0) -> None:
        self.server = server
        self.restart_wait_s = restart_wait_s  # virtual time: the session clock stands still while it restarts
        self.todo = sorted(((w.t0, "start", w) for w in plan.windows if w.kind in BRAIN_KINDS),
                           key=lambda x: x[0]) if server is not None else []
        self.todo += [(w.t1, "end", w) for _, _, w in self.todo]
        self.todo.sort(key=lambda x: x[0])

    def __call__(self, t: float) -> None:
        while self.todo and self.todo[0][0] <= t:
            _, what, w = self.todo.pop(0)
            if w.kind == "brain_frozen":
                self.server.freeze() if what == "start" else self.server.thaw()
            elif what == "start":
                self.server.kill()
            else:
                self.server.start(wait_s=self.restart_wait_s)  # replies fall back until it answers


def run_soak(minutes: float, seed: int = 0, fps: float = 30.0, brain: str = "server", realtime: bool = False,
             window_min: float = 5.0, utterance_every: float = 20.0, brain_timeout: float = 3.0,
             render_size: tuple[int, int] = (320, 240), out: Path | None = None, faults: bool = True,
             progress: bool = False, fault_scale: float = 1.0) -> dict[str, Any]:
    """One soak session; returns the report (see the module docstring)."""
    from experiments.virtual_participant import VirtualParticipant
    from experiments.vp_config import VirtualParticipantConfig
    from fep_motion.session.dialogue import Dialogue, ScriptLine
    from fep_motion.session.runner import SessionSpec, make_perceiver, make_renderer, run_session
    from fep_motion.session.sources import VirtualParticipantSource
    from fep_motion.store import Store

    duration = minutes * 60.0
    rates = FaultRates()
    rates = FaultRates(per_minute={k: v * fault_scale for k, v in rates.per_minute.items()},
                       mean_s={k: v / fault_scale if k in BRAIN_KINDS else v for k, v in rates.mean_s.items()},
                       renderer_failure_at=rates.renderer_failure_at)
    plan = plan_faults(duration, seed, rates, brain=(brain == "server")) if faults else FaultPlan(duration, seed, [])
    out = Path(out or tempfile.mkdtemp(prefix="soak-"))
    out.mkdir(parents=True, exist_ok=True)
    db = out / ("soak.db" if faults else "peer.db")
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    server = None
    dialogue = None
    if brain != "off":
        from llm.brain.brain import Brain
        from llm.brain.config import BrainConfig

        if brain == "server":
            server = BrainServer(free_port())
            server.start(wait_s=120.0)
            cfg = BrainConfig(backend="openai", base_url=server.url, timeout_s=brain_timeout)
        else:
            cfg = BrainConfig(backend="embedded", timeout_s=brain_timeout)
        script = [ScriptLine(t, UTTERANCES[i % len(UTTERANCES)])
                  for i, t in enumerate(np.arange(utterance_every, duration, utterance_every).tolist())]
        dialogue = Dialogue(Brain(cfg), script, virtual_time=not realtime)
    vp = VirtualParticipant(VirtualParticipantConfig(), seed=seed)
    source = FaultySource(lambda: VirtualParticipantSource(vp), plan)
    perceiver = FaultyPerceiver(make_perceiver(images=False), plan)
    renderer = FaultyRenderer(make_renderer(render_size), plan, fps)
    probe = Probe(fps, window_min * 60.0)
    driver = BrainDriver(server, plan, restart_wait_s=0.0 if realtime else 120.0)
    next_mark = [0.0]
    last_cpu = [time.thread_time(), 0.0]  # thread CPU after the last tick, render CPU by then
    last_tick = round(duration * fps) - 1

    def on_tick(i: int, t: float) -> None:
        cpu, render_cpu = time.thread_time(), renderer.cpu_s
        probe.cpu_ms.append((cpu - last_cpu[0] - (render_cpu - last_cpu[1])) * 1e3)
        last_cpu[1] = render_cpu
        probe.ticks.append(i)
        driver(t)
        if t + 0.5 / fps >= next_mark[0] or i == last_tick:
            probe.marks.append((t if i != last_tick else duration, time.perf_counter(), rss_mb(),
                                server.rss_mb() if server else float("nan")))
            next_mark[0] += probe.window_s
            if progress:
                print(f"  t = {t / 60:5.1f} min  RSS {probe.marks[-1][2]:.1f} MB", file=sys.stderr, flush=True)
        last_cpu[0] = time.thread_time()

    spec = SessionSpec(db, "SOAK01", "fep", "soak", fps=fps, duration=duration, realtime=realtime, seed=seed,
                       render=True, progress=False)
    wall0 = time.perf_counter()
    status, error = "crashed", ""
    try:
        sid, result = run_session(spec, source, participant=vp, perceiver=perceiver, renderer=renderer,
                                  dialogue=dialogue, source_label="virtual participant + injected faults",
                                  on_tick=on_tick)
        status = result.status
    except Exception as exc:  # noqa: BLE001 - a crash is what the soak measures; report it, do not hide it
        error = f"{type(exc).__name__}: {exc}"
        result = None
    finally:
        if server is not None:
            server.close()
    wall = time.perf_counter() - wall0
    report_rss_after = rss_mb()  # after the session was finalized (its result arrays are still held)
    report: dict[str, Any] = {"minutes": minutes, "seed": seed, "fps": fps, "realtime": realtime, "brain": brain,
                              "faults": faults, "status": status, "error": error, "wall_s": wall, "db": str(db),
                              "injected": plan.count(), "windows": [asdict(w) for w in plan.windows],
                              "rss_after_mb": report_rss_after}
    if result is None:
        return report
    report["warnings"] = result.warnings
    report["reopens"] = source.reopens
    report["per_window"] = _windows(probe, result.stage_ms, realtime)
    with Store.open(db, recover=False) as st:
        report.update(_store_report(st, sid, plan, fps))
        report["integrity"] = st.conn.execute("PRAGMA integrity_check").fetchone()[0]
    report["db_mb"] = sum(os.path.getsize(str(db) + s) for s in ("", "-wal") if os.path.exists(str(db) + s)) / 2**20
    if server is not None:
        report["server"] = {"starts": server.starts, "kills": server.kills, "freezes": server.freezes}
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def _windows(probe: Probe, stage_ms: np.ndarray, realtime: bool) -> list[dict[str, Any]]:
    """Per window: RSS at its start, throughput (ticks / wall s), p50/p95 of the loop's per-tick ms."""
    from fep_motion.session.loop import STAGES

    ticks = np.asarray(probe.ticks)
    cpu = np.asarray(probe.cpu_ms, dtype=np.float64)
    total = stage_ms.sum(axis=1)
    no_render = total - stage_ms[:, STAGES.index("render")]
    per = round(probe.window_s * probe.fps)
    out = []
    for k in range(len(probe.marks) - 1):
        t0, wall0, rss0, srv0 = probe.marks[k]
        t1, wall1, rss1, _ = probe.marks[k + 1]
        sel = (ticks >= k * per) & (ticks < (k + 1) * per)
        n = int(sel.sum())
        if n == 0:
            continue
        out.append({"t0_min": round(t0 / 60, 2), "t1_min": round(t1 / 60, 2), "rss_mb": rss0, "rss_end_mb": rss1,
                    "server_rss_mb": srv0, "ticks": n,
                    "fps": n / max(wall1 - wall0, 1e-9),
                    "p50_ms": float(np.percentile(total[sel], 50)), "p95_ms": float(np.percentile(total[sel], 95)),
                    "p95_no_render_ms": float(np.percentile(no_render[sel], 95)),
                    "render_p95_ms": float(np.percentile(stage_ms[sel, STAGES.index("render")], 95)),
                    "cpu_p95_ms": float(np.percentile(cpu[sel], 95))})
    return out


def _store_report(st: Any, sid: int, plan: FaultPlan, fps: float) -> dict[str, Any]:
    """Stored vs scheduled frames outside injected gaps, gaps by reason, brain turns: read back from the database."""
    rows = st.conn.execute("SELECT idx, gap, valid FROM frames WHERE session_id = ? ORDER BY idx", (sid,)).fetchall()
    info = st.session(sid)
    injected = [w for w in plan.windows if w.kind in GAP_KINDS]
    scheduled = info.scheduled_frames
    tick_t = np.arange(scheduled) / fps
    inside = np.zeros(scheduled, bool)
    for w in injected:
        inside |= (tick_t >= w.t0 - 0.5 / fps) & (tick_t < w.t1 + 0.5 / fps)
    idx = np.array([r[0] for r in rows], int)
    gap = np.array([r[1] for r in rows], bool)
    valid = np.array([r[2] for r in rows], bool)
    ok_idx = idx[(~gap) & (idx < scheduled)]
    outside_sched = int((~inside).sum())
    outside_stored = int((~inside[ok_idx]).sum())
    unexpected = int((gap & ~inside[np.minimum(idx, scheduled - 1)]).sum())
    reasons: Counter[str] = Counter()
    seconds: Counter[str] = Counter()
    for a, b, reason in st.gaps(sid):
        key = reason.split(" (")[0]
        reasons[key] += 1
        seconds[key] += (b if b is not None else a) - a
    turns = st.conn.execute("SELECT fallback, error FROM brain_turns WHERE session_id = ?", (sid,)).fetchall()
    fb: Counter[str] = Counter()
    for f, err in turns:
        if f:
            fb["time-out" if "no answer within" in err or "time-out: no reply" in err else
               "server unreachable" if "cannot reach" in err else "other"] += 1
    return {"session_status": info.status, "scheduled": scheduled, "stored": len(rows),
            "scheduled_outside_gaps": outside_sched, "stored_outside_gaps": outside_stored,
            "stored_share_outside_gaps": outside_stored / max(outside_sched, 1), "unexpected_gap_frames": unexpected,
            "frames_without_person": int((~valid & ~gap).sum()),
            "gaps": {k: {"count": reasons[k], "seconds": round(seconds[k], 2)} for k in sorted(reasons)},
            "brain_turns": len(turns), "brain_replies": sum(1 for f, _ in turns if not f),
            "brain_fallbacks": dict(fb)}


def format_report(r: dict[str, Any], peer: dict[str, Any] | None = None) -> str:
    """The soak table (markdown) plus the summary lines."""
    lines = [f"soak: {r['minutes']:g} min of session time ({'real' if r['realtime'] else 'virtual'} time), "
             f"seed {r['seed']}, {r['wall_s']:.0f} s wall; status {r['status']} {r['error']}".rstrip()]
    w = r.get("per_window", [])
    if w:
        lines += ["", ("| minutes | RSS MB at start | server RSS MB | ticks | loop ticks/s | p50 ms | p95 ms | "
                      "p95 w/o render ms | CPU p95 w/o render ms |"), "|---|---|---|---|---|---|---|---|---|"]
        for x in w:
            lines.append(f"| {x['t0_min']:g}-{x['t1_min']:g} | {x['rss_mb']:.1f} | {x['server_rss_mb']:.1f} | "
                         f"{x['ticks']} | {x['fps']:.0f} | {x['p50_ms']:.2f} | {x['p95_ms']:.2f} | "
                         f"{x['p95_no_render_ms']:.2f} | {x['cpu_p95_ms']:.2f} |")
        lines.append(f"| {w[-1]['t1_min']:g} (last tick) | {w[-1]['rss_end_mb']:.1f} | | | | | | | |")
        first, last = w[0], w[-1]
        ref = w[1] if len(w) > 1 else w[0]
        lines += ["", (f"RSS growth from minute {ref['t0_min']:g} to the last tick: "
                      f"{last['rss_end_mb'] - ref['rss_mb']:+.1f} MB (after finalizing: {r['rss_after_mb']:.1f} MB)"),
                  (f"last window / first window: p95 w/o render "
                   f"{last['p95_no_render_ms'] / first['p95_no_render_ms']:.2f},"
                  f" CPU p95 w/o render {last['cpu_p95_ms'] / first['cpu_p95_ms']:.2f}")]
    if "scheduled" in r:
        lines += [(f"stored frames outside injected gaps: {r['stored_outside_gaps']} of {r['scheduled_outside_gaps']} "
                  f"({100 * r['stored_share_outside_gaps']:.2f} %); unexpected gap frames {r['unexpected_gap_frames']};"
                  f" frames without a person {r['frames_without_person']}; all frames stored {r['stored']} of "
                  f"{r['scheduled']}"),
                  "injected: " + ", ".join(f"{k} {v}" for k, v in r["injected"].items() if v) +
                  f"; camera reopened {r['reopens']}x",
                  "gaps by reason: " + "; ".join(f"{k}: {v['count']} ({v['seconds']:.1f} s)"
                                                 for k, v in r["gaps"].items()),
                  f"brain: {r['brain_turns']} turns, {r['brain_replies']} replies, fallbacks {r['brain_fallbacks']}"
                  + (f", server {r['server']}" if "server" in r else ""),
                  f"warnings: {r['warnings']}",
                  (f"database {r['db_mb']:.1f} MB; integrity_check: {r['integrity']}; session {r['session_status']}; "
                  f"max RSS {r['max_rss_mb']:.0f} MB")]
    if peer and peer.get("per_window") and w:
        p95 = float(np.median([x["p95_no_render_ms"] for x in peer["per_window"]]))
        cpu = float(np.median([x["cpu_p95_ms"] for x in peer["per_window"]]))
        lines.append(f"peer (same session without faults or brain, {peer['minutes']:g} min, same run): p95 w/o render "
                     f"{p95:.2f} ms, CPU p95 w/o render {cpu:.2f} ms; soak last window / peer: "
                     f"{w[-1]['p95_no_render_ms'] / p95:.2f} (wall), {w[-1]['cpu_p95_ms'] / cpu:.2f} (CPU)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="session length (default 60)")
    ap.add_argument("--window", type=float, default=5.0, help="minutes per reported window (default 5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--brain", choices=("server", "embedded", "off"), default="server",
                    help="server: `fep-motion brain serve` on 127.0.0.1, frozen/killed on schedule (default)")
    ap.add_argument("--brain-timeout", type=float, default=3.0, help="seconds before a reply falls back")
    ap.add_argument("--utterance-every", type=float, default=20.0, help="seconds between scripted utterances")
    ap.add_argument("--realtime", action="store_true", help="pace ticks on the wall clock (default: virtual time)")
    ap.add_argument("--peer-minutes", type=float, default=None, help="fault-free peer length (default min(5, M))")
    ap.add_argument("--fault-scale", type=float, default=1.0,
                    help="multiply every fault rate (brain faults also get that much shorter); the CI run uses 6")
    ap.add_argument("--out", default=None, help="directory for the soak databases (default: a temp dir)")
    ap.add_argument("--json", default=None, help="also write the report as JSON here")
    args = ap.parse_args(argv)
    if not (args.minutes > 0 and args.window > 0):
        print("soak: --minutes and --window must be > 0", file=sys.stderr)
        return 2
    peer_min = args.peer_minutes if args.peer_minutes is not None else min(5.0, args.minutes)
    peer = None
    if peer_min > 0:
        peer = run_soak(peer_min, args.seed, args.fps, brain="off", realtime=args.realtime, window_min=args.window,
                        out=Path(args.out) if args.out else None, faults=False)
        if peer["status"] != "completed":  # Ctrl-C / SIGTERM ends the peer session as interrupted: stop here
            print(f"soak: the peer run ended {peer['status']} {peer['error']}".rstrip(), file=sys.stderr)
            return 1
    r = run_soak(args.minutes, args.seed, args.fps, brain=args.brain, realtime=args.realtime,
                 window_min=args.window, utterance_every=args.utterance_every, brain_timeout=args.brain_timeout,
                 out=Path(args.out) if args.out else None, progress=True, fault_scale=args.fault_scale)
    r["peer"] = peer
    print(format_report(r, peer), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1))
    return 0 if r["status"] == "completed" and r.get("integrity") == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
