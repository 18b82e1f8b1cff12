"""The session's conversation: utterances (scripted or typed) -> the brain, asynchronously -> replies + intents that
steer the agent's habits E / preferences C within bounds (docs/architecture.md §1).

The loop calls `poll(t, obs, belief)` once per tick: it submits due utterances with a perception summary built from
the latest observation and beliefs (`Brain.submit` returns at once; the loop never waits), stores the replies that
have landed since the last tick, and returns the steering shift in force now. Typed text arrives through `say`
(any thread); a recognised utterance through `hear` (the hearing stage), and it then goes to the brain exactly as a
typed line does. `finish` waits at most the brain's time-out for replies still out, after the motion loop has ended.
"""
from __future__ import annotations

import collections
import importlib
import json
import logging
import math
import queue
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yamlconf
from fep_motion.session.errors import SessionError, SettingError
from perception.types import Observation

log = logging.getLogger(__name__)

BRAIN_CHOICES: tuple[str, ...] = ("embedded", "openai", "off")
PARTICIPANT, AGENT = "participant", "agent"


@dataclass(frozen=True)
class ScriptLine:
    """One scripted utterance: said at session second `t`."""

    t: float
    text: str


def load_script(path: str | Path) -> list[ScriptLine]:
    """Read a `t_seconds<TAB>text` file (blank lines and `#` comments skipped), sorted by time.

    Errors are one line naming the file, the line and the fix (SessionError -> exit 2 at the CLI)."""
    p = Path(path)
    text = yamlconf.read_text(p, "utterance script (text lines 't_seconds<TAB>text')", SessionError)
    lines: list[ScriptLine] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        head, sep, utterance = raw.partition("\t")
        if not sep:
            raise SessionError(f"{p}:{n}: expected 't_seconds<TAB>text', found no tab; separate time and text "
                               "with one tab character")
        try:
            t = float(head.strip())
        except ValueError:
            raise SessionError(f"{p}:{n}: time {head.strip()!r} is not a number of seconds") from None
        if not math.isfinite(t) or t < 0:
            raise SessionError(f"{p}:{n}: time {head.strip()!r} must be a finite number of seconds >= 0")
        if not utterance.strip():
            raise SessionError(f"{p}:{n}: the utterance after the tab is empty; write what the participant says")
        lines.append(ScriptLine(t, utterance.strip()))
    return sorted(lines, key=lambda s: s.t)


def brain_config(backend: str, base_url: str | None = None, model: str | None = None,
                 timeout_s: float | None = None) -> Any:
    """The BrainConfig the session flags describe (`--brain`, `--base-url`, `--brain-model`, `--brain-timeout`)."""
    from llm.brain.config import BrainConfig
    from llm.brain.errors import BrainError

    raw: dict[str, Any] = {"backend": backend}
    if base_url is not None:
        raw["base_url"] = base_url
    if model is not None:
        raw["model"] = model
    if timeout_s is not None:
        raw["timeout_s"] = timeout_s
    try:
        return BrainConfig.from_dict(raw, where="session brain flags")
    except BrainError as exc:  # name the CLI flag rather than the config field
        msg = str(exc).replace("base_url:", "--base-url:").replace("timeout_s:", "--brain-timeout:")
        raise SessionError(msg) from None


