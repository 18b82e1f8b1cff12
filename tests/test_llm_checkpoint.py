"""Checkpoints: published MiniMax layout, parity with transformers' MiniMaxForCausalLM, errors naming the tensor."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from llm.checkpoint import WEIGHTS_FILE, expected_shapes, init_checkpoint, load
from llm.config import preset
from llm.errors import CheckpointError, LLMError

# block_size 4 so the 21-token test sequences span five lightning blocks (with a tail);
# initializer 0.1 gives O(1) logits so a 1e-4 agreement is a real check.
CFG = dataclasses.replace(preset("micro"), initializer_range=0.1)
T = 21


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return init_checkpoint(CFG, 0, tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def ids() -> torch.Tensor:
    return torch.randint(0, CFG.vocab_size, (2, T), generator=torch.Generator().manual_seed(1))


def _hf(path):
    transformers = pytest.importorskip("transformers")
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers.AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()


def test_layout_uses_published_names_and_no_derived_buffers(ckpt):
    tensors = load_file(str(ckpt / WEIGHTS_FILE))
    assert set(tensors) == set(expected_shapes(CFG))
    assert "model.layers.0.self_attn.qkv_proj.weight" in tensors
    assert "model.layers.1.self_attn.k_proj.weight" in tensors
    assert "model.layers.2.block_sparse_moe.experts.3.w2.weight" in tensors
    assert not any(k.endswith(("slope_rate", "query_decay", "key_decay", "diagonal_decay")) for k in tensors)
    assert json.loads((ckpt / "config.json").read_text())["postnorm"] is True


def test_save_load_round_trip_is_exact(ckpt, ids):
    a, b = load(ckpt), load(ckpt)
    with torch.inference_mode():
        assert torch.equal(a(ids).logits, b(ids).logits)
    again = init_checkpoint(CFG, 0, ckpt.parent / "again")
    assert load_file(str(again / WEIGHTS_FILE)).keys() == load_file(str(ckpt / WEIGHTS_FILE)).keys()
    assert all(torch.equal(x, load_file(str(again / WEIGHTS_FILE))[k])
               for k, x in load_file(str(ckpt / WEIGHTS_FILE)).items())  # seeded: same file twice


def test_logits_match_transformers_in_fp32(ckpt, ids):
    ours, hf = load(ckpt), _hf(ckpt)
    with torch.inference_mode():
        a, b = ours(ids).logits, hf(ids).logits
    assert a.shape == b.shape == (2, T, CFG.vocab_size)
    assert a.abs().max() > 0.5  # logits large enough for the comparison to mean something
    assert (a - b).abs().max().item() <= 1e-4


def test_incremental_decoding_matches_transformers_full_forward(ckpt, ids):
    ours, hf = load(ckpt), _hf(ckpt)
    from transformers.models.minimax.modeling_minimax import MiniMaxCache

    split = 9
    with torch.inference_mode():
        full = hf(ids).logits
        cache = ours.new_cache()
        mine = [ours(ids[:, :split], cache=cache).logits]
        hcache = MiniMaxCache()
        theirs = [hf(ids[:, :split], cache=hcache, use_cache=True).logits]
        for t in range(split, T):
            mine.append(ours(ids[:, t:t + 1], cache=cache).logits)
            # MiniMaxCache.get_seq_length() is 0 after prefill: positions must be passed by hand
            theirs.append(hf(ids[:, t:t + 1], cache=hcache, use_cache=True,
                             position_ids=torch.tensor([[t]])).logits)
    assert (torch.cat(mine, 1) - full).abs().max().item() <= 1e-4
    assert (torch.cat(theirs, 1) - full).abs().max().item() <= 1e-4


def test_transformers_saved_checkpoint_loads_and_its_decay_buffers_are_ignored(ckpt, ids, tmp_path):
    hf = _hf(ckpt)
    hf.save_pretrained(str(tmp_path))
    tensors = load_file(str(tmp_path / WEIGHTS_FILE))
    assert "model.layers.0.self_attn.slope_rate" in tensors  # transformers writes derived tables
    slope_key = "model.layers.0.self_attn.slope_rate"
    tensors[slope_key] = torch.full_like(tensors[slope_key], 9.0)
    save_file(tensors, str(tmp_path / WEIGHTS_FILE))
    with torch.inference_mode():
        assert torch.equal(load(tmp_path)(ids).logits, load(ckpt)(ids).logits)


def test_fused_transformers_expert_layout_is_accepted(ckpt, ids, tmp_path):
    tensors = load_file(str(ckpt / WEIGHTS_FILE))
    for i in range(CFG.num_hidden_layers):
        p = f"model.layers.{i}"
        E = CFG.num_local_experts
        w1 = [tensors.pop(f"{p}.block_sparse_moe.experts.{e}.w1.weight") for e in range(E)]
        w2 = [tensors.pop(f"{p}.block_sparse_moe.experts.{e}.w2.weight") for e in range(E)]
        w3 = [tensors.pop(f"{p}.block_sparse_moe.experts.{e}.w3.weight") for e in range(E)]
        tensors[f"{p}.mlp.experts.gate_up_proj"] = torch.stack([torch.cat([a, b]) for a, b in zip(w1, w3)])
        tensors[f"{p}.mlp.experts.down_proj"] = torch.stack(w2)
        tensors[f"{p}.mlp.gate.weight"] = tensors.pop(f"{p}.block_sparse_moe.gate.weight")
    save_file(tensors, str(tmp_path / WEIGHTS_FILE))
    (tmp_path / "config.json").write_text((ckpt / "config.json").read_text())
    with torch.inference_mode():
        assert torch.equal(load(tmp_path)(ids).logits, load(ckpt)(ids).logits)


def _copy(ckpt, tmp_path, edit):
    tensors = load_file(str(ckpt / WEIGHTS_FILE))
    edit(tensors)
    save_file(tensors, str(tmp_path / WEIGHTS_FILE))
    (tmp_path / "config.json").write_text((ckpt / "config.json").read_text())
    return tmp_path


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda t: t.__setitem__("model.layers.1.self_attn.k_proj.weight", torch.zeros(3, 32)),
         r"model\.layers\.1\.self_attn\.k_proj\.weight.*shape"),
        (lambda t: t.pop("model.layers.2.block_sparse_moe.experts.1.w3.weight"),
         r"missing tensor 'model\.layers\.2\.block_sparse_moe\.experts\.1\.w3\.weight'"),
        (lambda t: t.__setitem__("model.layers.0.self_attn.q_proj.weight", torch.zeros(32, 32)),
         r"unexpected tensor 'model\.layers\.0\.self_attn\.q_proj\.weight'"),
        (lambda t: t["model.norm.weight"].__setitem__(3, float("nan")), r"'model\.norm\.weight'.*NaN"),
    ],
)
def test_wrong_tensors_are_named(ckpt, tmp_path, edit, match):
    bad = _copy(ckpt, tmp_path, edit)
    with pytest.raises(CheckpointError, match=match):
        load(bad)


def test_corrupt_or_missing_files_name_the_file(ckpt, tmp_path):
    data = (ckpt / WEIGHTS_FILE).read_bytes()
    (tmp_path / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    (tmp_path / "config.json").write_text((ckpt / "config.json").read_text())
    with pytest.raises(CheckpointError, match=r"model\.safetensors: unreadable"):
        load(tmp_path)
    (tmp_path / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match="weights file not found"):
        load(tmp_path)
    with pytest.raises(LLMError, match="checkpoint directory not found"):
        load(tmp_path / "nope")


def test_config_that_does_not_match_the_weights(ckpt, tmp_path):
    other = dataclasses.replace(CFG, intermediate_size=CFG.intermediate_size * 2)
    bad = _copy(ckpt, tmp_path, lambda t: None)
    (bad / "config.json").write_text(json.dumps(other.to_json_dict()))
    with pytest.raises(CheckpointError, match=r"experts\.0\.w1\.weight' has shape"):
        load(bad)


def test_init_command_line(tmp_path, capsys):
    out = tmp_path / "ck"
    run = subprocess.run([sys.executable, "-m", "llm.checkpoint", "init", "--preset", "micro", "--seed", "3",
                          "--out", str(out)], check=False, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    model = load(out)
    assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, preset("micro").vocab_size)
    from llm.checkpoint import main

    (tmp_path / "bad.json").write_text('{"hidden_size": 8}')
    assert main(["init", "--config", str(tmp_path / "bad.json"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "vocab_size" in err
    assert not (tmp_path / "x").exists()


def test_fep_motion_llm_commands(tmp_path, capsys):
    from cli import main

    assert main(["llm", "init", "--preset", "micro", "--seed", "0", "--out", str(tmp_path / "c")]) == 0
    assert main(["llm", "info", str(tmp_path / "c")]) == 0
    assert "2 lightning + 1 softmax" in capsys.readouterr().out
    assert main(["llm", "info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "checkpoint directory not found" in err and err.count("\n") == 1
