"""Model configuration mirroring MiniMax-Text-01's `config.json` keys, validated, with presets and a parameter count.

One dataclass serves three readers of the same file: our loader, transformers' `MiniMaxConfig` (which reads
`layer_types`, `*_attn_*_factor`, `rope_parameters`) and vLLM's MiniMax-Text-01 (which reads `attn_type_list`,
`layernorm_*_alpha/beta`, `rotary_dim` and `postnorm` — the last with a default of False). `to_json_dict` therefore
writes both spellings and always an explicit `"postnorm": true|false`.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm.errors import LLMConfigError
from llm.files import checkpoint_file

__all__ = ["CONFIG_FILE", "PRESETS", "ModelConfig", "ParamCount", "load_config", "preset", "save_config"]

CONFIG_FILE = "config.json"
LINEAR, SOFTMAX = 0, 1  # attn_type_list codes of MiniMax-Text-01: 0 = lightning (linear), 1 = softmax


@dataclass(frozen=True)
class ParamCount:
    """Parameter counts: total, active per token (top-k experts; embeddings excluded as MiniMax-01 §1 counts)."""

    total: int
    active: int
    embedding: int

    def bytes(self, bytes_per_param: int = 2) -> int:
        """Size of all parameters at the given width (2 = bf16)."""
        return self.total * bytes_per_param


@dataclass
class ModelConfig:
    """MiniMax hybrid lightning/softmax MoE model; field names are the HF `config.json` keys."""

    vocab_size: int = 8192
    hidden_size: int = 256
    intermediate_size: int = 320
    num_hidden_layers: int = 8
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 64
    attn_type_list: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0, 0, 0, 1])
    num_local_experts: int = 8
    num_experts_per_tok: int = 2
    rotary_dim: int = 64
    rope_theta: float = 1_000_000.0
    max_position_embeddings: int = 8192
    block_size: int = 256
    rms_norm_eps: float = 1e-5
    postnorm: bool = True
    layernorm_full_attention_alpha: float = 1.0
    layernorm_full_attention_beta: float = 1.0
    layernorm_linear_attention_alpha: float = 1.0
    layernorm_linear_attention_beta: float = 1.0
    layernorm_mlp_alpha: float = 1.0
    layernorm_mlp_beta: float = 1.0
    tie_word_embeddings: bool = False
    hidden_act: str = "silu"
    initializer_range: float = 0.02
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    pad_token_id: int | None = None
    router_aux_loss_coef: float = 0.001

    def __post_init__(self) -> None:
        self.validate()

    # ----------------------------------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise LLMConfigError naming the first bad key."""
        ints = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "head_dim", "num_local_experts", "num_experts_per_tok", "rotary_dim",
                "max_position_embeddings", "block_size")
        for name in ints:
            val = getattr(self, name)
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise LLMConfigError(f"config key '{name}' must be a positive integer, got {val!r}")
        floats = ("rope_theta", "rms_norm_eps", "initializer_range", "router_aux_loss_coef",
                  "layernorm_full_attention_alpha", "layernorm_full_attention_beta",
                  "layernorm_linear_attention_alpha", "layernorm_linear_attention_beta",
                  "layernorm_mlp_alpha", "layernorm_mlp_beta")
        for name in floats:
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val):
                raise LLMConfigError(f"config key '{name}' must be a finite number, got {val!r}")
            setattr(self, name, float(val))
        for name in ("rope_theta", "rms_norm_eps"):
            if getattr(self, name) <= 0:
                raise LLMConfigError(f"config key '{name}' must be > 0, got {getattr(self, name)!r}")
        for name in ("postnorm", "tie_word_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise LLMConfigError(f"config key '{name}' must be true or false, got {getattr(self, name)!r}")
        if self.hidden_act != "silu":
            raise LLMConfigError(f"config key 'hidden_act' must be 'silu' (MiniMax SwiGLU), got {self.hidden_act!r}")
        if not isinstance(self.attn_type_list, list) or len(self.attn_type_list) != self.num_hidden_layers:
            raise LLMConfigError(
                f"config key 'attn_type_list' must list one of 0 (lightning) / 1 (softmax) per layer "
                f"({self.num_hidden_layers}), got {self.attn_type_list!r}")
        if any(t not in (LINEAR, SOFTMAX) or isinstance(t, bool) for t in self.attn_type_list):
            raise LLMConfigError(f"config key 'attn_type_list' may hold only 0 and 1, got {self.attn_type_list!r}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise LLMConfigError(
                f"config key 'num_key_value_heads' ({self.num_key_value_heads}) must divide "
                f"num_attention_heads ({self.num_attention_heads})")
        if self.num_experts_per_tok > self.num_local_experts:
            raise LLMConfigError(
                f"config key 'num_experts_per_tok' ({self.num_experts_per_tok}) exceeds "
                f"num_local_experts ({self.num_local_experts})")
        if self.rotary_dim > self.head_dim or self.rotary_dim % 2:
            raise LLMConfigError(
                f"config key 'rotary_dim' must be even and <= head_dim ({self.head_dim}), got {self.rotary_dim}")
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            val = getattr(self, name)
            is_id = isinstance(val, int) and not isinstance(val, bool) and 0 <= val < self.vocab_size
            if val is not None and not is_id:
                raise LLMConfigError(
                    f"config key '{name}' must be null or a token id in [0, {self.vocab_size}), got {val!r}")

    # ----------------------------------------------------------------------------------------------------------------
    def is_lightning(self, layer_idx: int) -> bool:
        """True when layer `layer_idx` is a lightning (linear) attention layer."""
        return self.attn_type_list[layer_idx] == LINEAR

    @property
    def layer_types(self) -> list[str]:
        """transformers' spelling of attn_type_list."""
        return ["linear_attention" if t == LINEAR else "full_attention" for t in self.attn_type_list]

    def transformers_compatible(self) -> bool:
        """transformers 5.x applies RoPE over the whole head_dim and always uses the postnorm residual; only configs
        with rotary_dim == head_dim and postnorm = true compute the same model there (vLLM honours both keys)."""
        return self.rotary_dim == self.head_dim and self.postnorm

    def params(self) -> ParamCount:
        """Parameter count from the shapes the checkpoint holds (no derived buffers)."""
        h, d, H, kvh = self.hidden_size, self.head_dim, self.num_attention_heads, self.num_key_value_heads
        lightning = 3 * h * H * d + h * H * d + H * d * h + H * d  # qkv_proj, output_gate, out_proj, norm
        softmax = h * H * d + 2 * h * kvh * d + H * d * h  # q, k, v, o
        expert = 3 * h * self.intermediate_size
        router = self.num_local_experts * h
        norms = 2 * h
        n_lin = sum(1 for t in self.attn_type_list if t == LINEAR)
        n_soft = self.num_hidden_layers - n_lin
        attn = n_lin * lightning + n_soft * softmax
        embedding = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        per_layer_moe_total = self.num_local_experts * expert + router + norms
        per_layer_moe_active = self.num_experts_per_tok * expert + router + norms
        total = attn + self.num_hidden_layers * per_layer_moe_total + embedding + h
        active = attn + self.num_hidden_layers * per_layer_moe_active + h
        return ParamCount(total=total, active=active, embedding=embedding)

    # ----------------------------------------------------------------------------------------------------------------
    def to_json_dict(self) -> dict[str, Any]:
        """The config.json content: MiniMax-Text-01 keys, transformers' keys, and an explicit postnorm."""
        d: dict[str, Any] = {
            "architectures": ["MiniMaxForCausalLM"],
            "model_type": "minimax",
            **dataclasses.asdict(self),
        }
        d["postnorm"] = bool(self.postnorm)  # vLLM defaults a missing postnorm to False: always write it
        d["layer_types"] = self.layer_types
        d["full_attn_alpha_factor"] = self.layernorm_full_attention_alpha
        d["full_attn_beta_factor"] = self.layernorm_full_attention_beta
        d["linear_attn_alpha_factor"] = self.layernorm_linear_attention_alpha
        d["linear_attn_beta_factor"] = self.layernorm_linear_attention_beta
        d["mlp_alpha_factor"] = self.layernorm_mlp_alpha
        d["mlp_beta_factor"] = self.layernorm_mlp_beta
        d["rope_parameters"] = {"rope_type": "default", "rope_theta": self.rope_theta}
        d["torch_dtype"] = "float32"
        return d

    @classmethod
    def from_json_dict(cls, raw: dict[str, Any], source: str = "config") -> ModelConfig:
        """Build from a config.json dict; accepts MiniMax-Text-01 keys and transformers' aliases for them."""
        if not isinstance(raw, dict):
            raise LLMConfigError(f"{source}: expected a JSON object, got {type(raw).__name__}")
        raw = dict(raw)
        if "attn_type_list" not in raw and isinstance(raw.get("layer_types"), list):
            raw["attn_type_list"] = [LINEAR if t == "linear_attention" else SOFTMAX for t in raw["layer_types"]]
        aliases = {
            "full_attn_alpha_factor": "layernorm_full_attention_alpha",
            "full_attn_beta_factor": "layernorm_full_attention_beta",
            "linear_attn_alpha_factor": "layernorm_linear_attention_alpha",
            "linear_attn_beta_factor": "layernorm_linear_attention_beta",
            "mlp_alpha_factor": "layernorm_mlp_alpha",
            "mlp_beta_factor": "layernorm_mlp_beta",
        }
        for hf, ours in aliases.items():
            if ours not in raw and hf in raw:
                raw[ours] = raw[hf]
        rp = raw.get("rope_parameters")
        if "rope_theta" not in raw and isinstance(rp, dict) and "rope_theta" in rp:
            raw["rope_theta"] = rp["rope_theta"]
        names = {f.name for f in dataclasses.fields(cls)}
        required = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                    "attn_type_list", "num_local_experts", "num_experts_per_tok")
        for key in required:
            if key not in raw:
                raise LLMConfigError(f"{source}: missing config key '{key}'")
        if "num_key_value_heads" not in raw:
            raw["num_key_value_heads"] = raw["num_attention_heads"]
        if raw.get("head_dim") is None and isinstance(raw["hidden_size"], int) and isinstance(
                raw["num_attention_heads"], int) and raw["num_attention_heads"] > 0:
            raw["head_dim"] = raw["hidden_size"] // raw["num_attention_heads"]
        if raw.get("rotary_dim") is None:
            raw["rotary_dim"] = raw["head_dim"]
        if isinstance(raw.get("eos_token_id"), list):
            raw["eos_token_id"] = raw["eos_token_id"][0] if raw["eos_token_id"] else None
        kwargs = {k: v for k, v in raw.items() if k in names}
        try:
            return cls(**kwargs)
        except LLMConfigError as exc:
            raise LLMConfigError(f"{source}: {exc}") from None


