"""``motcua-pad [--config FILE]``: the satisfaction pad at one counter."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from motcua.runtime import setup_logging
from motcua.settings import EX_CONFIG, SettingsError, load_settings

from .config import PadSettings

log = logging.getLogger("satisfaction_pad")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="motcua-pad", description=__doc__)
    parser.add_argument("--config", help="settings file (default /etc/motcua/satisfaction_pad.toml)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(PadSettings, "satisfaction_pad", args.config)
    except SettingsError as exc:
        print(f"motcua-pad: {exc}", file=sys.stderr)
        return EX_CONFIG
    setup_logging(settings.log_level)
    for path in (settings.screen.font, settings.screen.bold_font):
        if not path.is_file():
            print(f"motcua-pad: font {path} is missing (Debian: fonts-dejavu-core)", file=sys.stderr)
            return EX_CONFIG

    from .app import PadScreen  # pygame only once settings are sound
    from .service import PadService

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service = PadService(settings)
    service.start()
    try:
        screen = PadScreen(service)
    except Exception as exc:  # noqa: BLE001 - no display: keep delivering ratings, say why
        service.screen_status = f"fault: {exc}"
        log.error("no screen: %s", exc)
        service.runtime.ready(f"pad {settings.device_id} at counter {settings.counter}: NO SCREEN ({exc})")
        stop.wait()
    else:
        service.runtime.ready(f"pad {settings.device_id} at counter {settings.counter}: screen "
                              f"{settings.screen.width}x{settings.screen.height}, outbox {settings.outbox}")
        screen.run(stop)
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
