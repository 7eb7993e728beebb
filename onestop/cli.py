"""The one-stop adapter's subcommands of ``motcua``:

    motcua onestop outbox [--config FILE]    rating pushes: pending, pushed, rejected (with the reasons)
    motcua onestop retry [--config FILE]     push the rejected ratings again (after fixing the mapping)

They read the adapter's state file named in its settings (``/etc/motcua/onestop.toml`` by default).
"""

from __future__ import annotations

import argparse


def _state(args: argparse.Namespace):
    from motcua.settings import load_settings

    from .config import OneStopSettings
    from .state import State

    return State(load_settings(OneStopSettings, "onestop", args.config).state)


def cmd_outbox(args: argparse.Namespace) -> int:
    state = _state(args)
    try:
        counts = state.counts()
        print("rating pushes: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
        for row in state.db.execute("SELECT site, rating_id, state, attempts, last_error FROM pushes "
                                    "WHERE state != 'pushed' ORDER BY received_at LIMIT ?", (args.limit,)):
            print(f"  {row['site']} {row['rating_id']} {row['state']} after {row['attempts']} attempts: "
                  f"{row['last_error'] or '-'}")
    finally:
        state.close()
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    state = _state(args)
    try:
        print(f"{state.retry_rejected()} rejected rating pushes will be tried again by the running adapter")
    finally:
        state.close()
    return 0


def register(subparsers) -> None:
    """Add ``onestop`` to the ``motcua`` command."""
    sp = subparsers.add_parser("onestop", help="the link to the one-stop software: its rating outbox")
    sub = sp.add_subparsers(dest="onestop_command", required=True)
    ob = sub.add_parser("outbox", help="rating pushes: pending, pushed, rejected")
    ob.add_argument("--config", help="adapter settings (default /etc/motcua/onestop.toml)")
    ob.add_argument("--limit", type=int, default=50)
    ob.set_defaults(func=cmd_outbox)
    rt = sub.add_parser("retry", help="push the rejected ratings again")
    rt.add_argument("--config", help="adapter settings (default /etc/motcua/onestop.toml)")
    rt.set_defaults(func=cmd_retry)
