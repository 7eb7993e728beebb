"""``motcua-progress [--config FILE]``: the dossier-progress screen on a hall TV."""

from __future__ import annotations

import logging
import sys
import threading
from typing import TYPE_CHECKING

from motcua.runtime.daemon import daemon_main
from motcua.screen_service import serve_screen_daemon

from .config import ProgressSettings

if TYPE_CHECKING:  # imported in run(): pygame only once the settings are sound
    from .app import ProgressScreen
    from .service import ProgressService

log = logging.getLogger("progress_board")


def run(settings: ProgressSettings, stop: threading.Event) -> int:
    def parts() -> tuple[type[ProgressService], type[ProgressScreen]]:
        from .app import ProgressScreen
        from .service import ProgressService

        return ProgressService, ProgressScreen

    return serve_screen_daemon(settings, stop, f"progress {settings.device_id}", parts, log)


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-progress", "progress", ProgressSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