def dialogue_from_options(utterances: str | None, brain: str | None, base_url: str | None = None,
                          model: str | None = None, timeout_s: float | None = None,
                          chat_box: bool = False, realtime: bool = True,
                          heard: bool = False) -> tuple[Dialogue | None, dict[str, Any]]:
    """The session's Dialogue from its options (None when the brain is off), and what to store in session_meta.

    `heard`: the script is spoken aloud and reaches the brain through speech recognition, so it is not also sent as
    text (the hearing stage hands the transcripts over).

    `brain` defaults to embedded when a script or a chat box is used, else off (the plain demo stays fast). A missing
    or malformed script is a SessionError, a bad option a SettingError naming it; an unreachable server is one warning
    line, not an error."""
    script = load_script(utterances) if utterances else []
    backend = brain or ("embedded" if (utterances or chat_box) else "off")
    if backend not in BRAIN_CHOICES:
        raise SettingError("brain", f"{backend!r}: use one of {', '.join(BRAIN_CHOICES)}")
    if backend == "off":
        if utterances:
            raise SettingError("utterances", "a script needs a brain to answer it, but brain is off; "
                                             "use embedded (the default) or openai")
        return None, {}
    from llm.brain.brain import Brain

    if backend == "embedded":
        # torch is imported here, on the session's main thread: the brain loads on a worker thread, and a half-imported
        # torch seen from the main thread (scipy's array-API checks look torch up in sys.modules) fails the render and
        # agent stages with "partially initialized module 'torch'".
        importlib.import_module("torch")
        if model is not None and not (Path(model) / "config.json").is_file():
            raise SettingError("brain_model", f"{model}: no checkpoint here (config.json missing); give a "
                               "checkpoint directory, or none for the shipped brain-small")
        cfg = replace(brain_config("embedded", timeout_s=timeout_s), checkpoint=model)
    else:
        cfg = brain_config("openai", base_url=base_url, model=model, timeout_s=timeout_s)
        warning = probe_server(cfg.base_url)
        if warning is not None:
            print(f"fep-motion: warning: {warning}", file=sys.stderr)
    d = Dialogue(Brain(cfg), [] if heard else script, virtual_time=not realtime)
    meta = {"backend": cfg.backend, "base_url": cfg.base_url if cfg.backend == "openai" else None,
            "model": cfg.model if cfg.backend == "openai" else (cfg.checkpoint or "llm/models/brain-small"),
            "timeout_s": cfg.timeout_s, "utterances_file": str(utterances) if utterances else None,
            "scripted_utterances": len(script), "script_heard": bool(heard and script),
            "chat_box": chat_box, "replies_awaited": not realtime,
            "steering_bounds": {"max_habit": d.steering.bounds.max_habit,
                                "max_preference": d.steering.bounds.max_preference,
                                "half_life_s": d.steering.bounds.half_life_s}}
    return d, meta


def probe_server(base_url: str, timeout_s: float = 1.0) -> str | None:
    """None when `{base_url}/models` answers; else a one-line warning (an unreachable server is not fatal)."""
    url = base_url.rstrip("/") + "/models"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            resp.read(1)
        return None
    except urllib.error.HTTPError:
        return None  # it answered: some servers have no /models route, which is no reason to warn
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return (f"brain server {base_url} not reachable ({reason}); the session runs on and replies fall back to "
                "'Mm-hm.' until it answers (start `fep-motion brain serve` or fix --base-url)")


@dataclass
class Turn:
    """One exchange: the participant's utterance, the perception summary sent with it, and (once landed) the reply."""

    t: float
    text: str
    summary: str
    source: str  # script | chat | speech
    reply: Any = None  # llm.brain.record.BrainReply
    t_reply: float | None = None


@dataclass
class ChatLine:
    """A line of the live window's chat: who said what, when."""

    t: float
    speaker: str  # participant | agent | system
    text: str
    heard: float | None = None  # recognised from speech: the transcript's confidence 0..1 (None: typed/scripted)


def _delta_key(k: Any) -> str:
    return ".".join(k) if isinstance(k, tuple) else str(k)


def shift_dict(shift: Any) -> dict[str, Any]:
    """An IntentShift as plain JSON values: {"intent", "habits": {class: Δ}, "preferences": {"modality.outcome": Δ}}."""
    return {"intent": shift.intent, "habits": {k: float(v) for k, v in shift.habits.items()},
            "preferences": {_delta_key(k): float(v) for k, v in shift.preferences.items()}}


