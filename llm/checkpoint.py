"""Checkpoints: safetensors + config.json in the Hugging Face MiniMax layout (published MiniMax-Text-01 tensor names).

Saved names are the ones MiniMax-Text-01, vLLM and transformers (through its conversion mapping) read:
`model.layers.N.self_attn.{qkv_proj,output_gate,norm,out_proj}` (lightning), `{q,k,v,o}_proj` (softmax),
`block_sparse_moe.gate`, `block_sparse_moe.experts.E.{w1,w2,w3}`, `input_layernorm`, `post_attention_layernorm`,
`model.norm`, `model.embed_tokens`, `lm_head`. No derived buffers are written (decay tables are recomputed on load);
transformers' fused layout (`mlp.gate`, `mlp.experts.gate_up_proj/down_proj`) and its bf16 decay buffers are accepted
on load (the buffers are ignored). Never pickle: safetensors only.

CLI: `python -m llm.checkpoint init (--preset NAME | --config CONFIG.json) --seed S --out DIR [--dtype bfloat16]`.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from pathlib import Path

import torch
from torch import Tensor

from llm.config import CONFIG_FILE, ModelConfig, load_config, preset, save_config
from llm.errors import CheckpointError, LLMError
from llm.model import MiniMaxForCausalLM

__all__ = ["expected_shapes", "from_published", "info_command", "init_checkpoint", "init_command", "load", "load_state",
           "main", "save", "to_published"]

WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
DERIVED_BUFFERS = ("slope_rate", "query_decay", "key_decay", "diagonal_decay")
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_MOE = re.compile(r"^(model\.layers\.\d+)\.block_sparse_moe\.(w13|w2)$")
_EXPERT = re.compile(r"^(model\.layers\.\d+)\.block_sparse_moe\.experts\.(\d+)\.(w1|w2|w3)\.weight$")


def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor name of the published layout with its shape, for validation."""
    h, H, d, kvh = cfg.hidden_size, cfg.num_attention_heads, cfg.head_dim, cfg.num_key_value_heads
    inner, E = cfg.intermediate_size, cfg.num_local_experts
    out: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (cfg.vocab_size, h), "model.norm.weight": (h,)}
    if not cfg.tie_word_embeddings:
        out["lm_head.weight"] = (cfg.vocab_size, h)
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}"
        out[f"{p}.input_layernorm.weight"] = (h,)
        out[f"{p}.post_attention_layernorm.weight"] = (h,)
        if cfg.is_lightning(i):
            out[f"{p}.self_attn.qkv_proj.weight"] = (3 * H * d, h)
            out[f"{p}.self_attn.output_gate.weight"] = (H * d, h)
            out[f"{p}.self_attn.norm.weight"] = (H * d,)
            out[f"{p}.self_attn.out_proj.weight"] = (h, H * d)
        else:
            out[f"{p}.self_attn.q_proj.weight"] = (H * d, h)
            out[f"{p}.self_attn.k_proj.weight"] = (kvh * d, h)
            out[f"{p}.self_attn.v_proj.weight"] = (kvh * d, h)
            out[f"{p}.self_attn.o_proj.weight"] = (h, H * d)
        out[f"{p}.block_sparse_moe.gate.weight"] = (E, h)
        for e in range(E):
            out[f"{p}.block_sparse_moe.experts.{e}.w1.weight"] = (inner, h)
            out[f"{p}.block_sparse_moe.experts.{e}.w2.weight"] = (h, inner)
            out[f"{p}.block_sparse_moe.experts.{e}.w3.weight"] = (inner, h)
    return out


def to_published(model: MiniMaxForCausalLM) -> dict[str, Tensor]:
    """Our state dict → published names (stacked experts split into experts.E.w*), contiguous, no buffers."""
    out: dict[str, Tensor] = {}
    for name, t in model.state_dict().items():
        if model.config.tie_word_embeddings and name == "lm_head.weight":
            continue
        m = _MOE.match(name)
        if m and m.group(2) == "w13":  # fused [E, 2I, h] → experts.E.w1 (rows :I) and experts.E.w3 (rows I:)
            inner = model.config.intermediate_size
            for e in range(t.shape[0]):
                out[f"{m.group(1)}.block_sparse_moe.experts.{e}.w1.weight"] = t[e, :inner].contiguous().clone()
                out[f"{m.group(1)}.block_sparse_moe.experts.{e}.w3.weight"] = t[e, inner:].contiguous().clone()
        elif m:
            for e in range(t.shape[0]):
                out[f"{m.group(1)}.block_sparse_moe.experts.{e}.w2.weight"] = t[e].contiguous().clone()
        else:
            out[name] = t.contiguous().clone()
    return out


