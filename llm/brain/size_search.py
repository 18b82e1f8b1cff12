"""Choose the brain's size by measurement: train several model sizes side by side on one GPU from one corpus,
score each on held-out dialogue (R@1/10, bits per byte), intent accuracy and the synthetic verifiers, and keep
the best that fits the size limit. `python -m llm.brain.size_search --config TRAIN.yaml --candidates SIZES.yaml
--out DIR [--budget S] [--baseline CHECKPOINT]`; `train_on_device.sh` runs it on the lent GPU.

The winner is the candidate with the highest R@1/10 (ties: lower bits per byte) among those whose bf16 weights
fit `max_mb`; every candidate's numbers go to `size_search.json`, so the choice can be checked.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml


def _load_yaml(path: Path) -> dict[str, Any]:
    from llm.yaml_file import read_mapping

    return read_mapping(path, "size-search config")


def dialogue_scores(checkpoint: Path, device: str, bpb_pairs: int, ranking: int) -> dict[str, Any]:
    """Dialogue measures of one checkpoint (llm.brain.dialogue_eval) on `device`."""
    import torch

    from llm import checkpoint as ck
    from llm.brain.dialogue_eval import evaluate_dialogue
    from llm.tokenizer import ChatTokenizer

    model = ck.load(checkpoint, dtype=torch.float32, device=device).eval()
    tok = ChatTokenizer.load(checkpoint)
    t0 = time.time()
    s = evaluate_dialogue(model, tok, bpb_pairs=bpb_pairs, ranking=ranking)
    out = s.to_json()
    out["seconds"] = round(time.time() - t0, 1)
    out["size_mb"] = round((checkpoint / "model.safetensors").stat().st_size / 1e6, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m llm.brain.size_search", description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="base train YAML")
    ap.add_argument("--candidates", required=True, help="YAML: {name: {ModelConfig overrides}, ...}")
    ap.add_argument("--out", required=True, help="directory for runs and size_search.json")
    ap.add_argument("--budget", type=float, default=None, help="training seconds per candidate (all run at once)")
    ap.add_argument("--baseline", default=None, help="a checkpoint to score beside them (e.g. the previous brain)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--max-mb", type=float, default=60.0, help="size limit of the bf16 weights file")
    ap.add_argument("--bpb-pairs", type=int, default=2000)
    ap.add_argument("--ranking", type=int, default=500)
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    base_path = Path(a.config).resolve()
    base = _load_yaml(base_path)
    cands = _load_yaml(Path(a.candidates))
    from llm.data import corpus
    from llm.data.config import CorpusConfig

    data = out / "data"
    if not (data / "train.jsonl").is_file():
        t0 = time.time()
        corpus.build(CorpusConfig.from_dict(base.get("corpus", {}), where=f"{base_path}: corpus"), data)
        print(f"corpus built in {time.time() - t0:.0f} s", flush=True)
    procs = {}
    for name, overrides in cands.items():
        run = out / name
        (run / "data").mkdir(parents=True, exist_ok=True)
        for f in ("train.jsonl", "heldout.jsonl"):
            if not (run / "data" / f).exists():
                os.symlink((data / f).resolve(), run / "data" / f)
        cfg = dict(base)
        for key in ("tokenizer_dir", "init_from"):
            if isinstance(cfg.get(key), str) and not Path(cfg[key]).is_absolute():
                cfg[key] = str((base_path.parent / cfg[key]).resolve())
        cfg["model"] = dict(overrides or {})   # each candidate is its own size: the base YAML's is ignored
        if a.budget:
            cfg["time_budget_s"] = a.budget
        (run / "train.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        log = (run / "train_log.txt").open("w")
        procs[name] = subprocess.Popen([sys.executable, "-m", "llm.train", "--config", str(run / "train.yaml"),
                                        "--out", str(run), "--device", a.device, "--no-progress"],
                                       stdout=log, stderr=subprocess.STDOUT)
        print(f"started {name}: {overrides}", flush=True)
    results: dict[str, Any] = {}
    for name, p in procs.items():
        rc = p.wait()
        run = out / name
        entry: dict[str, Any] = {"overrides": cands[name], "returncode": rc}
        if rc == 0:
            m = json.loads((run / "metrics.json").read_text())
            entry["train"] = {k: m[k] for k in ("summary", "per_task_difficulty", "steps", "train_seconds",
                                                "tokens_seen", "params") if k in m}
            entry["dialogue"] = dialogue_scores(run / "checkpoint", a.device, a.bpb_pairs, a.ranking)
        results[name] = entry
        print(name, json.dumps({k: v for k, v in entry.get("dialogue", {}).items()
                                if k not in ("intent_errors", "intent_per_class")}), flush=True)
    if a.baseline:
        results["baseline"] = {"checkpoint": a.baseline,
                               "dialogue": dialogue_scores(Path(a.baseline), a.device, a.bpb_pairs, a.ranking)}
    fit = [n for n in cands if results[n].get("dialogue") and results[n]["dialogue"]["size_mb"] <= a.max_mb]
    best = max(fit, key=lambda n: (results[n]["dialogue"]["recall_at_1"], -results[n]["dialogue"]["bits_per_byte"]),
               default=None)
    summary = {"winner": best, "rule": "highest R@1/10, then lowest bits per byte, among sizes <= max_mb",
               "max_mb": a.max_mb, "candidates": results}
    (out / "size_search.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    print(f"winner: {best}", flush=True)
    return 0 if best else 1


if __name__ == "__main__":
    sys.exit(main())