def _deepnorm_alpha(num_layers: int) -> float:
    """DeepNorm residual scale α = (2N)^(1/4) (DeepNet, arXiv:2203.00555, Table 1, decoder-only); MiniMax-Text-01
    publishes 3.5565588200778455 = 160^(1/4) for N = 80."""
    return (2.0 * num_layers) ** 0.25


def _hybrid(num_layers: int, every: int = 8) -> list[int]:
    """One softmax layer after every `every - 1` lightning layers (MiniMax-01 §2.2: 7 lightning + 1 softmax)."""
    return [SOFTMAX if (i + 1) % every == 0 else LINEAR for i in range(num_layers)]


def _alphas(num_layers: int) -> dict[str, float]:
    a = _deepnorm_alpha(num_layers)
    return {"layernorm_full_attention_alpha": a, "layernorm_linear_attention_alpha": a, "layernorm_mlp_alpha": a}


PRESETS: dict[str, dict[str, Any]] = {
    # Tests: 3 layers (lightning, softmax, lightning), tiny block so short sequences span several blocks.
    "micro": dict(vocab_size=300, hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=8, attn_type_list=[LINEAR, SOFTMAX, LINEAR], num_local_experts=4,
                  num_experts_per_tok=2, rotary_dim=8, rope_theta=10000.0, max_position_embeddings=2048,
                  block_size=4, **_alphas(3)),
    # The embedded brain: 8 layers (7 lightning + 1 softmax), hidden 256, 8 experts top-2, head_dim 64 (vLLM's CPU
    # backend supports head_dim 64), vocab 8192; ≈ 23 M parameters ≈ 45 MB in bf16.
    "small": dict(vocab_size=8192, hidden_size=256, intermediate_size=320, num_hidden_layers=8, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=64, attn_type_list=_hybrid(8), num_local_experts=8,
                  num_experts_per_tok=2, rotary_dim=64, rope_theta=1_000_000.0, max_position_embeddings=8192,
                  block_size=256, **_alphas(8)),
    # The published MiniMax-Text-01 (456 B total, 45.9 B active), for size maths; never instantiated here.
    "minimax-text-01": dict(vocab_size=200064, hidden_size=6144, intermediate_size=9216, num_hidden_layers=80,
                            num_attention_heads=64, num_key_value_heads=8, head_dim=128, attn_type_list=_hybrid(80),
                            num_local_experts=32, num_experts_per_tok=2, rotary_dim=64, rope_theta=10_000_000.0,
                            max_position_embeddings=10_240_000, block_size=256, **_alphas(80)),
}


def preset(name: str) -> ModelConfig:
    """A named preset config ("micro", "small", "minimax-text-01")."""
    if name not in PRESETS:
        raise LLMConfigError(f"unknown preset '{name}'; choose one of {', '.join(PRESETS)}")
    return ModelConfig(**PRESETS[name])


def load_config(path: str | Path) -> ModelConfig:
    """Read a config.json (a directory holding one, or the file) and validate it; errors name the file and key."""
    p = checkpoint_file(path, CONFIG_FILE, LLMConfigError, "pass a checkpoint directory or a config.json path")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LLMConfigError(f"{p}: not valid JSON ({exc}); fix or regenerate the file") from None
    return ModelConfig.from_json_dict(raw, source=str(p))


def save_config(cfg: ModelConfig, directory: str | Path) -> Path:
    """Write `config.json` into a directory (created if needed); returns the file path."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    p = d / CONFIG_FILE
    p.write_text(json.dumps(cfg.to_json_dict(), indent=2) + "\n", encoding="utf-8")
    return p
