"""`fep-motion brain ask|chat|serve|data|train|eval|rl|rl-compare`: the LLM brain from the terminal.

`ask` and `chat` talk to the embedded model (default, offline) or any OpenAI-compatible server (`--backend openai
--base-url URL --model NAME`); `serve` puts the embedded model behind the same API on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import json


def _backend_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("embedded", "openai"), default=None,
                   help="embedded: our checkpoint in-process (default); openai: a chat-completions server")
    p.add_argument("--base-url", default=None, help="server URL for --backend openai (default http://127.0.0.1:8000/v1)")
    p.add_argument("--model", default=None, help="model name sent to the server (default fep-brain-small)")
    p.add_argument("--checkpoint", default=None, help="embedded checkpoint dir (default: the shipped brain-small)")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a reply becomes the fallback (10)")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature (0 = greedy, default)")
    p.add_argument("--max-tokens", type=int, default=None, help="reply length cap in tokens (96)")
    p.add_argument("--config", default=None, help="brain YAML (BrainConfig fields); flags override it")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("brain", help="talk to, serve, train or evaluate the LLM brain",
                              description="The LLM brain: utterance + perception summary -> reply + intent.")
    sub = p.add_subparsers(dest="brain_command", metavar="ACTION")

    a = sub.add_parser("ask", help="one utterance -> reply and intent",
                       description="Ask the brain once. Exit 2 with a one-line message if the backend fails.")
    a.add_argument("text", help="what the user says")
    a.add_argument("--context", default="", help="perception summary, e.g. 'the user nodded twice; engagement high'")
    a.add_argument("--json", action="store_true", help='print {"reply": ..., "intent": ...}')
    _backend_flags(a)
    a.set_defaults(func=_ask)

    c = sub.add_parser("chat", help="a terminal REPL (/context TEXT sets the perception summary, /quit ends)",
                       description="Chat with the brain; a time-out or a dead server prints a message and the "
                                   "conversation goes on.")
    c.add_argument("--context", default="", help="initial perception summary")
    _backend_flags(c)
    c.set_defaults(func=_chat)

    s = sub.add_parser("serve", help="serve the embedded model over the OpenAI chat-completions API",
                       description="OpenAI-compatible server (GET /v1/models, POST /v1/chat/completions with "
                                   "streaming) on 127.0.0.1: our embedded engine (standard library only), or vLLM 0.32 "
                                   "with our MiniMax plugin in its own venv (created on first use).")
    s.add_argument("--engine", choices=("embedded", "vllm"), default="embedded",
                   help="embedded: our model in-process (default); vllm: vLLM + llm.vllm_plugin (CPU or CUDA)")
    s.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    s.add_argument("--checkpoint", "--model", dest="checkpoint", default=None,
                   help="checkpoint dir in the MiniMax HF layout (default: the shipped brain-small)")
    s.add_argument("--venv", default=None, help="--engine vllm: its venv (default $FEP_MOTION_VLLM_VENV or .venv-vllm)")
    s.add_argument("--tensor-parallel-size", type=int, default=1, help="--engine vllm: tensor-parallel ranks")
    s.add_argument("--model-name", default="fep-brain-small", help="model id reported by /v1/models")
    s.add_argument("--threads", type=int, default=None, help="CPU threads for generation")
    s.set_defaults(func=_serve)

    d = sub.add_parser("data", help="build the training corpus, synthetic and dialogue (train.jsonl + heldout.jsonl)")
    d.add_argument("--out", required=True, help="output directory")
    d.add_argument("--config", default=None, help="corpus YAML (CorpusConfig fields)")
    d.set_defaults(func=_data)

    t = sub.add_parser("train", help="train the brain (corpus, tokenizer, model, held-out metrics)",
                       description="Train into --out; resumable. CPU works with a micro config; the shipped model "
                                   "was trained on one H200 with llm/brain/train_brain*.yaml (three stages).")
    t.add_argument("--out", required=True, help="run directory")
    t.add_argument("--config", default=None, help="train YAML (default llm/brain/train_brain.yaml)")
    t.add_argument("--device", default="cpu", help="cpu or cuda")
    t.add_argument("--resume", action="store_true", help="continue from OUT/train_state.pt")
    t.set_defaults(func=_train)

    e = sub.add_parser("eval", help="held-out scores of a checkpoint: synthetic verifiers (format, intent, "
                       "reasoning) or real dialogue (--task dialogue)")
    e.add_argument("--task", choices=("verifiers", "dialogue"), default="verifiers",
                   help="verifiers: synthetic pass rates; dialogue: held-out bits per byte, context ranking R@1/10 "
                        "and intent accuracy on hand-written utterances")
    e.add_argument("--pairs", type=int, default=500, help="--task dialogue: held-out reply pairs for bits per byte")
    e.add_argument("--ranking", type=int, default=200, help="--task dialogue: replies ranked against 10 contexts")
    e.add_argument("--intent-set", default=None,
                   help="--task dialogue: hand-written JSONL {utterance, intent} "
                        "(default tests/data/intent_natural.jsonl)")
    e.add_argument("--checkpoint", default=None, help="checkpoint dir (default: the shipped brain-small)")
    e.add_argument("--per-difficulty", type=int, default=30, help="held-out examples per task and difficulty")
    e.add_argument("--seed", type=int, default=0, help="corpus seed (held-out stream)")
    e.add_argument("--tasks", default="interaction,game24,word_sort,object_count",
                   help="comma-separated tasks to evaluate")
    e.add_argument("--thinking-budget", type=int, default=None,
                   help="cap <think> tokens (llm.generate forces </think> when spent); default: no cap")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.set_defaults(func=_eval)
    from llm.rl.cli import add_compare_arguments, add_rl_arguments

    r = sub.add_parser("rl", help="reinforcement learning on verifiable tasks (CISPO or GRPO) from a checkpoint",
                       description="Group rollouts on the reasoning tasks, rule-verified rewards, CISPO (MiniMax-M1) "
                                   "or GRPO updates; writes a checkpoint, rewards.csv, heldout.csv, reward.png and "
                                   "metrics.json. CPU works with a micro checkpoint; the shipped brain was trained on "
                                   "one H200 with llm/rl/rl_brain.yaml.")
    add_rl_arguments(r)
    r.set_defaults(func=_rl)
    rc = sub.add_parser("rl-compare", help="CISPO vs GRPO over seeds: compare.png and the step at which CISPO "
                        "reaches GRPO's final reward")
    add_compare_arguments(rc)
    rc.set_defaults(func=_rl_compare)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def load_brain_config(path: str):  # -> BrainConfig
    """BrainConfig.load: the typed loader reports a missing, unreadable or invalid file on one line (BrainError)."""
    from llm.brain.config import BrainConfig

    return BrainConfig.load(path)


def _brain_config(args: argparse.Namespace):  # -> BrainConfig
    import dataclasses

    from llm.brain.config import BrainConfig

    cfg = load_brain_config(args.config) if args.config else BrainConfig()
    over = {"backend": args.backend, "base_url": args.base_url, "model": args.model, "checkpoint": args.checkpoint,
            "timeout_s": args.timeout, "temperature": args.temperature, "max_tokens": args.max_tokens}
    cfg = dataclasses.replace(cfg, **{k: v for k, v in over.items() if v is not None})
    return cfg.validate("command line")


def _ask(args: argparse.Namespace) -> int:
    from llm.brain.brain import Brain

    brain = Brain(_brain_config(args))
    r = brain.ask(args.text, args.context, fallback=False)
    brain.close()
    if args.json:
        print(json.dumps(r.public()))
    else:
        print(f"[{r.intent}] {r.reply}")
    return 0


def _chat(args: argparse.Namespace) -> int:
    from llm.brain.brain import Brain

    brain = Brain(_brain_config(args))
    context = args.context
    print(f"brain chat ({brain.cfg.backend}); /context TEXT sets the perception summary, /quit ends", flush=True)
    while True:
        try:
            line = input("you> ")
        except EOFError:
            break
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line.startswith("/context"):
            context = line[len("/context"):].strip()
            print(f"(perception: {context or 'none'})", flush=True)
            continue
        r = brain.ask(line, context, fallback=True)
        if r.fallback:
            print(f"({r.error})", flush=True)
        print(f"agent [{r.intent}]> {r.reply}", flush=True)
    brain.close()
    return 0


MALLOC_ARENAS = 2


def _bound_malloc_arenas() -> None:
    """Cap glibc's malloc arenas: the server runs each request on a new thread, and with the default (8 per core)
    every arena grew its own heap to a generation's working set (measured with bench/brain_load.py: +170 MB over
    60 s of 16 clients, flat with 2 arenas at the same throughput). No-op where libc has no mallopt."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(-8, MALLOC_ARENAS)  # M_ARENA_MAX
    except OSError:
        pass


