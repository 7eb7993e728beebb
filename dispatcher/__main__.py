"""``motcua-dispatcher [--config FILE]``: run the hall's queue authority until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from motcua.runtime import setup_logging
from motcua.settings import EX_CONFIG, SettingsError, load_settings

from .config import DispatcherSettings
from .service import DispatcherService

log = logging.getLogger("dispatcher")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="motcua-dispatcher", description=__doc__)
    parser.add_argument("--config", help="settings file (default /etc/motcua/dispatcher.toml)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(DispatcherSettings, "dispatcher", args.config)
    except SettingsError as exc:
        print(f"motcua-dispatcher: {exc}", file=sys.stderr)
        return EX_CONFIG
    setup_logging(settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service = DispatcherService(settings)
    service.start()
    log.info("dispatcher %s serving site %s (%s)", settings.device_id, settings.site, settings.hall.name)
    stop.wait()
    log.info("stopping")
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
