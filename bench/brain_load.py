"""Brain server under load: `fep-motion brain serve` on 127.0.0.1 with N concurrent clients for S seconds.

Each client (a thread, seeded) sends a mix of requests to 127.0.0.1 only: valid chat completions (JSON and streamed),
streams it abandons mid-reply, malformed JSON, wrong types, missing fields, prompts longer than the model's context,
unknown routes, bad and oversized Content-Length. Every answer is checked: a well-formed reply (200) or a 4xx JSON
error; anything else (5xx, a dropped connection, a time-out) is counted as a failure. The server's RSS is sampled
every second; at the end /health must answer. Printed: requests, requests/s and latency p50/p95 per kind, failures,
RSS over time, and the peer measured in the same run: one client sending valid chat requests one at a time
(`--peer-seconds`); ratio = loaded throughput of valid chats / peer throughput.

    .venv/bin/python bench/brain_load.py --clients 16 --seconds 60             # the README numbers
    .venv/bin/python bench/brain_load.py --clients 16 --seconds 20 --json r.json   # tests/test_brain_server_load.py
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # the only address this benchmark ever talks to
UTTERANCES = ("Hi! How are you?", "I think that is a good idea.", "Tell me about Kyoto.", "Okay, see you later!")
# Request kinds and their weights in each client's mix.
KINDS: dict[str, int] = {"chat": 6, "stream": 3, "disconnect": 2, "bad_json": 1, "wrong_types": 1,
                         "missing_fields": 1, "too_long": 1, "bad_route": 1, "bad_length": 1, "huge_body": 1}
VALID = ("chat", "stream", "disconnect")


@dataclass
class Result:
    """One request's outcome: kind, HTTP status (0: none), whether the answer had the right shape, latency."""

    kind: str
    status: int
    ok: bool
    latency_s: float
    detail: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return float("nan")


def listen_addresses(port: int) -> list[str]:
    """IPv4/IPv6 addresses with a listening socket on `port` (from /proc/net/tcp*)."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if state == "0A" and int(p, 16) == port:
                if len(addr) == 8:
                    out.append(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
                else:
                    out.append(addr)
    return out


def start_server(port: int, host: str | None = HOST, checkpoint: str | None = None) -> subprocess.Popen:
    """`fep-motion brain serve` on `port` (host None: the default bind), waiting until /health answers."""
    cmd = [sys.executable, "-m", "cli", "brain", "serve", "--port", str(port), "--threads", "1"]
    cmd += ["--host", host] if host is not None else []
    cmd += ["--checkpoint", checkpoint] if checkpoint else []
    env = dict(os.environ, OMP_NUM_THREADS="1", NO_PROXY="127.0.0.1,localhost")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True, cwd=REPO)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if get(port, "/health")[0] == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError("server did not answer /health within 120 s")


def stop_server(proc: subprocess.Popen) -> str:
    """Stop the server's process group; returns what it printed."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return proc.stdout.read() if proc.stdout else ""


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _is_error_json(body: bytes) -> bool:
    try:
        obj = json.loads(body)
    except ValueError:
        return False
    return isinstance(obj, dict) and isinstance(obj.get("error"), dict) and bool(obj["error"].get("message"))


