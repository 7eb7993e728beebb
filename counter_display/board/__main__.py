"""``motcua-board [--config FILE]``: the hall calling board on the waiting-area TV."""

from __future__ import annotations

import logging
import sys
import threading

from motcua.runtime.daemon import daemon_main
from motcua.settings import EX_CONFIG

from .config import BoardSettings

log = logging.getLogger("counter_display.board")


def run(settings: BoardSettings, stop: threading.Event) -> int:
    for path in (settings.screen.font, settings.screen.bold_font):
        if not path.is_file():
            log.error("font %s is missing (Debian: fonts-dejavu-core)", path)
            return EX_CONFIG

    from .app import BoardScreen  # pygame only once the settings are sound
    from .service import BoardService

    service = BoardService(settings).start()
    try:
        screen = BoardScreen(service)
    except Exception as exc:  # noqa: BLE001 - no display: say why in health, let systemd see it
        service.screen_status = f"fault: {exc}"
        log.error("no screen: %s", exc)
        service.runtime.ready(f"board {settings.device_id}: NO SCREEN ({exc})")
        stop.wait()
    else:
        w, h = screen.surface.get_size()
        service.runtime.ready(f"board {settings.device_id}: screen {w}x{h}")
        screen.run(stop)
    service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-board", "board", BoardSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
