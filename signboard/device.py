"""The panel on the wire: the shared LED panel thread (:mod:`motcua.ledpanel`) fed by the signboard's model.

:class:`PanelLoop` draws only when the ribbon's frame changed and sleeps until
its next column otherwise; it never knows which device it drives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from motcua import ledpanel

from .config import PanelSettings

if TYPE_CHECKING:
    from PIL import Image

    from .model import Frame

log = logging.getLogger("signboard")


def open_device(p: PanelSettings) -> Any:
    """A luma device for the configured driver (the capture driver writes ``signboard.png``)."""
    return ledpanel.open_device(p, "signboard.png")


class PanelLoop(ledpanel.PanelThread["Frame"]):
    """The panel thread with the model's ``frame_at(now, wall)``: the model holds the time of day too."""

    def __init__(self, device: Any, frame_at: Callable[[float, datetime], Frame],
                 render: Callable[[Frame], Image.Image], next_change: Callable[[float], float],
                 lock: threading.Condition, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.wall = wall
        super().__init__(device, lambda now: frame_at(now, self.wall()), render, next_change, lock,
                         name="signboard-panel", clock=clock, longest_sleep=1.0, log=log)
