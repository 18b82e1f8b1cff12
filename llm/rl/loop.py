"""The RL update loop: sample groups, verify, keep informative groups, then several off-policy minibatch updates
per generation batch with CISPO or GRPO (MiniMax-M1 §3.1–3.2); logs, held-out pass rates, checkpoints, resume."""
from __future__ import annotations

import csv
import dataclasses
import json
import random
import time
from collections.abc import Mapping
from itertools import islice
from pathlib import Path
from typing import Any

import torch

from llm.brain.errors import BrainError
from llm.data.registry import TASKS, Task
from llm.data.types import Example
from llm.rl.advantage import group_advantages, informative_groups
from llm.rl.config import RLConfig
from llm.rl.logprob import pack, response_logprobs
from llm.rl.losses import cispo_loss, grpo_loss
from llm.rl.prompts import heldout, stream
from llm.rl.reward import score
from llm.rl.rollout import sample_groups

STATE_FILE, REWARDS_FILE, HELDOUT_FILE, METRICS_FILE = "rl_state.pt", "rewards.csv", "heldout.csv", "metrics.json"
REWARD_COLUMNS = ["step", "algo", "seed", "reward", "correct", "format", "groups", "informative", "responses",
                  "mean_len", "loops", "truncated", "loss", "clip_frac", "grad_norm", "rollout_s", "update_s",
                  "elapsed_s"]


def _eval(model: Any, tok: Any, held: list[Example], tasks: Mapping[str, Task], cfg: RLConfig,
          autocast: bool) -> dict[str, Any]:
    """Greedy held-out pass rates per task and difficulty (the verifiers of `tasks`)."""
    from llm.train import evaluate, model_responder

    was = model.training
    model.eval()
    out = evaluate(model_responder(model, tok, cfg.eval_max_new_tokens, autocast), held, cfg.eval_batch_size,
                   verify=lambda ex, resp: tasks[ex.task].verify(ex, resp))
    model.train(was)
    table = out["per_task_difficulty"]
    n = sum(r["n"] for r in table.values())
    out["pass_rate"] = sum(r["correct"] * r["n"] for r in table.values()) / max(n, 1)
    return out


def _loss(cfg: RLConfig, logp: torch.Tensor, old: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor,
          ref: torch.Tensor | None) -> torch.Tensor:
    if cfg.algo == "cispo":
        return cispo_loss(logp, old, adv, mask, cfg.eps_low, cfg.eps_high)
    return grpo_loss(logp, old, adv, mask, cfg.grpo_eps, cfg.kl_coef, ref)


def _chunked_logprobs(model: Any, ids: torch.Tensor, pos: torch.Tensor, cfg: RLConfig, autocast: bool,
                      chunk: int = 128) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([response_logprobs(model, ids[i:i + chunk], pos[i:i + chunk], cfg.temperature, autocast)
                          for i in range(0, ids.shape[0], chunk)])


