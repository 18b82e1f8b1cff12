"""`fep-motion brain serve`: the embedded model over the OpenAI chat-completions API (standard library http.server).

Routes: GET /v1/models, GET /health, POST /v1/chat/completions (JSON, or server-sent events with "stream": true).
Binds 127.0.0.1 by default; one generation at a time (the backend's lock), any number of connections.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from llm.brain.errors import BrainError

MAX_BODY_BYTES = 1 << 20  # a chat request is a few KB; anything near this is an error, not a prompt


def _prompt_too_long(backend: Any, msgs: list[dict[str, str]]) -> str | None:
    """Why the prompt cannot fit the model's context window, or None (backends without a tokenizer: None)."""
    tok, model, prompt = getattr(backend, "tokenizer", None), getattr(backend, "model", None), \
        getattr(backend, "prompt", None)
    ctx = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if tok is None or prompt is None or not isinstance(ctx, int):
        return None
    n = len(tok.encode(prompt(msgs)))
    if n > ctx:
        return f"the prompt is {n} tokens, past the model's context of {ctx} tokens; shorten the messages"
    return None


def _validate(body: Any) -> tuple[list[dict[str, str]], int | None, float | None, bool]:
    """(messages, max_tokens, temperature, stream) from a request body, or BrainError naming the bad field."""
    if not isinstance(body, dict):
        raise BrainError("request body must be a JSON object")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise BrainError("'messages' must be a non-empty list of {role, content}")
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise BrainError(f"messages[{i}].role must be system, user or assistant")
        content = m.get("content")
        if isinstance(content, list):  # OpenAI content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise BrainError(f"messages[{i}].content must be a string")
        out.append({"role": m["role"], "content": content})
    mt = body.get("max_completion_tokens", body.get("max_tokens"))
    if mt is not None and (not isinstance(mt, int) or isinstance(mt, bool) or not 1 <= mt <= 4096):
        raise BrainError("'max_tokens' must be a whole number in [1, 4096]")
    t = body.get("temperature")
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 2):
        raise BrainError("'temperature' must be a number in [0, 2]")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BrainError("'stream' must be true or false")
    return out, mt, (float(t) if t is not None else None), stream


def make_handler(backend: Any, model_name: str) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one backend (EmbeddedBackend or anything with complete/stream)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fep-motion-brain/0.1"

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet by default; the CLI prints one line per start
            pass

        def _json(self, code: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, code: int, msg: str) -> None:
            self._json(code, {"error": {"message": msg, "type": "invalid_request_error", "code": code}})

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._json(200, {"object": "list", "data": [{"id": model_name, "object": "model",
                                                             "created": 0, "owned_by": "fep-motion"}]})
            elif self.path.rstrip("/") == "/health":
                self._json(200, {"status": "ok"})
            else:
                self._error(404, f"no route {self.path}; use /v1/chat/completions or /v1/models")

        def do_POST(self) -> None:
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._error(404, f"no route {self.path}; use /v1/chat/completions")
                return
            try:
                n = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                self._error(400, "Content-Length must be a whole number of bytes")
                return
            if not 0 <= n <= MAX_BODY_BYTES:
                self.close_connection = True
                left = n if MAX_BODY_BYTES < n <= 16 * MAX_BODY_BYTES else 0  # drained: the client reads the answer
                while left > 0:
                    chunk = self.rfile.read(min(65536, left))
                    if not chunk:
                        break
                    left -= len(chunk)
                self._error(413 if n > 0 else 400, f"Content-Length must be in [0, {MAX_BODY_BYTES}], got {n}")
                return
            try:
                body = json.loads(self.rfile.read(n) or b"null")
                msgs, mt, temp, stream = _validate(body)
                too_long = _prompt_too_long(backend, msgs)
            except (ValueError, RecursionError, BrainError) as exc:
                self._error(400, str(exc) if not isinstance(exc, RecursionError) else "JSON nested too deeply")
                return
            if too_long:
                self._error(400, too_long)
                return
            cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
            try:
                if stream:
                    self._stream(msgs, mt, temp, cid, created)
                else:
                    text = backend.complete(msgs, 0.0, max_tokens=mt, temperature=temp)
                    self._json(200, {"id": cid, "object": "chat.completion", "created": created, "model": model_name,
                                     "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                                  "finish_reason": "stop"}],
                                     "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})
            except BrainError as exc:
                self._error(500, str(exc))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away; nothing to answer
            except Exception as exc:  # noqa: BLE001 - one failed generation must not drop the connection unanswered
                self.close_connection = True
                if not stream:  # a stream has already sent its 200: closing it is the answer
                    try:
                        self._error(500, f"generation failed: {type(exc).__name__}: {exc}")
                    except OSError:
                        pass

        def _chunk(self, cid: str, created: int, delta: dict[str, str], finish: str | None) -> None:
            obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model_name,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self._sse(json.dumps(obj))

        def _sse(self, data: str) -> None:
            payload = f"data: {data}\n\n".encode()
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            self.wfile.flush()

        def _stream(self, msgs: list[dict[str, str]], mt: int | None, temp: float | None, cid: str,
                    created: int) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._chunk(cid, created, {"role": "assistant"}, None)
            for piece in backend.stream(msgs, 0.0, max_tokens=mt, temperature=temp):
                self._chunk(cid, created, {"content": piece}, None)
            self._chunk(cid, created, {}, "stop")
            self._sse("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler


def make_server(backend: Any, host: str = "127.0.0.1", port: int = 8000,
                model_name: str = "fep-brain-small") -> ThreadingHTTPServer:
    """A bound (not yet serving) server; port 0 picks a free port (read it from server.server_address)."""
    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # listen backlog: the default 5 overflowed (connection resets) with 16 clients

    try:
        srv = Server((host, port), make_handler(backend, model_name))
    except OSError as exc:
        raise BrainError(f"{host}:{port}: cannot listen ({exc.strerror or exc}); pick another --port") from None
    srv.daemon_threads = True
    return srv


def serve_in_thread(srv: ThreadingHTTPServer) -> threading.Thread:
    """Run `srv.serve_forever` in a daemon thread (tests, embedding in other programs)."""
    t = threading.Thread(target=srv.serve_forever, name="brain-server", daemon=True)
    t.start()
    return t
