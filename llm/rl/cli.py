"""`python -m llm.rl.cli` (also `fep-motion brain rl` / `brain rl-compare`): train with CISPO or GRPO from a
checkpoint, or compare finished runs."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from llm.brain.errors import BrainError

DEFAULT_CONFIG = "llm/rl/rl_brain.yaml"


def add_rl_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="run directory (checkpoint/, rewards.csv, heldout.csv, metrics.json)")
    p.add_argument("--config", default=None, help=f"RL YAML (RLConfig fields; default {DEFAULT_CONFIG})")
    p.add_argument("--algo", choices=("cispo", "grpo"), default=None, help="override the config's algorithm")
    p.add_argument("--seed", type=int, default=None, help="override the config's seed")
    p.add_argument("--init-from", default=None, help="override the config's starting checkpoint")
    p.add_argument("--steps", type=int, default=None, help="override the config's number of steps")
    p.add_argument("--time-budget", type=float, default=None, help="override the config's time_budget_s")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--resume", action="store_true", help="continue from OUT/rl_state.pt")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="RL run directories (any mix of algorithms and seeds)")
    p.add_argument("--out", required=True, help="where compare.png and compare.json go")
    p.add_argument("--window", type=int, default=10, help="steps in the moving mean of the reward")


def rl_command(a: argparse.Namespace) -> int:
    from pathlib import Path

    from llm.rl.config import RLConfig
    from llm.rl.loop import run

    try:
        path = a.config or str(Path(__file__).resolve().parents[2] / DEFAULT_CONFIG)
        cfg = RLConfig.load(path)
        over = {"algo": a.algo, "seed": a.seed, "steps": a.steps, "time_budget_s": a.time_budget,
                "init_from": str(Path(a.init_from).resolve()) if a.init_from else None}
        cfg = dataclasses.replace(cfg, **{k: v for k, v in over.items() if v is not None}).validate("command line")
        m = run(cfg, a.out, a.device, a.resume, progress=not a.quiet)
    except BrainError as exc:
        print(f"brain rl: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"algo": m["algo"], "seed": m["seed"], "steps": m["steps"], "rollouts": m["rollouts"],
                      "pass_rate_after": round(m["pass_rate_after"], 4),
                      "heldout_after": {k: round(v["correct"], 3) for k, v in m["heldout_after"].items()}}, indent=1))
    return 0


def compare_command(a: argparse.Namespace) -> int:
    from llm.rl.report import compare

    try:
        s = compare(a.runs, a.out, a.window)
    except BrainError as exc:
        print(f"brain rl-compare: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(s, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m llm.rl.cli", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    add_rl_arguments(sub.add_parser("rl", help="train with CISPO or GRPO"))
    add_compare_arguments(sub.add_parser("compare", help="compare finished runs"))
    a = ap.parse_args(argv)
    return rl_command(a) if a.cmd == "rl" else compare_command(a)


if __name__ == "__main__":
    sys.exit(main())
