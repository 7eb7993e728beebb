"""``motcua-dispatcher [--config FILE]``: run the hall's queue authority until SIGTERM."""

from __future__ import annotations

import logging
import sys
import threading

from motcua.runtime.daemon import daemon_main

from .config import DispatcherSettings
from .service import DispatcherService

log = logging.getLogger("dispatcher")


def run(settings: DispatcherSettings, stop: threading.Event) -> int:
    service = DispatcherService(settings)
    service.start()
    log.info("dispatcher %s serving site %s (%s)", settings.device_id, settings.site, settings.hall.name)
    stop.wait()
    log.info("stopping")
    service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-dispatcher", "dispatcher", DispatcherSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
