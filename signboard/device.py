"""The panel on the wire: a luma device from settings (or injected), and the thread that feeds it.

Layering as luma has it: interface (SPI) -> device (max7219 cascaded in rows,
or an emulator) -> frames. :class:`Ribbon` draws only when the frame changed
and sleeps until the ribbon's next column otherwise; it never knows which
device it drives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from .config import PanelSettings

log = logging.getLogger("signboard")


def open_device(p: PanelSettings):
    """A luma device for the configured driver. SPI and RPi libraries are only imported for max7219."""
    if p.driver == "max7219":
        from luma.core.interface.serial import noop, spi  # needs luma.core[gpio,spi] on the Pi
        from luma.led_matrix.device import max7219

        serial = spi(port=p.spi_port, device=p.spi_device, gpio=noop())
        # width x height makes luma treat the cascade as rows of modules, the first module top left
        return max7219(serial, width=p.width, height=p.height, block_orientation=p.block_orientation,
                       rotate=p.rotate, blocks_arranged_in_reverse_order=p.reverse_order, contrast=p.brightness)
    if p.driver == "dummy":
        from luma.core.device import dummy

        return dummy(width=p.width, height=p.height, rotate=p.rotate, mode="1")
    from luma.emulator import device as emulator

    if p.driver == "capture":
        p.capture_dir.mkdir(parents=True, exist_ok=True)
        return emulator.capture(width=p.width, height=p.height, rotate=p.rotate, mode="1", transform="led_matrix",
                                scale=p.emulator_scale, file_template=str(p.capture_dir / "signboard.png"))
    return emulator.pygame(width=p.width, height=p.height, rotate=p.rotate, mode="1", transform="led_matrix",
                           scale=p.emulator_scale)


class PanelLoop:
    """Owns the device. ``poke()`` from any thread when the model changed; a private thread draws.

    ``frame_at(now, wall)`` returns the picture's key (equal keys: no redraw) and ``render(key)`` its image;
    ``next_change(now)`` says when to look again.
    """

    def __init__(self, device, frame_at: Callable, render: Callable, next_change: Callable[[float], float],
                 lock: threading.Condition, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.device = device
        self.frame_at, self.render, self.next_change = frame_at, render, next_change
        self.clock, self.wall = clock, wall
        self._cond = lock
        self.frame = None
        self.frames = 0
        self.status = "ok"
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> PanelLoop:
        self._thread = threading.Thread(target=self._run, name="signboard-panel", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.device.cleanup()
        except Exception:  # noqa: BLE001 - a device already gone has nothing to clean
            pass

    def poke(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def draw(self, now: float | None = None) -> float:
        """Put the frame for ``now`` on the device if it changed; return when to look again."""
        now = self.clock() if now is None else now
        with self._cond:
            frame = self.frame_at(now, self.wall())
            due = self.next_change(now)
        if frame != self.frame:
            image = self.render(frame)
            try:
                self.device.display(image)
                self.status = "ok"
            except Exception as exc:  # noqa: BLE001 - an SPI error must not kill the daemon; health reports it
                self.status = f"fault: cannot draw: {exc}"
                log.error("panel: %s", exc)
            with self._cond:
                self.frame = frame
                self.frames += 1
                self._cond.notify_all()
        return due

    def wait_frame(self, predicate: Callable, timeout: float) -> bool:
        """Block until the frame on the panel satisfies ``predicate`` (tests, the demo)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.frame is None or not predicate(self.frame):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
            try:
                due = self.draw()
            except Exception:  # noqa: BLE001 - a bug of ours must not freeze the panel for good
                log.exception("panel: drawing failed")
                due = self.clock() + 1.0
            with self._cond:
                if self._stopping:
                    return
                self._cond.wait(max(0.0, min(due - self.clock(), 1.0)))
