"""Benchmark: the brain checkpoint served by vLLM (our plugin) against our embedded PyTorch model, same weights, CPU.

Measures, per engine, time to first token of a streamed greedy completion and decode tokens/s (tokens after the
first / time after the first), on a prompt longer than two lightning blocks; prints a table and the vLLM/embedded
ratio measured in this run. vLLM runs in its venv (llm.vllm_plugin.venv), as a real server over HTTP; the embedded
model runs in this process with its cache (llm.model), which is what `fep-motion brain` uses.

    .venv/bin/python bench/vllm_serve.py [--model DIR] [--prompt-tokens 101] [--new-tokens 64] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from llm.checkpoint import load, save
from llm.config import preset
from llm.model import MiniMaxForCausalLM
from llm.vllm_plugin.launch import ServeOptions, serve

SHIPPED = REPO / "llm" / "models" / "brain-small"


def _checkpoint(arg: Path | None, tmp: Path) -> Path:
    """The given checkpoint, the shipped one when it has weights, else a seeded `small` one with the brain tokenizer."""
    if arg is not None:
        return arg
    if (SHIPPED / "model.safetensors").is_file():
        return SHIPPED
    cfg = preset("small")
    cfg.max_position_embeddings = 1024
    model = MiniMaxForCausalLM(cfg)
    model.init_weights(0)
    d = tmp / "brain-bench"
    save(model, d, dtype=torch.bfloat16)
    for f in SHIPPED.glob("tokenizer*.json"):
        shutil.copy(f, d / f.name)
    return d


def _vllm_run(base_url: str, ids: list[int], n_new: int) -> tuple[float, float]:
    """(seconds to first token, decode tokens/s) for one streamed greedy completion."""
    body = {"model": "brain", "prompt": ids, "max_tokens": n_new, "temperature": 0, "ignore_eos": True,
            "stream": True}
    req = urllib.request.Request(base_url + "/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    first = None
    n = 0
    with urllib.request.urlopen(req, timeout=600) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            if json.loads(line[5:])["choices"][0].get("text") is not None:
                n += 1
                if first is None:
                    first = time.perf_counter()
    end = time.perf_counter()
    assert first is not None and n >= 2, "vLLM streamed fewer than two tokens"
    return first - t0, (n - 1) / (end - first)


def _embedded_run(model: MiniMaxForCausalLM, ids: list[int], n_new: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    with torch.inference_mode():
        cache = model.new_cache()
        logits = model(torch.tensor([ids]), cache=cache, last_only=True).logits[0, -1]
        nxt = int(logits.argmax())
        first = time.perf_counter()
        for _ in range(n_new - 1):
            nxt = int(model(torch.tensor([[nxt]]), cache=cache).logits[0, -1].argmax())
    end = time.perf_counter()
    return first - t0, (n_new - 1) / (end - first)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--prompt-tokens", type=int, default=101)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--venv", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = _checkpoint(args.model, Path(tmp))
        vocab = json.loads((ckpt / "config.json").read_text())["vocab_size"]
        ids = torch.randint(3, vocab, (args.prompt_tokens,), generator=torch.Generator().manual_seed(0)).tolist()
        rows: dict[str, list[tuple[float, float]]] = {"vLLM plugin (bf16)": [], "embedded (fp32)": []}
        t_start = time.perf_counter()
        server = serve(ckpt, port=0, venv=args.venv, startup_timeout=900,
                       options=ServeOptions(max_model_len=1024, max_num_seqs=4, served_model_name="brain"))
        startup = time.perf_counter() - t_start
        try:
            _vllm_run(server.base_url, ids, 4)  # warm-up
            for _ in range(args.repeats):
                rows["vLLM plugin (bf16)"].append(_vllm_run(server.base_url, ids, args.new_tokens))
        finally:
            server.stop()
        model = load(ckpt, dtype=torch.float32)
        _embedded_run(model, ids, 4)
        for _ in range(args.repeats):
            rows["embedded (fp32)"].append(_embedded_run(model, ids, args.new_tokens))
    print(f"checkpoint {ckpt.name}: prompt {args.prompt_tokens} tokens, {args.new_tokens} new, greedy, "
          f"median of {args.repeats}; torch threads {torch.get_num_threads()}; vLLM start-up {startup:.0f} s")
    print(f"{'engine':<22}{'first token ms':>16}{'decode tok/s':>14}")
    med = {}
    for name, runs in rows.items():
        ttft = statistics.median(r[0] for r in runs) * 1e3
        tps = statistics.median(r[1] for r in runs)
        med[name] = (ttft, tps)
        print(f"{name:<22}{ttft:>16.1f}{tps:>14.1f}")
    (v_ttft, v_tps), (e_ttft, e_tps) = med["vLLM plugin (bf16)"], med["embedded (fp32)"]
    print(f"ratio vLLM/embedded: decode {v_tps / e_tps:.2f}x, first token {v_ttft / e_ttft:.2f}x (time; HTTP included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
