"""``motcua-signboard [--config FILE]``: the hall's LED signboard (a chain of MAX7219 modules)."""

from __future__ import annotations

import logging
import sys
import threading

from motcua.runtime.daemon import daemon_main
from motcua.settings import EX_CONFIG

from .config import SignboardSettings

log = logging.getLogger("signboard")


def run(settings: SignboardSettings, stop: threading.Event) -> int:
    if settings.panel.height >= 16 and not settings.font.is_file():
        log.error("font %s is missing (Debian: fonts-dejavu-core)", settings.font)
        return EX_CONFIG
    from .service import SignboardService  # hardware libraries only once the settings are sound

    try:
        service = SignboardService(settings)
    except Exception as exc:  # noqa: BLE001 - no SPI device: say which, let systemd retry
        log.error("cannot open the signboard panel: %s", exc)
        return 1
    service.start()
    stop.wait()
    service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-signboard", "signboard", SignboardSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
