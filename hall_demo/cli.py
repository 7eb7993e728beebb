"""The ``motcua demo`` subcommand, contributed through the ``motcua.commands`` entry point."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo  # the daemons load only when the demo runs

    return run_demo(citizens=args.citizens, speed=args.speed, seed=args.seed, output=Path(args.output))


def register(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser("demo", help="run the whole hall on this box")
    sp.add_argument("--citizens", type=int, default=40)
    sp.add_argument("--speed", type=float, default=1.0, help="above 1 runs faster")
    sp.add_argument("--seed", type=int, default=7)
    sp.add_argument("--output", default="demo-output")
    sp.set_defaults(func=cmd_demo)