def _normalize_transformers_names(tensors: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
    """Accept transformers' fused layout: `mlp.gate` → `block_sparse_moe.gate`, gate_up_proj/down_proj →
    experts.E.w*."""
    out: dict[str, Tensor] = {}
    inner = cfg.intermediate_size
    for name, t in tensors.items():
        if name.rsplit(".", 1)[-1] in DERIVED_BUFFERS:
            continue  # derived decay tables (transformers writes them as bf16): recomputed exactly instead
        m = re.match(r"^(model\.layers\.\d+)\.mlp\.(.*)$", name)
        if not m:
            out[name] = t
            continue
        p, rest = m.groups()
        if rest == "gate.weight":
            out[f"{p}.block_sparse_moe.gate.weight"] = t
        elif rest == "experts.gate_up_proj":
            if t.dim() != 3 or t.shape[1] != 2 * inner:
                raise CheckpointError(f"tensor '{name}' has shape {tuple(t.shape)}, expected "
                                      f"({cfg.num_local_experts}, {2 * inner}, {cfg.hidden_size})")
            for e in range(t.shape[0]):
                out[f"{p}.block_sparse_moe.experts.{e}.w1.weight"] = t[e, :inner]
                out[f"{p}.block_sparse_moe.experts.{e}.w3.weight"] = t[e, inner:]
        elif rest == "experts.down_proj":
            for e in range(t.shape[0]):
                out[f"{p}.block_sparse_moe.experts.{e}.w2.weight"] = t[e]
        else:
            out[name] = t
    return out


def from_published(tensors: dict[str, Tensor], cfg: ModelConfig, source: str = "checkpoint") -> dict[str, Tensor]:
    """Published names → our state dict, validating every name and shape (errors name the tensor)."""
    tensors = _normalize_transformers_names(tensors, cfg)
    want = expected_shapes(cfg)
    if cfg.tie_word_embeddings:
        tensors.pop("lm_head.weight", None)
    for name in tensors:
        if name not in want:
            raise CheckpointError(f"{source}: unexpected tensor '{name}' (not in the MiniMax layout for this "
                                  f"config.json); the checkpoint and config do not match")
    for name, shape in want.items():
        if name not in tensors:
            raise CheckpointError(f"{source}: missing tensor '{name}'; the checkpoint is incomplete or was written "
                                  f"for another config")
        t = tensors[name]
        if tuple(t.shape) != shape:
            raise CheckpointError(f"{source}: tensor '{name}' has shape {tuple(t.shape)}, expected {shape} "
                                  f"from config.json")
        if not t.is_floating_point():
            raise CheckpointError(f"{source}: tensor '{name}' has dtype {t.dtype}, expected a float type")
        if not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{source}: tensor '{name}' contains NaN or Inf values; the checkpoint is corrupt")
    state: dict[str, Tensor] = {}
    stacks: dict[tuple[str, str], list[Tensor | None]] = {}
    for name, t in tensors.items():
        m = _EXPERT.match(name)
        if m:
            lst = stacks.setdefault((m.group(1), m.group(3)), [None] * cfg.num_local_experts)
            lst[int(m.group(2))] = t
        else:
            state[name] = t
    prefixes = sorted({p for p, _ in stacks})
    for prefix in prefixes:
        w1, w2, w3 = (torch.stack(stacks[(prefix, w)]) for w in ("w1", "w2", "w3"))  # type: ignore[arg-type]
        state[f"{prefix}.block_sparse_moe.w13"] = torch.cat([w1, w3], dim=1)
        state[f"{prefix}.block_sparse_moe.w2"] = w2
    if cfg.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    return state


def save(model: MiniMaxForCausalLM, directory: str | Path, dtype: torch.dtype | None = None) -> Path:
    """Write config.json + model.safetensors (published names, optional dtype cast). Returns the directory."""
    from safetensors.torch import save_file

    if not model.config.transformers_compatible():
        warnings.warn("this config (rotary_dim != head_dim or postnorm false) loads in transformers 5.x but computes "
                      "a different model there (it applies RoPE to all of head_dim and always uses postnorm); "
                      "vLLM and llm.checkpoint.load honour it", stacklevel=2)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tensors = to_published(model)
    if dtype is not None:
        tensors = {k: v.to(dtype) for k, v in tensors.items()}
    width = next(iter(tensors.values())).dtype
    tmp = d / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    tmp.replace(d / WEIGHTS_FILE)  # atomic: a crash never leaves a half-written checkpoint under the real name
    cfg_path = save_config(model.config, d)
    raw = json.loads(cfg_path.read_text(encoding="utf-8"))
    raw["torch_dtype"] = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}[width]
    cfg_path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return d


