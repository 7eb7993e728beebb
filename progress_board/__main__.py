"""``motcua-progress [--config FILE]``: the dossier-progress screen on a hall TV."""

from __future__ import annotations

import logging
import sys
import threading

from motcua.runtime.daemon import daemon_main
from motcua.settings import EX_CONFIG

from .config import ProgressSettings

log = logging.getLogger("progress_board")


def run(settings: ProgressSettings, stop: threading.Event) -> int:
    for path in (settings.screen.font, settings.screen.bold_font):
        if not path.is_file():
            log.error("font %s is missing (Debian: fonts-dejavu-core)", path)
            return EX_CONFIG

    from motcua.touchscreen import serve_screen  # pygame only once the settings are sound

    from .app import ProgressScreen
    from .service import ProgressService

    service = ProgressService(settings).start()
    serve_screen(service, ProgressScreen, stop, f"progress {settings.device_id}")
    service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-progress", "progress", ProgressSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