def _serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from llm.brain.embedded import DEFAULT_CHECKPOINT, EmbeddedBackend
    from llm.brain.server import make_server

    if args.engine == "vllm":  # the launcher serves until Ctrl-C, waits for /health, stops the process group
        from llm.vllm_plugin.launch import main as vllm_main

        argv = ["--model", str(args.checkpoint or DEFAULT_CHECKPOINT), "--host", args.host, "--port", str(args.port),
                "--served-model-name", args.model_name, "--tensor-parallel-size", str(args.tensor_parallel_size)]
        return vllm_main(argv + (["--venv", args.venv] if args.venv else []))
    _bound_malloc_arenas()
    backend = EmbeddedBackend(checkpoint=Path(args.checkpoint) if args.checkpoint else DEFAULT_CHECKPOINT,
                              threads=args.threads)
    backend.load()  # fail now (exit 2) on a missing checkpoint, not at the first request
    srv = make_server(backend, args.host, args.port, args.model_name)
    host, port = srv.server_address[:2]
    print(f"serving {args.model_name} on http://{host}:{port}/v1 (Ctrl-C stops)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


def _data(args: argparse.Namespace) -> int:
    from llm.data.config import CorpusConfig
    from llm.data.corpus import build

    cfg = CorpusConfig.load(args.config) if args.config else CorpusConfig()
    train, held = build(cfg, args.out)
    print(f"wrote {train} and {held}")
    return 0


def _rl(args: argparse.Namespace) -> int:
    from llm.rl.cli import rl_command

    return rl_command(args)


def _rl_compare(args: argparse.Namespace) -> int:
    from llm.rl.cli import compare_command

    return compare_command(args)


def _train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from llm import train

    path = args.config or str(Path(train.__file__).parent / "brain" / "train_brain.yaml")
    m = train.run(train.TrainConfig.load(path), args.out, args.device, args.resume)
    print(json.dumps(m["summary"]))
    return 0


def _eval(args: argparse.Namespace) -> int:
    if args.task == "dialogue":
        return _eval_dialogue(args)
    from pathlib import Path

    from llm.brain.embedded import DEFAULT_CHECKPOINT, EmbeddedBackend
    from llm.brain.errors import BrainError
    from llm.data.config import CorpusConfig
    from llm.data.corpus import generate_heldout
    from llm.data.registry import TASKS
    from llm.train import evaluate, model_responder

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise BrainError(f"--tasks: unknown task {unknown[0] if unknown else '(none)'}; use {', '.join(TASKS)}")
    if args.per_difficulty < 1:
        raise BrainError("--per-difficulty: must be >= 1")
    backend = EmbeddedBackend(checkpoint=Path(args.checkpoint) if args.checkpoint else DEFAULT_CHECKPOINT)
    cfg = CorpusConfig(seed=args.seed, heldout_per_difficulty=args.per_difficulty, train={t: 0 for t in tasks})
    held = generate_heldout(cfg)
    if args.thinking_budget is None:
        respond = model_responder(backend.model, backend.tokenizer, 112, False)
    else:
        respond = _budget_responder(backend, args.thinking_budget)
    m = evaluate(respond, held, batch_size=60)
    if args.json:
        print(json.dumps({"summary": m["summary"], "per_task_difficulty": m["per_task_difficulty"]}, indent=1))
    else:
        print(f"{'task/difficulty':<20}{'n':>5}{'format':>9}{'correct':>9}")
        for k, v in m["per_task_difficulty"].items():
            print(f"{k:<20}{v['n']:>5}{v['format']:>9.1%}{v['correct']:>9.1%}")
        for k, v in m["summary"].items():
            print(f"{k}: {v:.1%}")
    return 0


def _eval_dialogue(args: argparse.Namespace) -> int:
    """Held-out dialogue scores of a checkpoint (llm.brain.dialogue_eval), as a table or JSON."""
    from pathlib import Path

    from llm.brain.dialogue_eval import INTENT_SET, evaluate_dialogue
    from llm.brain.embedded import DEFAULT_CHECKPOINT, EmbeddedBackend
    from llm.brain.errors import BrainError

    if args.pairs < 1 or args.ranking < 1:
        raise BrainError("--pairs and --ranking: must be >= 1")
    intent_set = Path(args.intent_set) if args.intent_set else INTENT_SET
    if not intent_set.is_file():
        raise BrainError(f"{intent_set}: intent test set not found; pass --intent-set FILE.jsonl")
    backend = EmbeddedBackend(checkpoint=Path(args.checkpoint) if args.checkpoint else DEFAULT_CHECKPOINT)
    s = evaluate_dialogue(backend.model, backend.tokenizer, bpb_pairs=args.pairs, ranking=args.ranking,
                          seed=args.seed, intent_set=intent_set)
    if args.json:
        print(json.dumps(s.to_json(), indent=1))
        return 0
    print(f"checkpoint: {backend.checkpoint}")
    print(f"held-out bits per byte of human replies: {s.bits_per_byte:.3f}  ({s.bpb_pairs} pairs)")
    print(f"context ranking R@1/{s.candidates}: {s.recall_at_1:.3f}  ({s.ranking_items} replies of >= 4 words; "
          f"chance {1 / s.candidates:.2f})")
    print(f"intent accuracy ({intent_set.name}, {s.intent_items} utterances): {s.intent_accuracy:.3f}")
    print("  per intent: " + ", ".join(f"{k} {v:.2f}" for k, v in s.intent_per_class.items()))
    return 0


def _budget_responder(backend, budget: int):  # -> Callable[[list[Example]], list[str]]
    """Batched generation through llm.generate with a thinking budget (the path `brain ask` uses)."""
    from llm.brain.embedded import STOP
    from llm.generate import GenerationConfig, generate
    from llm.train import render_prompt

    cfg = GenerationConfig(max_new_tokens=112, temperature=0.0, stop=STOP, eos_token_id=backend.tokenizer.eos_id,
                           thinking_budget=budget)

    def respond(batch):
        return [g.text for g in generate(backend.model, backend.tokenizer, [render_prompt(ex) for ex in batch], cfg)]
    return respond
