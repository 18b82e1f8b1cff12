"""vLLM out-of-tree model plugin: serves MiniMax-layout hybrid lightning MoE checkpoints (ours and the published ones).

vLLM ≥ 0.24 dropped MiniMax-Text-01/M1 (it lists them in `_PREVIOUSLY_SUPPORTED_MODELS` and refuses them); `register`
puts them back under their published architecture names, backed by `llm.vllm_plugin.model`. vLLM calls `register`
in every process through the `vllm.general_plugins` entry point (pyproject.toml). Importing this package is cheap and
never imports vLLM; the model module is loaded lazily by vLLM itself.
"""
from __future__ import annotations

__all__ = ["ARCHITECTURES", "MODEL_CLASS", "register"]

ARCHITECTURES: tuple[str, ...] = ("MiniMaxForCausalLM", "MiniMaxText01ForCausalLM", "MiniMaxM1ForCausalLM")
MODEL_CLASS = "llm.vllm_plugin.model:MiniMaxHybridForCausalLM"


def register() -> None:
    """Register the MiniMax architectures with vLLM's ModelRegistry (idempotent; lazy class import)."""
    from vllm import ModelRegistry

    for arch in ARCHITECTURES:
        ModelRegistry.register_model(arch, MODEL_CLASS)
