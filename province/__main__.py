"""``motcua-province-collector [--config FILE]``: store every hall's events in PostgreSQL until SIGTERM."""

from __future__ import annotations

import logging
import sys
import threading

from motcua.runtime.daemon import daemon_main

from .collector import Collector
from .config import CollectorSettings

log = logging.getLogger("province.collector")


def run(settings: CollectorSettings, stop: threading.Event) -> int:
    collector = Collector(settings)
    collector.start()
    log.info("collector %s: %s", settings.device_id, ", ".join(collector.filters()))
    while not stop.wait(settings.stats_interval_s):
        c = collector
        log.info("%d events stored in %d batches (%.1f ms writing each on average), %d refused; "
                 "largest backlog %d", c.stored, c.batches, 1000 * c.write_s / max(c.batches, 1), c.refused,
                 c.biggest_backlog)
        c.biggest_backlog = 0
    log.info("stopping")
    collector.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-province-collector", "province-collector", CollectorSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
