"""Write MODEL_CARD.md (and loss.png) for a trained brain checkpoint from its run's metrics.json and loss.csv, so
every number in the card is the measured one. `python -m llm.brain.model_card RUN_DIR CHECKPOINT_DIR`."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from llm.brain.errors import BrainError

LIMITS = """\
- A ~28 M-parameter model trained for minutes: replies are short, often generic ("that's cool, what kind of …?"),
  sometimes off topic or ungrammatical, and it has no knowledge of the world beyond chat small talk. It is a
  listener for interaction studies, not an assistant: do not rely on anything it states as fact.
- The intent tag follows cue rules plus a valence lexicon (the labeller): it is right on most plain utterances
  (table) but misses sad news phrased without any negative word and unusual goodbyes; questions, opinions and news
  are its strongest classes.
- Personal history in human replies was kept out of the listener voice, but the model can still produce a sentence
  in the first person about a life it does not have; the persona questions cover the common ones.
- English only; trained on typed chat between US college students (chitchat-dataset), so spoken or other
  registers fare worse.
- The reasoning mini-tasks are there to exercise `<think>` and the thinking budget; game-of-24 stays low.
- No safety tuning or refusal behaviour; do not expose it to untrusted users as a general assistant."""


def _losses(path: Path) -> list[dict[str, float]]:
    with path.open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def plot_loss(rows: list[dict[str, float]], out: Path) -> None:
    """loss.png: training loss against step (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("train loss (assistant tokens)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def render(metrics: dict[str, Any], rows: list[dict[str, float]], model_cfg: dict[str, Any]) -> str:
    """The card's markdown from the run's numbers."""
    cfg = metrics["config"]
    p = metrics["params"]
    table = ["| task / difficulty | n | format valid | correct (intent or answer) |", "|---|---|---|---|"]
    for k, v in metrics["per_task_difficulty"].items():
        table.append(f"| {k} | {v['n']} | {v['format']:.1%} | {v['correct']:.1%} |")
    s = metrics["summary"]
    expected = {f"{t}/d{d}" for t in cfg["corpus"]["train"] for d in (1, 2, 3)}
    missing = sorted(expected - set(metrics["per_task_difficulty"]))
    if missing:
        table.append("")
        table.append(f"No held-out row for {', '.join(missing)}: every prompt of that size also occurs in training "
                     "(the task's space at that difficulty is smaller than its share of the corpus), so no unseen "
                     "example exists.")
    dlg = metrics.get("dialogue") or {}
    dialogue_md = ""
    if dlg:
        base = metrics.get("dialogue_baseline") or {}
        lines = ["| measure | this model | round-1 model (synthetic only) |", "|---|---|---|"]
        lines.append(f"| held-out bits per byte of human replies ({dlg['bpb_pairs']} pairs) | "
                     f"{dlg['bits_per_byte']:.3f} | {base.get('bits_per_byte', float('nan')):.3f} |")
        lines.append(f"| context ranking R@1/10 ({dlg['ranking_items']} replies of >= 4 words; chance 0.10) | "
                     f"{dlg['recall_at_1']:.3f} | {base.get('recall_at_1', float('nan')):.3f} |")
        for key, label in (("intent_natural", "intent accuracy, hand-written test set"),
                           ("intent_natural_test2", "intent accuracy, second hand-written test set")):
            if key in metrics.get("intent_sets", {}):
                v, b = metrics["intent_sets"][key], base.get("intent_sets", {}).get(key, float("nan"))
                lines.append(f"| {label} ({key}.jsonl) | {v:.3f} | {b:.3f} |")
        dialogue_md = "\n".join(lines)
    sources = metrics.get("sources") or []
    sources_md = "\n".join(["| source | licence | examples | share of training tokens |", "|---|---|---|---|"]
                           + [f"| {x['name']} | {x['licence']} | {x['examples']:,} | {x['token_share']:.1%} |"
                              for x in sources])
    stages = metrics.get("stages") or []
    stages_md = "\n".join(f"{i + 1}. {st}" for i, st in enumerate(stages))
    first, last = rows[0], rows[-1]
    best = min(rows, key=lambda r: r["loss"])
    corpus = cfg["corpus"]
    return f"""# brain-small: the embedded brain of fep-motion

A MiniMax-Text-01/M1-architecture model (hybrid lightning/softmax attention, MoE) trained from scratch on human
dialogue and this project's synthetic tasks to answer a user utterance (plus a perception summary and up to two
earlier exchanges) with `<intent>NAME</intent> reply` in the voice of a friendly listener, and to solve three small
reasoning tasks after `<think>…</think>`. Loaded by `fep-motion brain` (embedded backend),
servable with `fep-motion brain serve` or `transformers serve`; the directory is the Hugging Face MiniMax layout.

## Model
- {model_cfg['num_hidden_layers']} layers, attn_type_list {model_cfg['attn_type_list']} (0 = lightning, 1 = softmax),
  hidden {model_cfg['hidden_size']}, {model_cfg['num_attention_heads']} heads × {model_cfg['head_dim']}
  ({model_cfg['num_key_value_heads']} KV heads in the softmax layer), {model_cfg['num_local_experts']} experts
  top-{model_cfg['num_experts_per_tok']} of width {model_cfg['intermediate_size']}, vocabulary
  {model_cfg['vocab_size']}, postnorm (DeepNorm α = {model_cfg['layernorm_mlp_alpha']:.4f}), RoPE θ
  {model_cfg['rope_theta']:g}.
- {p['total'] / 1e6:.2f} M parameters ({p['active'] / 1e6:.2f} M active per token without embeddings), stored in
  bf16: `model.safetensors` ≈ {p['total'] * 2 / 1e6:.1f} MB.
- Tokenizer: byte-level BPE trained on the corpus (`tokenizer.json`), ChatML chat template in
  `tokenizer_config.json`; end of turn `<|im_end|>`.

## Data
{sources_md}

- Human dialogue: every two-sided conversation of `chitchat-dataset` (4,017 of its 7,168; the rest have one
  speaker), one speaker's consecutive messages merged into a turn, cleaned; 5 % of conversations, chosen by a hash
  of their id, are held out and never trained on. Each reply is learned after the turn it answers, half of them
  with one or two earlier exchanges as history. Its intent tag comes from `llm/data/dialogue_intent.py` (cue rules
  and VADER valence, tuned on two hand-written dev sets). Replies that fit that intent and state no personal
  history are learned under the brain's own system prompt; the others under a "two people chatting" prompt, so the
  listener voice does not learn to claim a human's memories. Rare intents are repeated (config `oversample`).
- Synthetic (`llm/data`, seed {corpus['seed']}): {', '.join(f'{k} {v:,}' for k, v in corpus['train'].items())}; held-out
  {corpus['heldout_per_difficulty']} per task and difficulty ({metrics['heldout_examples']} in all) from a separate seed
  stream. Persona: hand-written questions about the agent with true answers.

## Training
{stages_md}

`llm/train.py`, with the last GPU stage's settings (its full config is in `metrics.json`; steps, tokens and seconds
below are summed over the GPU stages): AdamW (β1 {cfg['beta1']}, β2 {cfg['beta2']}, weight decay
{cfg['weight_decay']}), peak lr {cfg['lr']} with {cfg['warmup_steps']} warm-up steps and cosine decay to
{cfg['min_lr_ratio']}×, batch {cfg['batch_size']} sequences, gradient clipping {cfg['grad_clip']}, bf16 autocast with
an fp32 LM head and loss, router balance loss coefficient {model_cfg.get('router_aux_loss_coef')}, loss on assistant
tokens only. {metrics['steps']:,} steps, {metrics['tokens_seen']:,} tokens (padded) in {metrics['train_seconds']:.0f} s
on {metrics['device']}. Loss {first['loss']:.3f} at step {first['step']:.0f} → {last['loss']:.4f} at step
{last['step']:.0f} (lowest {best['loss']:.4f} at step {best['step']:.0f}); curve in `loss.png`, values in `loss.csv`.

## Dialogue (held-out conversations, hand-written utterances)
`fep-motion brain eval --task dialogue --pairs 2000 --ranking 500` on the shipped weights (the second intent set
with `--intent-set`); `intent_natural_test2.jsonl` was written after the labeller was tuned and is the clean one.

{dialogue_md}

## Held-out verifier pass rates (greedy decoding, last GPU stage)
Interaction: format valid **{s['interaction_format']:.1%}**, intent (and reply) consistent with the cues
**{s['interaction_intent']:.1%}**.

{chr(10).join(table)}

## Limits
{LIMITS}
"""


def write_card(run_dir: str | Path, ckpt_dir: str | Path) -> Path:
    """Write MODEL_CARD.md, loss.png, loss.csv and metrics.json into ckpt_dir from run_dir's files."""
    run, ck = Path(run_dir), Path(ckpt_dir)
    for name in ("metrics.json", "loss.csv"):
        if not (run / name).is_file():
            raise BrainError(f"{run / name}: missing; pass the training run directory (llm.train --out)")
    if not (ck / "config.json").is_file():
        raise BrainError(f"{ck / 'config.json'}: missing; pass the checkpoint directory")
    metrics = json.loads((run / "metrics.json").read_text())
    rows = _losses(run / "loss.csv")
    if not rows:
        raise BrainError(f"{run / 'loss.csv'}: no rows; the run logged nothing")
    model_cfg = json.loads((ck / "config.json").read_text())
    plot_loss(rows, ck / "loss.png")
    if run.resolve() != ck.resolve():
        (ck / "loss.csv").write_text((run / "loss.csv").read_text())
        kept = {k: metrics[k] for k in metrics if k != "samples"}
        (ck / "metrics.json").write_text(json.dumps(kept, indent=1) + "\n")
    out = ck / "MODEL_CARD.md"
    out.write_text(render(metrics, rows, model_cfg))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: python -m llm.brain.model_card RUN_DIR CHECKPOINT_DIR", file=sys.stderr)
        sys.exit(2)
    try:
        print(write_card(sys.argv[1], sys.argv[2]))
    except BrainError as exc:
        print(f"llm.brain.model_card: error: {exc}", file=sys.stderr)
        sys.exit(2)
