"""``motcua-onestop [--config FILE]``: link the halls with the one-stop software until SIGTERM."""

from __future__ import annotations

import logging
import sys
import threading

from motcua.runtime.daemon import daemon_main

from .config import OneStopSettings
from .service import OneStopService

log = logging.getLogger("onestop")


def run(settings: OneStopSettings, stop: threading.Event) -> int:
    service = OneStopService(settings)
    service.start()
    log.info("one-stop adapter %s: %d halls, system %s", settings.device_id, len(settings.halls), service.system.name)
    while not stop.wait(300):
        with service.lock:
            counts = service.state.counts()
        log.info("rating pushes: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none yet")
    log.info("stopping")
    service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-onestop", "onestop", OneStopSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
