"""The LED matrix on the wire: a luma device, and the thread that feeds it frames.

Layering as luma has it: interface (SPI) -> device (max7219, or an emulator)
-> frames. The device is built from settings by :func:`open_device` or
injected (tests, the benchmark); :class:`MatrixDisplay` never knows which.
It draws only when the frame differs from the one on the modules, and
otherwise sleeps until the next blink or scroll step, or until it is given
new content: no busy loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from PIL import Image

from .config import MatrixSettings
from .matrix import Content, Frame, MatrixPainter, brightness_at

log = logging.getLogger("counter_display.matrix")

BRIGHTNESS_CHECK_S = 30.0


def open_device(m: MatrixSettings, name: str = "counter"):
    """A luma device for the configured driver. SPI and RPi libraries are only imported for max7219."""
    if m.driver == "max7219":
        from luma.core.interface.serial import noop, spi  # needs luma.core[gpio,spi] on the Pi
        from luma.led_matrix.device import max7219

        serial = spi(port=m.spi_port, device=m.spi_device, gpio=noop())
        return max7219(serial, cascaded=m.modules, block_orientation=m.block_orientation, rotate=m.rotate,
                       blocks_arranged_in_reverse_order=m.reverse_order, contrast=m.brightness)
    if m.driver == "dummy":
        from luma.core.device import dummy

        return dummy(width=m.width, height=m.height, rotate=m.rotate, mode="1")
    from luma.emulator import device as emulator

    if m.driver == "capture":
        m.capture_dir.mkdir(parents=True, exist_ok=True)
        template = f"{name}-{{0:06}}.png" if m.capture_every_frame else f"{name}.png"
        return emulator.capture(width=m.width, height=m.height, rotate=m.rotate, mode="1", transform="led_matrix",
                                scale=m.emulator_scale, file_template=str(m.capture_dir / template))
    return emulator.pygame(width=m.width, height=m.height, rotate=m.rotate, mode="1", transform="led_matrix",
                           scale=m.emulator_scale)


class MatrixDisplay:
    """Owns the device. ``show(content)`` from any thread; a private thread draws."""

    def __init__(self, settings: MatrixSettings, device, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.s = settings
        self.device = device
        self.painter = MatrixPainter(settings)
        self.clock, self.wall = clock, wall
        self.content = Content(settings.waiting_text)
        self.frame: Frame | None = None
        self.image: Image.Image | None = None
        self.frames = 0
        self.drawn_at: float | None = None  # perf_counter of the last frame written to the device
        self.brightness: int | None = None
        self.status = "ok"
        self.on_frame: list[Callable[[Frame], None]] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._next_brightness_check = 0.0

    # ------------------------------------------------------------------ API

    def show(self, content: Content) -> None:
        with self._cond:
            if content == self.content:
                return
            self.content = content
            self._cond.notify()

    def start(self) -> MatrixDisplay:
        self._thread = threading.Thread(target=self._run, name="matrix", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.device.cleanup()
        except Exception:  # noqa: BLE001 - a device already gone has nothing to clean
            pass

    def wait_frame(self, predicate: Callable[[Frame], bool], timeout: float) -> bool:
        """Block until the frame on the device satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.frame is None or not predicate(self.frame):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    # ------------------------------------------------------------------ drawing

    def draw(self, now: float | None = None) -> float | None:
        """Put the frame for ``now`` on the device if it changed; return when the next change is due.

        The display thread calls this; tests call it directly with a chosen time.
        """
        now = self.clock() if now is None else now
        with self._cond:
            content = self.content
        self._apply_brightness(now)
        frame = self.painter.frame(content, now)
        if frame != self.frame:
            image = self.painter.render(frame)
            try:
                self.device.display(image)
                self.status = "ok"
            except Exception as exc:  # noqa: BLE001 - an SPI error must not kill the box; health reports it
                self.status = f"fault: cannot draw: {exc}"
                log.error("matrix: %s", exc)
            with self._cond:
                self.frame, self.image = frame, image
                self.frames += 1
                self.drawn_at = time.perf_counter()
                self._cond.notify_all()
            for callback in self.on_frame:
                callback(frame)
        return self.painter.next_change(content, now)

    def _apply_brightness(self, now: float) -> None:
        if now < self._next_brightness_check:
            return
        self._next_brightness_check = now + BRIGHTNESS_CHECK_S
        level = brightness_at(self.s.brightness_schedule, self.s.brightness, self.wall(), self.s.timezone)
        if level != self.brightness:
            try:
                self.device.contrast(level)
                self.brightness = level
            except Exception as exc:  # noqa: BLE001
                self.status = f"fault: cannot set brightness: {exc}"

    def _run(self) -> None:
        while True:
            due = self.draw()
            with self._cond:
                if self._stopping:
                    return
                drawn_content = self.content
                while not self._stopping and self.content == drawn_content:
                    wait = BRIGHTNESS_CHECK_S if due is None else due - self.clock()
                    if wait <= 0:
                        break
                    self._cond.wait(min(wait, BRIGHTNESS_CHECK_S))
                    if due is None:
                        break  # periodic brightness look
                if self._stopping:
                    return

    def describe(self) -> str:
        kind = type(self.device).__name__
        return f"{kind} {self.s.modules}x8x8, brightness {self.brightness}"
