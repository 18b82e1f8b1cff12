"""Plots and the CISPO-vs-GRPO comparison from RL run directories (rewards.csv, heldout.csv, metrics.json)."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np


def read_curves(run: str | Path) -> dict[str, Any]:
    """One run's algo, seed, mean reward per step and held-out pass rate per evaluated step."""
    r = Path(run)
    for name in ("rewards.csv", "heldout.csv"):
        if not (r / name).is_file():
            from llm.brain.errors import BrainError

            raise BrainError(f"{r / name}: not found; pass a directory written by `fep-motion brain rl`")
    with (r / "rewards.csv").open() as f:
        rows = list(csv.DictReader(f))
    with (r / "heldout.csv").open() as f:
        held = list(csv.DictReader(f))
    return {"algo": rows[0]["algo"] if rows else "?", "seed": int(rows[0]["seed"]) if rows else 0,
            "step": np.array([int(x["step"]) for x in rows]), "reward": np.array([float(x["reward"]) for x in rows]),
            "held_step": np.array([int(x["step"]) for x in held]),
            "held_pass": np.array([float(x["pass_rate"]) for x in held])}


def smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average (the first points average what exists so far)."""
    if len(x) == 0:
        return x
    c = np.cumsum(np.insert(x.astype(float), 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def plot_run(run: str | Path) -> Path:
    """reward.png beside the run's CSVs: mean reward per step (raw and smoothed) and held-out pass rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = read_curves(run)
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(c["step"], c["reward"], alpha=0.3, label="per step")
    ax[0].plot(c["step"], smooth(c["reward"], 10), label="10-step mean")
    ax[0].set(xlabel="step", ylabel="mean reward", title=f"{c['algo']} seed {c['seed']}: training reward")
    ax[0].legend()
    ax[1].plot(c["held_step"], c["held_pass"], marker="o")
    ax[1].set(xlabel="step", ylabel="pass rate", title="held-out pass rate (greedy)")
    fig.tight_layout()
    path = Path(run) / "reward.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def compare(runs: list[str | Path], out: str | Path, window: int = 10) -> dict[str, Any]:
    """Seed-averaged curves per algorithm (compare.png) and the step at which CISPO's smoothed mean reward first
    reaches GRPO's final one (the mean over GRPO's last `window` steps), the M1 report's Fig. 2 claim."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        c = read_curves(r)
        by.setdefault(c["algo"], []).append(c)
    summary: dict[str, Any] = {"runs": {a: sorted(c["seed"] for c in cs) for a, cs in by.items()}}
    mean: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    for algo, cs in sorted(by.items()):
        n = min(len(c["reward"]) for c in cs)
        rew = np.stack([smooth(c["reward"][:n], window) for c in cs])
        steps = cs[0]["step"][:n]
        mean[algo] = (steps, rew.mean(0))
        line = ax[0].plot(steps, rew.mean(0), label=f"{algo} (n={len(cs)})")[0]
        ax[0].fill_between(steps, rew.min(0), rew.max(0), color=line.get_color(), alpha=0.2)
        k = min(len(c["held_pass"]) for c in cs)
        held = np.stack([c["held_pass"][:k] for c in cs])
        ax[1].errorbar(cs[0]["held_step"][:k], held.mean(0), yerr=held.std(0), marker="o", capsize=3, label=algo)
        raw = np.stack([c["reward"][:n] for c in cs])
        summary[algo] = {"final_reward": float(raw[:, -window:].mean()), "first_reward": float(raw[:, :window].mean()),
                         "heldout_before": float(held[:, 0].mean()), "heldout_after": float(held[:, -1].mean()),
                         "heldout_after_per_seed": [float(x) for x in held[:, -1]], "steps": int(n)}
    ax[0].set(xlabel="step", ylabel=f"mean reward ({window}-step mean)", title="training reward, min–max over seeds")
    ax[1].set(xlabel="step", ylabel="pass rate", title="held-out pass rate (mean ± sd over seeds)")
    for a in ax:
        a.legend()
    if "cispo" in mean and "grpo" in mean:
        target = summary["grpo"]["final_reward"]
        steps, curve = mean["cispo"]
        hit = np.nonzero(curve >= target)[0]
        summary["cispo_step_to_grpo_final"] = int(steps[hit[0]]) if len(hit) else None
        summary["grpo_steps"] = int(mean["grpo"][0][-1])
        ax[0].axhline(target, color="grey", ls="--", lw=1)
    fig.tight_layout()
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    fig.savefig(o / "compare.png", dpi=110)
    plt.close(fig)
    (o / "compare.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
