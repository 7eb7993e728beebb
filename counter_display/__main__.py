"""``motcua-counter [--config FILE]``: the box at one counter (LED matrix, keypad, buzzer)."""

from __future__ import annotations

import logging
import sys
import threading

from motcua.runtime.daemon import daemon_main

from .config import CounterBoxSettings

log = logging.getLogger("counter_display")


def run(settings: CounterBoxSettings, stop: threading.Event) -> int:
    from .service import CounterBoxService  # hardware libraries only once the settings are sound

    try:
        service = CounterBoxService(settings)
    except Exception as exc:  # noqa: BLE001 - no matrix or a pin in use: say which, let systemd retry
        log.error("cannot open the counter box hardware: %s", exc)
        return 1
    service.start()
    service.ready()
    stop.wait()
    service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-counter", "counter", CounterBoxSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
