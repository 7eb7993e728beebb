"""``motcua-kiosk [--config FILE]``: the ticket kiosk at the hall's entrance."""

from __future__ import annotations

import logging
import sys
import threading

from motcua.runtime.daemon import daemon_main
from motcua.settings import EX_CONFIG

from .config import KioskSettings

log = logging.getLogger("kiosk_ticket")


def run(settings: KioskSettings, stop: threading.Event) -> int:
    for path in (settings.screen.font, settings.screen.bold_font):
        if not path.is_file():
            log.error("font %s is missing (Debian: fonts-dejavu-core)", path)
            return EX_CONFIG
    if settings.printer.logo is not None and not settings.printer.logo.is_file():
        log.error("printer.logo %s does not exist", settings.printer.logo)
        return EX_CONFIG

    from motcua.touchscreen import serve_screen  # pygame and python-escpos only once settings are sound

    from .app import KioskScreen
    from .service import KioskService

    try:
        service = KioskService(settings)
    except ValueError as exc:  # e.g. a printer profile without a dot width and no printer.width_px
        log.error("%s", exc)
        return EX_CONFIG
    service.start()
    service.check_printer()
    t = settings.printer.transport
    where = f"printer {t.kind} ({settings.printer.profile}, {service.printer.width} dots)"
    serve_screen(service, KioskScreen, stop, f"kiosk {settings.device_id}, {where}")
    service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-kiosk", "kiosk", KioskSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
