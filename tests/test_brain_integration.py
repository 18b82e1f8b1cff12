"""Integration: real OpenAI-compatible servers on 127.0.0.1 (`fep-motion brain serve`, and `transformers serve` where
its extras are installed) driven by the brain client and the chat REPL; killing the server mid-conversation."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm.brain.errors import BrainTimeout
from llm.brain.openai_client import OpenAIBackend
from llm.brain.prompt import build_messages

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[1]
SHIPPED = REPO / "llm" / "models" / "brain-small"
CLI = [sys.executable, "-m", "cli"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    import urllib.request

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"server at {url} did not come up in {timeout} s")


def _serve(ckpt: Path, env_extra: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = _port()
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env_extra or {}))
    proc = subprocess.Popen(CLI + ["brain", "serve", "--port", str(port), "--checkpoint", str(ckpt),
                                   "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    _wait_http(url, proc)
    return proc, url


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def talker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.test_brain_client import make_micro_checkpoint

    return make_micro_checkpoint(tmp_path_factory.mktemp("talker"), never_stop=True)


def test_server_killed_mid_reply_gives_a_timeout_not_a_crash(talker: Path) -> None:
    proc, url = _serve(talker)
    try:
        client = OpenAIBackend(base_url=url, model="fep-brain-small", max_tokens=4000)
        it = client.stream(build_messages("Tell me a long story."), timeout_s=20)
        first = next(it)
        assert first
        _kill(proc)
        with pytest.raises(BrainTimeout, match="went away mid-reply|stream"):
            for _ in it:
                pass
    finally:
        _kill(proc)


def test_chat_repl_survives_a_killed_server(talker: Path) -> None:
    proc, url = _serve(talker)
    chat = subprocess.Popen(CLI + ["brain", "chat", "--backend", "openai", "--base-url", url, "--timeout", "20",
                                   "--max-tokens", "6"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        assert "brain chat" in chat.stdout.readline()
        chat.stdin.write("Hello!\n")
        chat.stdin.flush()
        line = chat.stdout.readline()
        assert line.startswith("you> agent [") and "time-out" not in line
        _kill(proc)
        chat.stdin.write("Are you still there?\n/quit\n")
        chat.stdin.flush()
        out, err = chat.communicate(timeout=60)
        assert "(brain time-out:" in out and "agent [listen]> Mm-hm." in out
        assert chat.returncode == 0 and "Traceback" not in err
    finally:
        _kill(proc)
        if chat.poll() is None:
            chat.kill()


def test_shipped_model_over_our_server_answers_the_kyoto_greeting() -> None:
    proc, url = _serve(SHIPPED)
    try:
        from llm.brain.brain import Brain
        from llm.brain.config import BrainConfig

        brain = Brain(BrainConfig(backend="openai", base_url=url, timeout_s=60))
        r = brain.ask("Hi! I just came back from a trip to Kyoto.")
        assert not r.fallback and r.intent_parsed and r.intent == "greet" and r.reply
        pieces = list(brain.stream("I'm nervous about my exam tomorrow."))
        assert len(pieces) > 1 and "".join(pieces).startswith("<intent>encourage</intent>")
        brain.close()
    finally:
        _kill(proc)


def test_transformers_serve_loads_our_checkpoint_and_the_client_talks_to_it(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    exe = shutil.which("transformers") or str(Path(sys.executable).parent / "transformers")
    if not Path(exe).exists():
        pytest.skip("the transformers CLI is not installed")
    port = _port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([exe, "serve", "--host", "127.0.0.1", "--port", str(port), str(SHIPPED)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_http(url, proc, timeout=120)
        client = OpenAIBackend(base_url=url, model=str(SHIPPED), max_tokens=40)
        text = client.complete(build_messages("Hi! I just came back from a trip to Kyoto."), timeout_s=120)
        assert text.strip()
    finally:
        _kill(proc)