class Dialogue:
    """Owns a session's Brain and SteeringState; turns utterances into stored replies and steering shifts."""

    def __init__(self, brain: Any, script: Sequence[ScriptLine] = (), bounds: Any = None,
                 chat_history: int = 8, virtual_time: bool = False) -> None:
        """`virtual_time`: the session clock is not the wall clock (`--fast`, offline `run`), so a reply is awaited
        (up to the brain's time-out) and lands on the tick its utterance was sent, which makes the run reproducible.
        In real time (default) nothing ever waits: replies land on the first tick after they arrive."""
        from llm.brain.steering import SteeringBounds, SteeringState

        self.brain = brain
        self.script = list(script)
        self.steering = SteeringState(bounds=bounds or SteeringBounds())
        self.turns: list[Turn] = []
        self.chat: collections.deque[ChatLine] = collections.deque(maxlen=chat_history)
        self._next = 0
        self._typed: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._heard: queue.SimpleQueue[tuple[str, float]] = queue.SimpleQueue()
        self._landed: queue.SimpleQueue[Turn] = queue.SimpleQueue()
        self._outstanding = 0
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._nods = 0
        self._writer: Any = None
        self.virtual_time = virtual_time

    # -- inputs ---------------------------------------------------------------------------------------------------
    def attach(self, writer: Any) -> None:
        """Store rows through this SessionWriter (the loop's; rows commit with its next tick)."""
        self._writer = writer

    def warm_up(self, wait_s: float = 0.0) -> None:
        """Load the embedded model on a background thread so the first reply is not slowed by it (never raises);
        wait up to `wait_s` for it (a session that hears speech waits, so the first spoken line gets a real reply)."""
        load = getattr(getattr(self.brain, "backend", None), "load", None)
        if load is None:
            return

        def work() -> None:
            try:
                load()
            except Exception as exc:  # noqa: BLE001 - the first reply reports the same failure as its fallback
                log.warning("brain warm-up failed: %s", exc)

        worker = threading.Thread(target=work, name="brain-warmup", daemon=True)
        worker.start()
        if wait_s > 0:
            worker.join(wait_s)

    def say(self, text: str) -> None:
        """Queue a typed utterance (from any thread); it is sent at the next tick with that tick's summary."""
        if text.strip():
            self._typed.put(text.strip())

    def hear(self, text: str, confidence: float) -> None:
        """Queue a recognised utterance (a Transcript's text and confidence); sent at the next tick like typed text."""
        if text.strip():
            self._heard.put((text.strip(), float(confidence)))

    # -- per tick -------------------------------------------------------------------------------------------------
    def poll(self, t: float, obs: Observation,
             belief: Callable[[], Mapping[str, Any] | None] | None = None) -> Any:
        """Submit due utterances, store landed replies, and return the steering shift in force at `t`.

        `belief` returns the agent's belief summary (a dict as BeliefSummary.to_dict gives); it is called only when
        an utterance goes out."""
        self._nods += sum(1 for e in obs.events if e.kind == "nod" and getattr(e, "complete", True))
        due: list[tuple[str, str, float | None]] = []
        while self._next < len(self.script) and self.script[self._next].t <= t:
            due.append((self.script[self._next].text, "script", None))
            self._next += 1
        while True:
            try:
                due.append((self._typed.get_nowait(), "chat", None))
            except queue.Empty:
                break
        while True:
            try:
                text, conf = self._heard.get_nowait()
            except queue.Empty:
                break
            due.append((text, "speech", conf))
        for text, src, conf in due:
            self._submit(t, text, src, self.summary(obs, belief() if belief is not None else None), conf)
        if due and self.virtual_time:
            self._await(self._timeout() + 1.0)
        while True:
            try:
                turn = self._landed.get_nowait()
            except queue.Empty:
                break
            self._apply(turn, t)
        return self.steering.current(t)

    def summary(self, obs: Observation, belief: Mapping[str, Any] | None) -> str:
        """The perception line for the brain: nods since the last utterance, P(engaged), gaze, still gesturing."""
        from llm.brain.perception_summary import summarize

        eng = float("nan")
        speaking = False
        if belief:
            eng = float(belief.get("engagement", {}).get("engaged", float("nan")))
            speaking = float(belief.get("activity", {}).get("gesturing", 0.0)) >= 0.5
        return summarize(self._nods, eng, obs.get("facing"), obs.get("head_pitch"), speaking)

    def _submit(self, t: float, text: str, source: str, summary: str, heard: float | None = None) -> None:
        turn = Turn(t=t, text=text, summary=summary, source=source)
        self._nods = 0
        self.turns.append(turn)
        self.chat.append(ChatLine(t, PARTICIPANT, text, heard))
        if self._writer is not None:
            self._writer.utterance(t, PARTICIPANT, text, "")
        with self._lock:
            self._outstanding += 1

        def landed(reply: Any) -> None:
            turn.reply = reply
            self._landed.put(turn)
            with self._lock:
                self._outstanding -= 1
                self._done.notify_all()

        self.brain.submit(text, summary, on_reply=landed)

    def _apply(self, turn: Turn, t: float) -> None:
        """A reply landed: show it, store it (utterances + brain_turns), steer from its intent."""
        from llm.brain.steering import intent_shift

        r = turn.reply
        turn.t_reply = t
        self.chat.append(ChatLine(t, AGENT, f"[{r.intent}] {r.reply}"))
        if r.fallback and r.error:
            self.chat.append(ChatLine(t, "system", r.error))
        self.steering.update(r.intent, t)
        shift = shift_dict(intent_shift(r.intent, 1.0, self.steering.bounds))
        if self._writer is not None:
            self._writer.utterance(t, AGENT, r.reply, r.intent)
            self._writer.brain_turn(turn.t, t, turn.text, turn.source, turn.summary, r.reply, r.intent,
                                    bool(r.intent_parsed), bool(r.fallback), r.error, r.backend, float(r.latency_s),
                                    shift["habits"], shift["preferences"])

    def _timeout(self) -> float:
        return float(getattr(getattr(self.brain, "cfg", None), "timeout_s", 10.0))

    def _await(self, timeout: float) -> int:
        """Wait until every submitted utterance has its reply (or `timeout` s); returns how many are still out."""
        with self._lock:
            self._done.wait_for(lambda: self._outstanding == 0, timeout=timeout)
            return self._outstanding

    def finish(self, t_end: float, wait_s: float | None = None) -> int:
        """After the loop: wait up to `wait_s` (default the brain's time-out + 1 s) for replies still out, store them
        at `t_end`; returns how many stayed unanswered (their utterances are stored, their replies never came)."""
        left = self._await(self._timeout() + 1.0 if wait_s is None else wait_s)
        while True:
            try:
                self._apply(self._landed.get_nowait(), t_end)
            except queue.Empty:
                break
        close = getattr(self.brain, "close", None)
        if close is not None:
            close()
        return left


