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

    from motcua.touchscreen import serve_screen  # pygame only once the settings are sound

    from .app import BoardScreen
    from .service import BoardService

    service = BoardService(settings).start()
    serve_screen(service, BoardScreen, stop, f"board {settings.device_id}")
    service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-board", "board", BoardSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
