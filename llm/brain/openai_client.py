"""A chat-completions client for any OpenAI-compatible server (vLLM, `transformers serve`, `fep-motion brain serve`),
standard library only (urllib). Non-streaming and streaming (server-sent events); every failure becomes a one-line
BrainError / BrainTimeout naming the server and the fix."""
from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from llm.brain.errors import BrainError, BrainTimeout


@dataclass
class OpenAIBackend:
    """POST {base_url}/chat/completions with `model`; `api_key` (or $OPENAI_API_KEY) goes in a Bearer header."""

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "fep-brain-small"
    api_key: str | None = None
    temperature: float = 0.0
    max_tokens: int = 96
    name: str = "openai"

    def _request(self, payload: dict[str, Any], timeout_s: float) -> Any:
        url = self.base_url.rstrip("/") + "/chat/completions"
        if not url.startswith(("http://", "https://")):
            raise BrainError(f"--base-url {self.base_url!r}: must start with http:// or https://")
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
        try:
            return urllib.request.urlopen(req, timeout=timeout_s)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")[:200].replace("\n", " ")
            raise BrainError(f"{url}: HTTP {exc.code} ({body}); check --model {self.model!r} and the server log") \
                from None
        except TimeoutError:
            raise BrainTimeout(f"{url}: no answer within {timeout_s:g} s; is the server overloaded? "
                               "raise --timeout") from None
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise BrainTimeout(f"{url}: no answer within {timeout_s:g} s; raise --timeout") from None
            raise BrainError(f"{url}: cannot reach the server ({reason}); start it (`fep-motion brain serve`) "
                             "or fix --base-url") from None

    def payload(self, messages: Sequence[dict[str, str]], stream: bool) -> dict[str, Any]:
        return {"model": self.model, "messages": list(messages), "temperature": self.temperature,
                "max_tokens": self.max_tokens, "stream": stream}

    def complete(self, messages: Sequence[dict[str, str]], timeout_s: float) -> str:
        """The assistant message text of one non-streaming completion."""
        resp = self._request(self.payload(messages, stream=False), timeout_s)
        try:
            with resp:
                raw = resp.read()
        except TimeoutError:
            raise BrainTimeout(f"{self.base_url}: reply not finished within {timeout_s:g} s; raise --timeout") \
                from None
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            raise BrainTimeout(f"{self.base_url}: the server went away mid-reply ({type(exc).__name__}); "
                               "restart it and ask again") from None
        try:
            obj = json.loads(raw)
            return str(obj["choices"][0]["message"]["content"] or "")
        except (ValueError, KeyError, IndexError, TypeError):
            raise BrainError(f"{self.base_url}: not a chat-completions answer ({raw[:120]!r}); is --base-url an "
                             "OpenAI-compatible /v1 endpoint?") from None

    def stream(self, messages: Sequence[dict[str, str]], timeout_s: float) -> Iterator[str]:
        """Yield content pieces of a streaming completion (SSE `data:` lines until `[DONE]`)."""
        resp = self._request(self.payload(messages, stream=True), timeout_s)
        try:
            with resp:
                for line in resp:
                    line = line.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        return
                    try:
                        delta = json.loads(data)["choices"][0].get("delta", {})
                    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                        raise BrainError(f"{self.base_url}: malformed stream chunk ({data[:80]!r})") from None
                    piece = delta.get("content")
                    if piece:
                        yield str(piece)
        except TimeoutError:
            raise BrainTimeout(f"{self.base_url}: stream stalled for {timeout_s:g} s; raise --timeout") from None
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            raise BrainTimeout(f"{self.base_url}: the server went away mid-reply ({type(exc).__name__}); "
                               "restart it and ask again") from None
        raise BrainTimeout(f"{self.base_url}: the stream ended without [DONE]; the server went away mid-reply")
