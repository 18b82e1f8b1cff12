"""The `fep-motion` command: one module per subcommand, each exposing `register(subparsers)`.

Bad input surfaces as a one-line error naming the file/field and the fix, exit code 2, no traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines register(subparsers) and sets `func` on its parser; import is cheap (heavy imports inside func).
COMMAND_MODULES: tuple[str, ...] = (
    "fep_motion.cli.demo", "fep_motion.cli.live", "fep_motion.cli.run",   # sessions
    "fep_motion.cli.experiment",                                          # protocols, simulation, analysis
    "fep_motion.cli.agent", "fep_motion.cli.body", "fep_motion.cli.perceive", "fep_motion.cli.export",
    "fep_motion.cli.brain", "llm.cli", "llm.kernels.cli",                 # the LLM brain and its model
)

EXIT_USER_ERROR = 2


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for the user (printed on one line, exit 2)."""
    from perception.errors import PerceptionError
    from sampling.primitives.base import PrimitiveError

    types: list[type[BaseException]] = [PerceptionError, PrimitiveError, FileNotFoundError]
    for mod, name in (
        ("fep_motion.config", "ConfigError"),
        ("llm.errors", "LLMError"),
        ("experiments.errors", "ExperimentError"),
        ("fep_motion.errors", "FepMotionError"),
        ("fep_motion.body.errors", "BodyError"),
        ("fep_motion.store.errors", "StoreError"), ("fep_motion.session.errors", "SessionError"),
        ("fep_motion.policies.base", "PolicyError"),
    ):
        try:
            types.append(getattr(importlib.import_module(mod), name))
        except (ImportError, AttributeError):
            pass
    return tuple(types)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fep-motion",
        description="Free-energy-principle agent for human-agent interaction research.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        rc = args.func(args)
    except KeyboardInterrupt:
        print("fep-motion: interrupted", file=sys.stderr)
        return 130
    except user_error_types() as exc:  # one line, no traceback
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"fep-motion {args.command}: error: {msg}", file=sys.stderr)
        return EXIT_USER_ERROR
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
