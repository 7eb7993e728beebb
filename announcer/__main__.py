"""``motcua-announcer [--config FILE]``: speak the hall's calls until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from motcua.runtime import setup_logging
from motcua.settings import EX_CONFIG, SettingsError, load_settings

from .config import AnnouncerSettings
from .voicepack import PackError

log = logging.getLogger("announcer")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="motcua-announcer", description=__doc__)
    parser.add_argument("--config", help="settings file (default /etc/motcua/announcer.toml)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(AnnouncerSettings, "announcer", args.config)
    except SettingsError as exc:
        print(f"motcua-announcer: {exc}", file=sys.stderr)
        return EX_CONFIG
    setup_logging(settings.log_level)
    from .service import AnnouncerService

    try:
        service = AnnouncerService(settings)
    except PackError as exc:
        print(f"motcua-announcer: voice pack {settings.voice.pack}: {exc}\n"
              f"  build the default one with: motcua voicepack build {settings.voice.pack}", file=sys.stderr)
        return EX_CONFIG
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service.start()
    log.info("announcer %s serving site %s with voice pack %s", settings.device_id, settings.site,
             settings.voice.pack)
    stop.wait()
    log.info("stopping")
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