def turn_lines(store: Any, session_id: int) -> list[str]:
    """Summary lines for `fep-motion demo`: each turn (utterance -> [intent] reply) and the shift it applied."""
    rows = store.conn.execute(
        "SELECT t, t_reply, utterance, reply, intent, fallback, error, habit_shift, preference_shift "
        "FROM brain_turns WHERE session_id = ? ORDER BY t_reply, id", (session_id,)).fetchall()
    if not rows:
        return []
    out = [(f"dialogue             {len(rows)} turns "
           f"({sum(1 for r in rows if r[5])} fallback replies); intent shifts E/C, fading with the half-life")]
    for t, tr, utt, reply, intent, fb, err, hs, ps in rows:
        out.append(f"  {t:6.1f}s  you: {utt}")
        out.append(f"  {tr:6.1f}s  agent [{intent}]: {reply}" + (f"  ({err})" if fb and err else ""))
        shifts = [f"E.{k} {v:+.2f}" for k, v in json.loads(hs).items()] + \
                 [f"C.{k} {v:+.2f}" for k, v in json.loads(ps).items()]
        out.append("           shift: " + (", ".join(shifts) or "none"))
    return out


__all__ = ["AGENT", "BRAIN_CHOICES", "PARTICIPANT", "ChatLine", "Dialogue", "ScriptLine", "Turn", "brain_config",
           "dialogue_from_options", "load_script", "probe_server", "shift_dict", "turn_lines"]

