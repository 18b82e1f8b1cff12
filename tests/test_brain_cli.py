"""`fep-motion brain ...` as users run it: ask --json offline with the shipped model, errors on one line (exit 2),
eval and data on small inputs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cli import main

SHIPPED = Path(__file__).parents[1] / "llm" / "models" / "brain-small"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_ask_json_with_the_shipped_model_answers_the_kyoto_greeting(capsys: pytest.CaptureFixture) -> None:
    assert (SHIPPED / "model.safetensors").is_file(), "the embedded checkpoint must ship in llm/models/brain-small"
    rc = main(["brain", "ask", "Hi! I just came back from a trip to Kyoto.", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    obj = json.loads(out)
    assert set(obj) == {"reply", "intent"} and obj["intent"] == "greet" and obj["reply"]


@pytest.mark.parametrize("text,context,intent", [
    ("Can you explain why ice floats?", "", "explain"),
    ("Okay.", "the user did not nod; engagement low; looking away", "encourage"),
    ("Alright, I'm heading out.", "the user nodded twice; engagement high; looking at you", "farewell"),
])
def test_ask_plain_output_uses_context(text: str, context: str, intent: str, capsys: pytest.CaptureFixture) -> None:
    rc = main(["brain", "ask", text, "--context", context])
    out = capsys.readouterr().out.strip()
    assert rc == 0 and out.startswith(f"[{intent}] ")


def test_missing_checkpoint_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["brain", "ask", "hello", "--checkpoint", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "none" in err and "Traceback" not in err


def test_unreachable_server_is_one_line_exit_2(capsys: pytest.CaptureFixture) -> None:
    rc = main(["brain", "ask", "hello", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
               "--timeout", "3"])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot reach the server" in err and len(err.strip().splitlines()) == 1


def test_bad_flag_values_are_named(capsys: pytest.CaptureFixture) -> None:
    assert main(["brain", "ask", "hi", "--timeout", "-1"]) == 2
    assert "timeout_s" in capsys.readouterr().err
    assert main(["brain", "ask", "hi", "--backend", "openai", "--base-url", "localhost:8000"]) == 2
    assert "base_url" in capsys.readouterr().err


def test_data_builds_a_corpus(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed: 2\ntrain: {interaction: 20, word_sort: 5}\nheldout_per_difficulty: 2\n")
    assert main(["brain", "data", "--out", str(tmp_path / "d"), "--config", str(cfg)]) == 0
    assert len((tmp_path / "d" / "train.jsonl").read_text().splitlines()) == 25
    assert len((tmp_path / "d" / "heldout.jsonl").read_text().splitlines()) == 2 * 3 * 2
    cfg.write_text("train: {poems: 3}\n")
    assert main(["brain", "data", "--out", str(tmp_path / "e"), "--config", str(cfg)]) == 2
    assert "train.poems" in capsys.readouterr().err


def test_eval_reports_pass_rates_of_the_shipped_model(capsys: pytest.CaptureFixture) -> None:
    assert main(["brain", "eval", "--per-difficulty", "2", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert set(m["summary"]) == {"interaction_format", "interaction_intent"}
    assert len(m["per_task_difficulty"]) == 12


def test_serve_engine_vllm_checks_the_model_dir_before_anything_else(tmp_path, capsys):
    """`brain serve --engine vllm` goes through the vLLM launcher: a bad model dir is one line, exit 2, no install."""
    rc = main(["brain", "serve", "--engine", "vllm", "--model", str(tmp_path / "none"), "--port", "0",
                   "--venv", str(tmp_path / "venv")])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model directory not found" in err[0]
    assert not (tmp_path / "venv").exists()  # nothing was installed for a request that cannot be served
