"""Questionnaires: validated terminal prompts and the local web form, exercised with a real HTTP client."""
from __future__ import annotations

import io
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from experiments.errors import ExperimentError
from experiments.protocol import load_protocol
from experiments.questionnaire import WebQuestionnaire, ask_terminal

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = load_protocol(ROOT / "examples/protocols/horibe2022_two_conditions.yaml").questionnaires


def test_terminal_reprompts_until_valid() -> None:
    n = sum(len(b.items) for b in BLOCKS)
    answers = ["9", "abc", "", "5"] + ["3"] * (n - 1)  # 9 off-scale, abc not a number, blank -> re-prompt
    out = io.StringIO()
    got = ask_terminal(BLOCKS, stdin=io.StringIO("\n".join(answers) + "\n"), stdout=out)
    assert got["interaction"]["felt_interacting"] == 5
    assert got["animacy"]["dead_alive"] == 3
    assert out.getvalue().count("please type a whole number from 1 to 7") == 3
    assert "Dead 1 ... 5 Alive" in out.getvalue()


def test_terminal_eof_is_a_user_error() -> None:
    with pytest.raises(ExperimentError, match="input ended"):
        ask_terminal(BLOCKS, stdin=io.StringIO("4\n"), stdout=io.StringIO())


def test_web_form_over_http() -> None:
    saved = []
    web = WebQuestionnaire(BLOCKS, title="Q", on_answers=saved.append).start()
    assert web.url.startswith("http://127.0.0.1:")
    page = urllib.request.urlopen(web.url, timeout=5).read().decode()
    assert page.count("type='radio'") == 4 * 7 + 6 * 5 and "I felt that I was interacting" in page
    partial = {"interaction.felt_interacting": "6"}
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(web.url + "submit", urllib.parse.urlencode(partial).encode(), timeout=5)
    assert info.value.code == 400 and "id='errors'" in info.value.read().decode()
    assert saved == []
    full = {f"{b.id}.{i.id}": str(b.scale[1]) for b in BLOCKS for i in b.items}
    full["animacy.dead_alive"] = "2"
    done = threading.Event()
    result = {}

    def wait() -> None:
        result["a"] = web.wait(10)
        done.set()

    threading.Thread(target=wait).start()
    body = urllib.request.urlopen(web.url + "submit", urllib.parse.urlencode(full).encode(), timeout=5).read()
    assert b"Thank you" in body
    assert done.wait(10)
    assert result["a"]["animacy"]["dead_alive"] == 2 and result["a"]["interaction"]["moved_regardless"] == 7
    assert saved == [result["a"]]


def test_web_form_rejects_off_scale_values() -> None:
    web = WebQuestionnaire(BLOCKS).start()
    try:
        bad = {f"{b.id}.{i.id}": "6" for b in BLOCKS for i in b.items}  # 6 is off the 1-5 animacy scale
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(web.url + "submit", urllib.parse.urlencode(bad).encode(), timeout=5)
        assert info.value.code == 400 and "choose 1-5" in info.value.read().decode()
    finally:
        web.close()
