"""``motcua-pad [--config FILE]``: the satisfaction pad at one counter."""

from __future__ import annotations

import logging
import sys
import threading

from motcua.runtime.daemon import daemon_main
from motcua.settings import EX_CONFIG

from .config import PadSettings

log = logging.getLogger("satisfaction_pad")


def run(settings: PadSettings, stop: threading.Event) -> int:
    for path in (settings.screen.font, settings.screen.bold_font):
        if not path.is_file():
            log.error("font %s is missing (Debian: fonts-dejavu-core)", path)
            return EX_CONFIG

    from motcua.touchscreen import serve_screen  # pygame only once settings are sound

    from .app import PadScreen
    from .service import PadService

    service = PadService(settings)
    service.start()
    serve_screen(service, PadScreen, stop,
                 f"pad {settings.device_id} at counter {settings.counter}, outbox {settings.outbox}")
    service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-pad", "satisfaction_pad", PadSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
