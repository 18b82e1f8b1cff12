"""`fep-motion brain serve` under load (bench/brain_load.py, as a user runs it): 16 concurrent clients for 60 s on
127.0.0.1 with valid, streamed, abandoned, malformed, mistyped, incomplete, oversized and too-long requests. Every
request gets a reply or a 4xx JSON error, the server stays up, its memory levels off, and by default it listens on
127.0.0.1 only. Replies are not compared (the shipped checkpoint may be retrained)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
pytestmark = pytest.mark.integration
MALFORMED = ("bad_json", "wrong_types", "missing_fields", "too_long", "bad_route", "bad_length", "huge_body")


@pytest.fixture(scope="module")
def load(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("load") / "report.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(REPO / "bench" / "brain_load.py"), "--clients", "16", "--seconds", "60",
                        "--peer-seconds", "5", "--seed", "0", "--json", str(out)],
                       capture_output=True, text=True, timeout=600, env=env, check=False)
    assert out.exists(), r.stdout[-3000:] + r.stderr[-3000:]
    report = json.loads(out.read_text())
    report["rc"], report["stdout"] = r.returncode, r.stdout
    return report


def test_default_bind_is_loopback_only(load: dict) -> None:
    assert load["listen"] == ["127.0.0.1"]


def test_every_request_gets_a_reply_or_a_4xx_json_error(load: dict) -> None:
    kinds = load["load"]["kinds"]
    assert load["load"]["failures"] == 0, {k: v["failures"] for k, v in kinds.items() if v["failures"]}
    assert set(kinds) >= {"chat", "stream", "disconnect", *MALFORMED}  # every kind was sent
    assert all(kinds[k]["n"] == kinds[k]["ok"] for k in kinds)
    assert all(400 <= s < 500 for k in MALFORMED for s in kinds[k]["statuses"])
    assert kinds["chat"]["statuses"] == kinds["stream"]["statuses"] == [200]
    assert load["load"]["valid_replies"] > 16 and load["rc"] == 0


def test_server_stays_up_and_its_memory_levels_off(load: dict) -> None:
    assert load["server_alive"] and load["health_after"] == 200 and load["chat_after"]
    rss = [m for _, m in load["rss"]]
    assert len(rss) >= 50  # sampled every second for the 60 s
    half = rss[len(rss) // 2]
    assert rss[-1] - half <= 20, rss  # MB over the second half: flat, not climbing with each request
    assert "Traceback" not in load["server_output"], load["server_output"]
