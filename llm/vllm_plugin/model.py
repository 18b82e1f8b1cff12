"""MiniMax-Text-01 / M1 hybrid lightning + softmax MoE model for vLLM ≥ 0.32, as an out-of-tree model.

Built on vLLM's maintained pieces, as its Bailing linear model uses them: `MiniMaxText01LinearAttention` (projections
with tensor parallelism, its linear-attention state pool and metadata), `Attention` + `get_rope` for the softmax layers,
`FusedMoEFactory` for the experts, `ParallelLMHead`/`VocabParallelEmbedding`. What changes against vLLM's own layer:
- the lightning prefill/decode run through `llm.vllm_plugin.state_ops` (our PyTorch reference on CPU, where vLLM's
  Triton kernels cannot run; our Triton kernels on CUDA when llm.kernels is available). FEP_MOTION_VLLM_LIGHTNING=vllm
  keeps vLLM's own Triton kernels on CUDA instead (for A/B benchmarks);
- the per-head decay follows docs/architecture.md §6 (`llm.lightning.decay_slopes`), the head-concatenated RMSNorm
  uses eps 1e-6 (MiniMax's code and transformers'), and the lightning state is fp32 (MiniMax-M1, arXiv:2506.13585,
  §3.2);
- the residuals are MiniMax's DeepNorm form (DeepNet, arXiv:2203.00555, eq. 1) honouring `postnorm` and the
  `layernorm_*_alpha/beta` keys; the LM head runs in fp32 (MiniMax-M1 §3.2).
Imported only inside vLLM (through `llm.vllm_plugin.register`); nothing else in the project imports it.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from typing import ClassVar

import torch
from torch import nn
from vllm.config import VllmConfig
from vllm.distributed import get_pp_group, get_tensor_model_parallel_world_size
from vllm.model_executor.layers.attention import Attention
from vllm.model_executor.layers.fused_moe import FusedMoEFactory
from vllm.model_executor.layers.layernorm import RMSNorm
from vllm.model_executor.layers.linear import QKVParallelLinear, ReplicatedLinear, RowParallelLinear
from vllm.model_executor.layers.logits_processor import LogitsProcessor
from vllm.model_executor.layers.mamba.linear.minimax_linear_attn import MiniMaxText01LinearAttention
from vllm.model_executor.layers.mamba.mamba_utils import (
    MambaStateCopyFuncCalculator,
    MambaStateShapeCalculator,
)
from vllm.model_executor.layers.rotary_embedding import get_rope
from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead, VocabParallelEmbedding
from vllm.model_executor.models.interfaces import HasInnerState, IsHybrid, SupportsPP
from vllm.model_executor.models.utils import (
    AutoWeightsLoader,
    PPMissingLayer,
    WeightsMapper,
    make_empty_intermediate_tensors_factory,
    make_layers,
    maybe_prefix,
)
from vllm.sequence import IntermediateTensors

from llm.lightning import decay_slopes
from llm.model import LIGHTNING_NORM_EPS
from llm.vllm_plugin.state_ops import decode_slots, prefill_slot

__all__ = ["MiniMaxHybridForCausalLM"]

LIGHTNING_STATE_DTYPE = torch.float32  # MiniMax-M1 §3.2: the recurrent state stays fp32
# Tensors some writers add that are derived from the config (recomputed here), never weights.
_DERIVED_SUFFIXES = ("slope_rate", "query_decay", "key_decay", "diagonal_decay", "rotary_emb.inv_freq")


def _attn_types(config) -> list[int]:
    """0 = lightning, 1 = softmax per layer, from `attn_type_list` or transformers' `layer_types`."""
    types = getattr(config, "attn_type_list", None)
    if types is None:
        types = [0 if t == "linear_attention" else 1 for t in config.layer_types]
    return [int(t) for t in types]


def _lightning_backend(device: torch.device) -> str:
    """'ours' (llm.lightning dispatch) or 'vllm' (vLLM's Triton kernels); CPU is always ours."""
    choice = os.environ.get("FEP_MOTION_VLLM_LIGHTNING", "ours")
    if device.type != "cuda":
        return "ours"
    if choice == "vllm":
        return "vllm"
    import llm.kernels  # noqa: F401  registers our CUDA kernels into llm.lightning when Triton is present

    return "ours"


