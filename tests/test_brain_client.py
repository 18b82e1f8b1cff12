"""The OpenAI-API client against our real server (in-process, micro checkpoint): answers, streaming, errors,
time-outs and the Brain's fallback; the embedded backend directly."""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from llm import checkpoint
from llm.brain.brain import Brain
from llm.brain.config import BrainConfig
from llm.brain.embedded import EmbeddedBackend
from llm.brain.errors import BrainError, BrainTimeout
from llm.brain.openai_client import OpenAIBackend
from llm.brain.prompt import build_messages
from llm.brain.server import make_server, serve_in_thread
from llm.config import PRESETS, ModelConfig
from llm.tokenizer import ChatTokenizer

SHIPPED_TOKENIZER = Path(__file__).parents[1] / "llm" / "models" / "brain-small"


def make_micro_checkpoint(out: Path, seed: int = 0, never_stop: bool = False) -> Path:
    """A random-init micro model with the shipped tokenizer (real weights file, real tokenizer)."""
    tok = ChatTokenizer.load(SHIPPED_TOKENIZER)
    kw = dict(PRESETS["micro"], vocab_size=((tok.vocab_size + 63) // 64) * 64, eos_token_id=tok.eos_id,
              pad_token_id=tok.pad_id)
    cfg = ModelConfig(**kw)
    from llm.model import MiniMaxForCausalLM

    model = MiniMaxForCausalLM(cfg)
    model.init_weights(seed)
    if never_stop:  # zero logit for the end tokens: a random model that talks until max_tokens
        with torch.no_grad():
            for t in ("<|im_end|>", "<|im_start|>", "<|endoftext|>"):
                model.lm_head.weight[tok.tok.token_to_id(t)] = 0.0
    checkpoint.save(model, out)
    tok.save(out)
    return out


@pytest.fixture(scope="module")
def micro_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_micro_checkpoint(tmp_path_factory.mktemp("micro"))


@pytest.fixture(scope="module")
def server(micro_ckpt: Path):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    backend = EmbeddedBackend(checkpoint=micro_ckpt, max_tokens=12)
    srv = make_server(backend, "127.0.0.1", 0, "micro-test")
    serve_in_thread(srv)
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1", backend
    srv.shutdown()
    srv.server_close()
    torch.set_num_threads(n)


def test_client_gets_what_the_model_generates(server) -> None:
    url, backend = server
    msgs = build_messages("Hi! I just came back from a trip to Kyoto.")
    client = OpenAIBackend(base_url=url, model="micro-test", max_tokens=12)
    text = client.complete(msgs, timeout_s=30)
    assert text == backend.complete(msgs, max_tokens=12) and text  # greedy: same text over HTTP as in-process
    assert "".join(client.stream(msgs, timeout_s=30)) == text


def test_models_route_and_bad_requests(server) -> None:
    url, _ = server
    with urllib.request.urlopen(url + "/models", timeout=10) as r:
        assert json.load(r)["data"][0]["id"] == "micro-test"
    client = OpenAIBackend(base_url=url)
    with pytest.raises(BrainError, match="HTTP 400.*messages"):
        client.complete([], timeout_s=10)
    req = urllib.request.Request(url + "/chat/completions", data=b'{"messages": [{"role": "user", "content": "x"}],'
                                 b' "max_tokens": 0}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 400 and "max_tokens" in err.value.read().decode()


def test_brain_over_the_api_returns_a_reply_record(server) -> None:
    url, _ = server
    brain = Brain(BrainConfig(backend="openai", base_url=url, model="micro-test", max_tokens=12, timeout_s=30))
    r = brain.ask("Hello!", "the user nodded once; engagement high; looking at you")
    assert not r.fallback and r.backend == "openai" and r.intent in {"greet", "listen", "agree", "ask", "encourage",
                                                                     "explain", "farewell"}
    assert set(r.public()) == {"reply", "intent"}
    brain.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_a_clear_error_or_a_fallback() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(BrainError, match="cannot reach the server.*brain serve"):
        OpenAIBackend(base_url=url).complete(build_messages("hi"), timeout_s=5)
    brain = Brain(BrainConfig(backend="openai", base_url=url, timeout_s=5, fallback_reply="Mm-hm.",
                              fallback_intent="listen"))
    r = brain.ask("hi")
    assert r.fallback and r.reply == "Mm-hm." and r.intent == "listen" and "time-out" in r.error
    with pytest.raises(BrainError):
        brain.ask("hi", fallback=False)
    brain.close()


def test_silent_server_times_out_and_submit_never_blocks() -> None:
    """A peer that accepts the connection and never answers (a hung server)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    conns: list[socket.socket] = []
    threading.Thread(target=lambda: [conns.append(lsock.accept()[0]) for _ in range(4)], daemon=True).start()
    url = f"http://127.0.0.1:{lsock.getsockname()[1]}/v1"
    try:
        with pytest.raises(BrainTimeout, match="within 0.5 s"):
            OpenAIBackend(base_url=url).complete(build_messages("hi"), timeout_s=0.5)
        brain = Brain(BrainConfig(backend="openai", base_url=url, timeout_s=0.5))
        t0 = time.monotonic()
        fut = brain.submit("Are you there?")
        assert time.monotonic() - t0 < 0.2  # the caller (the motion loop) does not wait
        r = fut.result(timeout=5)
        assert r.fallback and "time-out" in r.error
        brain.close()
    finally:
        lsock.close()
        for c in conns:
            c.close()


def test_embedded_backend_errors_name_the_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(BrainError, match=str(tmp_path)):
        EmbeddedBackend(checkpoint=tmp_path).load()
    bad = make_micro_checkpoint(tmp_path / "bad")
    (bad / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(BrainError, match="model.safetensors"):
        EmbeddedBackend(checkpoint=bad).load()


@pytest.mark.parametrize("raw,field", [({"backend": "gpt"}, "backend"), ({"timeout_s": 0}, "timeout_s"),
                                       ({"base_url": "ftp://x"}, "base_url"), ({"fallback_intent": "x"},
                                                                                "fallback_intent"),
                                       ({"colour": 1}, "colour")])
def test_brain_config_errors_name_the_field(raw: dict, field: str) -> None:
    with pytest.raises(BrainError, match=field):
        BrainConfig.from_dict(raw)
