"""Model config: presets, size maths, config.json round trip in both MiniMax and transformers spellings, errors."""
from __future__ import annotations

import dataclasses
import json

import pytest

from llm.config import load_config, preset, save_config
from llm.errors import LLMConfigError, LLMError


def test_published_config_counts_456b_total_and_45_9b_active():
    pc = preset("minimax-text-01").params()
    assert pc.total / 1e9 == pytest.approx(456.0, rel=0.005)  # MiniMax-01 report: 456 B total
    assert pc.active / 1e9 == pytest.approx(45.9, rel=0.005)  # 45.9 B activated per token
    cfg = preset("minimax-text-01")
    assert cfg.attn_type_list.count(1) == 10 and cfg.attn_type_list[7] == 1 and cfg.attn_type_list[0] == 0
    assert cfg.layernorm_mlp_alpha == pytest.approx(3.5565588200778455)  # (2·80)^(1/4) as published


def test_small_preset_is_the_embedded_brain_shape():
    cfg = preset("small")
    assert cfg.num_hidden_layers == 8 and cfg.hidden_size == 256 and cfg.head_dim == 64
    assert cfg.num_local_experts == 8 and cfg.num_experts_per_tok == 2
    assert cfg.attn_type_list == [0] * 7 + [1]
    assert cfg.params().bytes(2) <= 50_000_000  # fits 50 MB in bf16
    assert cfg.transformers_compatible()


def test_save_writes_postnorm_and_both_key_spellings(tmp_path):
    cfg = preset("micro")
    path = save_config(cfg, tmp_path)
    raw = json.loads(path.read_text())
    assert raw["postnorm"] is True  # vLLM defaults a missing key to False
    assert raw["architectures"] == ["MiniMaxForCausalLM"] and raw["model_type"] == "minimax"
    assert raw["layer_types"] == ["linear_attention", "full_attention", "linear_attention"]
    assert raw["attn_type_list"] == [0, 1, 0]
    assert raw["mlp_alpha_factor"] == raw["layernorm_mlp_alpha"] == cfg.layernorm_mlp_alpha
    assert raw["rope_parameters"]["rope_theta"] == cfg.rope_theta
    assert load_config(tmp_path) == cfg

    off = dataclasses.replace(cfg, postnorm=False)
    save_config(off, tmp_path)
    assert json.loads(path.read_text())["postnorm"] is False
    assert not off.transformers_compatible()


def test_transformers_only_keys_are_understood(tmp_path):
    raw = {"vocab_size": 100, "hidden_size": 16, "intermediate_size": 8, "num_hidden_layers": 2,
           "num_attention_heads": 2, "num_local_experts": 2, "num_experts_per_tok": 1,
           "layer_types": ["linear_attention", "full_attention"], "mlp_alpha_factor": 2.5,
           "rope_parameters": {"rope_type": "default", "rope_theta": 500.0}, "eos_token_id": [3]}
    (tmp_path / "config.json").write_text(json.dumps(raw))
    cfg = load_config(tmp_path)
    assert cfg.attn_type_list == [0, 1]
    assert cfg.layernorm_mlp_alpha == 2.5 and cfg.rope_theta == 500.0
    assert cfg.head_dim == 8 and cfg.rotary_dim == 8 and cfg.num_key_value_heads == 2 and cfg.eos_token_id == 3


@pytest.mark.parametrize(
    "key,value",
    [("hidden_size", 0), ("num_key_value_heads", 3), ("attn_type_list", [0, 2, 0]), ("attn_type_list", [0, 1]),
     ("num_experts_per_tok", 9), ("rotary_dim", 7), ("rms_norm_eps", float("nan")), ("postnorm", "yes"),
     ("hidden_act", "gelu"), ("eos_token_id", 100000), ("block_size", -1)],
)
def test_bad_values_name_the_key(tmp_path, key, value):
    raw = preset("micro").to_json_dict()
    raw[key] = value
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(LLMConfigError, match=key) as info:
        load_config(tmp_path)
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)


def test_missing_key_and_bad_files(tmp_path):
    raw = preset("micro").to_json_dict()
    del raw["num_local_experts"]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(LLMConfigError, match="num_local_experts"):
        load_config(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(LLMConfigError, match="not valid JSON"):
        load_config(tmp_path)
    with pytest.raises(LLMError, match="not found"):
        load_config(tmp_path / "nowhere")
    with pytest.raises(LLMConfigError, match="unknown preset"):
        preset("huge")
