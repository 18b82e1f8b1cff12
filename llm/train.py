"""SFT/pretraining loop for the embedded brain on the synthetic corpus.

AdamW (β2 = 0.95), linear warm-up + cosine decay, bf16 autocast on CUDA with the LM head and loss in fp32
(MiniMax-M1 §3.2), global-norm gradient clipping, checkpoints (`train_state.pt` to resume + a bf16 safetensors
checkpoint in the HF MiniMax layout), tqdm progress, a loss CSV, and held-out verifier pass rates at the end.
Loss covers assistant tokens only (the reply and its closing <|im_end|>). Runs on CPU with the `micro` preset.

CLI: `python -m llm.train --config train.yaml --out DIR [--device cuda] [--resume]` (also `fep-motion brain train`).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, model_validator

import yamlconf
from llm.brain.errors import BrainError
from llm.data.config import CorpusConfig
from llm.data.types import Example

STATE_FILE, LOSS_FILE, METRICS_FILE = "train_state.pt", "loss.csv", "metrics.json"


PositiveInt = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(ge=0, le=1)]


@dataclass(frozen=True)
class TrainConfig(yamlconf.Loadable):
    """Everything one training run needs; YAML keys are the field names (`corpus` nests a CorpusConfig).
    `TrainConfig.load` resolves tokenizer_dir and init_from relative to the YAML file."""

    __pydantic_config__ = yamlconf.SCHEMA
    what, error, relative = "train config", BrainError, ("tokenizer_dir", "init_from")

    preset: str = "small"
    intermediate_size: PositiveInt | None = None  # override the preset's expert width (size budget)
    model: dict[str, Any] = field(default_factory=dict)  # other ModelConfig overrides (hidden_size, heads, ...)
    vocab_size: PositiveInt = 4096         # tokenizer target; the model's vocab is the trained size rounded up to 64
    tokenizer_dir: str | None = None       # reuse this tokenizer.json instead of training one on the corpus
    init_from: str | None = None           # start from this checkpoint's weights (a second training stage)
    steps: PositiveInt = 2000
    time_budget_s: Annotated[float, Field(gt=0)] | None = None  # if set: time 20 steps, then fit `steps` into it
    batch_size: PositiveInt = 128
    lr: Annotated[float, Field(gt=0, le=1)] = 1e-3
    min_lr_ratio: Fraction = 0.1
    warmup_steps: Annotated[int, Field(ge=0)] = 100
    weight_decay: Fraction = 0.1
    beta1: Fraction = 0.9
    beta2: Fraction = 0.95
    grad_clip: Annotated[float, Field(gt=0)] = 1.0
    max_len: PositiveInt = 192
    seed: Annotated[int, Field(ge=0)] = 0
    checkpoint_every: PositiveInt = 500
    log_every: PositiveInt = 10
    bf16: bool = True
    eval_max_new_tokens: PositiveInt = 112
    eval_batch_size: PositiveInt = 200
    corpus: CorpusConfig = field(default_factory=CorpusConfig)

    @model_validator(mode="after")
    def _names_and_paths(self) -> TrainConfig:
        from llm.config import PRESETS, ModelConfig

        if self.preset not in PRESETS:
            raise yamlconf.FieldError("preset", f"unknown preset {self.preset!r}", f"use one of {', '.join(PRESETS)}")
        known = {f.name for f in dataclasses.fields(ModelConfig)}
        for name in self.model:
            if name not in known:
                raise yamlconf.FieldError(("model", name), "is not a ModelConfig field", f"use one of {sorted(known)}")
        if self.init_from is not None and not (Path(self.init_from) / "config.json").is_file():
            raise yamlconf.FieldError("init_from", f"{self.init_from}/config.json not found",
                                      "point it at a checkpoint directory")
        if self.tokenizer_dir is not None and not (Path(self.tokenizer_dir) / "tokenizer.json").is_file():
            raise yamlconf.FieldError("tokenizer_dir", f"{self.tokenizer_dir}/tokenizer.json not found",
                                      "point it at a directory holding one, or null to train a tokenizer")
        return self


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up to `lr`, then cosine decay to `min_lr_ratio·lr` at `total` (Loshchilov & Hutter 2017, eq. 5)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1.0 + math.cos(math.pi * progress))


def messages_of(ex: Example) -> list[dict[str, str]]:
    """The prompt messages of an example (system, any history, user)."""
    return ex.messages()


def encode_example(tok: Any, ex: Example, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids of the whole chat and a 0/1 mask marking the assistant tokens (answer + <|im_end|>) to learn."""
    prompt = tok.encode_chat(messages_of(ex), add_generation_prompt=True)
    answer = tok.encode(ex.answer) + [tok.eos_id]
    ids = (prompt + answer)[:max_len]
    mask = ([0] * len(prompt) + [1] * len(answer))[:max_len]
    return ids, mask