def _post(port: int, body: bytes, timeout: float, headers: dict[str, str] | None = None,
          path: str = "/v1/chat/completions") -> tuple[int, bytes, http.client.HTTPResponse, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    h = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    h.update(headers or {})
    conn.putrequest("POST", path, skip_accept_encoding=True)
    for k, v in h.items():
        conn.putheader(k, v)
    conn.endheaders()
    if body:
        conn.send(body)
    r = conn.getresponse()
    return r.status, b"", r, conn


def one_request(kind: str, port: int, rng: random.Random, timeout: float, context_tokens: int) -> Result:
    """Send one request of `kind` and judge the answer."""
    msg = {"role": "user", "content": rng.choice(UTTERANCES)}
    valid = {"model": "fep-brain-small", "messages": [msg], "max_tokens": 16}
    t0 = time.perf_counter()
    conn = None
    try:
        if kind in ("chat", "too_long"):
            body = dict(valid)
            if kind == "too_long":  # far past the model's context window
                body["messages"] = [{"role": "user", "content": "word " * (2 * context_tokens)}]
            status, _, r, conn = _post(port, json.dumps(body).encode(), timeout)
            data = r.read()
            if status == 200:
                obj = json.loads(data)
                ok = isinstance(obj["choices"][0]["message"]["content"], str)
            else:
                ok = 400 <= status < 500 and _is_error_json(data)
            return Result(kind, status, ok, time.perf_counter() - t0, data[:120].decode(errors="replace"))
        if kind in ("stream", "disconnect"):
            status, _, r, conn = _post(port, json.dumps(dict(valid, stream=True)).encode(), timeout)
            if status != 200:
                return Result(kind, status, False, time.perf_counter() - t0, r.read()[:120].decode(errors="replace"))
            if kind == "disconnect":  # read the first event, then vanish mid-reply
                r.readline()
                conn.sock.shutdown(socket.SHUT_RDWR)
                return Result(kind, status, True, time.perf_counter() - t0)
            done = False
            for line in r:
                if line.strip() == b"data: [DONE]":
                    done = True
            return Result(kind, status, done, time.perf_counter() - t0, "" if done else "no [DONE]")
        if kind == "bad_route":
            s, data = get(port, "/v2/" + "x" * rng.randint(1, 50), timeout)
            return Result(kind, s, s == 404 and _is_error_json(data), time.perf_counter() - t0)
        bodies = {
            "bad_json": [b'{"messages": [', b"\xff\xfe\x00", b"not json at all", b"[1, 2", b'{"messages": NaN}'],
            "wrong_types": [json.dumps(x).encode() for x in (
                {"messages": "hello"}, {"messages": [{"role": "user", "content": 5}]},
                {"messages": [msg], "max_tokens": "many"}, {"messages": [msg], "temperature": "hot"},
                {"messages": [msg], "stream": "yes"}, {"messages": [{"role": 7, "content": "x"}]}, [1, 2, 3],
                {"messages": [msg], "max_tokens": 10**12}, {"messages": [msg], "temperature": -1})],
            "missing_fields": [json.dumps(x).encode() for x in ({}, {"model": "fep-brain-small"}, {"messages": []},
                                                                  {"messages": [{"role": "user"}]},
                                                                  {"messages": [{"content": "hi"}]})],
        }
        headers = None
        if kind == "bad_length":
            body = json.dumps(valid).encode()
            headers = {"Content-Length": rng.choice(["-5", "abc", "", "1e3", str(2**70)])}
        elif kind == "huge_body":
            body = b'{"messages": [' + b"1," * 600_000 + b"1]}"
        else:
            body = rng.choice(bodies[kind])
        status, _, r, conn = _post(port, body, timeout, headers)
        data = r.read()
        return Result(kind, status, 400 <= status < 500 and _is_error_json(data), time.perf_counter() - t0,
                      data[:120].decode(errors="replace"))
    except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError, TypeError) as exc:
        return Result(kind, 0, False, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
    finally:
        if conn is not None:
            conn.close()


def run_clients(port: int, clients: int, seconds: float, seed: int, kinds: dict[str, int],
                timeout: float, context_tokens: int) -> tuple[list[Result], float]:
    """`clients` threads, each sending its seeded mix until `seconds` have passed; returns results and wall s."""
    results: list[Result] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    names, weights = list(kinds), list(kinds.values())

    def client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        while time.monotonic() < deadline:  # bounded: stops by itself at the deadline
            r = one_request(rng.choices(names, weights)[0], port, rng, timeout, context_tokens)
            with lock:
                results.append(r)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 3 * timeout)
    return results, time.perf_counter() - t0


def summarize(results: list[Result], wall: float) -> dict[str, Any]:
    by: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by[r.kind].append(r)
    kinds = {}
    for k, rs in sorted(by.items()):
        lat = np.array([r.latency_s for r in rs])
        kinds[k] = {"n": len(rs), "ok": sum(r.ok for r in rs), "statuses": sorted({r.status for r in rs}),
                    "p50_s": float(np.percentile(lat, 50)), "p95_s": float(np.percentile(lat, 95)),
                    "failures": [f"{r.status} {r.detail}" for r in rs if not r.ok][:5]}
    valid = [r for r in results if r.kind in ("chat", "stream") and r.ok]
    lat = np.array([r.latency_s for r in valid]) if valid else np.array([np.nan])
    return {"requests": len(results), "wall_s": wall, "requests_per_s": len(results) / wall,
            "valid_replies": len(valid), "valid_per_s": len(valid) / wall,
            "valid_p50_s": float(np.percentile(lat, 50)), "valid_p95_s": float(np.percentile(lat, 95)),
            "all_p95_s": float(np.percentile([r.latency_s for r in results], 95)) if results else float("nan"),
            "failures": sum(not r.ok for r in results), "kinds": kinds}