def run(cfg: RLConfig, out_dir: str | Path, device: str = "cpu", resume: bool = False,
        tasks: Mapping[str, Task] | None = None, progress: bool = True) -> dict[str, Any]:
    """Train from cfg.init_from into out_dir (checkpoint/, rewards.csv, heldout.csv, metrics.json, reward.png);
    `tasks` defaults to the registry (tests pass their own). Returns metrics.json's content."""
    from llm import checkpoint
    from llm.tokenizer import ChatTokenizer
    from llm.train import TrainConfig

    tasks = dict(tasks) if tasks is not None else {n: TASKS[n] for n in cfg.tasks}
    from llm.yaml_file import new_run_dir

    out = new_run_dir(out_dir, device, STATE_FILE, resume, "an RL run")
    torch.manual_seed(cfg.seed)
    tok = ChatTokenizer.load(cfg.init_from)
    model = checkpoint.load(cfg.init_from, dtype=torch.float32).to(device)
    model.fast_decode = False
    autocast = cfg.bf16 and device.startswith("cuda")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps,
                            weight_decay=cfg.weight_decay)
    ref_model = None
    if cfg.algo == "grpo" and cfg.kl_coef > 0:
        ref_model = checkpoint.load(cfg.init_from, dtype=torch.float32).to(device).eval()
    sft = TrainConfig.load(cfg.sft_config).corpus if cfg.sft_config else None
    held = heldout(tasks, cfg.heldout_per_difficulty, cfg.seed, sft)
    prompts = stream(tasks, {n: cfg.tasks.get(n, 1.0) for n in tasks}, cfg.difficulty_weights, cfg.seed,
                     {ex.user for ex in held})
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    step, drawn, elapsed0 = 0, 0, 0.0
    if resume and (out / STATE_FILE).exists():
        try:
            st = torch.load(out / STATE_FILE, map_location=device, weights_only=False)
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["optimizer"])
            step, drawn, elapsed0 = int(st["step"]), int(st["drawn"]), float(st["elapsed_s"])
            gen.set_state(st["generator"])
        except (RuntimeError, KeyError, OSError) as exc:
            raise BrainError(f"{out / STATE_FILE}: cannot resume ({str(exc).splitlines()[0][:100]}); "
                             "delete it to start over") from None
        prompts = islice(prompts, drawn, None)  # the same prompt stream, past what was already used
    think_open, think_close = tok.tok.token_to_id("<think>"), tok.tok.token_to_id("</think>")
    new_log = not (out / REWARDS_FILE).exists() or step == 0
    rlog = (out / REWARDS_FILE).open("w" if new_log else "a", newline="")
    hlog = (out / HELDOUT_FILE).open("w" if new_log else "a", newline="")
    rw, hw = csv.writer(rlog), csv.writer(hlog)
    held_keys = sorted({f"{ex.task}/d{ex.difficulty}" for ex in held})
    if new_log:
        rw.writerow(REWARD_COLUMNS)
        hw.writerow(["step", "pass_rate"] + held_keys)
    rng = random.Random(cfg.seed * 31 + 7)
    t0 = time.time() - elapsed0

    def log_heldout(at: int) -> dict[str, Any]:
        ev = _eval(model, tok, held, tasks, cfg, autocast)
        table = ev["per_task_difficulty"]
        hw.writerow([at, f"{ev['pass_rate']:.4f}"] + [f"{table[k]['correct']:.4f}" if k in table else ""
                                                      for k in held_keys])
        hlog.flush()
        if progress:
            print(f"[{cfg.algo} seed {cfg.seed}] step {at}: held-out pass {ev['pass_rate']:.3f}", flush=True)
        return ev

    def save_state() -> None:
        tmp = out / (STATE_FILE + ".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "drawn": drawn,
                    "elapsed_s": time.time() - t0, "generator": gen.get_state()}, tmp)
        tmp.replace(out / STATE_FILE)

    if step == 0:
        (out / "heldout_before.json").write_text(json.dumps(log_heldout(0)["per_task_difficulty"], indent=1) + "\n")
    model.train()
    while step < cfg.steps:
        if cfg.time_budget_s is not None and time.time() - t0 > cfg.time_budget_s:
            break
        batch = list(islice(prompts, cfg.prompts_per_step))
        drawn += len(batch)
        prompt_ids = [tok.encode_chat(ex.messages()) for ex in batch]
        t_r = time.time()
        model.eval()
        ro = sample_groups(model, prompt_ids, tok.eos_id, tok.pad_id, cfg.rollout(), think_open, think_close, gen,
                           autocast)
        model.train()
        texts = [tok.decode([t for t in r if t != tok.eos_id]) for r in ro.response_ids]
        scored = score(tasks, [batch[i] for i in ro.prompt_of], texts, ro.finish, cfg.format_weight)
        G = cfg.group_size
        rewards = torch.tensor([s.reward for s in scored]).view(len(batch), G)
        keep = informative_groups(rewards)
        adv = group_advantages(rewards)
        rows = [b for b in range(len(ro.response_ids)) if bool(keep[b // G]) and ro.response_ids[b]]
        rollout_s = time.time() - t_r
        t_u = time.time()
        losses, clips, gnorm = [], [], 0.0
        if rows:
            ids, mask, pos = pack([ro.prompt_ids[b] for b in rows], [ro.response_ids[b] for b in rows], tok.pad_id)
            advs = adv.view(-1)[rows]
            old = _chunked_logprobs(model, ids, pos, cfg, autocast)
            ref = _chunked_logprobs(ref_model, ids, pos, cfg, autocast) if ref_model is not None else None
            order = list(range(len(rows)))
            rng.shuffle(order)
            per = -(-len(rows) // cfg.updates_per_step)
            for u in range(0, len(order), per):
                mb = torch.tensor(order[u:u + per])
                m = mask[mb].to(device)
                width = int(m.sum(1).max())
                length = int(pos[mb, :width].max()) + 1
                logp = response_logprobs(model, ids[mb, :length], pos[mb, :width], cfg.temperature, autocast)
                m, o = m[:, :width], old[mb.to(old.device), :width]
                loss = _loss(cfg, logp, o, advs[mb].to(device), m, ref[mb.to(device), :width] if ref is not None
                             else None)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
                opt.step()
                with torch.no_grad():
                    r = torch.exp(logp.detach() - o)
                    hi = cfg.eps_high if cfg.algo == "cispo" else cfg.grpo_eps
                    clips.append(float(((r > 1 + hi).float() * m).sum() / m.sum().clamp(min=1)))
                losses.append(float(loss.detach()))
        step += 1
        n = len(scored)
        rw.writerow([step, cfg.algo, cfg.seed, f"{float(rewards.mean()):.4f}",
                     f"{sum(s.correct for s in scored) / n:.4f}", f"{sum(s.format_ok for s in scored) / n:.4f}",
                     len(batch), int(keep.sum()), n, f"{sum(map(len, ro.response_ids)) / n:.1f}",
                     ro.finish.count("loop"), ro.finish.count("length"),
                     f"{sum(losses) / len(losses):.5f}" if losses else "", f"{sum(clips) / len(clips):.4f}"
                     if clips else "", f"{gnorm:.4f}", f"{rollout_s:.2f}", f"{time.time() - t_u:.2f}",
                     f"{time.time() - t0:.1f}"])
        rlog.flush()
        if progress and step % 5 == 0:
            print(f"[{cfg.algo} seed {cfg.seed}] step {step}/{cfg.steps} reward {float(rewards.mean()):.3f} "
                  f"informative {int(keep.sum())}/{len(batch)} {time.time() - t0:.0f}s", flush=True)
        if step % cfg.eval_every == 0 and step < cfg.steps:
            log_heldout(step)
        if step % cfg.checkpoint_every == 0 and step < cfg.steps:
            save_state()
    final = log_heldout(step)
    rlog.close()
    hlog.close()
    save_state()
    ckpt = out / "checkpoint"
    checkpoint.save(model, ckpt, dtype=torch.bfloat16)
    tok.save(ckpt)
    metrics = {"algo": cfg.algo, "seed": cfg.seed, "steps": step, "rollouts": drawn * cfg.group_size,
               "seconds": round(time.time() - t0, 1),
               "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu",
               "heldout_before": json.loads((out / "heldout_before.json").read_text()),
               "heldout_after": final["per_task_difficulty"], "pass_rate_after": final["pass_rate"],
               "samples": final["samples"][:10], "config": json.loads(json.dumps(dataclasses.asdict(cfg)))}
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    from llm.rl.report import plot_run

    plot_run(out)
    return metrics