def prepare(cfg: TrainConfig, out: Path) -> tuple[Any, list[Example], list[Example]]:
    """Corpus (built once under out/data) and tokenizer (trained once, out/tokenizer.json); reused on resume."""
    from llm import tokenizer as T
    from llm.data import corpus

    train_path, held_path = out / "data" / "train.jsonl", out / "data" / "heldout.jsonl"
    if not (train_path.is_file() and held_path.is_file()):
        corpus.build(cfg.corpus, out / "data")
    train = list(corpus.read_jsonl(train_path))
    held = list(corpus.read_jsonl(held_path))
    if cfg.tokenizer_dir is not None:
        tok = T.ChatTokenizer.load(cfg.tokenizer_dir)
        tok.save(out)
    elif (out / T.TOKENIZER_FILE).is_file():
        tok = T.ChatTokenizer.load(out)
    else:
        texts = (T.render_chat(messages_of(e) + [{"role": "assistant", "content": e.answer}], False) for e in train)
        tok = T.train(texts, vocab_size=cfg.vocab_size)
        tok.save(out)
    return tok, train, held


def model_config(cfg: TrainConfig, tok: Any) -> Any:
    """The preset with this tokenizer's vocabulary (rounded up to 64) and special-token ids."""
    from llm.config import PRESETS, ModelConfig

    kw = dict(PRESETS[cfg.preset])
    kw["vocab_size"] = ((tok.vocab_size + 63) // 64) * 64
    if cfg.intermediate_size is not None:
        kw["intermediate_size"] = cfg.intermediate_size
    kw.update(cfg.model)
    kw.update(eos_token_id=tok.eos_id, pad_token_id=tok.pad_id, bos_token_id=None)
    return ModelConfig(**kw)


@functools.lru_cache(maxsize=2)
def _epoch_perm(n: int, seed: int, epoch: int) -> tuple[int, ...]:
    perm = list(range(n))
    random.Random(seed * 1_000_003 + epoch).shuffle(perm)
    return tuple(perm)


def encode_all(tok: Any, examples: Sequence[Example], max_len: int) -> tuple[Any, Any, Any]:
    """All examples at once (Rust batch encoding): right-padded ids [N, L], next-token targets [N, L] with -100
    where no loss is taken, and lengths [N]. Same tokens as `encode_example`, row by row; a row longer than
    `max_len` loses its history first (the turn it answers stays), and only then the answer's tail."""
    import torch

    prompts = [list(e.ids) for e in tok.tok.encode_batch([render_prompt(ex) for ex in examples],
                                                         add_special_tokens=False)]
    answers = tok.tok.encode_batch([ex.answer for ex in examples], add_special_tokens=False)
    too_long = [i for i, (p, a) in enumerate(zip(prompts, answers))
                if examples[i].history and len(p) + len(a.ids) + 1 > max_len]
    if too_long:
        bare = tok.tok.encode_batch([render_prompt(dataclasses.replace(examples[i], history=()))
                                     for i in too_long], add_special_tokens=False)
        for i, e in zip(too_long, bare):
            prompts[i] = list(e.ids)
    rows = []
    for p, a in zip(prompts, answers):
        ids = (p + list(a.ids) + [tok.eos_id])[:max_len]
        rows.append((ids, len(p)))
    L = max(len(ids) for ids, _ in rows)
    ids_t = torch.full((len(rows), L), tok.pad_id, dtype=torch.long)
    tgt_t = torch.full((len(rows), L), -100, dtype=torch.long)
    lengths = torch.zeros(len(rows), dtype=torch.long)
    for b, (ids, n_prompt) in enumerate(rows):
        x = torch.tensor(ids, dtype=torch.long)
        ids_t[b, :len(ids)] = x
        # position t predicts token t+1; learn only tokens of the answer (index >= n_prompt)
        start = max(n_prompt - 1, 0)
        tgt_t[b, start:len(ids) - 1] = x[start + 1:]
        lengths[b] = len(ids)
    return ids_t, tgt_t, lengths


@dataclass
class BatchPlan:
    """Example indices per step with little padding: each epoch is a seeded permutation cut into groups of
    `group` batches; a group is sorted by length and cut into batches, and the epoch's batches are shuffled.
    Deterministic in (step, seed), so a resumed run sees the same batches."""

    lengths: Sequence[int]
    batch_size: int
    seed: int
    group: int = 64
    _epoch: int = -1
    _batches: list[list[int]] = field(default_factory=list)

    @property
    def per_epoch(self) -> int:
        return max(1, len(self.lengths) // self.batch_size)

    def indices(self, step: int) -> list[int]:
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            perm = _epoch_perm(len(self.lengths), self.seed, epoch)[:self.per_epoch * self.batch_size]
            span = self.group * self.batch_size
            batches: list[list[int]] = []
            for g in range(0, len(perm), span):
                chunk = sorted(perm[g:g + span], key=lambda i: self.lengths[i])
                batches += [chunk[j:j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
            random.Random(self.seed * 31 + epoch).shuffle(batches)
            self._epoch, self._batches = epoch, batches
        return self._batches[k]


def render_prompt(ex: Example) -> str:
    from llm.tokenizer import render_chat

    return render_chat(messages_of(ex), add_generation_prompt=True)


def collate(encoded: Sequence[tuple[list[int], list[int]]], pad_id: int) -> tuple[Any, Any]:
    """Right-padded ids [B, T] and next-token targets [B, T] with -100 where no loss is taken."""
    import torch

    T = max(len(ids) for ids, _ in encoded)
    ids = torch.full((len(encoded), T), pad_id, dtype=torch.long)
    tgt = torch.full((len(encoded), T), -100, dtype=torch.long)
    for b, (x, m) in enumerate(encoded):
        ids[b, :len(x)] = torch.tensor(x)
        for t in range(len(x) - 1):
            if m[t + 1]:
                tgt[b, t] = x[t + 1]
    return ids, tgt


def router_balance_loss(gate_logits: Sequence[Any], top_k: int, keep: Any) -> Any:
    """Switch-Transformer load-balancing loss (Fedus et al. 2022, eq. 4), averaged over layers:
    E · Σ_e f_e · P_e with f_e the share of routed (token, expert) slots that go to expert e and P_e the mean router
    probability of e, over real tokens (`keep`). Equals 1 when routing is uniform."""
    import torch

    losses = []
    for logits in gate_logits:
        probs = torch.softmax(logits.float(), dim=-1)[keep]
        E = probs.shape[-1]
        top = torch.topk(probs, top_k, dim=-1).indices
        f = torch.zeros(E, device=probs.device).scatter_add_(0, top.reshape(-1),
                                                              torch.ones(top.numel(), device=probs.device))
        f = f / max(top.numel(), 1)
        losses.append(E * (f * probs.mean(0)).sum())
    return torch.stack(losses).mean()


def loss_fn(model: Any, ids: Any, tgt: Any, autocast: bool, pad_id: int | None = None) -> Any:
    """Mean next-token cross-entropy over assistant positions (+ the router balance loss with the config's
    `router_aux_loss_coef`); trunk under bf16 autocast, LM head + loss in fp32."""
    import torch
    import torch.nn.functional as F

    gate_logits: list[Any] = []
    coef = float(getattr(model.config, "router_aux_loss_coef", 0.0))
    hooks = [m.gate.register_forward_hook(lambda _m, _i, out: gate_logits.append(out))
             for m in model.modules() if coef > 0 and hasattr(m, "gate") and hasattr(m, "top_k")]
    try:
        with torch.autocast(device_type=ids.device.type, dtype=torch.bfloat16, enabled=autocast):
            h = model.model(ids, None, None)
    finally:
        for hk in hooks:
            hk.remove()
    sel = tgt.reshape(-1) != -100
    hs = h.reshape(-1, h.shape[-1])[sel].float()
    logits = F.linear(hs, model.lm_head.weight.float())  # outside autocast: a real fp32 head (MiniMax-M1 §3.2)
    loss = F.cross_entropy(logits, tgt.reshape(-1)[sel])
    if gate_logits:
        keep = (ids.reshape(-1) != pad_id) if pad_id is not None else torch.ones_like(sel)
        loss = loss + coef * router_balance_loss(gate_logits, model.config.num_experts_per_tok, keep)
    return loss


def greedy_generate(model: Any, prompts: Sequence[Sequence[int]], eos_id: int, pad_id: int,
                    max_new_tokens: int, autocast: bool = False) -> list[list[int]]:
    """Batched greedy decoding with left padding and the model cache; each row stops at its <|im_end|>."""
    import torch

    dev = model.device
    B, L = len(prompts), max(len(p) for p in prompts)
    ids = torch.full((B, L), pad_id, dtype=torch.long, device=dev)
    mask = torch.zeros((B, L), dtype=torch.long, device=dev)
    for b, p in enumerate(prompts):
        ids[b, L - len(p):] = torch.tensor(list(p), device=dev)
        mask[b, L - len(p):] = 1
    out: list[list[int]] = [[] for _ in range(B)]
    done = [False] * B
    cache = model.new_cache()
    with torch.no_grad(), torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=autocast):
        logits = model(ids, attention_mask=mask, cache=cache, last_only=True).logits
        for _ in range(max_new_tokens):
            nxt = logits[:, -1].argmax(-1)
            for b, t in enumerate(nxt.tolist()):
                if not done[b]:
                    if t == eos_id:
                        done[b] = True
                    else:
                        out[b].append(t)
            if all(done):
                break
            logits = model(nxt[:, None], cache=cache, last_only=True).logits
    return out


def evaluate(respond: Callable[[list[Example]], list[str]], held: Sequence[Example],
             batch_size: int = 200, verify: Callable[[Example, str], Any] | None = None) -> dict[str, Any]:
    """Held-out verifier pass rates: per task and difficulty, the share well-formed and the share correct
    (`verify` defaults to the task registry's verifiers)."""
    if verify is None:
        from llm.data.registry import verify

    rows: dict[str, dict[str, list[int]]] = {}
    samples: list[dict[str, str]] = []
    for i in range(0, len(held), batch_size):
        chunk = list(held[i:i + batch_size])
        for ex, resp in zip(chunk, respond(chunk)):
            v = verify(ex, resp)
            key = f"{ex.task}/d{ex.difficulty}"
            r = rows.setdefault(key, {"format": [], "correct": []})
            r["format"].append(int(v.format_ok))
            r["correct"].append(int(v.correct))
            if len(samples) < 40 and (not v.correct or len(samples) < 10):
                samples.append({"prompt": ex.user, "response": resp, "reason": v.reason})
    table = {k: {"n": len(v["format"]), "format": sum(v["format"]) / len(v["format"]),
                 "correct": sum(v["correct"]) / len(v["correct"])} for k, v in sorted(rows.items())}
    inter = [k for k in table if k.startswith("interaction/")]
    summary = {}
    if inter:
        n = sum(table[k]["n"] for k in inter)
        summary = {"interaction_format": sum(table[k]["format"] * table[k]["n"] for k in inter) / n,
                   "interaction_intent": sum(table[k]["correct"] * table[k]["n"] for k in inter) / n}
    return {"per_task_difficulty": table, "summary": summary, "samples": samples}


def model_responder(model: Any, tok: Any, max_new_tokens: int, autocast: bool) -> Callable[[list[Example]], list[str]]:
    """A `respond` function for `evaluate` that decodes greedily with `model`."""
    def respond(batch: list[Example]) -> list[str]:
        prompts = [tok.encode_chat(messages_of(ex)) for ex in batch]
        outs = greedy_generate(model, prompts, tok.eos_id, tok.pad_id, max_new_tokens, autocast)
        return [tok.decode(o) for o in outs]
    return respond


def run(cfg: TrainConfig, out_dir: str | Path, device: str = "cpu", resume: bool = False,
        progress: bool = True, stop_after: int | None = None) -> dict[str, Any]:
    """Train (or resume) into out_dir; returns the metrics written to out_dir/metrics.json.

    `stop_after` ends the session at that step with the state saved (and returns {}): a long run split over
    several sessions (device calls) continues with `resume=True` on the same schedule.
    """
    import torch

    from llm import checkpoint
    from llm.model import MiniMaxForCausalLM
    from llm.yaml_file import new_run_dir
    from tty_progress import Progress

    out = new_run_dir(out_dir, device, STATE_FILE, resume, "a run")
    torch.manual_seed(cfg.seed)
    tok, train, held = prepare(cfg, out)
    if not train:
        raise BrainError("corpus.train: all task counts are 0; ask for at least one example")
    mcfg = model_config(cfg, tok)
    model = MiniMaxForCausalLM(mcfg)
    model.init_weights(cfg.seed)
    if cfg.init_from is not None and not (resume and (out / STATE_FILE).exists()):
        start = checkpoint.load(cfg.init_from, dtype=torch.float32)
        if start.config.vocab_size != mcfg.vocab_size or start.config.hidden_size != mcfg.hidden_size:
            raise BrainError(f"init_from: {cfg.init_from} has another shape than this run's model "
                             "(vocab_size/hidden_size); use the same preset, model and tokenizer")
        model.load_state_dict(start.state_dict())
    model.to(device)
    autocast = cfg.bf16 and device.startswith("cuda")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr,
                            betas=(cfg.beta1, cfg.beta2), fused=device.startswith("cuda"))
    step, total = 0, cfg.steps
    if resume and (out / STATE_FILE).exists():
        try:
            st = torch.load(out / STATE_FILE, map_location=device, weights_only=True)
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["optimizer"])
            step, total = int(st["step"]), int(st["total"])
        except (RuntimeError, KeyError, OSError) as exc:
            raise BrainError(f"{out / STATE_FILE}: cannot resume ({str(exc).splitlines()[0][:100]}); "
                             "delete it to start over") from None
    all_ids, all_tgt, lengths = encode_all(tok, train, cfg.max_len)
    plan = BatchPlan(lengths.tolist(), cfg.batch_size, cfg.seed)
    loss_path = out / LOSS_FILE
    new_log = not loss_path.exists() or step == 0
    log = loss_path.open("w" if new_log else "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "loss", "lr", "grad_norm", "tokens", "elapsed_s"])

    def save_state() -> None:
        tmp = out / (STATE_FILE + ".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "total": total}, tmp)
        tmp.replace(out / STATE_FILE)

    model.train()
    t0 = time.time()
    bar = Progress("train", "step", total, initial=step, enabled=progress)
    tokens = 0
    budgeted = cfg.time_budget_s is not None and step == 0
    t_cal = None
    while step < total:
        if budgeted and step in (5, 25, 100, 400, 1000):
            # fit the cosine horizon into the time budget from the mean step time since step 5 (re-estimated a few
            # times: the first steps include warm-up, and shared machines drift)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            now = time.time()
            if step == 5:
                t_cal = now
            elif t_cal is not None:
                per_step = (now - t_cal) / (step - 5)
                total = max(step + 1, step + int((cfg.time_budget_s - (now - t0)) / per_step))
                bar.set(bar.n, total)
        if budgeted and time.time() - t0 > 1.1 * cfg.time_budget_s:
            total = step  # hard stop: never overrun the budget by more than 10 %
            break
        lr = lr_at(step, total, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.tensor(plan.indices(step))
        width = int(lengths[idx].max())
        ids, tgt = all_ids[idx, :width], all_tgt[idx, :width]
        ids, tgt = ids.to(device, non_blocking=True), tgt.to(device, non_blocking=True)
        loss = loss_fn(model, ids, tgt, autocast, tok.pad_id)
        if not torch.isfinite(loss):
            save_state()
            raise BrainError(f"step {step}: loss is {loss.item()}; lower lr (now {cfg.lr}) and resume")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        tokens += int(ids.numel())
        bar.update(1)
        if step % cfg.log_every == 0 or step == total:
            lv = float(loss.item())
            writer.writerow([step, f"{lv:.5f}", f"{lr:.3e}", f"{float(gnorm):.4f}", tokens,
                             f"{time.time() - t0:.2f}"])
            log.flush()
            bar.set_postfix(loss=f"{lv:.3f}")
        if not progress and step % 200 == 0:
            print(f"step {step}/{total} loss {float(loss.item()):.4f} lr {lr:.2e} {time.time() - t0:.0f}s", flush=True)
        if step % cfg.checkpoint_every == 0 and step < total:
            save_state()
        if stop_after is not None and step >= stop_after and step < total:
            bar.close()
            log.close()
            save_state()
            return {}
    bar.close()
    log.close()
    train_s = time.time() - t0
    save_state()
    ckpt_dir = out / "checkpoint"
    checkpoint.save(model, ckpt_dir, dtype=torch.bfloat16)
    tok.save(ckpt_dir)
    model.eval()
    t1 = time.time()
    metrics = evaluate(model_responder(model, tok, cfg.eval_max_new_tokens, autocast), held, cfg.eval_batch_size)
    metrics.update({"steps": step, "train_seconds": round(train_s, 1), "eval_seconds": round(time.time() - t1, 1),
                    "tokens_seen": tokens, "device": (torch.cuda.get_device_name(0) if device.startswith("cuda")
                                                       else "cpu"),
                    "params": dataclasses.asdict(mcfg.params()), "train_examples": len(train),
                    "heldout_examples": len(held), "config": _jsonable(dataclasses.asdict(cfg))})
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m llm.train", description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="train YAML (TrainConfig fields); defaults to the built-in small run")
    ap.add_argument("--out", required=True, help="run directory (corpus, tokenizer, state, checkpoint, metrics)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--resume", action="store_true", help="continue from out/train_state.pt")
    ap.add_argument("--stop-after", type=int, default=None, help="save state and stop at this step (resume later)")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    try:
        cfg = TrainConfig.load(a.config) if a.config else TrainConfig()
        m = run(cfg, a.out, a.device, a.resume, progress=not a.no_progress, stop_after=a.stop_after)
        if not m:
            print(f"stopped at step {a.stop_after}; continue with --resume")
            return 0
    except BrainError as exc:
        print(f"llm.train: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"summary": m["summary"], **{k: v for k, v in m["per_task_difficulty"].items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