def run_load(clients: int = 16, seconds: float = 60.0, seed: int = 0, peer_seconds: float = 10.0,
             timeout: float = 120.0, checkpoint: str | None = None, default_bind: bool = True) -> dict[str, Any]:
    """Start the server, run the peer then the load, sample RSS, check /health; returns the report."""
    port = free_port()
    proc = start_server(port, host=None if default_bind else HOST, checkpoint=checkpoint)
    report: dict[str, Any] = {"clients": clients, "seconds": seconds, "seed": seed, "port": port,
                              "listen": listen_addresses(port)}
    try:
        from llm.brain.embedded import DEFAULT_CHECKPOINT
        from llm.config import ModelConfig

        cfg = json.loads((Path(checkpoint or DEFAULT_CHECKPOINT) / "config.json").read_text())
        ctx = int(cfg.get("max_position_embeddings", ModelConfig().max_position_embeddings))
        peer, peer_wall = run_clients(port, 1, peer_seconds, seed + 1, {"chat": 1}, timeout, ctx)
        report["peer"] = summarize(peer, peer_wall)
        rss: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:
            t0 = time.monotonic()
            while not stop.wait(1.0):
                rss.append((time.monotonic() - t0, rss_mb(proc.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        results, wall = run_clients(port, clients, seconds, seed, KINDS, timeout, ctx)
        stop.set()
        sampler.join()
        report["load"] = summarize(results, wall)
        report["rss"] = rss
        report["server_alive"] = proc.poll() is None
        try:
            status, _ = get(port, "/health")
            report["health_after"] = status
            after = one_request("chat", port, random.Random(seed), timeout, ctx)
            report["chat_after"] = after.ok
        except OSError as exc:
            report["health_after"], report["chat_after"] = 0, False
            report["health_error"] = str(exc)
    finally:
        report["server_output"] = stop_server(proc)[-2000:]
    return report


def format_report(r: dict[str, Any]) -> str:
    load, peer = r["load"], r["peer"]
    lines = [(f"brain serve under load: {r['clients']} clients for {r['seconds']:g} s on http://{HOST}:{r['port']} "
             f"(listening on {', '.join(r['listen'])})"), "",
             "| request kind | n | good answers | statuses | p50 s | p95 s |", "|---|---|---|---|---|---|"]
    for k, v in load["kinds"].items():
        lines.append(f"| {k} | {v['n']} | {v['ok']} | {' '.join(map(str, v['statuses']))} | {v['p50_s']:.3f} | "
                     f"{v['p95_s']:.3f} |")
    rss = [m for _, m in r["rss"]]
    q = max(1, len(rss) // 4)
    lines += ["", (f"all requests: {load['requests']} in {load['wall_s']:.1f} s = {load['requests_per_s']:.1f}/s, "
                  f"p95 {load['all_p95_s']:.3f} s; failures (not a reply, not a 4xx JSON error): {load['failures']}"),
              (f"valid replies (chat + stream): {load['valid_replies']} = {load['valid_per_s']:.2f}/s, p50 "
              f"{load['valid_p50_s']:.3f} s, p95 {load['valid_p95_s']:.3f} s"),
              (f"peer (1 client, valid chats one at a time, same run): {peer['valid_per_s']:.2f}/s, p50 "
              f"{peer['valid_p50_s']:.3f} s, p95 {peer['valid_p95_s']:.3f} s; ratio loaded/peer throughput "
              f"{load['valid_per_s'] / max(peer['valid_per_s'], 1e-9):.2f}"),
              (f"server RSS MB: first {rss[0]:.1f}, after a quarter {rss[q - 1]:.1f}, last {rss[-1]:.1f}, max "
               f"{max(rss):.1f}" if rss else "server RSS: not sampled"),
              (f"after the load: server alive {r['server_alive']}, /health {r['health_after']}, "
              f"a chat request answered {r['chat_after']}")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--peer-seconds", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=120.0, help="client socket time-out per request (s)")
    ap.add_argument("--checkpoint", default=None, help="checkpoint to serve (default: the shipped brain-small)")
    ap.add_argument("--json", default=None, help="also write the report as JSON here")
    args = ap.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0:
        print("brain_load: --clients must be >= 1 and --seconds > 0", file=sys.stderr)
        return 2
    r = run_load(args.clients, args.seconds, args.seed, args.peer_seconds, args.timeout, args.checkpoint)
    print(format_report(r), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1))
    return 0 if r["load"]["failures"] == 0 and r["health_after"] == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
