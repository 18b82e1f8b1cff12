"""Questionnaire administration: validated terminal prompts, or a local web form on 127.0.0.1 (standard library
http.server only) that a participant fills in a browser. Both return {block_id: {item_id: value}}."""
from __future__ import annotations

import html
import sys
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

from experiments.errors import ExperimentError
from experiments.protocol import Item, QuestionnaireBlock

Answers = dict[str, dict[str, int]]


def item_prompt(block: QuestionnaireBlock, item: Item) -> str:
    lo, hi = block.scale
    if block.kind == "semantic_differential":
        return f"{item.left} {lo} ... {hi} {item.right}"
    a_lo, a_hi = block.anchors
    anchors = f" ({lo} = {a_lo}, {hi} = {a_hi})" if a_lo or a_hi else ""
    return f"{item.text} [{lo}-{hi}]{anchors}"


def parse_answer(block: QuestionnaireBlock, raw: str) -> int | None:
    """The integer answer if `raw` is a whole number on the block's scale, else None."""
    raw = raw.strip()
    lo, hi = block.scale
    if not raw.lstrip("-").isdigit():
        return None
    v = int(raw)
    return v if lo <= v <= hi else None


def ask_terminal(blocks: tuple[QuestionnaireBlock, ...], stdin: TextIO | None = None,
                 stdout: TextIO | None = None, max_attempts: int = 20) -> Answers:
    """Ask every item in the terminal, re-prompting until the answer is a whole number on the scale."""
    inp, out = stdin or sys.stdin, stdout or sys.stdout
    result: Answers = {}
    for block in blocks:
        out.write(f"\n== {block.title} ==\n")
        if block.instructions:
            out.write(block.instructions.strip() + "\n")
        result[block.id] = {}
        for item in block.items:
            for _ in range(max_attempts):
                out.write(item_prompt(block, item) + ": ")
                out.flush()
                line = inp.readline()
                if line == "":
                    raise ExperimentError("questionnaire input ended before every item was answered: answer all "
                                          "items (the trial stays awaiting its questionnaire and resumes there)")
                v = parse_answer(block, line)
                if v is not None:
                    result[block.id][item.id] = v
                    break
                out.write(f"  please type a whole number from {block.scale[0]} to {block.scale[1]}\n")
            else:
                raise ExperimentError(f"item '{item.id}': no valid answer after {max_attempts} attempts")
    return result


def render_form(blocks: tuple[QuestionnaireBlock, ...], title: str, errors: dict[str, str] | None = None,
                values: dict[str, str] | None = None) -> str:
    """The HTML form: one radio-button row per item, named BLOCK.ITEM."""
    errors, values = errors or {}, values or {}
    parts = [(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             "<style>body{font-family:sans-serif;max-width:800px;margin:auto}.err{color:#b00}"
             "fieldset{margin:1em 0}label{margin:0 .4em}</style></head><body>"),
             f"<h1>{html.escape(title)}</h1><form method='post' action='/submit'>"]
    if errors:
        parts.append(f"<p class='err' id='errors'>Please answer every item ({len(errors)} missing or invalid).</p>")
    for block in blocks:
        lo, hi = block.scale
        parts.append(f"<fieldset><legend>{html.escape(block.title)}</legend>")
        if block.instructions:
            parts.append(f"<p>{html.escape(block.instructions)}</p>")
        for item in block.items:
            name = f"{block.id}.{item.id}"
            left = item.left if block.kind == "semantic_differential" else block.anchors[0]
            right = item.right if block.kind == "semantic_differential" else block.anchors[1]
            text = "" if block.kind == "semantic_differential" else f"<div>{html.escape(item.text)}</div>"
            err = f" <span class='err'>{html.escape(errors[name])}</span>" if name in errors else ""
            radios = "".join(
                f"<label><input type='radio' name='{name}' value='{v}'"
                f"{' checked' if values.get(name) == str(v) else ''}>{v}</label>" for v in range(lo, hi + 1))
            parts.append(f"<p>{text}{html.escape(left)} {radios} {html.escape(right)}{err}</p>")
        parts.append("</fieldset>")
    parts.append("<button type='submit'>Submit</button></form></body></html>")
    return "".join(parts)


def validate_form(blocks: tuple[QuestionnaireBlock, ...], form: dict[str, str]) -> tuple[Answers, dict[str, str]]:
    """Answers from submitted fields, and an error per missing/invalid item."""
    answers: Answers = {}
    errors: dict[str, str] = {}
    for block in blocks:
        answers[block.id] = {}
        for item in block.items:
            name = f"{block.id}.{item.id}"
            v = parse_answer(block, form.get(name, ""))
            if v is None:
                errors[name] = f"choose {block.scale[0]}-{block.scale[1]}"
            else:
                answers[block.id][item.id] = v
    return answers, errors


class WebQuestionnaire:
    """A one-shot local web form on 127.0.0.1: serve the form until a complete, valid submission arrives."""

    def __init__(self, blocks: tuple[QuestionnaireBlock, ...], title: str = "Questionnaire", port: int = 0,
                 on_answers: Callable[[Answers], None] | None = None):
        self.blocks, self.title = blocks, title
        self.answers: Answers | None = None
        self._done = threading.Event()
        self._on_answers = on_answers
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep the participant's terminal clean
                pass

            def _send(self, code: int, body: str) -> None:
                data = body.encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if outer.answers is not None:
                    self._send(200, "<p id='done'>Thank you, your answers are saved.</p>")
                elif self.path in ("/", "/index.html"):
                    self._send(200, render_form(outer.blocks, outer.title))
                else:
                    self._send(404, "<p>not found</p>")

            def do_POST(self) -> None:
                if self.path != "/submit":
                    self._send(404, "<p>not found</p>")
                    return
                n = int(self.headers.get("Content-Length") or 0)
                if n > 1_000_000:
                    self._send(413, "<p>too large</p>")
                    return
                body = self.rfile.read(n).decode("utf-8", "replace")
                form = {k: v[-1] for k, v in urllib.parse.parse_qs(body).items()}
                answers, errors = validate_form(outer.blocks, form)
                if errors:
                    self._send(400, render_form(outer.blocks, outer.title, errors, form))
                    return
                if outer._on_answers is not None:
                    outer._on_answers(answers)  # saved before the participant sees "thank you"
                outer.answers = answers
                self._send(200, "<p id='done'>Thank you, your answers are saved.</p>")
                outer._done.set()

        try:
            self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise ExperimentError(f"cannot serve the questionnaire on 127.0.0.1:{port} ({exc.strerror}): "
                                  "pass --web-port with a free port") from None
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> WebQuestionnaire:
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> Answers | None:
        """Block until answers arrive (None on timeout), then stop serving."""
        self._done.wait(timeout)
        self.close()
        return self.answers

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
