"""``motcua-board [--config FILE]``: the hall calling board on the waiting-area TV."""

from __future__ import annotations

import logging
import sys
import threading
from typing import TYPE_CHECKING

from motcua.runtime.daemon import daemon_main
from motcua.screen_service import serve_screen_daemon

from .config import BoardSettings

if TYPE_CHECKING:  # imported in run(): pygame only once the settings are sound
    from .app import BoardScreen
    from .service import BoardService

log = logging.getLogger("counter_display.board")


def run(settings: BoardSettings, stop: threading.Event) -> int:
    def parts() -> tuple[type[BoardService], type[BoardScreen]]:
        from .app import BoardScreen
        from .service import BoardService

        return BoardService, BoardScreen

    return serve_screen_daemon(settings, stop, f"board {settings.device_id}", parts, log)


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-board", "board", BoardSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