def load_state(directory: str | Path) -> dict[str, Tensor]:
    """Read every tensor of a checkpoint directory (single file or sharded with an index), names as stored."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    d = Path(directory)
    index = d / INDEX_FILE
    if index.is_file():
        try:
            files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (json.JSONDecodeError, KeyError, AttributeError) as exc:
            raise CheckpointError(f"{index}: malformed shard index ({exc}); regenerate the checkpoint") from None
    else:
        files = [WEIGHTS_FILE]
    tensors: dict[str, Tensor] = {}
    for f in files:
        p = d / f
        if not p.is_file():
            raise CheckpointError(f"{p}: weights file not found; write one with "
                                  f"`python -m llm.checkpoint init --preset small --seed 0 --out {d}`")
        try:
            tensors.update(load_file(str(p)))
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{p}: unreadable safetensors file ({msg}); the file is corrupt or "
                                  f"truncated, re-save it") from None
    return tensors


def load(directory: str | Path, dtype: torch.dtype | None = torch.float32, device: str | torch.device = "cpu"
         ) -> MiniMaxForCausalLM:
    """Load a checkpoint directory into our model (eval mode); errors name the file or the wrong tensor.

    Weights are cast to `dtype` (default fp32: on CPU it decodes faster than bf16 and a bf16 file upcasts exactly);
    dtype=None keeps the stored width. The lightning state and the LM head compute in fp32 either way.
    """
    d = Path(directory)
    if not d.is_dir():
        raise CheckpointError(f"{d}: checkpoint directory not found; create one with "
                              f"`python -m llm.checkpoint init --preset small --seed 0 --out {d}`")
    if not (d / CONFIG_FILE).is_file():
        raise CheckpointError(f"{d / CONFIG_FILE}: missing; a checkpoint directory needs config.json beside "
                              f"the safetensors")
    cfg = load_config(d)
    state = from_published(load_state(d), cfg, source=str(d))
    width = dtype or next(iter(state.values())).dtype
    with torch.device("meta"):
        model = MiniMaxForCausalLM(cfg)
    model = model.to_empty(device=device)
    model.load_state_dict({k: v.to(device=device, dtype=width) for k, v in state.items()}, strict=True)
    if cfg.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    return model.to(width).eval()


def init_checkpoint(cfg: ModelConfig, seed: int, out: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """Write a random-initialized checkpoint (reproducible from seed) for tests and tools."""
    model = MiniMaxForCausalLM(cfg)
    model.init_weights(seed)
    return save(model, out, dtype=dtype)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m llm.checkpoint", description="MiniMax-layout checkpoint tools.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    init = sub.add_parser("init", help="write a random-initialized checkpoint (config.json + model.safetensors)")
    src = init.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="micro | small | minimax-text-01 (the last is far too large to write)")
    src.add_argument("--config", type=Path, help="a config.json to instantiate")
    init.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    init.add_argument("--out", type=Path, required=True, help="output directory")
    init.add_argument("--dtype", choices=sorted(_DTYPES), default="float32", help="stored width (default float32)")
    info = sub.add_parser("info", help="validate a checkpoint and print its size")
    info.add_argument("dir", type=Path)
    return ap


MAX_INIT_PARAMS = 2_000_000_000  # refuse to materialize e.g. the 456 B config on a workstation


def init_command(preset_name: str | None, config_path: Path | None, seed: int, out: Path,
                 dtype_name: str = "float32") -> str:
    """`init` as a function (shared by `python -m llm.checkpoint` and `fep-motion llm`); returns the report line."""
    if dtype_name not in _DTYPES:
        raise LLMError(f"--dtype must be one of {', '.join(sorted(_DTYPES))}, got {dtype_name!r}")
    cfg = preset(preset_name) if preset_name else load_config(config_path)  # type: ignore[arg-type]
    n = cfg.params().total
    if n > MAX_INIT_PARAMS:
        raise LLMError(f"config has {n / 1e9:.1f} B parameters; init writes at most "
                       f"{MAX_INIT_PARAMS / 1e9:.0f} B (use --preset small or micro)")
    d = init_checkpoint(cfg, seed, out, _DTYPES[dtype_name])
    return f"wrote {d / WEIGHTS_FILE} and {d / CONFIG_FILE} ({n / 1e6:.2f} M parameters, {dtype_name})"


def info_command(directory: Path) -> str:
    """`info`: load and validate a checkpoint; returns a one-line summary."""
    cfg = load(directory).config
    pc = cfg.params()
    n_lin = sum(1 for t in cfg.attn_type_list if t == 0)
    return (f"{directory}: ok; {pc.total / 1e6:.2f} M parameters ({pc.active / 1e6:.2f} M active per token), "
            f"{n_lin} lightning + {cfg.num_hidden_layers - n_lin} softmax layers, vocab {cfg.vocab_size}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m llm.checkpoint`; user errors print one line and return 2."""
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "init":
            print(init_command(args.preset, args.config, args.seed, args.out, args.dtype))
        else:
            print(info_command(args.dir))
    except LLMError as exc:
        print(f"llm.checkpoint {args.cmd}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