class LightningAttention(MiniMaxText01LinearAttention):
    """vLLM's MiniMax lightning layer with the kernel calls routed to our implementation."""

    def __init__(self, config, vllm_config: VllmConfig, prefix: str) -> None:
        super().__init__(config, vllm_config, prefix=prefix)
        self.BLOCK = int(getattr(config, "block_size", self.BLOCK))
        self.norm.variance_epsilon = LIGHTNING_NORM_EPS
        slope = decay_slopes(self.num_heads, self.layer_idx, self.num_hidden_layers)  # docs/architecture.md §6
        self.slope_rate = slope.view(-1, 1, 1)
        self.tp_slope = self.slope_rate[self.tp_rank * self.tp_heads:(self.tp_rank + 1) * self.tp_heads].contiguous()

    def get_state_dtype(self) -> tuple[torch.dtype]:
        return (LIGHTNING_STATE_DTYPE,)

    def _slope(self, device: torch.device) -> torch.Tensor:
        if self.tp_slope.device != device:
            self.tp_slope = self.tp_slope.to(device)
        return self.tp_slope.view(-1)

    def _prefill_and_mix_infer(self, q, k, v, kv_cache, state_indices_tensor, attn_metadata):
        if _lightning_backend(q.device) == "vllm":
            return super()._prefill_and_mix_infer(q, k, v, kv_cache, state_indices_tensor, attn_metadata)
        slope = self._slope(q.device)
        hidden = []
        if attn_metadata.num_decode_tokens > 0:
            hidden.append(self._decode_infer(q, k, v, kv_cache, state_indices_tensor, attn_metadata))
        offset = attn_metadata.num_decode_tokens
        starts = attn_metadata.query_start_loc.tolist()
        for i in range(attn_metadata.num_prefills):
            s, e = starts[offset + i], starts[offset + i + 1]
            slot = int(state_indices_tensor[offset + i])
            hidden.append(prefill_slot(q[s:e].transpose(0, 1), k[s:e].transpose(0, 1), v[s:e].transpose(0, 1),
                                       kv_cache, slot, slope, self.BLOCK))
        if not hidden:
            return torch.empty((0, q.shape[1] * q.shape[2]), device=q.device, dtype=torch.float32)
        return torch.cat(hidden, dim=0)

    def _decode_infer(self, q, k, v, kv_cache, state_indices_tensor, attn_metadata):
        if _lightning_backend(q.device) == "vllm":
            return super()._decode_infer(q, k, v, kv_cache, state_indices_tensor, attn_metadata)
        n = attn_metadata.num_decode_tokens
        slots = state_indices_tensor[: attn_metadata.num_decodes]
        return decode_slots(q[:n], k[:n], v[:n], kv_cache, slots, self._slope(q.device))


