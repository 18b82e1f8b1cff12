"""`fep-motion policies` (list selectable policies) and `fep-motion agent config` (show / validate agent YAML)."""
from __future__ import annotations

import argparse


def _policies(args: argparse.Namespace) -> int:
    from fep_motion.policies.registry import BUILTIN_POLICIES, available_policies, describe_policy

    for name, target in sorted(available_policies().items()):
        origin = "built-in" if name in BUILTIN_POLICIES else "entry point"
        print(f"{name:12s} {origin:12s} {target}")
        if args.verbose:
            print(f"{'':12s} {describe_policy(name)}")
    return 0


def _config(args: argparse.Namespace) -> int:
    from fep_motion.config import dump_config
    from fep_motion.model.config import default_agent_config_path, load_agent_config

    cfg = load_agent_config(args.config)
    if args.show:
        print(dump_config(cfg), end="")
    else:
        print(f"{args.config or default_agent_config_path()}: ok (K={cfg.num_candidates}, horizon={cfg.horizon}, "
              f"gamma={cfg.gamma}, novelty={'on' if cfg.novelty else 'off'})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("policies", help="list the selectable motion policies (built-in and entry points)",
                              description="List every policy selectable by name: built-ins and third-party "
                                          "packages registered under the entry-point group fep_motion.policies.")
    p.add_argument("-v", "--verbose", action="store_true", help="also print each policy's one-line description")
    p.set_defaults(func=_policies)

    a = subparsers.add_parser("agent", help="the FEP agent's configuration",
                              description="Inspect and validate the FEP agent's YAML configuration.")
    asub = a.add_subparsers(dest="agent_command", metavar="ACTION", required=True)
    c = asub.add_parser("config", help="validate an agent YAML (default: the shipped agent.yaml); --show prints it",
                        description="Validate an agent config; errors name the field. Without --config, the shipped "
                                    "default fep_motion/agent.yaml.")
    c.add_argument("--config", metavar="YAML", default=None, help="agent config file (default: shipped agent.yaml)")
    c.add_argument("--show", action="store_true", help="print the resolved configuration as YAML")
    c.set_defaults(func=_config)
