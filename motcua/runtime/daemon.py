"""The ``main()`` every motcua daemon shares: settings, logging, signals, exit codes."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from ..settings import CONFIG_DIR, ENV_PREFIX, EX_CONFIG, DeviceSettings, SettingsError, load_settings
from .device import stop_process_on_yield, yielded_reason
from .logs import setup_logging

S = TypeVar("S", bound=DeviceSettings)


def daemon_main(prog: str, role: str, settings_cls: type[S], run: Callable[[S, threading.Event], int | None],
                argv: list[str] | None = None, description: str | None = None) -> int:
    """Parse ``--config``, load and check the settings (exit 78 naming the bad key), set up logging,
    turn SIGTERM/SIGINT into ``stop``, then ``run(settings, stop)`` until it returns."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Settings come from {CONFIG_DIR / f'{role}.toml'} (or --config), overridden by {ENV_PREFIX}* "
               f"environment variables, '__' descending into tables:\n"
               f"  {ENV_PREFIX}MQTT__HOST=10.0.0.2        a value\n"
               f"  {ENV_PREFIX}MQTT__CA_FILE=             empty: clear an optional setting\n"
               f"  {ENV_PREFIX}PRINTER__TRANSPORT__KIND=network {ENV_PREFIX}PRINTER__TRANSPORT__HOST=10.0.0.9\n"
               f"                                    another kind replaces the file's whole table\n"
               f"Bad settings exit {EX_CONFIG}, naming the key.")
    parser.add_argument("--config", help=f"settings file (default {CONFIG_DIR / f'{role}.toml'})")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(settings_cls, role, args.config)
    except SettingsError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EX_CONFIG
    problem = settings.mqtt.file_problem()
    if problem:  # a login the broker will refuse forever: say so once, do not restart in a loop
        print(f"{prog}: invalid settings: {problem}", file=sys.stderr)
        return EX_CONFIG
    setup_logging(settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop_process_on_yield(stop)  # an older live instance with this login: stop, do not fight it
    rc = run(settings, stop) or 0
    reason = yielded_reason()
    if reason:  # restarting would knock the other instance off again: exit 78, which systemd leaves alone
        print(f"{prog}: {reason}", file=sys.stderr)
        return EX_CONFIG
    return rc
