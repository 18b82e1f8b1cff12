"""The `fep-motion` command (docs/architecture.md §4): one module per subcommand, each exposing `register(subparsers)`.

The top layer: it wires experiments, fep_motion and llm together; nothing imports it. Building the parser imports
nothing heavy (no torch, numpy, MediaPipe, PyBullet, SciPy): handlers import what they need when they run.
Bad input surfaces as a one-line error naming the file/field and the fix, exit code 2, no traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines register(subparsers) and sets `func` on its parser; import is cheap (heavy imports inside func).
COMMAND_MODULES: tuple[str, ...] = (
    "cli.demo", "cli.live", "cli.run",                                # sessions
    "cli.experiment",                                                 # protocols, simulation, analysis
    "cli.agent", "cli.body", "cli.perceive", "cli.export", "cli.hearing",
    "cli.brain", "llm.cli", "cli.kernels",                        # the LLM brain and its model
)

EXIT_USER_ERROR = 2

# Session settings (fep_motion.session.errors.SettingError) as the flags or arguments that set them.
SETTING_FLAGS: dict[str, str] = {"source": "SOURCE", "store": "--store", "video": "--video"}


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for the user (printed on one line, exit 2)."""
    from perception.errors import PerceptionError
    from sampling.primitives.base import PrimitiveError

    types: list[type[BaseException]] = [PerceptionError, PrimitiveError, FileNotFoundError]
    for mod, name in (
        ("fep_motion.config", "ConfigError"),
        ("llm.errors", "LLMError"),
        ("experiments.errors", "ExperimentError"),
        ("fep_motion.body.errors", "BodyError"),
        ("fep_motion.store.errors", "StoreError"), ("fep_motion.session.errors", "SessionError"),
        ("fep_motion.policies.base", "PolicyError"),
    ):
        try:
            types.append(getattr(importlib.import_module(mod), name))
        except (ImportError, AttributeError):
            pass
    return tuple(types)


def flag_for(setting: str) -> str:
    """The command-line spelling of a session setting: max_frames -> --max-frames, source -> SOURCE."""
    return SETTING_FLAGS.get(setting, "--" + setting.replace("_", "-"))


def user_message(exc: BaseException) -> str:
    """The one line printed for a user error; a session setting is named as the flag that sets it."""
    from fep_motion.session.errors import SettingError

    if isinstance(exc, SettingError):
        return f"{flag_for(exc.setting)}: {exc.detail.strip().splitlines()[0]}"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def build_parser() -> argparse.ArgumentParser:
    """The whole `fep-motion` parser, every subcommand registered; imports no numerical library."""
    parser = argparse.ArgumentParser(
        prog="fep-motion",
        description="Free-energy-principle agent for human-agent interaction research.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _register_layer_tables() -> None:
    """Make every layer's study-database tables known before a command opens a database (docs/architecture.md §4)."""
    import experiments.schema  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        _register_layer_tables()
        rc = args.func(args)
    except KeyboardInterrupt:
        print("fep-motion: interrupted", file=sys.stderr)
        return 130
    except user_error_types() as exc:  # one line, no traceback
        print(f"fep-motion {args.command}: error: {user_message(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