class SoftmaxAttention(nn.Module):
    """GQA softmax attention with NeoX RoPE on the first `rotary_dim` dims of each head (MiniMax-01 §2.2)."""

    def __init__(self, config, vllm_config: VllmConfig, prefix: str) -> None:
        super().__init__()
        tp = get_tensor_model_parallel_world_size()
        self.head_dim = config.head_dim
        self.num_heads = config.num_attention_heads // tp
        self.num_kv_heads = max(1, config.num_key_value_heads // tp)
        self.q_size, self.kv_size = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        self.qkv_proj = QKVParallelLinear(config.hidden_size, self.head_dim, config.num_attention_heads,
                                          config.num_key_value_heads, bias=False,
                                          quant_config=vllm_config.quant_config, prefix=f"{prefix}.qkv_proj")
        self.o_proj = RowParallelLinear(config.num_attention_heads * self.head_dim, config.hidden_size, bias=False,
                                        quant_config=vllm_config.quant_config, prefix=f"{prefix}.o_proj")
        rotary_dim = int(getattr(config, "rotary_dim", None) or self.head_dim)
        theta = float(getattr(config, "rope_theta", None) or (config.rope_parameters or {}).get("rope_theta", 1e4))
        self.rotary_emb = get_rope(self.head_dim, max_position=config.max_position_embeddings, is_neox_style=True,
                                   rope_parameters={"rope_type": "default", "rope_theta": theta,
                                                    "partial_rotary_factor": rotary_dim / self.head_dim})
        self.attn = Attention(self.num_heads, self.head_dim, self.head_dim ** -0.5, num_kv_heads=self.num_kv_heads,
                              cache_config=vllm_config.cache_config, quant_config=vllm_config.quant_config,
                              prefix=f"{prefix}.attn")

    def forward(self, hidden_states: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        qkv, _ = self.qkv_proj(hidden_states)
        q, k, v = qkv.split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        q, k = self.rotary_emb(positions, q, k)
        out, _ = self.o_proj(self.attn(q, k, v))
        return out


class SparseMoE(nn.Module):
    """fp32 softmax router → top-k → renormalize, SwiGLU experts w2(silu(w1 x)·w3 x) (MiniMax-01 §2.1)."""

    def __init__(self, config, vllm_config: VllmConfig, prefix: str) -> None:
        super().__init__()
        self.gate = ReplicatedLinear(config.hidden_size, config.num_local_experts, bias=False,
                                     quant_config=None, prefix=f"{prefix}.gate")
        self.experts = FusedMoEFactory(num_experts=config.num_local_experts, top_k=config.num_experts_per_tok,
                                       hidden_size=config.hidden_size, intermediate_size=config.intermediate_size,
                                       renormalize=True, scoring_func="softmax",
                                       router_logits_dtype=torch.float32, quant_config=vllm_config.quant_config,
                                       prefix=f"{prefix}.experts", ckpt_names=("w1", "w2", "w3"))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        logits, _ = self.gate(hidden_states)
        return self.experts(hidden_states=hidden_states, router_logits=logits.float())


class DecoderLayer(nn.Module):
    """Attention then MoE, each with MiniMax's scaled residual: x ← α·r + β·F(LN(x)), r = LN(x) if postnorm else x."""

    def __init__(self, config, vllm_config: VllmConfig, prefix: str) -> None:
        super().__init__()
        idx = int(prefix.split(".")[-1])
        self.lightning = _attn_types(config)[idx] == 0
        if self.lightning:
            self.self_attn: nn.Module = LightningAttention(config, vllm_config, prefix=f"{prefix}.self_attn")
            self.attn_alpha = float(getattr(config, "layernorm_linear_attention_alpha", 1.0))
            self.attn_beta = float(getattr(config, "layernorm_linear_attention_beta", 1.0))
        else:
            self.self_attn = SoftmaxAttention(config, vllm_config, prefix=f"{prefix}.self_attn")
            self.attn_alpha = float(getattr(config, "layernorm_full_attention_alpha", 1.0))
            self.attn_beta = float(getattr(config, "layernorm_full_attention_beta", 1.0))
        self.mlp_alpha = float(getattr(config, "layernorm_mlp_alpha", 1.0))
        self.mlp_beta = float(getattr(config, "layernorm_mlp_beta", 1.0))
        self.postnorm = bool(getattr(config, "postnorm", False))  # the published MiniMax default
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.block_sparse_moe = SparseMoE(config, vllm_config, prefix=f"{prefix}.block_sparse_moe")

    def forward(self, hidden_states: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        h = self.input_layernorm(hidden_states)
        if self.lightning:
            attn = torch.zeros_like(h)
            self.self_attn(hidden_states=h, output=attn, positions=positions)
        else:
            attn = self.self_attn(h, positions)
        r = h if self.postnorm else hidden_states
        x = r * self.attn_alpha + attn * self.attn_beta
        h = self.post_attention_layernorm(x)
        r = h if self.postnorm else x
        return r * self.mlp_alpha + self.block_sparse_moe(h) * self.mlp_beta


class MiniMaxHybridModel(nn.Module):
    """Embedding → decoder layers (pipeline-parallel aware) → final RMSNorm."""

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = "") -> None:
        super().__init__()
        config = vllm_config.model_config.hf_config
        self.config = config
        if get_pp_group().is_first_rank:
            self.embed_tokens = VocabParallelEmbedding(config.vocab_size, config.hidden_size,
                                                       prefix=f"{prefix}.embed_tokens")
        else:
            self.embed_tokens = PPMissingLayer()
        self.start_layer, self.end_layer, self.layers = make_layers(
            config.num_hidden_layers, lambda prefix: DecoderLayer(config, vllm_config, prefix),
            prefix=f"{prefix}.layers")
        self.norm = (RMSNorm(config.hidden_size, eps=config.rms_norm_eps) if get_pp_group().is_last_rank
                     else PPMissingLayer())
        self.make_empty_intermediate_tensors = make_empty_intermediate_tensors_factory(
            ["hidden_states"], config.hidden_size)

    def embed_input_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embed_tokens(input_ids)

    def forward(self, input_ids, positions, intermediate_tensors=None, inputs_embeds=None):
        if get_pp_group().is_first_rank:
            x = inputs_embeds if inputs_embeds is not None else self.embed_input_ids(input_ids)
        else:
            x = intermediate_tensors["hidden_states"]
        for layer in self.layers[self.start_layer:self.end_layer]:
            x = layer(x, positions)
        if not get_pp_group().is_last_rank:
            return IntermediateTensors({"hidden_states": x})
        return self.norm(x)


class MiniMaxHybridForCausalLM(nn.Module, HasInnerState, IsHybrid, SupportsPP):
    """Registered as MiniMaxForCausalLM / MiniMaxText01ForCausalLM / MiniMaxM1ForCausalLM."""

    hf_to_vllm_mapper = WeightsMapper(orig_to_new_stacked={
        ".q_proj": (".qkv_proj", "q"), ".k_proj": (".qkv_proj", "k"), ".v_proj": (".qkv_proj", "v")})
    packed_modules_mapping: ClassVar[dict[str, list[str]]] = {"qkv_proj": ["q_proj", "k_proj", "v_proj"]}

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = "") -> None:
        super().__init__()
        config = vllm_config.model_config.hf_config
        self.config = config
        self.model = MiniMaxHybridModel(vllm_config=vllm_config, prefix=maybe_prefix(prefix, "model"))
        self.tied = bool(getattr(config, "tie_word_embeddings", False))
        if get_pp_group().is_last_rank:
            # fp32 LM head (MiniMax-M1 §3.2); a tied head shares the embedding and its dtype
            self.lm_head = ParallelLMHead(config.vocab_size, config.hidden_size,
                                          params_dtype=None if self.tied else torch.float32,
                                          prefix=maybe_prefix(prefix, "lm_head"))
            if self.tied:
                self.lm_head = self.lm_head.tie_weights(self.model.embed_tokens)
        else:
            self.lm_head = PPMissingLayer()
        self.logits_processor = LogitsProcessor(config.vocab_size)
        self.make_empty_intermediate_tensors = self.model.make_empty_intermediate_tensors

    def embed_input_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.embed_input_ids(input_ids)

    def forward(self, input_ids, positions, intermediate_tensors=None, inputs_embeds=None, **_: object):
        return self.model(input_ids, positions, intermediate_tensors, inputs_embeds)

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor | None:
        if not self.tied:
            hidden_states = hidden_states.float()
        return self.logits_processor(self.lm_head, hidden_states)

    # --- hybrid state: one fp32 [H/tp, D, D] lightning state per sequence and lightning layer -----------------------
    @classmethod
    def get_mamba_state_shape_from_config(cls, vllm_config: VllmConfig) -> tuple[tuple[int, int, int], ...]:
        c = vllm_config.model_config.hf_config
        return MambaStateShapeCalculator.linear_attention_state_shape(
            num_heads=c.num_attention_heads, tp_size=vllm_config.parallel_config.tensor_parallel_size,
            head_dim=getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads)

    @classmethod
    def get_mamba_state_dtype_from_config(cls, vllm_config: VllmConfig) -> tuple[torch.dtype, ...]:
        return (LIGHTNING_STATE_DTYPE,)

    @classmethod
    def get_mamba_state_copy_func(cls) -> tuple:
        return MambaStateCopyFuncCalculator.linear_attention_state_copy_func()

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> set[str]:
        kept = ((n, w) for n, w in weights if not n.endswith(_DERIVED_SUFFIXES))
        skip = ["lm_head."] if self.tied else []
        return AutoWeightsLoader(self, ignore_unexpected_prefixes=skip).load_weights(
            kept, mapper=self.hf_to_vllm_mapper)
